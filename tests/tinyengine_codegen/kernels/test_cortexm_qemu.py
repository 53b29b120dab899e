"""Cortex-M SIMD kernels in QEMU (qemu-m4) against the numpy reference: named edge cases, a few hypothesis shapes,
an in-place depthwise chain, and three MLPerf Tiny models bit-exact."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import mlperf_path
from tests.tinyengine_codegen.reference.cases import act, const, single_op
from tinyengine_codegen.ir.graph import Graph, Op
from tinyengine_codegen.ir.ops import (
    Activation,
    Conv2DAttrs,
    DepthwiseConv2DAttrs,
    ElementwiseAttrs,
    FullyConnectedAttrs,
    OpKind,
    Padding,
)
from tinyengine_codegen.ir.verify import verify
from tinyengine_codegen.model_io import load_model
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.reference.run import run_graph
from tinyengine_codegen.runner import run_model

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(
        shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
        reason="Cortex-M toolchain or QEMU not installed",
    ),
]


def _run(graph, seed=0, inplace=True):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=graph.tensor(graph.inputs[0]).shape, dtype=np.int8)
    res = run_model(graph, x, CompileOptions(target="qemu-m4", patches="off", inplace=inplace))
    np.testing.assert_array_equal(res.output, run_graph(graph, [x])[0])
    return res


def conv(h, w, cin, cout, k, stride, padding, act_fn=Activation.RELU, seed=1, zp=-3, unpaired=False):
    """unpaired: a -128 weight in row 1 beside a negative one in row 0, which the row-pair kernels cannot store."""
    rng = np.random.default_rng(seed)
    wq = rng.integers(-127, 128, (cout, k[0], k[1], cin), dtype=np.int8)
    if unpaired:
        wq[0, 0, 0, 0], wq[1, 0, 0, 0] = -9, -128
    wt = const("w", wq, scales=rng.uniform(0.002, 0.02, cout), axis=0)
    bias = const("b", rng.integers(-3000, 3000, cout, dtype=np.int32), scales=[1.0] * cout)
    oh = (h + stride - 1) // stride if padding is Padding.SAME else (h - k[0]) // stride + 1
    ow = (w + stride - 1) // stride if padding is Padding.SAME else (w - k[1]) // stride + 1
    return single_op(
        OpKind.CONV_2D,
        Conv2DAttrs(stride, stride, 1, 1, padding, act_fn),
        [act("x", (1, h, w, cin), 0.05, zp), wt, bias],
        act("y", (1, oh, ow, cout), 0.1, 4),
    )


CONV_CASES = {  # name: (h, w, cin, cout, kernel, stride, padding) -> the kernel it must pick
    # a lone pointwise conv is the graph's peak: it runs in place over its input
    "pointwise_cin16": ((5, 3, 16, 8, (1, 1), 1, Padding.SAME), "conv2d_1x1_s8_inplace_simd"),
    # a lone k x k layer (no scratch) builds its two columns on the stack, whatever its input channels
    "k3_stride1_pad1_odd_width": ((6, 5, 8, 12, (3, 3), 1, Padding.SAME), "conv2d_s8_pair_stack"),
    "k3_stride2_pad": ((7, 7, 4, 4, (3, 3), 2, Padding.SAME), "conv2d_s8_pair_stack"),
    "k1x1_stride2": ((6, 6, 8, 4, (1, 1), 2, Padding.VALID), "conv2d_s8_pair_stack"),
    "cin3_lone_layer": ((8, 8, 3, 8, (3, 3), 2, Padding.SAME), "conv2d_s8_pair_stack"),
    # columns over the stack budget: interior pixel pairs read in place
    "k3_cin48_lone_layer": ((5, 6, 48, 6, (3, 3), 1, Padding.SAME), "conv2d_s8_pair_direct"),
}


@pytest.mark.parametrize("name", sorted(CONV_CASES))
def test_conv_edge_cases(name):
    shape, kernel = CONV_CASES[name]
    res = _run(conv(*shape))
    assert res.kernels == (kernel,)


def test_small_cin_rows_kernel_odd_sizes_both_strides():
    """cin 3 and 1, stride 1 and 2, odd heights/widths, SAME and VALID, 3x3 and 5x5: interior rows read as words,
    rows cut by every border, and the last image row (its word over-read would leave the tensor) copied."""
    cases = [
        (7, 9, 3, 4, (3, 3), 1, Padding.SAME),
        (9, 7, 3, 8, (3, 3), 2, Padding.SAME),
        (9, 7, 1, 8, (3, 3), 2, Padding.SAME),
        (5, 7, 1, 4, (3, 3), 1, Padding.VALID),
        (7, 5, 2, 4, (5, 5), 1, Padding.SAME),
    ]
    for i, shape in enumerate(cases):
        # weights the row-pair format cannot hold: the row kernel is the fallback of the stack-column kernel
        res = _run(conv(*shape, act_fn=Activation.NONE, seed=20 + i, zp=-3 + 7 * i, unpaired=True), seed=i)
        assert res.kernels == ("conv2d_s8_rows_simd",)
        res = _run(conv(*shape, act_fn=Activation.NONE, seed=20 + i, zp=-3 + 7 * i), seed=i)
        assert res.kernels == ("conv2d_s8_pair_stack",)


@settings(max_examples=3, deadline=None)
@given(
    st.integers(1, 7),
    st.integers(1, 7),
    st.sampled_from([4, 8, 20]),
    st.sampled_from([4, 8]),
    st.sampled_from([1, 3]),
    st.sampled_from([1, 2]),
)
def test_conv_random_shapes(h, w, cin, cout, k, stride):
    _run(conv(h, w, cin, cout, (k, k), stride, Padding.SAME, Activation.NONE, seed=h * 7 + w))


def test_depthwise_stride2_and_fc_leftover_rows():
    rng = np.random.default_rng(5)
    c = 8
    wt = const("w", rng.integers(-127, 128, (1, 3, 3, c), dtype=np.int8), scales=rng.uniform(0.005, 0.03, c), axis=3)
    bias = const("b", rng.integers(-500, 500, c, dtype=np.int32), scales=[1.0] * c)
    dw = single_op(
        OpKind.DEPTHWISE_CONV_2D,
        DepthwiseConv2DAttrs(2, 2, 1, 1, Padding.SAME, 1, Activation.RELU6),
        [act("x", (1, 7, 6, c), 0.05, 7), wt, bias],
        act("y", (1, 4, 3, c), 0.04, -20),
    )
    _run(dw)  # a lone layer: no room for the SIMD kernels' scratch, so the planner's least-scratch in-place kernel
    wf = const("w", rng.integers(-127, 128, (7, 24), dtype=np.int8), scales=[0.01])
    bf = const("b", rng.integers(-900, 900, 7, dtype=np.int32), scales=[1.0])
    fc = single_op(
        OpKind.FULLY_CONNECTED, FullyConnectedAttrs(), [act("x", (2, 24), 0.07, -9), wf, bf], act("y", (2, 7), 0.2, 3)
    )
    assert _run(fc).kernels == ("fc_s8_pair",)


def _dw(name, src, shape, out_shape, stride, padding, rng, zero_channel=None):
    c = shape[3]
    w = rng.integers(-127, 128, (1, 3, 3, c), dtype=np.int8)
    if zero_channel is not None:
        w[..., zero_channel] = 0  # a constant output channel (its requant folds offline)
    wt = const(f"{name}_w", w, scales=rng.uniform(0.005, 0.03, c), axis=3)
    bias = const(f"{name}_b", rng.integers(-500, 500, c, dtype=np.int32), scales=[1.0] * c)
    y = act(name, out_shape, 0.04, -128)
    op = Op(
        name,
        OpKind.DEPTHWISE_CONV_2D,
        (src, wt.name, bias.name),
        (name,),
        DepthwiseConv2DAttrs(stride, stride, 1, 1, padding, 1, Activation.RELU),
    )
    return op, [wt, bias, y]


def test_depthwise_in_place_chain_with_borders_and_constant_channel():
    """3x3 conv -> three in-place depthwise layers (stride 1 SAME on a 5-wide map, stride 2 VALID, stride 1 SAME):
    the interior fast path, every border kind and the buffered-row write-back. (A pointwise conv in front would
    itself run in place at the peak, and the lower arena would leave the first depthwise no room for its scratch.)"""
    rng = np.random.default_rng(11)
    pw = conv(9, 5, 8, 8, (3, 3), 1, Padding.SAME, seed=3)
    ops, tensors = list(pw.ops), dict(pw.tensors)
    for op, ts in (
        _dw("d1", "y", (1, 9, 5, 8), (1, 9, 5, 8), 1, Padding.SAME, rng, zero_channel=5),
        _dw("d2", "d1", (1, 9, 5, 8), (1, 4, 2, 8), 2, Padding.VALID, rng),
        _dw("d3", "d2", (1, 4, 2, 8), (1, 4, 2, 8), 1, Padding.SAME, rng),
    ):
        ops.append(op)
        tensors.update({t.name: t for t in ts})
    graph = verify(Graph("dw_chain", tensors, tuple(ops), pw.inputs, ("d3",)))
    res = _run(graph, seed=2)
    # the 9 x 5 stride-1 layer takes the channel-planar kernel (one plane at a time at the graph's peak); the 4 x 2
    # planes (stride 2 from five columns, then stride 1) the small-plane kernel (real taps only)
    planar, small = "dwconv3x3_s8_planar_inplace", "dwconv3x3_s8_small_inplace"
    assert res.kernels == ("conv2d_s8_pair_stack", planar, small, small)


def test_depthwise_out_of_place_beside_residual_add():
    """pointwise -> depthwise -> ADD(pointwise, depthwise): the depthwise input lives on, so it runs out of place."""
    rng = np.random.default_rng(12)
    pw = conv(6, 7, 8, 12, (1, 1), 1, Padding.SAME, seed=4)
    op, ts = _dw("d1", "y", (1, 6, 7, 12), (1, 6, 7, 12), 1, Padding.SAME, rng)
    add = Op("add", OpKind.ADD, ("y", "d1"), ("z",), ElementwiseAttrs())
    tensors = dict(pw.tensors, **{t.name: t for t in ts}, z=act("z", (1, 6, 7, 12), 0.15, 2))
    res = _run(verify(Graph("dw_add", tensors, (*pw.ops, op, add), pw.inputs, ("z",))), seed=3)
    assert res.kernels == ("conv2d_s8_pair", "dwconv_s8_simd", "add_s8_lut")


@pytest.mark.parametrize("key", ["ad", "kws", "vww"])
def test_mlperf_exact(key):
    """Bit-exact whole models; their speed is measured by bench/mcu.py and `tinyml bench`, not here."""
    from tinyengine_codegen.run.measure import lcg_input

    graph = load_model(mlperf_path(key))
    x = lcg_input(graph.tensor(graph.inputs[0]).size).reshape(graph.tensor(graph.inputs[0]).shape)
    res = run_model(graph, x, CompileOptions(target="qemu-m4", patches="off"))
    np.testing.assert_array_equal(res.output, run_graph(graph, [x])[0])


def _pointwise_chain(name, h, w, chans, acts, rng):
    """x[1,h,w,chans[0]] -> 1x1 convs chans[i] -> chans[i+1] with activation acts[i] (ReLU outputs use zero point
    -128, so the sign correction is skipped; NONE uses zero point 5, so it is kept)."""
    tensors, ops, src, s_in = {}, [], "x", 0.05
    tensors["x"] = act("x", (1, h, w, chans[0]), s_in, -128)
    for i, (cin, cout, fn) in enumerate(zip(chans, chans[1:], acts)):
        s_w = rng.uniform(0.002, 0.02, cout)
        wt = const(f"w{i}", rng.integers(-127, 128, (cout, 1, 1, cin), dtype=np.int8), scales=s_w, axis=0)
        bias = const(f"b{i}", rng.integers(-3000, 3000, cout, dtype=np.int32), scales=list(s_in * s_w))
        s_out = float(s_in * np.mean(s_w) * 40 * np.sqrt(cin))
        y = act(f"y{i}", (1, h, w, cout), s_out, -128 if fn is Activation.RELU else 5)
        tensors.update({t.name: t for t in (wt, bias, y)})
        ops.append(
            Op(
                f"pw{i}",
                OpKind.CONV_2D,
                (src, wt.name, bias.name),
                (y.name,),
                Conv2DAttrs(1, 1, 1, 1, Padding.SAME, fn),
            )
        )
        src, s_in = y.name, s_out
    return verify(Graph(name, tensors, tuple(ops), ("x",), (src,)))


def test_pointwise_chain_cin_8_16_32_64_odd_pixels_and_channel_tails():
    """15 pixels. Chain 1: cin 8 and 4 (input held in registers, one with the sign correction), unrolled groups
    (cin 16, 20, 32) and the looped groups of a large layer with a two-channel tail (64 -> 66).
    Chain 2 (5 x 3 pixels): unrolled groups with a two-channel tail and the sign correction (32 -> 14)."""
    relu, none = Activation.RELU, Activation.NONE
    rng = np.random.default_rng(7)
    chain = _pointwise_chain(
        "pw_chain", 3, 5, (8, 16, 4, 8, 20, 32, 64, 66), (relu, none, relu, none, relu, relu, relu), rng
    )
    # row pairs over extended columns where their scratch is free (or the narrow kernel for cin 4, 8), out of place;
    # with in-place ops on, a chain's peak layer may take the in-place pointwise kernel instead
    kinds = {"conv2d_1x1_s8_simd_narrow", "conv2d_1x1_s8_pair", "conv2d_s8_pair"}
    assert set(_run(chain, seed=4, inplace=False).kernels) <= kinds
    tail = _pointwise_chain("pw_tail", 5, 3, (16, 32, 14), (relu, none), rng)
    assert set(_run(tail, seed=5, inplace=False).kernels) <= kinds
    assert set(_run(tail, seed=5).kernels) <= kinds | {"conv2d_1x1_s8_inplace_simd"}
