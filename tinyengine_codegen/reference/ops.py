"""One NumPy function per operator, bit-exact with TensorFlow Lite Micro's int8 reference kernels.

Each function has the signature `fn(op, graph, *inputs) -> np.ndarray` (the inputs are the arrays of the op's
non-empty inputs that are not constants folded into attributes); `KERNELS` maps every OpKind to its function.
Quantization parameters come from the graph's tensors; constants (weights, biases) from `Tensor.data`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from ..quant import (
    activation_range,
    add_params,
    dequantize,
    hard_swish_params,
    logistic_params,
    mean_multiplier,
    mul_multiplier,
    multiply_by_quantized_multiplier,
    quantize_float,
    requantize_multiplier,
    round_half_away,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    softmax_params,
    wrap_int32,
)
from . import fixedpoint as fp
from .conv import average_pool2d, conv2d, depthwise_conv2d, fully_connected, max_pool2d, to_shape


def _out(graph: Graph, op: Op, index: int = 0):
    return graph.tensor(op.outputs[index])


def _in(graph: Graph, op: Op, index: int = 0):
    return graph.tensor(op.inputs[index])


def _clamp_int8(y, lo: int = -128, hi: int = 127) -> np.ndarray:
    return np.clip(y, lo, hi).astype(np.int8)


def add(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ADD: both inputs to twice the larger scale at 20 extra bits, summed, rescaled to the output."""
    t1, t2, out = _in(graph, op, 0), _in(graph, op, 1), _out(graph, op)
    p = add_params(t1.scale(), t2.scale(), out.scale())
    x1 = (a.astype(np.int64) - t1.zero_point) << p.left_shift
    x2 = (b.astype(np.int64) - t2.zero_point) << p.left_shift
    s1 = multiply_by_quantized_multiplier(x1, p.input1_multiplier, p.input1_shift)
    s2 = multiply_by_quantized_multiplier(x2, p.input2_multiplier, p.input2_shift)
    raw = multiply_by_quantized_multiplier(wrap_int32(s1 + s2), p.output_multiplier, p.output_shift)
    lo, hi = activation_range(op.attrs.activation, out.scale(), out.zero_point)
    return _clamp_int8(raw + out.zero_point, lo, hi)


def mul(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MUL: (a - za) * (b - zb) requantized by s_a * s_b / s_out."""
    t1, t2, out = _in(graph, op, 0), _in(graph, op, 1), _out(graph, op)
    m, s = mul_multiplier(t1.scale(), t2.scale(), out.scale())
    prod = (a.astype(np.int64) - t1.zero_point) * (b.astype(np.int64) - t2.zero_point)
    lo, hi = activation_range(op.attrs.activation, out.scale(), out.zero_point)
    return _clamp_int8(multiply_by_quantized_multiplier(prod, m, s) + out.zero_point, lo, hi)


def mean(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """MEAN: the int32 sum minus zero points, requantized by s_in / s_out with 1/count folded into the multiplier
    (TFLM's QuantizedMeanOrSum, used whatever the quantization)."""
    t, out = _in(graph, op), _out(graph, op)
    axes = tuple(op.attrs.axes)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64)) if axes else 1
    total = np.sum(x.astype(np.int64), axis=axes, keepdims=True)
    m, s = mean_multiplier(*requantize_multiplier(t.scale(), out.scale()), count)
    q = multiply_by_quantized_multiplier(wrap_int32(total - t.zero_point * count), m, s) + out.zero_point
    return to_shape(_clamp_int8(q), out.shape)


def softmax(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """SOFTMAX over the last axis: gemmlowp exp on Q5.26 differences, Q12.19 sum, reciprocal, Q0.8 output."""
    p = softmax_params(_in(graph, op).scale(), op.attrs.beta)
    xi = x.astype(np.int64)
    diff = xi - np.max(xi, axis=-1, keepdims=True)
    used = diff >= p.diff_min
    rescaled = saturating_rounding_doubling_high_mul(wrap_int32(diff * (1 << p.input_left_shift)), p.input_multiplier)
    exps = fp.exp_on_negative_values(np.where(used, rescaled, 0), 5)
    sum_of_exps = np.sum(np.where(used, fp.rescale(exps, 0, 12), 0), axis=-1, keepdims=True)
    scale, bits_over_unit = fp.reciprocal(sum_of_exps, 12)
    unsat = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(scale, exps), bits_over_unit + 31 - 8)
    return np.where(used, _clamp_int8(unsat - 128), -128).astype(np.int8)


def logistic(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """LOGISTIC: saturate outside the input radius, else gemmlowp logistic on Q4.27, output scale 1/256 zp -128."""
    t = _in(graph, op)
    p = logistic_params(t.scale(), t.zero_point)
    v = x.astype(np.int64) - p.input_zero_point
    inside = np.where(np.abs(v) < p.input_range_radius, v, 0)
    q4 = multiply_by_quantized_multiplier(inside, p.input_multiplier, p.input_left_shift)
    q = _clamp_int8(rounding_divide_by_pot(fp.logistic(q4, 4), 23) - 128)
    q = np.where(v <= -p.input_range_radius, -128, q)
    return np.where(v >= p.input_range_radius, 127, q).astype(np.int8)


def hard_swish(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """HARD_SWISH: TFLite's int16 fixed-point path (x * relu6(x + 3) / 6)."""
    t, out = _in(graph, op), _out(graph, op)
    p = hard_swish_params(t.scale(), t.zero_point, out.scale(), out.zero_point)
    hires = (x.astype(np.int64) - p.input_zero_point) * 128
    preshift_out = fp.srdhm_int16(hires, p.output_multiplier_int16)
    reluish = hires
    if p.reluish_multiplier_exponent > 0:
        reluish = fp.saturating_left_shift_int16(reluish, p.reluish_multiplier_exponent - 1)
    reluish = fp.srdhm_int16(reluish, p.reluish_multiplier_int16)
    if p.reluish_multiplier_exponent > 0:
        reluish = fp.saturating_left_shift_int16(reluish, 1)
    if p.reluish_multiplier_exponent < 0:
        reluish = fp.rounding_divide_by_pot_int16(reluish, -p.reluish_multiplier_exponent)
    reluish = (reluish + (1 << 15)) >> 1
    pre = fp.saturating_doubling_high_mul_int16(reluish, preshift_out)
    y = fp.rounding_divide_by_pot_int16(pre, -p.output_multiplier_exponent) + p.output_zero_point
    return _clamp_int8(y)


def relu(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """RELU: requantize to the output scale, clamp below at the output zero point."""
    t, out = _in(graph, op), _out(graph, op)
    m, s = requantize_multiplier(t.scale(), out.scale())
    y = multiply_by_quantized_multiplier(x.astype(np.int64) - t.zero_point, m, s) + out.zero_point
    return _clamp_int8(y, max(-128, out.zero_point), 127)


def relu6(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """RELU6: clamp to [zp, zp + round(6 / s)] on the input grid; TFLM does not requantize."""
    t = _in(graph, op)
    six = int(np.clip(round_half_away(float(np.float32(6.0) / np.float32(t.scale()))) + t.zero_point, -128, 127))
    return _clamp_int8(x.astype(np.int64), t.zero_point, six)


def pad(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """PAD / PADV2 with the output zero point as pad value."""
    return np.pad(x, op.attrs.paddings, constant_values=_out(graph, op).zero_point).astype(x.dtype)


def concatenation(op: Op, graph: Graph, *xs: np.ndarray) -> np.ndarray:
    """CONCATENATION: a byte copy when every input shares the output quantization (the only case TFLM and
    TFLite accept for int8); any other input is first requantized exactly as an int8 QUANTIZE op would."""
    out = _out(graph, op)
    parts = []
    for name, x in zip([n for n in op.inputs if n], xs):
        t = graph.tensor(name)
        same = t.zero_point == out.zero_point and np.float32(t.scale()) == np.float32(out.scale())
        parts.append(x if same else _requantize_int8(x, t, out))
    return np.concatenate(parts, axis=op.attrs.axis)


def _requantize_int8(x: np.ndarray, t, out) -> np.ndarray:
    m, s = requantize_multiplier(t.scale(), out.scale())
    return _clamp_int8(multiply_by_quantized_multiplier(x.astype(np.int64) - t.zero_point, m, s) + out.zero_point)


def reshape(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    return to_shape(x, _out(graph, op).shape)


def transpose(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(x, op.attrs.perm))


def strided_slice(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """STRIDED_SLICE with begin/end/strides already resolved per dimension (a batch keeps its axis 0)."""
    a = op.attrs
    batched = x.shape[0] != _in(graph, op).shape[0]
    y = x
    for d, (b, e, s) in enumerate(zip(a.begin, a.end, a.strides)):
        if not (batched and d == 0):
            y = np.take(y, np.arange(b, e, s), axis=d)
    return to_shape(y, _out(graph, op).shape)


def resize_nearest_neighbor(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """RESIZE_NEAREST_NEIGHBOR on H and W; source indices computed in float32 as TFLite does."""
    out = _out(graph, op)
    rows = _nearest(out.shape[1], x.shape[1], op.attrs.align_corners, op.attrs.half_pixel_centers)
    cols = _nearest(out.shape[2], x.shape[2], op.attrs.align_corners, op.attrs.half_pixel_centers)
    return x[:, rows][:, :, cols]


def _nearest(out_size: int, in_size: int, align_corners: bool, half_pixel_centers: bool) -> np.ndarray:
    if align_corners and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    offset = np.float32(0.5 if half_pixel_centers else 0.0)
    pos = (np.arange(out_size).astype(np.float32) + offset) * scale
    idx = round_half_away(pos.astype(np.float64)) if align_corners else np.floor(pos)
    idx = np.minimum(np.asarray(idx, np.int64), in_size - 1)
    return np.maximum(idx, 0) if half_pixel_centers else idx


def quantize(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """QUANTIZE: float32 -> int8 (round(x / s) + zp), or int8 -> int8 requantization."""
    t, out = _in(graph, op), _out(graph, op)
    if t.dtype == "float32":
        return quantize_float(x, out.scale(), out.zero_point)
    return _requantize_int8(x, t, out)


def dequantize_op(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """DEQUANTIZE: int8 -> float32."""
    t = _in(graph, op)
    return dequantize(x, t.scale(), t.zero_point)


KERNELS: dict[OpKind, Callable[..., np.ndarray]] = {
    OpKind.CONV_2D: conv2d,
    OpKind.DEPTHWISE_CONV_2D: depthwise_conv2d,
    OpKind.FULLY_CONNECTED: fully_connected,
    OpKind.ADD: add,
    OpKind.MUL: mul,
    OpKind.AVERAGE_POOL_2D: average_pool2d,
    OpKind.MAX_POOL_2D: max_pool2d,
    OpKind.MEAN: mean,
    OpKind.RESHAPE: reshape,
    OpKind.SOFTMAX: softmax,
    OpKind.LOGISTIC: logistic,
    OpKind.HARD_SWISH: hard_swish,
    OpKind.RELU: relu,
    OpKind.RELU6: relu6,
    OpKind.PAD: pad,
    OpKind.CONCATENATION: concatenation,
    OpKind.TRANSPOSE: transpose,
    OpKind.STRIDED_SLICE: strided_slice,
    OpKind.RESIZE_NEAREST_NEIGHBOR: resize_nearest_neighbor,
    OpKind.QUANTIZE: quantize,
    OpKind.DEQUANTIZE: dequantize_op,
}
