"""CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and pooling: the reference equals TFLM bit for bit.

Each case is named after the edge it stresses (CMSIS-NN style); data and quantization come from a seeded rng.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinyengine_codegen.ir.ops import (
    Activation,
    Conv2DAttrs,
    DepthwiseConv2DAttrs,
    FullyConnectedAttrs,
    OpKind,
    Padding,
    Pool2DAttrs,
)
from tinyengine_codegen.ir.shapes import conv_out_pad

from .cases import act, assert_matches_tflm, check_random, const, single_op, weights

SAME, VALID = Padding.SAME, Padding.VALID

# name: (H, W, Cin, Cout, KH, KW, stride, dilation, padding, per_channel, activation, bias)
CONV_CASES = {
    "kernel1x1": (5, 6, 3, 4, 1, 1, 1, 1, VALID, True, Activation.NONE, True),
    "kernel3x3_same": (7, 9, 5, 7, 3, 3, 1, 1, SAME, True, Activation.NONE, True),
    "kernel3x3_stride2_same_odd": (9, 7, 3, 6, 3, 3, 2, 1, SAME, True, Activation.RELU, True),
    "kernel5x5_valid": (11, 10, 2, 3, 5, 5, 1, 1, VALID, False, Activation.NONE, True),
    "kernel7x7_stride2": (15, 13, 1, 5, 7, 7, 2, 1, SAME, True, Activation.RELU6, True),
    "kernel3x1_nonsquare": (8, 8, 4, 4, 3, 1, 1, 1, SAME, True, Activation.NONE, False),
    "kernel2x4_even_same": (6, 7, 3, 2, 2, 4, 1, 1, SAME, True, Activation.NONE, True),
    "dilation2": (12, 11, 3, 4, 3, 3, 1, 2, SAME, True, Activation.NONE, True),
    "stride2_valid_even": (8, 8, 8, 16, 3, 3, 2, 1, VALID, False, Activation.RELU_N1_TO_1, True),
    "cin1_cout1": (6, 5, 1, 1, 3, 3, 1, 1, SAME, False, Activation.NONE, True),
    "stride2_kernel1": (7, 7, 5, 3, 1, 1, 2, 1, VALID, True, Activation.RELU, True),
}


def _conv_graph(case, rng, depthwise: bool = False, mult: int = 1):
    h, w, cin, cout, kh, kw, stride, dil, padding, per_channel, activation, with_bias = case
    s_in, zp_in = float(rng.uniform(0.01, 0.1)), int(rng.integers(-128, 128))
    channels = cin * mult if depthwise else cout
    fshape = (1, kh, kw, channels) if depthwise else (cout, kh, kw, cin)
    s_w = rng.uniform(0.002, 0.02, size=channels if per_channel else 1)
    wt = const("w", weights(rng, fshape), s_w, axis=3 if depthwise else 0)
    taps = kh * kw * (1 if depthwise else cin)
    s_out = float(s_in * s_w.max() * 40 * np.sqrt(taps) * rng.uniform(0.5, 2.0))
    bias = None
    if with_bias:
        bias_scales = s_in * s_w * np.ones(channels)
        bias = const("b", rng.integers(-3000, 3000, size=channels).astype(np.int32), bias_scales)
    oh, _ = conv_out_pad(h, kh, stride, dil, padding)
    ow, _ = conv_out_pad(w, kw, stride, dil, padding)
    x = act("x", (1, h, w, cin), s_in, zp_in)
    y = act("y", (1, oh, ow, channels), s_out, int(rng.integers(-20, 20)))
    if depthwise:
        attrs = DepthwiseConv2DAttrs(stride, stride, dil, dil, padding, mult, activation)
        return single_op(OpKind.DEPTHWISE_CONV_2D, attrs, [x, wt, bias], y)
    return single_op(OpKind.CONV_2D, Conv2DAttrs(stride, stride, dil, dil, padding, activation), [x, wt, bias], y)


@pytest.mark.parametrize("name", sorted(CONV_CASES))
def test_conv2d_matches_tflm(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    check_random(_conv_graph(CONV_CASES[name], rng), seed=1)


# name: (H, W, C, multiplier, KH, KW, stride, dilation, padding, per_channel, activation)
DW_CASES = {
    "kernel3x3_same": (9, 9, 8, 1, 3, 3, 1, 1, SAME, True, Activation.RELU6),
    "kernel3x3_stride2_odd_channels": (10, 7, 5, 1, 3, 3, 2, 1, SAME, True, Activation.NONE),
    "kernel5x5_valid": (9, 8, 3, 1, 5, 5, 1, 1, VALID, False, Activation.RELU),
    "kernel7x7": (12, 12, 2, 1, 7, 7, 1, 1, SAME, True, Activation.NONE),
    "multiplier2": (6, 6, 3, 2, 3, 3, 1, 1, SAME, True, Activation.NONE),
    "multiplier3_stride2": (7, 8, 2, 3, 3, 3, 2, 1, VALID, True, Activation.NONE),
    "dilation2": (11, 9, 4, 1, 3, 3, 1, 2, SAME, True, Activation.NONE),
    "kernel1x1": (5, 5, 6, 1, 1, 1, 1, 1, VALID, False, Activation.NONE),
    "channels1_multiplier4": (6, 6, 1, 4, 3, 3, 1, 1, SAME, False, Activation.NONE),
}


@pytest.mark.parametrize("name", sorted(DW_CASES))
def test_depthwise_conv2d_matches_tflm(name):
    h, w, c, mult, kh, kw, stride, dil, padding, per_channel, activation = DW_CASES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    case = (h, w, c, c * mult, kh, kw, stride, dil, padding, per_channel, activation, True)
    check_random(_conv_graph(case, rng, depthwise=True, mult=mult), seed=2)


@pytest.mark.parametrize(
    "rows,cin,cout,per_channel,activation,keep_dims",
    [
        (1, 10, 4, False, Activation.NONE, False),
        (3, 7, 5, False, Activation.RELU, False),
        (1, 64, 12, True, Activation.NONE, False),
        (2, 9, 3, False, Activation.RELU6, True),
    ],
)
def test_fully_connected_matches_tflm(rows, cin, cout, per_channel, activation, keep_dims):
    rng = np.random.default_rng(rows * 100 + cin)
    s_in, s_w = 0.05, rng.uniform(0.002, 0.02, size=cout if per_channel else 1)
    wt = const("w", weights(rng, (cout, cin)), s_w)
    bias = const("b", rng.integers(-5000, 5000, size=cout).astype(np.int32), s_in * s_w * np.ones(cout))
    x = act("x", (rows, cin), s_in, int(rng.integers(-128, 128)))
    y = act("y", (rows, cout), float(s_in * s_w.max() * 40 * np.sqrt(cin)), 3)
    graph = single_op(OpKind.FULLY_CONNECTED, FullyConnectedAttrs(activation, keep_dims), [x, wt, bias], y)
    check_random(graph, seed=3)


# name: (H, W, C, FH, FW, stride, padding, activation)
POOL_CASES = {
    "global_7x7": (7, 7, 5, 7, 7, 1, VALID, Activation.NONE),
    "2x2_stride2": (8, 8, 3, 2, 2, 2, VALID, Activation.NONE),
    "3x3_stride2_same_partial_windows": (9, 10, 4, 3, 3, 2, SAME, Activation.NONE),
    "3x3_stride1_same": (5, 6, 3, 3, 3, 1, SAME, Activation.RELU),
    "4x3_same_even": (7, 7, 2, 4, 3, 2, SAME, Activation.RELU6),
}


@pytest.mark.parametrize("kind", [OpKind.AVERAGE_POOL_2D, OpKind.MAX_POOL_2D])
@pytest.mark.parametrize("name", sorted(POOL_CASES))
def test_pool2d_matches_tflm(kind, name):
    h, w, c, fh, fw, stride, padding, activation = POOL_CASES[name]
    oh, _ = conv_out_pad(h, fh, stride, 1, padding)
    ow, _ = conv_out_pad(w, fw, stride, 1, padding)
    x = act("x", (1, h, w, c), 0.05, -7)
    y = act("y", (1, oh, ow, c), 0.05, -7)
    check_random(single_op(kind, Pool2DAttrs(fh, fw, stride, stride, padding, activation), [x], y), seed=4, n=3)


def test_average_pool_rounds_half_away_from_zero():
    # 2 taps: sums -3 and 3 give -1.5 and 1.5, which TFLM rounds to -2 and 2
    x = act("x", (1, 1, 4, 1), 0.1, 0)
    y = act("y", (1, 1, 2, 1), 0.1, 0)
    graph = single_op(OpKind.AVERAGE_POOL_2D, Pool2DAttrs(1, 2, 1, 2, VALID), [x], y)
    from tinyengine_codegen.reference.run import run_graph

    out = run_graph(graph, [np.array([-1, -2, 1, 2], np.int8).reshape(1, 1, 4, 1)])[0]
    assert out.reshape(-1).tolist() == [-2, 2]


def test_fully_connected_multiplier_uses_double_scale_product():
    # For these scales, s_in * s_w in double (TFLM) and rounded to float32 (older TFLite) give different Q31
    # multipliers; these accumulators land on opposite sides of a rounding boundary (-96 vs -97).
    s_in, s_w, s_out = 0.0560639463365078, 0.009554172866046429, 22.88319206237793
    accs = np.array([-4122561, -3823515, -3567190, -3268144, -3011819, -2456448])
    wt = const("w", np.ones((6, 1), np.int8), [s_w])
    bias = const("b", (accs - 1).astype(np.int32), [s_in * s_w])
    x, y = act("x", (1, 1), s_in, 0), act("y", (1, 6), s_out, 0)
    graph = single_op(OpKind.FULLY_CONNECTED, FullyConnectedAttrs(), [x, wt, bias], y)
    out = assert_matches_tflm(graph, [np.ones((1, 1), np.int8)])
    assert out.reshape(-1).tolist() == [-96, -89, -83, -76, -70, -57]


def test_grouped_conv2d_matches_tflm():
    # filter input depth 2 on a 4-channel input: two groups of 3 output channels
    rng = np.random.default_rng(0)
    wt = const("w", weights(rng, (6, 3, 3, 2)), rng.uniform(0.01, 0.02, 6))
    graph = single_op(
        OpKind.CONV_2D, Conv2DAttrs(), [act("x", (1, 5, 5, 4), 0.05, 2), wt, None], act("y", (1, 5, 5, 6), 0.5, 0)
    )
    check_random(graph, seed=1)
