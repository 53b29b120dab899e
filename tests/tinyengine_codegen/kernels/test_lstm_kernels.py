"""The LSTM C kernels against TFLM: the portable kernel on the host (one executable for several layouts), and the
SMLAD kernel on qemu-m4 (input and state sizes with and without a remainder of the four-element SIMD step)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tinyengine_codegen.exporters.tflite import export_tflite
from tinyengine_codegen.ir.ops import OpKind
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.passes import plan_model
from tinyengine_codegen.runner import run_model

from ...fuzz.layers_lstm import lstm_graph
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


def test_portable_kernel_is_bit_exact_with_tflm(tmp_path):
    graphs, inputs = [], []
    for k, kw in enumerate(HOST_CASES):
        rng = np.random.default_rng(100 + k)
        g = lstm_graph(rng, name=f"lstm{k}", **kw)
        graphs.append(g)
        inputs.append(rng.integers(-128, 128, (2,) + g.tensor("x").shape).astype(np.int8))
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


@pytest.mark.qemu
@pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="Cortex-M toolchain or QEMU not installed",
)
@pytest.mark.parametrize("kw", [dict(features=8, units=12), dict(features=7, units=5, time_major=True, batches=2)])
def test_simd_kernel_on_cortex_m4_is_bit_exact_with_tflm(kw):
    graph = lstm_graph(np.random.default_rng(7), **kw)
    assert plan_model(graph, M4).kernel_names == ("lstm_s8_simd",)
    assert graph.ops[0].kind is OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM
    x = np.random.default_rng(8).integers(-128, 128, graph.tensor("x").shape).astype(np.int8)
    np.testing.assert_array_equal(run_model(graph, x, M4).output, _tflm(graph, [x])[0])
