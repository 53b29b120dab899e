"""TFLite Micro's fixed-point arithmetic: multipliers and shifts, rounding multiplies, clamps, per-op parameters.

Every function here reproduces the integer arithmetic of TensorFlow Lite Micro's reference kernels bit for bit
(gemmlowp-style double rounding: a saturating rounding doubling high multiply, then a rounding right shift).
The C code generator prints exactly the numbers these functions return.

Conventions: a `shift` is TFLite's signed exponent (positive = left shift, negative = right shift), so a real
multiplier M is represented as `multiplier * 2**(shift - 31)`. Vectorised functions take and return int64 NumPy
arrays whose values stay in the int32 range, emulating int32 C arithmetic. Scales are rounded to float32 first,
because that is how a .tflite file stores them and how TFLM reads them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .ir.ops import Activation

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
_DTYPE_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}


def f32(x: float) -> float:
    """The float32 value nearest to x, as a Python float (a .tflite scale as TFLM sees it)."""
    return float(np.float32(x))


def round_half_away(x):
    """std::round: round to nearest, ties away from zero; exact for every double (scalar or array)."""
    a = np.abs(np.asarray(x, dtype=np.float64))
    r = np.floor(a)
    r = r + (a - r >= 0.5)
    out = np.copysign(r, x)
    return float(out) if np.ndim(out) == 0 else out


def wrap_int32(x):
    """Two's-complement wrap of int64 values to int32 (what an overflowing int32 C expression yields)."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real = multiplier * 2**(shift - 31) with multiplier in [2**30, 2**31).

    frexp splits the double; the mantissa is rounded (ties away from zero) to Q31; a mantissa that rounds up to
    2**31 is halved and the shift increased; shifts below -31 flush the multiplier to zero.
    """
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = int(round_half_away(q * (1 << 31)))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul for int32: round(a * b / 2**31), saturating INT32_MIN**2."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    v = ab + nudge
    high = np.where(v >= 0, v >> 31, -((-v) >> 31))  # C division truncates toward zero
    return np.where((a == b) & (a == INT32_MIN), INT32_MAX, high)


def rounding_divide_by_pot(x, exponent):
    """gemmlowp RoundingDivideByPOT: x / 2**exponent rounded to nearest, ties away from zero."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x, multiplier, shift):
    """TFLM MultiplyByQuantizedMultiplier (double rounding): left shift (int32 wrap), SRDHM, rounding right shift.

    `multiplier` and `shift` may be arrays that broadcast against x (per-channel requantization).
    """
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = wrap_int32(np.asarray(x, dtype=np.int64) * (np.int64(1) << left))
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def activation_range(activation: Activation, scale: float, zero_point: int, dtype: str = "int8") -> tuple[int, int]:
    """CalculateActivationRangeQuantized: the [min, max] clamp of a fused activation on the output's grid.

    Each bound is zero_point + round(f / scale) with the division done in float32, as TFLite does.
    """
    qmin, qmax = _DTYPE_RANGE[dtype]

    def quantize(f: float) -> int:
        return zero_point + int(round_half_away(float(np.float32(f) / np.float32(scale))))

    if activation is Activation.RELU:
        return max(qmin, quantize(0.0)), qmax
    if activation is Activation.RELU6:
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if activation is Activation.RELU_N1_TO_1:
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    return qmin, qmax


def conv_output_multipliers(
    input_scale: float, weight_scales, output_scale: float, channels: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel (multiplier, shift) of CONV_2D / DEPTHWISE_CONV_2D (and per-channel FULLY_CONNECTED).

    real[c] = s_in * s_w[c] / s_out in double from float32 scales; a single weight scale is broadcast to
    `channels` outputs, as TFLM's PopulateConvolutionQuantizationParams does.
    """
    scales = np.atleast_1d(np.asarray(weight_scales, np.float32)).astype(np.float64)
    if len(scales) == 1 and channels is not None:
        scales = np.repeat(scales, channels)
    return quantize_multipliers(f32(input_scale) * scales / f32(output_scale))


def quantize_multipliers(real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`quantize_multiplier` of every element of a float64 array, vectorized with the same steps (exact).

    The rounding of the mantissa needs no general round_half_away: |q| 2^31 lies in [2^30, 2^31) (or is 0), where
    a double's unit is at most 2^-22, so adding 0.5 is exact and floor(|q| 2^31 + 0.5) rounds ties away from zero."""
    real = np.atleast_1d(np.asarray(real, np.float64))
    q, shift = np.frexp(real)
    q_fixed = np.copysign(np.floor(np.abs(q) * float(1 << 31) + 0.5), q).astype(np.int64)
    shift = shift.astype(np.int64)
    top = q_fixed == (1 << 31)
    if top.any():
        q_fixed[top] //= 2
        shift[top] += 1
    dead = (shift < -31) | (real == 0.0)
    if dead.any():
        q_fixed[dead] = 0
        shift[dead] = 0
    return q_fixed, shift


def fully_connected_multiplier(input_scale: float, weight_scale: float, output_scale: float) -> tuple[int, int]:
    """Per-tensor FULLY_CONNECTED (multiplier, shift): s_in * s_w / s_out in double from float32 scales."""
    return quantize_multiplier(f32(input_scale) * f32(weight_scale) / f32(output_scale))


def requantize_multiplier(input_scale: float, output_scale: float) -> tuple[int, int]:
    """(multiplier, shift) for s_in / s_out: QUANTIZE int8->int8, RELU, MEAN."""
    return quantize_multiplier(f32(input_scale) / f32(output_scale))


@dataclass(frozen=True, slots=True)
class AddParams:
    """TFLM int8 ADD: both inputs are shifted left by `left_shift`, rescaled to twice the larger input scale,
    summed, then rescaled to the output. Shifts are TFLite exponents (all <= 0 here)."""

    left_shift: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int


def add_params(scale1: float, scale2: float, output_scale: float) -> AddParams:
    """Multipliers of TFLM's int8 ADD (left_shift 20)."""
    s1, s2, so = f32(scale1), f32(scale2), f32(output_scale)
    left_shift = 20
    twice_max = 2.0 * max(s1, s2)
    m1 = quantize_multiplier(s1 / twice_max)
    m2 = quantize_multiplier(s2 / twice_max)
    mo = quantize_multiplier(twice_max / ((1 << left_shift) * so))
    return AddParams(left_shift, m1[0], m1[1], m2[0], m2[1], mo[0], mo[1])


def mul_multiplier(scale1: float, scale2: float, output_scale: float) -> tuple[int, int]:
    """(multiplier, shift) of TFLM's int8 MUL: s1 * s2 / s_out in double."""
    return quantize_multiplier(f32(scale1) * f32(scale2) / f32(output_scale))


def calculate_input_radius(integer_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    """TFLite CalculateInputRadius: the largest |input| whose rescaled value still fits the fixed-point format."""
    max_rescaled = 1.0 * ((1 << integer_bits) - 1) * (1 << (total_signed_bits - integer_bits)) / (1 << left_shift)
    return int(math.floor(max_rescaled))


@dataclass(frozen=True, slots=True)
class SoftmaxParams:
    """TFLM int8 SOFTMAX: input differences are rescaled to Q5.26 by (input_multiplier, input_left_shift);
    differences below diff_min contribute nothing and give the minimum output."""

    input_multiplier: int
    input_left_shift: int
    diff_min: int


def softmax_params(input_scale: float, beta: float = 1.0) -> SoftmaxParams:
    """PreprocessSoftmaxScaling with 5 integer bits, then diff_min = -CalculateInputRadius(5, shift)."""
    integer_bits = 5
    real = min(f32(beta) * f32(input_scale) * (1 << (31 - integer_bits)), (1 << 31) - 1.0)
    multiplier, shift = quantize_multiplier(real)
    return SoftmaxParams(multiplier, shift, -calculate_input_radius(integer_bits, shift))


@dataclass(frozen=True, slots=True)
class LogisticParams:
    """TFLM int8 LOGISTIC: inputs within +-input_range_radius of the zero point are rescaled to Q4.27."""

    input_zero_point: int
    input_multiplier: int
    input_left_shift: int
    input_range_radius: int


def logistic_params(input_scale: float, input_zero_point: int) -> LogisticParams:
    """frexp of s_in * 2**27 (no QuantizeMultiplier corrections, as TFLM does it) and the input radius."""
    integer_bits = 4
    q, shift = math.frexp(f32(input_scale) * float(1 << (31 - integer_bits)))
    multiplier = int(round_half_away(q * (1 << 31)))
    return LogisticParams(input_zero_point, multiplier, shift, calculate_input_radius(integer_bits, shift))


@dataclass(frozen=True, slots=True)
class HardSwishParams:
    """TFLM int8 HARD_SWISH: int16 fixed-point multipliers and exponents (see reference hard_swish.h)."""

    input_zero_point: int
    output_zero_point: int
    output_multiplier_int16: int
    output_multiplier_exponent: int
    reluish_multiplier_int16: int
    reluish_multiplier_exponent: int


def downscale_int32_to_int16_multiplier(multiplier: int) -> int:
    """DownScaleInt32ToInt16Multiplier: round a Q31 multiplier to Q15, saturating at INT16_MAX."""
    if multiplier >= INT32_MAX - (1 << 15):
        return 32767
    return (multiplier + (1 << 15)) >> 16


def hard_swish_params(
    input_scale: float, input_zero_point: int, output_scale: float, output_zero_point: int
) -> HardSwishParams:
    """Multipliers computed in float32 (hires input scale = s_in / 128, reluish scale = 3 / 32768)."""
    hires = np.float32(1.0 / 128.0) * np.float32(input_scale)
    out_m, out_e = quantize_multiplier(float(hires / np.float32(output_scale)))
    relu_m, relu_e = quantize_multiplier(float(hires / np.float32(3.0 / 32768.0)))
    return HardSwishParams(
        input_zero_point,
        output_zero_point,
        downscale_int32_to_int16_multiplier(out_m),
        out_e,
        downscale_int32_to_int16_multiplier(relu_m),
        relu_e,
    )


def mean_multiplier(multiplier: int, shift: int, count: int) -> tuple[int, int]:
    """Fold 1/count into a MEAN requantization multiplier, as TFLM's QuantizedMeanOrSum does."""
    s = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << s) // count, shift - s


def quantize_float(x, scale: float, zero_point: int, dtype: str = "int8") -> np.ndarray:
    """AffineQuantize: round(x / scale) in float32 (ties away from zero) + zero_point, clamped to dtype.
    Defined for every float: NaN gives the zero point, +-inf and out-of-range values saturate."""
    with np.errstate(invalid="ignore", over="ignore"):
        q = np.asarray(x, dtype=np.float32) / np.float32(scale)
        r = np.clip(round_half_away(q.astype(np.float64)), INT32_MIN, INT32_MAX)
    r = np.where(np.isnan(r), 0, r).astype(np.int64) + zero_point
    lo, hi = _DTYPE_RANGE[dtype]
    return np.clip(r, lo, hi).astype(dtype)


def dequantize(q, scale: float, zero_point: int) -> np.ndarray:
    """Dequantize: float32(scale * (q - zero_point)) with the product in double."""
    return (f32(scale) * (np.asarray(q, np.float64) - zero_point)).astype(np.float32)


@dataclass(frozen=True, slots=True)
class LogSoftmaxParams:
    """TFLM int8 LOG_SOFTMAX: SOFTMAX's Q5.26 input scaling plus its inverse (reverse_multiplier, reverse_shift)."""

    input_multiplier: int
    input_left_shift: int
    reverse_multiplier: int
    reverse_shift: int
    diff_min: int


def log_softmax_params(input_scale: float) -> LogSoftmaxParams:
    """PreprocessLogSoftmaxScalingExp with beta 1 and 5 integer bits."""
    p = softmax_params(input_scale, 1.0)
    rm, rs = quantize_multiplier((1 << (31 - p.input_left_shift)) / float(p.input_multiplier))
    return LogSoftmaxParams(p.input_multiplier, p.input_left_shift, rm, rs, p.diff_min)
