"""gemmlowp-style fixed-point transcendental functions used by TFLM's int8 SOFTMAX, LOGISTIC and HARD_SWISH.

A value with k integer bits is an int32 `raw` standing for raw / 2**(31 - k). Every function takes and returns
int64 NumPy arrays holding int32 values and reproduces the gemmlowp/TFLite reference bit for bit.
"""

from __future__ import annotations

import numpy as np

from ..quant import INT32_MAX, INT32_MIN, rounding_divide_by_pot, saturating_rounding_doubling_high_mul

_srdhm = saturating_rounding_doubling_high_mul


def saturating_rounding_multiply_by_pot(x, exponent: int):
    """x * 2**exponent: a saturating left shift for exponent > 0, a rounding right shift for exponent < 0."""
    x = np.asarray(x, dtype=np.int64)
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    out = np.where(x > threshold, INT32_MAX, x << exponent)
    return np.where(x < -threshold, INT32_MIN, out)


def rescale(x, src_integer_bits: int, dst_integer_bits: int):
    """gemmlowp Rescale: the same real value in a format with another number of integer bits (saturating)."""
    return saturating_rounding_multiply_by_pot(x, src_integer_bits - dst_integer_bits)


def rounding_half_sum(a, b):
    """(a + b) / 2 rounded away from zero, computed in 64 bits."""
    s = np.asarray(a, np.int64) + np.asarray(b, np.int64)
    v = s + np.where(s >= 0, 1, -1)
    return np.where(v >= 0, v // 2, -((-v) // 2))


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    """exp(a) for a in [-1/4, 0), Q0.31 in and out: Taylor expansion around -1/8."""
    constant_term = 1895147668  # exp(-1/8)
    constant_1_over_3 = 715827883
    x = a + (1 << 28)  # a + 1/8
    x2 = _srdhm(x, x)
    x3 = _srdhm(x2, x)
    x4 = _srdhm(x2, x2)
    x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2)
    poly = saturating_rounding_multiply_by_pot(_srdhm(x4_over_4 + x3, constant_1_over_3) + x2, -1)
    return constant_term + _srdhm(constant_term, x + poly)


_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a, integer_bits: int):
    """exp(a) for a <= 0 given with `integer_bits` integer bits; result in Q0.31."""
    a = np.asarray(a, dtype=np.int64)
    frac_bits = 31 - integer_bits
    one_quarter = 1 << (frac_bits - 2)
    a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0)
    )
    remainder = a_mod_quarter_minus_one_quarter - a
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = np.int64(1) << (frac_bits + exponent)
            result = np.where((remainder & bit) != 0, _srdhm(result, multiplier), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)
    return np.where(a == 0, INT32_MAX, result)


def one_over_one_plus_x_for_x_in_0_1(a):
    """1 / (1 + a) for a in [0, 1), Q0.31 in and out: three Newton-Raphson steps from 48/17 - 32/17 * d."""
    half_denominator = rounding_half_sum(a, INT32_MAX)
    x = 1515870810 + _srdhm(half_denominator, -1010580540)  # Q2.29
    for _ in range(3):
        one_minus = (1 << 29) - _srdhm(half_denominator, x)
        x = x + rescale(_srdhm(x, one_minus), 4, 2)
    return rescale(x, 1, 0)


def reciprocal(x, integer_bits: int):
    """TFLite GetReciprocal of positive x (with `integer_bits`): (scale in Q0.31, num_bits_over_unit)."""
    x = np.asarray(x, dtype=np.int64)
    _, exponent = np.frexp(x.astype(np.float64))  # bit length of x (exact for x < 2**53)
    headroom_plus_one = 32 - exponent.astype(np.int64)
    num_bits_over_unit = integer_bits - headroom_plus_one
    shifted_minus_one = ((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31)
    return one_over_one_plus_x_for_x_in_0_1(shifted_minus_one), num_bits_over_unit


def logistic(a, integer_bits: int):
    """gemmlowp logistic: 1 / (1 + exp(-a)) for a with `integer_bits` integer bits; result in Q0.31."""
    a = np.asarray(a, dtype=np.int64)
    positive = a > 0
    abs_a = np.where(positive, a, -a)
    result_if_positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-abs_a, integer_bits))
    result = np.where(positive, result_if_positive, INT32_MAX - result_if_positive)
    return np.where(a == 0, 1 << 30, result)


# int16 helpers of TFLite's reference HARD_SWISH ------------------------------------------------------------


def srdhm_int16(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul for int16."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    ab = a * b
    v = ab + np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    high = np.where(v >= 0, v >> 15, -((-v) >> 15))
    return np.where((a == b) & (a == -32768), 32767, high)


def saturating_doubling_high_mul_int16(a, b):
    """Like srdhm_int16 but rounding toward zero (ARM SQDMULH)."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    ab = a * b
    high = np.where(ab >= 0, ab >> 15, -((-ab) >> 15))
    return np.where((a == b) & (a == -32768), 32767, high)


def rounding_divide_by_pot_int16(x, exponent: int):
    """gemmlowp RoundingDivideByPOT instantiated for int16: the mask (2**exponent - 1) is itself an int16, so for
    exponents of 16 or more it wraps to -1 and every result becomes +1 (x >= 0) or -1 (x < 0)."""
    x = np.asarray(x, np.int64)
    mask = (((1 << exponent) - 1 + (1 << 15)) & 0xFFFF) - (1 << 15)
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> min(exponent, 31)) + (remainder > threshold)


def saturating_left_shift_int16(x, amount: int):
    """x * 2**amount clamped to the int16 range."""
    return np.clip(np.asarray(x, np.int64) * (1 << amount), -32768, 32767)


def tanh(a, integer_bits: int):
    """gemmlowp tanh for a with `integer_bits` integer bits; result in Q0.31."""
    a = np.asarray(a, dtype=np.int64)
    negative = a < 0
    n = np.where(negative, a, -a)  # -|a|
    e = exp_on_negative_values(n, integer_bits + 1)  # exp(2 * n): the same raw value read with one more integer bit
    half_denominator = rounding_half_sum(e, INT32_MAX)
    x = 1515870810 + _srdhm(half_denominator, -1010580540)  # Q2.29
    for _ in range(3):
        one_minus = (1 << 29) - _srdhm(half_denominator, x)
        x = x + rescale(_srdhm(x, one_minus), 4, 2)
    t = rescale(x - (1 << 29), 2, 0)
    return np.where(a == 0, 0, np.where(negative, -t, t))


def _clz32(x):
    """Leading zeros of x read as uint32 (x > 0)."""
    _, e = np.frexp(np.asarray(x, np.int64).astype(np.float64))
    return 32 - e.astype(np.int64)


def _sat32(x):
    return np.clip(np.asarray(x, np.int64), INT32_MIN, INT32_MAX)


def _sat_pot_param(x, exponent):
    """SaturatingRoundingMultiplyByPOTParam for exponent >= 0 (an array of exponents is allowed)."""
    x = np.asarray(x, np.int64)
    exponent = np.asarray(exponent, np.int64)
    threshold = (np.int64(1) << (31 - exponent)) - 1
    out = np.where(x > threshold, INT32_MAX, x << exponent)
    return np.where(exponent == 0, x, np.where(x < -threshold, INT32_MIN, out))


_LOG_2, _SQRT_SQRT_HALF, _SQRT_HALF = 1488522236, 1805811301, 1518500250
_ALPHA_N, _ALPHA_D, _ALPHA_I, _ALPHA_F = 117049297, 127690142, 1057819769, 638450708


def log_x_for_x_greater_than_or_equal_to_1(x, input_bits: int, output_bits: int):
    """log(x) of a positive x with `input_bits` integer bits; result with `output_bits` integer bits (gemmlowp's
    polynomial on the mantissa plus the binary exponent times log 2, accumulated with one more integer bit)."""
    accum_bits = output_bits + 1
    z_a = np.asarray(x, np.int64)
    shifted_quarter = int(rescale(1 << 29, 0, accum_bits))
    clz_a = _clz32(z_a)
    r_a = _sat_pot_param(_srdhm(_sat_pot_param(z_a, clz_a - 1), _SQRT_HALF), 1)
    z_a_adj = _sat32(_sat_pot_param(input_bits - clz_a, 31 - accum_bits) + shifted_quarter)
    z_b_headroom = _clz32(_srdhm(z_a, _SQRT_HALF)) - 1
    r_b = _sat_pot_param(z_a, z_b_headroom)
    z_b_adj = _sat32(_sat_pot_param(input_bits - z_b_headroom, 31 - accum_bits) - shifted_quarter)
    r = np.minimum(r_a, r_b)
    z_adj = np.maximum(z_a_adj, z_b_adj)
    p = rounding_half_sum(r, _SQRT_SQRT_HALF)
    q = 2 * (r - _SQRT_SQRT_HALF)
    common_sq = _srdhm(q, q)
    num = _srdhm(q, r) + _srdhm(_srdhm(q, common_sq), _ALPHA_N)
    denom_minus_one = _srdhm(p, _ALPHA_I + q + _srdhm(_ALPHA_D, common_sq)) + _srdhm(_ALPHA_F, q)
    recip = one_over_one_plus_x_for_x_in_0_1(denom_minus_one)
    total = _srdhm(z_adj, _LOG_2) + _srdhm(rescale(num, 0, accum_bits), recip)
    return rescale(total, accum_bits, output_bits)
