"""Named edge cases of the reference kernels in reference/more.py (the fuzz tests compare them with TFLM on
random models; these pin values worked out by hand)."""

from __future__ import annotations

import math

import numpy as np

from tinyengine_codegen.ir.graph import Graph, Op, QuantParams, Tensor
from tinyengine_codegen.ir.ops import AxisAttrs, LeakyReluAttrs, NoAttrs, OpKind
from tinyengine_codegen.reference import more


def _unary(kind: OpKind, s_in: float, zp_in: int, s_out: float, zp_out: int, n: int = 256, attrs=None) -> Graph:
    t = {
        "x": Tensor("x", (1, n), "int8", QuantParams((s_in,), (zp_in,))),
        "y": Tensor("y", (1, n), "int8", QuantParams((s_out,), (zp_out,))),
    }
    return Graph("g", t, (Op("op", kind, ("x",), ("y",), attrs or NoAttrs()),), ("x",), ("y",))


def test_inv_sqrt_multiplier_is_one_over_sqrt():
    for v in (2, 3, 17, 1000, 123_456, (1 << 29) + 5, (1 << 31) - 1):
        m, s = more.inv_sqrt_multiplier(np.array([v]))
        assert abs(int(m[0]) * 2.0 ** int(s[0]) / 2**31 - 1 / math.sqrt(v)) < 1e-6 / math.sqrt(v) * 1e3, v
    m, s = more.inv_sqrt_multiplier(np.array([0, 1]))
    assert m.tolist() == [2**31 - 1] * 2 and s.tolist() == [0, 0]


def test_rsqrt_of_the_zero_point_is_the_largest_output():
    g = _unary(OpKind.RSQRT, 0.01, -5, 0.05, -128)
    x = np.arange(-5, 123, dtype=np.int8).reshape(1, -1)
    g = _unary(OpKind.RSQRT, 0.01, -5, 0.05, -128, n=x.size)
    y = more.rsqrt(g.ops[0], g, x)
    assert y[0, 0] == 127
    want = np.clip(np.round(1 / np.sqrt((x[0, 1:].astype(float) + 5) * 0.01) / 0.05) - 128, -128, 127)
    assert np.max(np.abs(y[0, 1:] - want)) <= 1


def test_tanh_saturates_and_is_odd():
    g = _unary(OpKind.TANH, 0.05, 0, 1 / 128, 0)
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, -1)
    y = more.tanh(g.ops[0], g, x).astype(int)[0]
    assert y[0] == -128 and y[-1] == 127 and y[128] == 0
    assert np.max(np.abs(y[129:255] + y[127:1:-1])) <= 1  # tanh(-x) = -tanh(x) up to rounding
    assert np.max(np.abs(y - np.clip(np.round(np.tanh(np.arange(-128, 128) * 0.05) * 128), -128, 127))) <= 1


def test_arg_max_takes_the_first_of_equal_values():
    t = {"x": Tensor("x", (1, 5), "int8", QuantParams((0.1,), (0,))), "y": Tensor("y", (1,), "int32", None)}
    g = Graph("g", t, (Op("op", OpKind.ARG_MAX, ("x",), ("y",), AxisAttrs(1)),), ("x",), ("y",))
    y = more.arg_max(g.ops[0], g, np.array([[3, 9, -1, 9, 2]], np.int8))
    assert y.dtype == np.int32 and y.tolist() == [1]


def test_resize_bilinear_taps_follow_the_q10_integer_path():
    pos, lo, hi = more.bilinear_taps(4, 2, align_corners=False, half_pixel=True)
    assert pos.tolist() == [-256, 256, 768, 1280] and lo.tolist() == [0, 0, 0, 1] and hi.tolist() == [0, 1, 1, 1]
    pos, lo, hi = more.bilinear_taps(5, 3, align_corners=True, half_pixel=False)
    assert pos.tolist() == [0, 512, 1024, 1536, 2048] and lo.tolist() == [0, 0, 1, 1, 2]


def test_leaky_relu_ratio_is_formed_in_double():
    # s_in / s_out is 1.5625 in float32 but just below it in double: input 24 above the zero point then sits on a
    # requantization tie, which TFLM (double ratios) rounds to 37 and a float32 ratio would round to 38
    s_in, s_out = 0.014032645621114184, 0.008980893205877185
    g = _unary(OpKind.LEAKY_RELU, s_in, -26, s_out, -112, n=1, attrs=LeakyReluAttrs(0.1))
    y = more.leaky_relu(g.ops[0], g, np.array([[-2]], np.int8))
    assert y.tolist() == [[-112 + 37]]
