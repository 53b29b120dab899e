"""The generated C of each MLPerf Tiny model builds with -Wall -Wextra -Werror and is bit-exact with TFLM."""

from __future__ import annotations

import numpy as np
import pytest

from tinyengine_codegen.build.host import build_host, run_host
from tinyengine_codegen.compile import write_project
from tinyengine_codegen.importers.tflite import load_tflite

from ..conftest import MLPERF, mlperf_path
from ..helpers.interpreters import tflm_batch

N_RANDOM = 20


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """key → (model path, graph, executable); each model is generated and built once."""
    cache = {}

    def get(key):
        if key not in cache:
            path = mlperf_path(key)
            graph = load_tflite(path)
            work = tmp_path_factory.mktemp(key)
            write_project(graph, work / "model")
            cache[key] = (path, graph, build_host(work / "model", work / "model.exe"))
        return cache[key]

    return get


@pytest.mark.parametrize("key", sorted(MLPERF))
def test_bit_exact_with_tflm_on_random_inputs(built, key):
    path, graph, exe = built(key)
    shape = graph.tensor(graph.inputs[0]).shape
    xs = np.random.default_rng(7).integers(-128, 128, (N_RANDOM,) + shape, dtype=np.int8)
    got = run_host(exe, xs)
    want = tflm_batch(path, xs)
    assert got.shape == want.shape
    mismatched = [i for i in range(N_RANDOM) if not np.array_equal(got[i], want[i])]
    assert not mismatched, f"{key}: inputs {mismatched} differ from TFLM"
    assert len({got[i].tobytes() for i in range(N_RANDOM)}) > 1 or key == "ad", "outputs do not depend on inputs"


def test_kws_bit_exact_on_1000_real_inputs(built, shared_data):
    data = np.load(shared_data / "kws" / "kws01_mfcc_int8.npz")
    xs = data["x"].astype(np.int8).reshape(-1, 1, 49, 10, 1)
    _, _, exe = built("kws")
    got = run_host(exe, xs).reshape(len(xs), -1)
    want = np.asarray(data["tflm_output"]).reshape(len(xs), -1)
    assert got.shape == (1000, 12)
    np.testing.assert_array_equal(got, want)
