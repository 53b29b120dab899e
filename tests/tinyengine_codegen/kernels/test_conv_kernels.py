"""Conv and depthwise C kernels against TFLM: CMSIS-NN-style named edge cases (one build for all of them) and
hypothesis-drawn shapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyengine_codegen.exporters.tflite import export_tflite
from tinyengine_codegen.ir.ops import Activation, Padding

from ...helpers.host_c import run_graphs_in_c
from ...helpers.interpreters import tflm_run
from .graphs import conv_graph

S, V = Padding.SAME, Padding.VALID
CASES = {  # name → conv_graph arguments
    "kernel1x1": dict(h=5, w=4, cin=6, cout=7, k=1),
    "kernel1x1_stride2": dict(h=7, w=6, cin=5, cout=3, k=1, stride=2),
    "kernel3x3_same": dict(h=8, w=7, cin=3, cout=8, k=3),
    "kernel3x3_valid": dict(h=8, w=7, cin=4, cout=5, k=3, padding=V),
    "stride2_pad_same_even": dict(h=8, w=8, cin=3, cout=4, k=3, stride=2),
    "stride2_pad_same_odd": dict(h=9, w=7, cin=5, cout=6, k=3, stride=2),
    "kernel5x5_relu6": dict(h=9, w=9, cin=2, cout=3, k=5, activation=Activation.RELU6),
    "kernel7x7_stride2": dict(h=11, w=10, cin=3, cout=5, k=7, stride=2),
    "kernel2x2_even": dict(h=6, w=5, cin=3, cout=2, k=2),
    "dilation2": dict(h=9, w=8, cin=3, cout=4, k=3, dilation=2),
    "channels_not_multiple_of_4": dict(h=5, w=5, cin=7, cout=9, k=3, activation=Activation.RELU),
    "dw_kernel3x3": dict(h=8, w=8, cin=6, cout=0, k=3, depthwise=True),
    "dw_stride2_same_odd": dict(h=9, w=7, cin=5, cout=0, k=3, stride=2, depthwise=True),
    "dw_depth_multiplier2": dict(h=6, w=5, cin=3, cout=0, k=3, depthwise=True, mult=2),
    "dw_kernel5x5_valid": dict(h=9, w=8, cin=4, cout=0, k=5, padding=V, depthwise=True),
    "dw_kernel7x7_relu6": dict(h=8, w=8, cin=3, cout=0, k=7, depthwise=True, activation=Activation.RELU6),
    "dw_dilation2": dict(h=9, w=9, cin=2, cout=0, k=3, dilation=2, depthwise=True),
}


def _tflm(graph, xs):
    model = export_tflite(graph)
    return np.stack([tflm_run(model, [x], 1)[0] for x in xs])


def _inputs(graph, rng, n=3):
    return rng.integers(-128, 128, (n,) + graph.tensor("x").shape).astype(np.int8)


def test_named_edge_cases_bit_exact(tmp_path):
    rng = np.random.default_rng(1)
    names = sorted(CASES)
    graphs = [conv_graph(rng, name=n, **CASES[n]) for n in names]
    xs = [_inputs(g, rng) for g in graphs]
    outs = run_graphs_in_c(graphs, xs, tmp_path)
    bad = [n for n, g, x, y in zip(names, graphs, xs, outs) if not np.array_equal(y, _tflm(g, x))]
    assert not bad, f"differ from TFLM: {bad}"
    assert all(len(np.unique(y)) > 4 for y in outs), "degenerate outputs: the test would not catch a bug"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    cin=st.integers(1, 9),
    cout=st.integers(1, 9),
    k=st.integers(1, 5),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 2),
    same=st.booleans(),
    depthwise=st.booleans(),
    mult=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_random_shapes_bit_exact(tmp_path_factory, h, w, cin, cout, k, stride, dilation, same, depthwise, mult, seed):
    pad = S if same else V
    if not same and (h < (k - 1) * dilation + 1 or w < (k - 1) * dilation + 1):
        return  # VALID padding needs the kernel to fit
    rng = np.random.default_rng(seed)
    g = conv_graph(
        rng,
        h=h,
        w=w,
        cin=cin,
        cout=cout,
        k=k,
        stride=stride,
        dilation=dilation,
        padding=pad,
        depthwise=depthwise,
        mult=mult if depthwise else 1,
    )
    x = _inputs(g, rng)
    (y,) = run_graphs_in_c([g], [x], tmp_path_factory.mktemp("hyp"))
    np.testing.assert_array_equal(y, _tflm(g, x))


@pytest.mark.parametrize("name", ["kernel1x1", "kernel3x3_same"])
def test_kernel_choice(name):
    from tinyengine_codegen.kernels.registry import HOST, select

    g = conv_graph(np.random.default_rng(0), name=name, **CASES[name])
    expected = "conv2d_1x1_s8_ref" if name == "kernel1x1" else "conv2d_kxk_s8_ref"
    assert select(g.ops[0], g, HOST).name == expected
