"""Fixed-point primitives of tinyengine_codegen.quant, on hand-worked values and against exact arithmetic."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyengine_codegen.ir.ops import Activation
from tinyengine_codegen.quant import (
    INT32_MAX,
    INT32_MIN,
    activation_range,
    add_params,
    conv_output_multipliers,
    downscale_int32_to_int16_multiplier,
    mean_multiplier,
    multiply_by_quantized_multiplier,
    quantize_float,
    quantize_multiplier,
    quantize_multipliers,
    round_half_away,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    softmax_params,
    wrap_int32,
)


@pytest.mark.parametrize(
    "real,expected",
    [
        (0.5, (1 << 30, 0)),
        (1.0, (1 << 30, 1)),
        (0.75, (3 << 29, 0)),
        (0.0, (0, 0)),
        (2.0**-40, (0, 0)),  # below 2**-31: flushed to zero
        (1.0 - 2.0**-33, (1 << 30, 1)),  # mantissa rounds up to 2**31: halved, shift + 1
        (3.0, (3 << 29, 2)),
    ],
)
def test_quantize_multiplier_hand_values(real, expected):
    assert quantize_multiplier(real) == expected


@given(st.floats(min_value=2.0**-30, max_value=2.0**20, allow_nan=False))
def test_quantize_multiplier_is_within_half_a_unit(real):
    m, shift = quantize_multiplier(real)
    assert (1 << 30) <= m < (1 << 31)
    assert abs(Fraction(m) * Fraction(2) ** (shift - 31) - Fraction(real)) <= Fraction(2) ** (shift - 32)


def test_rounding_divide_by_pot_rounds_ties_away_from_zero():
    x = np.array([5, -5, 6, -6, 7, -7, 4, -4])
    assert rounding_divide_by_pot(x, 1).tolist() == [3, -3, 3, -3, 4, -4, 2, -2]
    assert rounding_divide_by_pot(x, 2).tolist() == [1, -1, 2, -2, 2, -2, 1, -1]


def test_srdhm_saturates_and_rounds():
    assert saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX
    assert saturating_rounding_doubling_high_mul(1 << 30, 1 << 30) == 1 << 29
    # -5 * 2**30 / 2**31 = -2.5: the negative nudge rounds the tie toward zero
    assert saturating_rounding_doubling_high_mul(-5, 1 << 30) == -2
    assert saturating_rounding_doubling_high_mul(5, 1 << 30) == 3


def test_multiply_by_quantized_multiplier_rounds_twice():
    # 0.75 * 3 = 2.25 -> 2; with a right shift: 0.375 * 7 = 2.625 -> round(5.25) = 5, then 5 / 2 -> 3
    assert multiply_by_quantized_multiplier(3, 3 << 29, 0) == 2
    assert multiply_by_quantized_multiplier(7, 3 << 29, -1) == 3
    assert multiply_by_quantized_multiplier(np.array([1, -1]), 1 << 30, 2).tolist() == [2, -2]
    # left shift wraps like int32 C code
    assert multiply_by_quantized_multiplier(1 << 30, 1 << 30, 2) == 0


def test_wrap_int32():
    assert wrap_int32(np.array([INT32_MAX + 1, INT32_MIN - 1, 5])).tolist() == [INT32_MIN, INT32_MAX, 5]


def test_round_half_away_is_exact_near_ties():
    x = np.array([0.5, -0.5, 1.5, -2.5, 0.49999999999999994, float(np.float32(0.49999997))])
    assert round_half_away(x).tolist() == [1, -1, 2, -3, 0, 0]


def test_activation_range():
    assert activation_range(Activation.NONE, 0.1, 3) == (-128, 127)
    assert activation_range(Activation.RELU, 0.1, -10) == (-10, 127)
    assert activation_range(Activation.RELU6, 0.05, -128) == (-128, -8)  # 6 / 0.05 = 120
    assert activation_range(Activation.RELU6, 0.01, 0) == (0, 127)  # 600 saturates
    assert activation_range(Activation.RELU_N1_TO_1, 0.25, 2) == (-2, 6)


def test_conv_output_multipliers_broadcast_a_single_scale():
    m, s = conv_output_multipliers(0.5, [0.25], 0.125, channels=3)
    assert m.tolist() == [1 << 30] * 3 and s.tolist() == [1] * 3


def test_add_params():
    p = add_params(0.5, 0.25, 1.0)
    assert (p.left_shift, p.input1_multiplier, p.input1_shift) == (20, 1 << 30, 0)  # 0.5 / 1.0 = 2**-1
    assert (p.input2_multiplier, p.input2_shift) == (1 << 30, -1)  # 0.25
    assert (p.output_multiplier, p.output_shift) == (1 << 30, -19)  # 1 / 2**20


def test_softmax_params_of_kws():
    # KWS softmax input scale: values verified against TFLM on the model
    p = softmax_params(0.14469251036643982)
    assert (p.input_multiplier, p.input_left_shift, p.diff_min) == (1242899200, 24, -124)


def test_mean_multiplier_folds_the_count():
    assert mean_multiplier(1 << 30, 1, 4) == (1 << 30, -1)  # x / 4 * 2
    assert mean_multiplier(1 << 30, 0, 3) == ((1 << 31) // 3, -1)


def test_downscale_multiplier():
    assert downscale_int32_to_int16_multiplier(1 << 30) == 1 << 14
    assert downscale_int32_to_int16_multiplier(INT32_MAX) == 32767


def test_quantize_float_ties_and_saturation():
    got = quantize_float(np.array([0.05, -0.05, 0.15, 100.0, -100.0], np.float32), 0.1, 0)
    assert got.tolist() == [1, -1, 2, 127, -128]


def test_quantize_float_defines_nan_and_infinities():
    from tinyengine_codegen.quant import quantize_float

    x = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 3e9, -3e9, 0.26, -0.26], np.float32)
    got = quantize_float(x, 0.05, -3).tolist()
    assert got == [-3, 127, -128, 127, -128, 127, -128, 2, -8]  # round(0.26 / 0.05) = 5, 5 - 3 = 2


def test_generated_quantize_matches_the_reference_on_nan_and_infinities(tmp_path):
    from tests.helpers.host_c import run_graphs_in_c
    from tinyengine_codegen.ir.graph import Graph, Op, QuantParams, Tensor
    from tinyengine_codegen.ir.ops import NoAttrs, OpKind
    from tinyengine_codegen.quant import quantize_float

    q = QuantParams((0.05,), (-3,))
    tensors = {
        "x": Tensor("x", (1, 12), "float32"),
        "q": Tensor("q", (1, 12), "int8", q),
        "y": Tensor("y", (1, 12), "float32"),
    }
    ops = (
        Op("quant", OpKind.QUANTIZE, ("x",), ("q",), NoAttrs()),
        Op("deq", OpKind.DEQUANTIZE, ("q",), ("y",), NoAttrs()),
    )
    g = Graph("float_io", tensors, ops, ("x",), ("y",))
    x = np.array([[np.nan, np.inf, -np.inf, 1e30, -1e30, 3e9, -3e9, 200.0, -200.0, 0.26, -0.26, 6.3]], np.float32)
    (y,) = run_graphs_in_c([g], [x[None]], tmp_path, sanitize=True)
    expect = (quantize_float(x, 0.05, -3).astype(np.float64) + 3) * np.float32(0.05)
    np.testing.assert_array_equal(y.reshape(x.shape), expect.astype(np.float32))


def test_quantize_multipliers_matches_the_scalar_function_elementwise():
    """The vectorized multipliers equal quantize_multiplier on every element: random scales over many octaves,
    values whose mantissa rounds up to 2^31, exact ties, zero, and exponents below -31 (flushed to 0)."""
    rng = np.random.default_rng(7)
    real = np.concatenate(
        [
            rng.random(2000) * np.exp2(rng.integers(-40, 8, 2000)),
            np.nextafter(1.0, 0.0) * np.exp2(np.arange(-35, 5)),  # mantissa 1 - 2^-53: rounds to 2^31
            (2**30 + 0.5 + np.arange(8)) / 2**31 * np.exp2(np.arange(-4, 4)),  # ties at the Q31 unit
            [0.0, 2.0**-33, 2.0**-32, 2.0**-31, 1.0, 3.0],
        ]
    )
    m, s = quantize_multipliers(real)
    assert m.dtype == s.dtype == np.int64 and m.shape == s.shape == real.shape
    assert [(int(a), int(b)) for a, b in zip(m, s)] == [quantize_multiplier(float(r)) for r in real]
