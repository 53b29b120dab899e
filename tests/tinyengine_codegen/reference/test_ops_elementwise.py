"""ADD, MUL, MEAN, SOFTMAX, LOGISTIC, HARD_SWISH, RELU, RELU6, QUANTIZE, DEQUANTIZE: bit-exact with TFLM.

Element-wise unary ops are checked on all 256 int8 values at once, over several quantizations each.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinyengine_codegen.ir.graph import Tensor
from tinyengine_codegen.ir.ops import Activation, ElementwiseAttrs, MeanAttrs, NoAttrs, OpKind, SoftmaxAttrs

from .cases import act, assert_matches_tflm, check_random, single_op

ALL_INT8 = np.arange(-128, 128, dtype=np.int8).reshape(1, 16, 16, 1)


@pytest.mark.parametrize(
    "shape1,shape2",
    [
        ((1, 5, 6, 3), (1, 5, 6, 3)),
        ((1, 5, 6, 3), (1, 1, 1, 3)),
        ((1, 4, 1, 3), (1, 1, 5, 1)),
        ((2, 7), (7,)),
        ((1, 3, 3, 8), (1, 3, 3, 1)),
    ],
)
@pytest.mark.parametrize("kind", [OpKind.ADD, OpKind.MUL])
def test_binary_broadcast_matches_tflm(kind, shape1, shape2):
    rng = np.random.default_rng(len(shape1) * 10 + len(shape2) + shape1[-1])
    out_shape = np.broadcast_shapes(shape1, shape2)
    a = act("a", shape1, rng.uniform(0.01, 0.2), rng.integers(-128, 128))
    b = act("b", shape2, rng.uniform(0.01, 0.2), rng.integers(-128, 128))
    s_out = 0.3 if kind is OpKind.ADD else 2.0
    y = act("y", out_shape, s_out * rng.uniform(0.5, 1.5), rng.integers(-30, 30))
    check_random(single_op(kind, ElementwiseAttrs(), [a, b], y), seed=5, n=3)


@pytest.mark.parametrize(
    "s1,s2,s_out,activation",
    [
        (0.05, 0.05, 0.05, Activation.NONE),  # equal scales
        (0.5, 0.001, 0.01, Activation.NONE),  # very different inputs, output saturates
        (0.02, 0.07, 0.2, Activation.RELU),
        (0.1, 0.1, 0.03, Activation.RELU6),
        (0.004, 0.009, 0.008, Activation.RELU_N1_TO_1),
    ],
)
@pytest.mark.parametrize("kind", [OpKind.ADD, OpKind.MUL])
def test_binary_scales_and_activations_match_tflm(kind, s1, s2, s_out, activation):
    a = act("a", (1, 16, 16, 1), s1, 5)
    b = act("b", (1, 16, 16, 1), s2, -100)
    y = act("y", (1, 16, 16, 1), s_out if kind is OpKind.ADD else s_out * 10, -3)
    graph = single_op(kind, ElementwiseAttrs(activation), [a, b], y)
    assert_matches_tflm(graph, [ALL_INT8, ALL_INT8[:, ::-1]])
    check_random(graph, seed=6)


@pytest.mark.parametrize(
    "shape,axes,keep,same_quant",
    [
        ((1, 7, 5, 6), (1, 2), True, True),
        ((1, 7, 5, 6), (1, 2), True, False),
        ((1, 4, 4, 3), (1, 2), False, False),
        ((1, 6, 5, 4), (3,), True, False),
        ((2, 3, 5), (1,), False, True),
        ((1, 9, 9, 2), (1, 2), False, True),
    ],
)
def test_mean_matches_tflm(shape, axes, keep, same_quant):
    out_shape = tuple(1 if d in axes else n for d, n in enumerate(shape))
    if not keep:
        out_shape = tuple(n for d, n in enumerate(shape) if d not in axes)
    x = act("x", shape, 0.07, -11)
    y = act("y", out_shape, 0.07, -11) if same_quant else act("y", out_shape, 0.031, 9)
    check_random(single_op(OpKind.MEAN, MeanAttrs(axes, keep), [x], y), seed=7, n=3)


def test_mean_rounds_ties_upward_like_tflm():
    # means -2.5 and 2.5 with equal quantization: TFLM's rounding doubling multiply gives -2 and 3
    from tinyengine_codegen.reference.run import run_graph

    x = act("x", (1, 2, 2, 1), 0.1, 0)
    y = act("y", (1, 2, 1, 1), 0.1, 0)
    graph = single_op(OpKind.MEAN, MeanAttrs((2,), True), [x], y)
    data = np.array([-2, -3, 2, 3], np.int8).reshape(1, 2, 2, 1)
    assert run_graph(graph, [data])[0].reshape(-1).tolist() == [-2, 3]
    assert_matches_tflm(graph, [data])


@pytest.mark.parametrize(
    "shape,scale,beta",
    [
        ((1, 10), 0.1447, 1.0),
        ((1, 12), 0.05, 1.0),
        ((3, 7), 0.5, 1.0),
        ((2, 4, 5), 0.02, 1.0),
        ((1, 1000), 0.08, 1.0),
        ((1, 6), 0.1, 0.5),
    ],
)
def test_softmax_matches_tflm(shape, scale, beta):
    x = act("x", shape, scale, 12)
    y = act("y", shape, 1 / 256, -128)
    check_random(single_op(OpKind.SOFTMAX, SoftmaxAttrs(beta), [x], y), seed=8, n=4)


UNARY_QUANT = [(0.02, 0), (0.0625, -30), (0.1, 40), (0.25, 127), (0.003, -128)]


@pytest.mark.parametrize("s_in,zp_in", UNARY_QUANT)
def test_logistic_all_values_match_tflm(s_in, zp_in):
    x = act("x", ALL_INT8.shape, s_in, zp_in)
    y = act("y", ALL_INT8.shape, 1 / 256, -128)
    assert_matches_tflm(single_op(OpKind.LOGISTIC, NoAttrs(), [x], y), [ALL_INT8])


@pytest.mark.parametrize("s_in,zp_in", UNARY_QUANT)
@pytest.mark.parametrize("s_out,zp_out", [(0.02, -100), (0.05, -10), (0.003, 5)])
def test_hard_swish_all_values_match_tflm(s_in, zp_in, s_out, zp_out):
    x = act("x", ALL_INT8.shape, s_in, zp_in)
    y = act("y", ALL_INT8.shape, s_out, zp_out)
    assert_matches_tflm(single_op(OpKind.HARD_SWISH, NoAttrs(), [x], y), [ALL_INT8])


def test_hard_swish_output_shift_of_16_or_more_matches_tflm():
    # s_in / 128 / s_out < 2**-16: TFLM's int16 RoundingDivideByPOT then yields only +-1 around the zero point
    x = act("x", ALL_INT8.shape, 0.0035351751877235283, -19)
    y = act("y", ALL_INT8.shape, 2.48, 0)
    out = assert_matches_tflm(single_op(OpKind.HARD_SWISH, NoAttrs(), [x], y), [ALL_INT8])
    assert sorted(np.unique(out).tolist()) == [-1, 1]


@pytest.mark.parametrize("s_in,zp_in", UNARY_QUANT)
@pytest.mark.parametrize("kind", [OpKind.RELU, OpKind.RELU6])
def test_relu_all_values_match_tflm(kind, s_in, zp_in):
    x = act("x", ALL_INT8.shape, s_in, zp_in)
    for s_out, zp_out in [(s_in, zp_in), (s_in * 0.7, -128), (s_in * 1.9, 3)]:
        y = act("y", ALL_INT8.shape, s_out, zp_out)
        assert_matches_tflm(single_op(kind, NoAttrs(), [x], y), [ALL_INT8])


@pytest.mark.parametrize("s_in,zp_in,s_out,zp_out", [(0.05, 3, 0.05, 3), (0.05, 3, 0.02, -50), (0.1, -128, 0.37, 9)])
def test_requantize_all_values_match_tflm(s_in, zp_in, s_out, zp_out):
    x = act("x", ALL_INT8.shape, s_in, zp_in)
    y = act("y", ALL_INT8.shape, s_out, zp_out)
    assert_matches_tflm(single_op(OpKind.QUANTIZE, NoAttrs(), [x], y), [ALL_INT8])


@pytest.mark.parametrize("scale,zp", [(0.1, 0), (0.0374, -17), (1 / 3, 100)])
def test_quantize_float_matches_tflm(scale, zp):
    x = Tensor("x", (1, 64), "float32")
    y = act("y", (1, 64), scale, zp)
    graph = single_op(OpKind.QUANTIZE, NoAttrs(), [x], y)
    ties = ((np.arange(64) - 32) * np.float32(scale) / 2).astype(np.float32).reshape(1, 64)
    assert_matches_tflm(graph, [ties])  # many exact .5 quotients: ties round away from zero
    check_random(graph, seed=9, n=3)


@pytest.mark.parametrize("scale,zp", [(0.1, 0), (0.0374, -17), (3.3e-5, 127)])
def test_dequantize_matches_tflm(scale, zp):
    x = act("x", ALL_INT8.shape, scale, zp)
    y = Tensor("y", ALL_INT8.shape, "float32")
    assert_matches_tflm(single_op(OpKind.DEQUANTIZE, NoAttrs(), [x], y), [ALL_INT8])
