"""The LSTM C kernels against TFLM: the portable kernel on the host (one executable for several layouts and the
converter-made models of tests/data/lstm), and the
SMLAD kernel on qemu-m4 (input and state sizes with and without a remainder of the four-element SIMD step)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tinyengine_codegen.exporters.tflite import export_tflite
from tinyengine_codegen.importers.tflite import load_tflite
from tinyengine_codegen.ir.ops import OpKind
from tinyengine_codegen.kernels.cortexm_pair import STACK_COLUMNS
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.passes import plan_model
from tinyengine_codegen.reference.run import run_graph
from tinyengine_codegen.runner import run_model

from ...fuzz.layers_lstm import lstm_graph
from ...fuzz.modelgen import random_input, random_model
from ...helpers.host_c import run_graphs_in_c
from ...helpers.interpreters import tflm_run

HOST_CASES = (
    dict(),
    dict(time_major=True, batches=2),
    dict(batches=3, cell_clip=0.5, weight_gain=4.0),
    dict(cell_scale_power=-15, weight_gain=20.0, steps=6),
    dict(cell_scale_power=-9, features=13, units=3),
)


def _tflm(graph, xs):
    model = export_tflite(graph)
    return np.stack([tflm_run(model, [x], 1)[0] for x in xs])


CONVERTED = Path(__file__).resolve().parents[2] / "data" / "lstm"  # made by TensorFlow's converter


def test_portable_kernel_is_bit_exact_with_tflm(tmp_path):
    graphs, inputs = [], []
    for k, kw in enumerate(HOST_CASES):
        graphs.append(lstm_graph(np.random.default_rng(100 + k), name=f"lstm{k}", **kw))
    graphs += [load_tflite(p) for p in sorted(CONVERTED.glob("*.tflite"))]
    for k, g in enumerate(graphs):
        x = g.tensor(g.inputs[0])
        inputs.append(np.random.default_rng(k).integers(-128, 128, (2,) + x.shape).astype(np.int8))
    outs = run_graphs_in_c(graphs, inputs, tmp_path)
    for g, xs, got in zip(graphs, inputs, outs):
        want = _tflm(g, xs)
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=g.name)


def test_scratch_is_the_int16_cell_state_only():
    g = lstm_graph(np.random.default_rng(1), batches=3, units=7)
    mp = plan_model(g, CompileOptions(target="host", patches="off"))
    assert mp.kernel_names == ("lstm_s8_ref",)
    assert dict(mp.scratch) == {0: 2 * 3 * 7}


M4 = CompileOptions(target="qemu-m4", patches="off")


def test_simd_kernel_keeps_its_rows_on_a_bounded_stack():
    units = 280
    features = STACK_COLUMNS // 2 - units  # 2 x (features + units) = the stack budget, in bytes of rows
    small = lstm_graph(np.random.default_rng(2), features=features, units=units)
    large = lstm_graph(np.random.default_rng(2), features=features + 4, units=units)
    assert plan_model(small, M4).kernel_names == ("lstm_s8_simd",)
    assert plan_model(large, M4).kernel_names == ("lstm_s8_ref",)
    assert dict(plan_model(small, M4).scratch) == {0: 2 * units}


QEMU_CASES = {
    "aligned": dict(features=8, units=12),
    "remainders_time_major": dict(features=7, units=5, time_major=True, batches=2),
    "converted": None,  # tests/data/lstm/lstm_sequences.tflite
}


@pytest.mark.qemu
@pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="Cortex-M toolchain or QEMU not installed",
)
@pytest.mark.parametrize("case", sorted(QEMU_CASES))
def test_simd_kernel_on_cortex_m4_is_bit_exact_with_tflm(case):
    kw = QEMU_CASES[case]
    path = CONVERTED / "lstm_sequences.tflite"
    graph = load_tflite(path) if kw is None else lstm_graph(np.random.default_rng(7), **kw)
    assert plan_model(graph, M4).kernel_names == ("lstm_s8_simd",)
    assert graph.ops[0].kind is OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM
    x = np.random.default_rng(8).integers(-128, 128, graph.tensor(graph.inputs[0]).shape).astype(np.int8)
    want = tflm_run(path.read_bytes(), [x], 1)[0] if kw is None else _tflm(graph, [x])[0]
    np.testing.assert_array_equal(run_model(graph, x, M4).output, want)


@pytest.mark.qemu
@pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="Cortex-M toolchain or QEMU not installed",
)
def test_random_models_with_lstm_layers_on_cortex_m4_match_the_reference():
    kinds = {OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM, OpKind.FULLY_CONNECTED, OpKind.CONV_2D, OpKind.TANH}
    for seed in (1, 2):
        graph = random_model(np.random.default_rng(seed), ops=kinds, require=OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM)
        x = random_input(graph, np.random.default_rng(seed))[0]
        np.testing.assert_array_equal(run_model(graph, x, M4).output, run_graph(graph, [x])[0], err_msg=str(seed))
