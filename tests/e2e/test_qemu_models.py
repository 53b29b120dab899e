"""End to end on the virtual boards: generated C built with PlatformIO, run in QEMU (Cortex-M4 and M7), bit-exact
with TFLM; the four MLPerf Tiny models and a few dozen random small models."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from tinyengine_codegen.exporters.tflite import export_tflite
from tinyengine_codegen.importers.tflite import load_tflite
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.runner import run_model

from ..conftest import mlperf_path
from ..fuzz.modelgen import ALL_KINDS, random_input, random_model
from ..helpers.interpreters import tflm_run

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(
        shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
        reason="needs qemu-system-arm and arm-none-eabi-gcc (tinyml setup)",
    ),
]
BOARDS = ("qemu-m4", "qemu-m7")
KINDS = tuple(sorted(ALL_KINDS, key=lambda k: k.value))


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("key", ["ic", "vww", "kws", "ad"])
def test_mlperf_model_bit_exact_in_qemu(key, board):
    path = mlperf_path(key)
    graph = load_tflite(path)
    x = np.random.default_rng(11).integers(-128, 128, graph.tensors[graph.inputs[0]].shape).astype(np.int8)
    res = run_model(graph, x, CompileOptions(target=board))
    want = tflm_run(path.read_bytes(), [x], 1)[0]
    assert np.array_equal(res.output.reshape(-1), want.reshape(-1))
    assert res.instructions and res.instructions > 0


@pytest.mark.parametrize("i", range(24))
def test_random_model_bit_exact_in_qemu(i):
    board = BOARDS[i % 2]
    rng = np.random.default_rng(8_000 + i)
    graph = random_model(rng, require=KINDS[i % len(KINDS)], name=f"q{i}")
    graph = dataclasses.replace(graph, outputs=graph.outputs[:1])  # the C API has one output
    x = random_input(graph, rng)[0]
    want = tflm_run(export_tflite(graph), [x], 1)[0]
    res = run_model(graph, x, CompileOptions(target=board))
    assert np.array_equal(res.output.reshape(-1), np.asarray(want).reshape(-1)), (
        f"{board}: {[op.kind.value for op in graph.ops]}"
    )
