"""The MLPerf Tiny models' generated C under AddressSanitizer and UBSan: the arena is a heap block of exactly the
planned size and every layer runs with the arena bytes it must not touch poisoned; outputs bit-exact with TFLM.
KWS and AD in the default run, all four under -m slow."""

from __future__ import annotations

import numpy as np
import pytest

from tinyengine_codegen.build.host import build_host, run_host
from tinyengine_codegen.compile import write_project
from tinyengine_codegen.importers.tflite import load_tflite

from ..conftest import mlperf_path
from ..helpers.interpreters import tflm_batch

KEYS = [pytest.param("kws"), pytest.param("ad"), pytest.param("vww", marks=pytest.mark.slow),
        pytest.param("ic", marks=pytest.mark.slow)]  # fmt: skip


@pytest.mark.parametrize("key", KEYS)
def test_sanitized_c_is_clean_and_bit_exact(tmp_path, key):
    path = mlperf_path(key)
    graph = load_tflite(path)
    write_project(graph, tmp_path / "m")
    assert "LAYER_POISON(" in (tmp_path / "m" / "tinyml.c").read_text()
    exe = build_host(tmp_path / "m", tmp_path / "m.exe", sanitize=True, opt="-O1")
    shape = graph.tensor(graph.inputs[0]).shape
    xs = np.random.default_rng(11).integers(-128, 128, (3,) + shape, dtype=np.int8)
    np.testing.assert_array_equal(run_host(exe, xs), tflm_batch(path, xs))
