"""Row-pair kernels (int8 weights, two rows per weight word) in QEMU against the reference executor: random shapes
with independently drawn quantization (input, per-tensor or per-channel weight and output scales and zero points,
every fused activation), odd pixel counts, unit tails and batch rows."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tinyengine_codegen.reference.cases import act, const, single_op
from tinyengine_codegen.ir.graph import Graph, Op
from tinyengine_codegen.ir.ops import Activation, Conv2DAttrs, FullyConnectedAttrs, OpKind, Padding
from tinyengine_codegen.ir.verify import verify
from tinyengine_codegen.kernels.cortexm_fc import _fc_parts, fc_dot_plan, is_fc_pair, octets_fit, tiny_fc
from tinyengine_codegen.kernels.cortexm_pair import (
    _pw_parts,
    is_conv_pair,
    is_conv_pair_direct,
    is_conv_pair_stack,
    is_pointwise_pair,
    quad_table_compact,
)
from tinyengine_codegen.kernels.spec import Target
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

QEMU_M4 = Target("qemu-m4", dsp=True)
ACTS = [Activation.NONE, Activation.RELU, Activation.RELU6]


def _check(graph, kernel, predicate, seed):
    """Bit-exact in QEMU; the pair kernel runs whenever its predicate holds (a multiplier >= 0.5 has no fast
    requantization and falls back)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=graph.tensor(graph.inputs[0]).shape, dtype=np.int8)
    # in place off: where a pointwise layer may overwrite its input the in-place 1x1 kernel is chosen instead
    res = run_model(graph, x, CompileOptions(target="qemu-m4", patches="off", inplace=False))
    np.testing.assert_array_equal(res.output, run_graph(graph, [x])[0])
    if predicate(graph.ops[0], graph, QEMU_M4):
        assert res.kernels == (kernel,)


def _quant(rng, n, per_channel, k):
    """Input, weight and output scales drawn apart; the effective multiplier spans below and above one."""
    s_in = float(rng.uniform(0.005, 0.1))
    s_w = rng.uniform(0.001, 0.03, n if per_channel else 1)
    gain = float(rng.choice([0.6, 2.0, 8.0])) * np.sqrt(k)
    s_out = float(s_in * np.mean(s_w) * gain * rng.uniform(0.5, 2.0))
    return s_in, s_w, s_out


def _pointwise(wq, b, s_in, s_w, s_out, zp_in, zp_out, act_fn=Activation.NONE, hw=(3, 3)):
    """One 1x1 stride-1 CONV_2D over an h x w input with weights wq (cout x 1 x 1 x cin) and biases b."""
    cout, cin = wq.shape[0], wq.shape[-1]
    h, w = hw
    return single_op(
        OpKind.CONV_2D,
        Conv2DAttrs(1, 1, 1, 1, Padding.SAME, act_fn),
        [
            act("x", (1, h, w, cin), s_in, zp_in),
            const("w", wq, scales=s_w, axis=0),
            const("b", b, scales=list(s_in * np.resize(s_w, cout))),
        ],
        act("y", (1, h, w, cout), s_out, zp_out),
    )


@settings(max_examples=6, deadline=None)
@given(
    st.integers(1, 2),
    st.integers(1, 24).map(lambda d: 4 * d),
    st.integers(1, 19),
    st.booleans(),
    st.sampled_from(ACTS),
    st.integers(0, 2**16),
)
def test_fc_pair_random(rows, depth, units, per_channel, act_fn, seed):
    rng = np.random.default_rng(seed)
    s_in, s_w, s_out = _quant(rng, units, per_channel, depth)
    w = rng.integers(-127, 128, (units, depth), dtype=np.int8)
    if units > 2:
        w[1] = 0  # a constant unit
    wt = const("w", w, scales=s_w, axis=0)
    bias = const("b", rng.integers(-20000, 20000, units, dtype=np.int32), scales=list(s_in * np.resize(s_w, units)))
    graph = single_op(
        OpKind.FULLY_CONNECTED,
        FullyConnectedAttrs(activation=act_fn),
        [act("x", (rows, depth), s_in, int(rng.integers(-128, 128))), wt, bias],
        act("y", (rows, units), s_out, int(rng.integers(-100, 100))),
    )
    _check(graph, "fc_s8_pair", is_fc_pair, seed)


@settings(max_examples=6, deadline=None)
@given(
    st.integers(1, 5),
    st.integers(1, 5),
    st.integers(4, 40).map(lambda c: 4 * c),
    st.integers(1, 12).map(lambda c: 2 * c),
    st.sampled_from(ACTS),
    st.integers(0, 2**16),
)
def test_pointwise_pair_random(h, w, cin, cout, act_fn, seed):
    rng = np.random.default_rng(seed)
    s_in, s_w, s_out = _quant(rng, cout, True, cin)
    wq = rng.integers(-127, 128, (cout, 1, 1, cin), dtype=np.int8)
    wq[-1] = 0
    b = rng.integers(-20000, 20000, cout, dtype=np.int32)
    zp_in, zp_out = int(rng.integers(-128, 128)), int(rng.integers(-100, 100))
    graph = _pointwise(wq, b, s_in, s_w, s_out, zp_in, zp_out, act_fn, (h, w))
    _check(graph, "conv2d_1x1_s8_pair", is_pointwise_pair, seed)


@settings(max_examples=6, deadline=None)
@given(
    st.integers(3, 9),
    st.integers(3, 9),
    st.integers(1, 6).map(lambda c: 4 * c),
    st.integers(1, 8).map(lambda c: 2 * c),
    st.sampled_from([(1, 1), (3, 3), (5, 5), (3, 1), (1, 3)]),
    st.integers(1, 2),
    st.sampled_from([Padding.SAME, Padding.VALID]),
    st.sampled_from(ACTS),
    st.integers(0, 2**16),
)
def test_conv_pair_random(h, w, cin, cout, k, stride, padding, act_fn, seed):
    """A wide 1x1 layer first (the graph's peak), so the k x k layer's im2col scratch is free."""
    rng = np.random.default_rng(seed)
    wide = 128
    s_x, s_w0, s_in = _quant(rng, cin, True, wide)
    w0 = const("w0", rng.integers(-127, 128, (cin, 1, 1, wide), dtype=np.int8), scales=s_w0, axis=0)
    b0 = const("b0", rng.integers(-20000, 20000, cin, dtype=np.int32), scales=list(s_x * s_w0))
    _, s_w, s_out = _quant(rng, cout, True, k[0] * k[1] * cin)
    wq = rng.integers(-127, 128, (cout, k[0], k[1], cin), dtype=np.int8)
    wq[0] = 0
    wt = const("w1", wq, scales=s_w, axis=0)
    bias = const("b1", rng.integers(-20000, 20000, cout, dtype=np.int32), scales=list(s_in * s_w))
    oh = -(-h // stride) if padding is Padding.SAME else (h - k[0]) // stride + 1
    ow = -(-w // stride) if padding is Padding.SAME else (w - k[1]) // stride + 1
    if oh < 1 or ow < 1:
        return
    tensors = {
        "x": act("x", (1, h, w, wide), s_x, int(rng.integers(-128, 128))),
        "t": act("t", (1, h, w, cin), s_in, int(rng.integers(-100, 100))),
        "y": act("y", (1, oh, ow, cout), s_out, int(rng.integers(-100, 100))),
        **{c.name: c for c in (w0, b0, wt, bias)},
    }
    ops = (
        Op("pw", OpKind.CONV_2D, ("x", "w0", "b0"), ("t",), Conv2DAttrs(1, 1, 1, 1, Padding.SAME, Activation.NONE)),
        Op("kx", OpKind.CONV_2D, ("t", "w1", "b1"), ("y",), Conv2DAttrs(stride, stride, 1, 1, padding, act_fn)),
    )
    graph = verify(Graph("pair_conv", tensors, ops, ("x",), ("y",)))
    x = rng.integers(-128, 128, size=(1, h, w, wide), dtype=np.int8)
    res = run_model(graph, x, CompileOptions(target="qemu-m4", patches="off"))
    np.testing.assert_array_equal(res.output, run_graph(graph, [x])[0])
    if is_conv_pair(graph.ops[1], graph, QEMU_M4) and (k != (1, 1) or stride != 1):  # 1x1 kernels come first
        assert res.kernels[1] == "conv2d_s8_pair"


@settings(max_examples=6, deadline=None)
@given(
    st.integers(3, 9),
    st.integers(3, 9),
    st.integers(13, 16).map(lambda c: 4 * c),
    st.integers(1, 8).map(lambda c: 2 * c),
    st.sampled_from([(3, 3)]),
    st.integers(1, 2),
    st.sampled_from([Padding.SAME, Padding.VALID]),
    st.sampled_from(ACTS),
    st.integers(0, 2**16),
)
def test_conv_pair_direct_random(h, w, cin, cout, k, stride, padding, act_fn, seed):
    """A lone k x k layer (the graph's peak: no scratch) whose two columns exceed the stack budget: interior pixel
    pairs in place, border columns on the stack, odd widths."""
    rng = np.random.default_rng(seed)
    s_in, s_w, s_out = _quant(rng, cout, True, k[0] * k[1] * cin)
    wq = rng.integers(-127, 128, (cout, k[0], k[1], cin), dtype=np.int8)
    wq[-1] = 0
    wt = const("w", wq, scales=s_w, axis=0)
    bias = const("b", rng.integers(-20000, 20000, cout, dtype=np.int32), scales=list(s_in * s_w))
    oh = -(-h // stride) if padding is Padding.SAME else (h - k[0]) // stride + 1
    ow = -(-w // stride) if padding is Padding.SAME else (w - k[1]) // stride + 1
    if oh < 1 or ow < 1:
        return
    graph = single_op(
        OpKind.CONV_2D,
        Conv2DAttrs(stride, stride, 1, 1, padding, act_fn),
        [act("x", (1, h, w, cin), s_in, int(rng.integers(-128, 128))), wt, bias],
        act("y", (1, oh, ow, cout), s_out, int(rng.integers(-100, 100))),
    )
    _check(graph, "conv2d_s8_pair_direct", is_conv_pair_direct, seed)


@settings(max_examples=8, deadline=None)
@given(
    st.integers(2, 9),
    st.integers(2, 9),
    st.integers(1, 12),
    st.integers(1, 9).map(lambda c: 2 * c),
    st.sampled_from([(3, 3), (5, 5), (3, 1), (1, 3), (2, 2), (10, 4)]),
    st.integers(1, 2),
    st.integers(1, 2),
    st.sampled_from([Padding.SAME, Padding.VALID]),
    st.sampled_from(ACTS),
    st.integers(0, 2**16),
)
def test_conv_pair_stack_random(h, w, cin, cout, k, stride, dil, padding, act_fn, seed):
    """A lone k x k layer (no scratch) with any input channel count (first layers: 1..3), stride, dilation and
    padding: both columns on the stack, a last pair when cout % 4 == 2, odd pixel counts."""
    rng = np.random.default_rng(seed)
    s_in, s_w, s_out = _quant(rng, cout, bool(seed % 2), k[0] * k[1] * cin)
    wq = rng.integers(-127, 128, (cout, k[0], k[1], cin), dtype=np.int8)
    wq[-1] = 0
    wt = const("w", wq, scales=s_w, axis=0)
    bias = const("b", rng.integers(-20000, 20000, cout, dtype=np.int32), scales=list(s_in * np.resize(s_w, cout)))
    ek = [dil * (n - 1) + 1 for n in k]
    oh = -(-h // stride) if padding is Padding.SAME else (h - ek[0]) // stride + 1
    ow = -(-w // stride) if padding is Padding.SAME else (w - ek[1]) // stride + 1
    if oh < 1 or ow < 1:
        return
    graph = single_op(
        OpKind.CONV_2D,
        Conv2DAttrs(stride, stride, dil, dil, padding, act_fn),
        [act("x", (1, h, w, cin), s_in, int(rng.integers(-128, 128))), wt, bias],
        act("y", (1, oh, ow, cout), s_out, int(rng.integers(-100, 100))),
    )
    _check(graph, "conv2d_s8_pair_stack", is_conv_pair_stack, seed)


def test_fc_falls_back_when_row_b_could_overflow():
    """Unit 1 (row B of the first pair) has 1024 weights of 127: 128 x its |w| sum reaches 2^23, so the row-pair
    kernel declines and the layer stays bit-exact on the next kernel."""
    rng = np.random.default_rng(9)
    units, depth = 6, 1024
    w = rng.integers(-127, 128, (units, depth), dtype=np.int8)
    w[1] = 127
    s_in, s_w, s_out = _quant(rng, units, True, depth)
    bias = const("b", rng.integers(-20000, 20000, units, dtype=np.int32), scales=list(s_in * s_w))
    graph = single_op(
        OpKind.FULLY_CONNECTED,
        FullyConnectedAttrs(activation=Activation.NONE),
        [act("x", (1, depth), s_in, 5), const("w", w, scales=s_w, axis=0), bias],
        act("y", (1, units), s_out, 0),
    )
    assert not is_fc_pair(graph.ops[0], graph, QEMU_M4)
    _check(graph, "unused", lambda *_: False, 9)


@pytest.mark.parametrize("k", [1, 3])
def test_conv_falls_back_on_a_minus_128_weight_beside_a_negative_one(k):
    """h = wA + 256 wB has no int16 for wB = -128 and wA < 0: no row-pair kernel takes the layer."""
    rng = np.random.default_rng(10 + k)
    cin, cout = 3, 4
    wq = rng.integers(-127, 128, (cout, k, k, cin), dtype=np.int8)
    wq[0, 0, 0, 0], wq[1, 0, 0, 0] = -3, -128
    s_in, s_w, s_out = _quant(rng, cout, True, k * k * cin)
    bias = const("b", rng.integers(-20000, 20000, cout, dtype=np.int32), scales=list(s_in * s_w))
    graph = single_op(
        OpKind.CONV_2D,
        Conv2DAttrs(1, 1, 1, 1, Padding.SAME, Activation.RELU),
        [act("x", (1, 5, 6, cin), s_in, 3), const("w", wq, scales=s_w, axis=0), bias],
        act("y", (1, 5, 6, cout), s_out, -20),
    )
    op = graph.ops[0]
    assert not any(f(op, graph, QEMU_M4) for f in (is_conv_pair_stack, is_conv_pair, is_conv_pair_direct))
    _check(graph, "unused", lambda *_: False, 10 + k)


def test_pointwise_pair_wide_input_reads_pixels_in_place():
    """cin 400: the two pixels' columns would exceed the stack budget, so the loop extends them in registers."""
    rng = np.random.default_rng(3)
    cin, cout = 400, 6
    s_in, s_w, s_out = _quant(rng, cout, True, cin)
    wq = rng.integers(-127, 128, (cout, 1, 1, cin), dtype=np.int8)
    b = rng.integers(-20000, 20000, cout, dtype=np.int32)
    graph = _pointwise(wq, b, s_in, s_w, s_out, 11, -128, Activation.RELU)
    assert is_pointwise_pair(graph.ops[0], graph, QEMU_M4)
    _check(graph, "conv2d_1x1_s8_pair", is_pointwise_pair, 3)


@pytest.mark.parametrize("cout", [4, 6, 10])
@pytest.mark.parametrize("k", [1, 3])
def test_quad_kernels_per_tensor_with_a_last_pair(k, cout):
    """Per-tensor scales (the epilogue's constants are immediates), groups of four channels plus a last pair
    (cout % 4 == 2), an odd pixel count (the last pixel alone) and a clamping activation; a wide 1x1 layer first
    sets the peak, so the k x k layer's columns fit in scratch."""
    rng = np.random.default_rng(100 * k + cout)
    cin, h, w, wide = 16, 3, 5, 128
    s_x, s_w0, s_in = _quant(rng, cin, True, wide)
    w0 = const("w0", rng.integers(-127, 128, (cin, 1, 1, wide), dtype=np.int8), scales=s_w0, axis=0)
    b0 = const("b0", rng.integers(-20000, 20000, cin, dtype=np.int32), scales=list(s_x * s_w0))
    _, s_w, s_out = _quant(rng, cout, False, k * k * cin)
    wt = const("w1", rng.integers(-127, 128, (cout, k, k, cin), dtype=np.int8), scales=s_w, axis=0)
    bias = const("b1", rng.integers(-20000, 20000, cout, dtype=np.int32), scales=list(s_in * np.resize(s_w, cout)))
    tensors = {
        "x": act("x", (1, h, w, wide), s_x, 3),
        "t": act("t", (1, h, w, cin), s_in, -7),
        "y": act("y", (1, h, w, cout), s_out, -100),
        **{c.name: c for c in (w0, b0, wt, bias)},
    }
    ops = (
        Op("pw", OpKind.CONV_2D, ("x", "w0", "b0"), ("t",), Conv2DAttrs(1, 1, 1, 1, Padding.SAME, Activation.NONE)),
        Op("kx", OpKind.CONV_2D, ("t", "w1", "b1"), ("y",), Conv2DAttrs(1, 1, 1, 1, Padding.SAME, Activation.RELU6)),
    )
    graph = verify(Graph("quad_conv", tensors, ops, ("x",), ("y",)))
    x = rng.integers(-128, 128, size=(1, h, w, wide), dtype=np.int8)
    res = run_model(graph, x, CompileOptions(target="qemu-m4", patches="off", inplace=False))
    np.testing.assert_array_equal(res.output, run_graph(graph, [x])[0])
    assert res.kernels[1] == "conv2d_s8_pair"  # 1x1 too, when its columns fit in scratch


@pytest.mark.parametrize("cout", [6, 8])
def test_pointwise_quad_per_tensor(cout):
    """The 1x1 kernel alone (no scratch: pixels sign-extended on the stack), per-tensor scales, odd pixel count."""
    rng = np.random.default_rng(cout)
    cin = 24
    s_in, s_w, s_out = _quant(rng, cout, False, cin)
    wq = rng.integers(-127, 128, (cout, 1, 1, cin), dtype=np.int8)
    b = rng.integers(-20000, 20000, cout, dtype=np.int32)
    graph = _pointwise(wq, b, s_in, s_w, s_out, 5, -90, Activation.RELU)
    assert is_pointwise_pair(graph.ops[0], graph, QEMU_M4)
    _check(graph, "conv2d_1x1_s8_pair", is_pointwise_pair, cout)


@pytest.mark.parametrize(
    ("depth", "units", "act_fn"),
    [
        (800, 6, Activation.RELU),
        (640, 6, Activation.RELU),
        (128, 9, Activation.RELU6),
        (128, 42, Activation.NONE),
        (256, 3, Activation.NONE),
        (36, 4, Activation.RELU6),
    ],
)
def test_fc_pair_deep_rows_per_tensor(depth, units, act_fn):
    """Per-tensor scales; depth 800 reads the input row in place (its sign-extended copy would exceed the stack
    budget), the others sign-extend it; 42 units run five groups of eight through the shared unrolled dot, then a
    last group of 2 (9 units: 1). 3 and 4 units are one group of four: the row widened in registers, the k loop
    of a small layer unrolled twice (depth 256) or not at all (36: nine k quads)."""
    rng = np.random.default_rng(depth + units)
    s_in, s_w, s_out = _quant(rng, units, False, depth)
    w = rng.integers(-127, 128, (units, depth), dtype=np.int8)
    bias = const("b", rng.integers(-20000, 20000, units, dtype=np.int32), scales=list(s_in * np.resize(s_w, units)))
    graph = single_op(
        OpKind.FULLY_CONNECTED,
        FullyConnectedAttrs(activation=act_fn),
        [act("x", (1, depth), s_in, -11), const("w", w, scales=s_w, axis=0), bias],
        act("y", (1, units), s_out, -60),
    )
    assert is_fc_pair(graph.ops[0], graph, QEMU_M4)
    _check(graph, "fc_s8_pair", is_fc_pair, depth)


@pytest.mark.parametrize(("rows", "depth", "units"), [(1, 256, 2), (2, 64, 1)])
def test_tiny_fc_takes_the_portable_kernel(rows, depth, units):
    """At most two units and 4,096 MACs: the SIMD kernels would pad the weights to four units; the portable kernel
    keeps them as they are (tiny_fc), bit-exact in QEMU; three units still take the pair kernel."""
    rng = np.random.default_rng(depth + units)
    s_in, s_w, s_out = _quant(rng, units, True, depth)
    w = rng.integers(-127, 128, (units, depth), dtype=np.int8)
    bias = const("b", rng.integers(-20000, 20000, units, dtype=np.int32), scales=list(s_in * np.resize(s_w, units)))
    graph = single_op(
        OpKind.FULLY_CONNECTED,
        FullyConnectedAttrs(activation=Activation.NONE),
        [act("x", (rows, depth), s_in, 7), const("w", w, scales=s_w, axis=0), bias],
        act("y", (rows, units), s_out, -3),
    )
    assert tiny_fc(graph.ops[0], graph) and not is_fc_pair(graph.ops[0], graph, QEMU_M4)
    _check(graph, "fc_s8_ref", lambda *_: True, depth)
    w3 = rng.integers(-127, 128, (3, depth), dtype=np.int8)
    graph3 = single_op(
        OpKind.FULLY_CONNECTED,
        FullyConnectedAttrs(activation=Activation.NONE),
        [act("x", (rows, depth), s_in, 7), const("w", w3, scales=list(np.resize(s_w, 3)), axis=0)],
        act("y", (rows, 3), s_out, -3),
    )
    assert not tiny_fc(graph3.ops[0], graph3)


@settings(max_examples=8, deadline=None)
@given(
    st.integers(1, 2),
    st.sampled_from([8, 32, 64, 128, 136, 256, 640]),
    st.integers(32, 52),
    st.booleans(),
    st.sampled_from(ACTS),
    st.integers(0, 2**16),
)
def test_fc_octets_random(rows, depth, units, per_channel, act_fn, seed):
    """At least 32 units: groups of eight units through the shared unrolled dot (input row at the stack pointer;
    deeper than 128, one call per chunk of k quads: 136 = 2 x 17, 256 = 2 x 32, 640 = 5 x 32), the remaining 0..7
    units in groups of four and a tail."""
    rng = np.random.default_rng(seed)
    s_in, s_w, s_out = _quant(rng, units, per_channel, depth)
    w = rng.integers(-127, 128, (units, depth), dtype=np.int8)
    w[3] = 0  # a constant unit
    bias = const("b", rng.integers(-20000, 20000, units, dtype=np.int32), scales=list(s_in * np.resize(s_w, units)))
    graph = single_op(
        OpKind.FULLY_CONNECTED,
        FullyConnectedAttrs(activation=act_fn),
        [act("x", (rows, depth), s_in, int(rng.integers(-128, 128))), const("w", w, scales=s_w, axis=0), bias],
        act("y", (rows, units), s_out, int(rng.integers(-100, 100))),
    )
    _check(graph, "fc_s8_pair", is_fc_pair, seed)


@pytest.mark.parametrize(
    ("depth", "b_weight", "zp", "b_range", "octets"),
    [
        (640, 100, 0, 1000, True),
        (640, 100, -11, 2**21, False),
        (256, 127, 3, 2**21, True),
        (148, 127, -128, 2**21, False),
    ],
)
def test_fc_octets_near_the_row_b_bound(depth, b_weight, zp, b_range, octets):
    """Row B of two pairs close to the overflow bound (128 x sum |wB| = 8,192,000 at 640 x 100, the bound 2^23): the
    octet path carries biasB in its accumulators, so it runs only while 128 x sum |wB| + |biasB| stays below 2^23,
    else the layer takes groups of four (as does a depth of 148, which has no dot chunk); bit-exact either way."""
    rng = np.random.default_rng(depth + zp)
    units = 40
    w = rng.integers(-127, 128, (units, depth), dtype=np.int8)
    w[1] = b_weight
    w[3] = -b_weight
    s_in, s_w, s_out = _quant(rng, units, True, depth)
    bias = const("b", rng.integers(-b_range, b_range, units, dtype=np.int32), scales=list(s_in * s_w))
    graph = single_op(
        OpKind.FULLY_CONNECTED,
        FullyConnectedAttrs(activation=Activation.NONE),
        [act("x", (1, depth), s_in, zp), const("w", w, scales=s_w, axis=0), bias],
        act("y", (1, units), s_out, 0),
    )
    rows, folded, _ = _fc_parts(graph.ops[0], graph)
    assert (fc_dot_plan(depth, True) is not None and octets_fit(rows, folded)) == octets
    _check(graph, "fc_s8_pair", is_fc_pair, depth)


@pytest.mark.parametrize("cout", [12, 14])
@pytest.mark.parametrize("big", [0, 1 << 23, -(1 << 24), 1 << 28])
def test_pointwise_quad_compact_and_wide_tables(big, cout):
    """The quad core (and the pair core of a last pair) with the compact requantization table (8 bytes per
    channel) and, when one folded bias needs more than 24 bits, with the wide table: both bit-exact, with a
    constant (zero-weight) channel in a group; a bias of 2^28 saturates its channel, which keeps the compact table
    with a re-encoded bias."""
    rng = np.random.default_rng(abs(big) % 1000 + 7)
    cin = 32
    s_in, s_w, s_out = _quant(rng, cout, True, cin)
    s_out = max(s_out, 4 * s_in * float(np.max(s_w)))  # multipliers below 1/2: the fast requantization applies
    if abs(big) in (1 << 23, 1 << 24):  # channel 2's output near +-50 still varies: no 24-bit re-encoding exists
        s_w = np.full(cout, s_w[2])
        s_out = s_in * float(s_w[2]) * abs(big) / 50
    wq = rng.integers(-127, 128, (cout, 1, 1, cin), dtype=np.int8)
    wq[5] = 0
    b = rng.integers(-20000, 20000, cout, dtype=np.int32)
    b[2] = big or b[2]
    graph = _pointwise(wq, b, s_in, s_w, s_out, 9, -20)
    _g, rows, bias, q = _pw_parts(graph.ops[0], graph)
    table = quad_table_compact(q, rows, bias)
    assert q is not None and (table is None) == (abs(big) in (1 << 23, 1 << 24))
    if big == 1 << 28:  # channel 2 saturates: re-encoded with a 24-bit bias (its group's packed word 3)
        assert table[3] >> 8 != bias[2] and abs(table[3] >> 8) < 1 << 23
    _check(graph, "conv2d_1x1_s8_pair", is_pointwise_pair, 11)
