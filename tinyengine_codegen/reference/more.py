"""NumPy reference kernels of the operators beyond the convolutional core, bit-exact with TFLM's int8 kernels:
extra activations (TANH, LEAKY_RELU, PRELU, ABS, RSQRT, L2_NORMALIZATION), extra binary ops (SUB, MAXIMUM,
MINIMUM, SQUARED_DIFFERENCE), reductions (SUM, REDUCE_MAX, ARG_MAX), TRANSPOSE_CONV, RESIZE_BILINEAR and
data movement with several inputs or outputs (SPLIT, SPLIT_V, PACK, UNPACK, DEPTH_TO_SPACE, SPACE_TO_DEPTH).

Same signature as reference/ops.py: `fn(op, graph, *inputs)`; ops with several outputs return a tuple.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from ..ir.shapes import conv_out_pad
from ..quant import (
    activation_range,
    add_params,
    conv_output_multipliers,
    f32,
    logistic_params,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    requantize_multiplier,
    rounding_divide_by_pot,
    wrap_int32,
)
from . import fixedpoint as fp
from .conv import to_shape

mbqm = multiply_by_quantized_multiplier


def _t(graph: Graph, name: str):
    return graph.tensor(name)


def _clamp(y, lo: int = -128, hi: int = 127) -> np.ndarray:
    return np.clip(y, lo, hi).astype(np.int8)


def _io(op: Op, graph: Graph):
    return _t(graph, op.inputs[0]), _t(graph, op.outputs[0])


# ----- activations -----------------------------------------------------------------------------------------


def tanh(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """TANH: saturate outside the input radius, else gemmlowp tanh on Q4.27; output scale 1/128, zero point 0."""
    t, _ = _io(op, graph)
    p = logistic_params(t.scale(), t.zero_point)
    v = x.astype(np.int64) - t.zero_point
    inside = np.where(np.abs(v) < p.input_range_radius, v, 0)
    q = _clamp(rounding_divide_by_pot(fp.tanh(mbqm(inside, p.input_multiplier, p.input_left_shift), 4), 24))
    q = np.where(v <= -p.input_range_radius, -128, q)
    return np.where(v >= p.input_range_radius, 127, q).astype(np.int8)


def leaky_relu_params(op: Op, graph: Graph) -> tuple[int, int, int, int]:
    """(identity multiplier, shift, alpha multiplier, shift); TFLM forms both ratios in double from the float32
    scales and alpha (a float32 ratio differs where it rounds across a requantization tie, e.g. exactly 1.5625)."""
    t, y = _io(op, graph)
    s_in, s_out = f32(t.scale()), f32(y.scale())
    m1, s1 = quantize_multiplier(s_in / s_out)
    m2, s2 = quantize_multiplier(s_in * f32(op.attrs.alpha) / s_out)
    return m1, s1, m2, s2


def leaky_relu(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    t, y = _io(op, graph)
    m1, s1, m2, s2 = leaky_relu_params(op, graph)
    v = x.astype(np.int64) - t.zero_point
    return _clamp(np.where(v >= 0, mbqm(v, m1, s1), mbqm(v, m2, s2)) + y.zero_point)


def prelu_params(op: Op, graph: Graph) -> tuple[int, int, int, int]:
    t, a, y = _t(graph, op.inputs[0]), _t(graph, op.inputs[1]), _t(graph, op.outputs[0])
    m1, s1 = quantize_multiplier(f32(t.scale()) / f32(y.scale()))
    m2, s2 = quantize_multiplier(f32(t.scale()) * f32(a.scale()) / f32(y.scale()))
    return m1, s1, m2, s2


def prelu(op: Op, graph: Graph, x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    t, a, y = _t(graph, op.inputs[0]), _t(graph, op.inputs[1]), _t(graph, op.outputs[0])
    m1, s1, m2, s2 = prelu_params(op, graph)
    v = x.astype(np.int64) - t.zero_point
    al = alpha.astype(np.int64) - a.zero_point
    return _clamp(np.where(v >= 0, mbqm(v, m1, s1), mbqm(v * al, m2, s2)) + y.zero_point)


def abs_op(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """ABS: |x - zp| on the input grid, requantized only when the scales differ (as float32 values)."""
    t, y = _io(op, graph)
    v = np.abs(x.astype(np.int64) - t.zero_point)
    if np.float32(t.scale()) != np.float32(y.scale()):
        v = mbqm(v, *requantize_multiplier(t.scale(), y.scale()))
    return _clamp(v + y.zero_point)


def inv_sqrt_multiplier(x) -> tuple[np.ndarray, np.ndarray]:
    """GetInvSqrtQuantizedMultiplierExp(x, reverse_shift=-1) elementwise: (multiplier, left shift)."""
    out_m, out_s = [], []
    for v in np.asarray(x, np.int64).reshape(-1).tolist():
        m, s = _inv_sqrt_one(int(v))
        out_m.append(m)
        out_s.append(s)
    shape = np.shape(x)
    return np.array(out_m, np.int64).reshape(shape), np.array(out_s, np.int64).reshape(shape)


def _inv_sqrt_one(v: int) -> tuple[int, int]:
    if v <= 1:
        return (1 << 31) - 1, 0
    shift = 11
    while v >= 1 << 29:
        v //= 4
        shift += 1
    pairs = (32 - v.bit_length() - 1) // 2 - 1
    shift -= pairs
    v <<= 2 * pairs
    half_input = int(fp.saturating_rounding_multiply_by_pot(v >> 1, -1))
    x = 1 << 28  # one in Q3.28
    srdhm = fp._srdhm
    for _ in range(5):
        x3 = int(fp.rescale(srdhm(srdhm(x, x), x), 9, 3))
        x = int(fp.rescale(srdhm((1 << 28) + (1 << 27), x) - srdhm(half_input, x3), 6, 3))
    x = int(srdhm(x, 1518500250))  # times sqrt(2)/2, still Q3.28
    if shift < 0:
        x, shift = int(wrap_int32(x << -shift)), 0
    return x, -shift


def rsqrt_multiplier(op: Op, graph: Graph) -> tuple[int, int]:
    t, y = _io(op, graph)
    return quantize_multiplier(1.0 / (np.sqrt(f32(t.scale())) * f32(y.scale())))


def rsqrt(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """RSQRT: 1/sqrt(x - zp) through the fixed-point inverse square root; TFLM refuses inputs below the zero point
    (here they give the maximum output, as zero does)."""
    t, y = _io(op, graph)
    m, s = rsqrt_multiplier(op, graph)
    v = x.astype(np.int64) - t.zero_point
    im, ish = inv_sqrt_multiplier(v)
    data = mbqm(np.ones_like(v), im, ish + 20)
    out = _clamp(mbqm(data, m, s - 20) + y.zero_point)
    return np.where(v == 0, 127, out).astype(np.int8)


def l2_normalization(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """L2_NORMALIZATION over the last axis; output scale 1/128, zero point 0."""
    t, _ = _io(op, graph)
    v = x.astype(np.int64) - t.zero_point
    acc = wrap_int32(np.sum(v * v, axis=-1, keepdims=True))
    m, s = inv_sqrt_multiplier(acc)
    return _clamp(mbqm(v, m, s + 7))


# ----- binary ------------------------------------------------------------------------------------------------


def sub(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SUB: ADD's arithmetic (twice the larger scale, 20 extra bits) with the second operand subtracted."""
    t1, t2, out = _t(graph, op.inputs[0]), _t(graph, op.inputs[1]), _t(graph, op.outputs[0])
    p = add_params(t1.scale(), t2.scale(), out.scale())
    s1 = mbqm((a.astype(np.int64) - t1.zero_point) << p.left_shift, p.input1_multiplier, p.input1_shift)
    s2 = mbqm((b.astype(np.int64) - t2.zero_point) << p.left_shift, p.input2_multiplier, p.input2_shift)
    raw = mbqm(wrap_int32(s1 - s2), p.output_multiplier, p.output_shift)
    lo, hi = activation_range(op.attrs.activation, out.scale(), out.zero_point)
    return _clamp(raw + out.zero_point, lo, hi)


def maximum(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MAXIMUM on the raw int8 values (TFLM does not requantize)."""
    return np.maximum(a, b).astype(np.int8)


def minimum(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.minimum(a, b).astype(np.int8)


def squared_difference_params(op: Op, graph: Graph) -> dict:
    t1, t2, out = _t(graph, op.inputs[0]), _t(graph, op.inputs[1]), _t(graph, op.outputs[0])
    twice_max = 2.0 * max(f32(t1.scale()), f32(t2.scale()))
    m1, s1 = quantize_multiplier(f32(t1.scale()) / twice_max)
    m2, s2 = quantize_multiplier(f32(t2.scale()) / twice_max)
    mo, so = quantize_multiplier(twice_max * twice_max / float(np.float32(1 << 14) * np.float32(out.scale())))
    return dict(left_shift=7, a_mult=m1, a_shift=s1, b_mult=m2, b_shift=s2, mult=mo, shift=so)


def squared_difference(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    t1, t2, out = _t(graph, op.inputs[0]), _t(graph, op.inputs[1]), _t(graph, op.outputs[0])
    p = squared_difference_params(op, graph)
    s1 = mbqm((a.astype(np.int64) - t1.zero_point) << 7, p["a_mult"], p["a_shift"])
    s2 = mbqm((b.astype(np.int64) - t2.zero_point) << 7, p["b_mult"], p["b_shift"])
    d = s1 - s2
    return _clamp(mbqm(wrap_int32(d * d), p["mult"], p["shift"]) + out.zero_point)


# ----- reductions --------------------------------------------------------------------------------------------


def reduce_sum(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """SUM: TFLM's integer QuantizedMeanOrSum without the 1/count factor."""
    t, out = _io(op, graph)
    axes = tuple(op.attrs.axes)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64)) if axes else 1
    total = np.sum(x.astype(np.int64), axis=axes, keepdims=True)
    m, s = requantize_multiplier(t.scale(), out.scale())
    q = mbqm(wrap_int32(total - t.zero_point * count), m, s) + out.zero_point
    return to_shape(_clamp(q), out.shape)


def reduce_max(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    out = _t(graph, op.outputs[0])
    return to_shape(np.max(x, axis=tuple(op.attrs.axes), keepdims=True), out.shape)


def arg_max(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """ARG_MAX: index of the first largest value along the axis, int32."""
    return np.argmax(x, axis=op.attrs.axis).astype(np.int32)


# ----- TRANSPOSE_CONV and RESIZE_BILINEAR --------------------------------------------------------------------


def transpose_conv_pads(op: Op, graph: Graph) -> tuple[int, int]:
    """(top, left) padding: that of a convolution from the output size back to the input (TFLM's rule)."""
    w, y = _t(graph, op.inputs[1]), _t(graph, op.outputs[0])
    a = op.attrs
    _, pad_t = conv_out_pad(y.shape[1], w.shape[1], a.stride_h, 1, a.padding)
    _, pad_l = conv_out_pad(y.shape[2], w.shape[2], a.stride_w, 1, a.padding)
    return pad_t, pad_l


def transpose_conv(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """TRANSPOSE_CONV: each input pixel scatters (x - zp) * w into an int32 output, then bias and requantization."""
    t, w, y = _t(graph, op.inputs[0]), _t(graph, op.inputs[1]), _t(graph, op.outputs[0])
    a = op.attrs
    pad_t, pad_l = transpose_conv_pads(op, graph)
    cout, kh, kw, _ = w.shape
    n, ih, iw, _ = x.shape
    oh, ow = y.shape[1], y.shape[2]
    big = np.zeros((n, (ih - 1) * a.stride_h + kh, (iw - 1) * a.stride_w + kw, cout), np.int64)
    xi = x.astype(np.int64) - t.zero_point
    wd = np.asarray(w.data, np.int64)
    for fy in range(kh):
        for fx in range(kw):
            contrib = np.einsum("nhwc,oc->nhwo", xi, wd[:, fy, fx, :])
            big[
                :, fy : fy + (ih - 1) * a.stride_h + 1 : a.stride_h, fx : fx + (iw - 1) * a.stride_w + 1 : a.stride_w
            ] += contrib
    acc = np.zeros((n, oh, ow, cout), np.int64)
    hh, ww = min(oh, big.shape[1] - pad_t), min(ow, big.shape[2] - pad_l)
    acc[:, :hh, :ww] = big[:, pad_t : pad_t + hh, pad_l : pad_l + ww]
    if len(op.inputs) > 2 and op.inputs[2]:
        acc = acc + np.asarray(_t(graph, op.inputs[2]).data, np.int64)
    m, s = conv_output_multipliers(t.scale(), w.quant.scale, y.scale(), cout)
    lo, hi = activation_range(a.activation, y.scale(), y.zero_point)
    return _clamp(mbqm(wrap_int32(acc), m, s) + y.zero_point, lo, hi)


def bilinear_scale(in_size: int, out_size: int, align_corners: bool) -> int:
    """The Q10 source step of RESIZE_BILINEAR's integer path."""
    if align_corners and out_size > 1:
        return ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    return ((1 << 10) * in_size + out_size // 2) // out_size


def bilinear_taps(out_size: int, in_size: int, align_corners: bool, half_pixel: bool):
    """Per output index: (Q10 source position, lower index, upper index), C integer division semantics."""
    step = bilinear_scale(in_size, out_size, align_corners)
    v = np.arange(out_size, dtype=np.int64) * step
    if half_pixel:
        v = v + step // 2 - (1 << 9)
    lower = np.maximum(np.trunc(v / 1024).astype(np.int64), 0)
    upper = np.minimum(np.trunc((v + 1023) / 1024).astype(np.int64), in_size - 1)
    return v, lower, upper


def resize_bilinear(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """RESIZE_BILINEAR: TFLite's integer path (Q10 positions, Q20 products, rounding half away from zero)."""
    y = _t(graph, op.outputs[0])
    a = op.attrs
    ys, y0, y1 = bilinear_taps(y.shape[1], x.shape[1], a.align_corners, a.half_pixel_centers)
    xs, x0, x1 = bilinear_taps(y.shape[2], x.shape[2], a.align_corners, a.half_pixel_centers)
    dy = (ys - 1024 * y0)[None, :, None, None]
    dx = (xs - 1024 * x0)[None, None, :, None]
    v = x.astype(np.int64)
    ll = v[:, y0][:, :, x0] * (1024 - dy) * (1024 - dx)
    lu = v[:, y1][:, :, x0] * dy * (1024 - dx)
    rl = v[:, y0][:, :, x1] * (1024 - dy) * dx
    ru = v[:, y1][:, :, x1] * dy * dx
    total = ll + lu + rl + ru
    r = total + np.where(total > 0, 1 << 19, -(1 << 19))
    q = np.where(r >= 0, r // (1 << 20), -((-r) // (1 << 20)))
    return q.astype(np.int8)


# ----- data movement -----------------------------------------------------------------------------------------


def split(op: Op, graph: Graph, x: np.ndarray) -> tuple[np.ndarray, ...]:
    cuts = np.cumsum(op.attrs.sizes)[:-1]
    return tuple(np.ascontiguousarray(p) for p in np.split(x, cuts, axis=op.attrs.axis))


def pack(op: Op, graph: Graph, *xs: np.ndarray) -> np.ndarray:
    return np.stack(xs, axis=op.attrs.axis)


def unpack(op: Op, graph: Graph, x: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(np.ascontiguousarray(np.take(x, i, axis=op.attrs.axis)) for i in range(x.shape[op.attrs.axis]))


def depth_to_space(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    b = op.attrs.block_size
    n, h, w, c = x.shape
    y = x.reshape(n, h, w, b, b, c // (b * b)).transpose(0, 1, 3, 2, 4, 5)
    return np.ascontiguousarray(y.reshape(n, h * b, w * b, c // (b * b)))


def space_to_depth(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    b = op.attrs.block_size
    n, h, w, c = x.shape
    y = x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5)
    return np.ascontiguousarray(y.reshape(n, h // b, w // b, b * b * c))


KERNELS: dict[OpKind, Callable[..., np.ndarray | tuple[np.ndarray, ...]]] = {
    OpKind.TANH: tanh,
    OpKind.LEAKY_RELU: leaky_relu,
    OpKind.PRELU: prelu,
    OpKind.ABS: abs_op,
    OpKind.RSQRT: rsqrt,
    OpKind.L2_NORMALIZATION: l2_normalization,
    OpKind.SUB: sub,
    OpKind.MAXIMUM: maximum,
    OpKind.MINIMUM: minimum,
    OpKind.SQUARED_DIFFERENCE: squared_difference,
    OpKind.SUM: reduce_sum,
    OpKind.REDUCE_MAX: reduce_max,
    OpKind.ARG_MAX: arg_max,
    OpKind.TRANSPOSE_CONV: transpose_conv,
    OpKind.RESIZE_BILINEAR: resize_bilinear,
    OpKind.SPLIT: split,
    OpKind.SPLIT_V: split,
    OpKind.PACK: pack,
    OpKind.UNPACK: unpack,
    OpKind.DEPTH_TO_SPACE: depth_to_space,
    OpKind.SPACE_TO_DEPTH: space_to_depth,
}


def log_softmax(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """LOG_SOFTMAX over the last axis: Q5.26 differences, Q12.19 sum of exps, gemmlowp log; output 16/256, zp 127."""
    from ..quant import log_softmax_params

    p = log_softmax_params(_t(graph, op.inputs[0]).scale())
    diff = x.astype(np.int64) - np.max(x.astype(np.int64), axis=-1, keepdims=True)
    q5 = mbqm(diff, p.input_multiplier, p.input_left_shift)
    exps = fp.rescale(fp.exp_on_negative_values(np.where(diff >= p.diff_min, q5, 0), 5), 0, 12)
    total = wrap_int32(np.sum(np.where(diff >= p.diff_min, exps, 0), axis=-1, keepdims=True))
    log_sum = fp.log_x_for_x_greater_than_or_equal_to_1(total, 12, 5)
    floor = np.maximum(p.diff_min - 1, mbqm(wrap_int32(log_sum - (1 << 31)), p.reverse_multiplier, p.reverse_shift))
    out = _clamp(rounding_divide_by_pot(wrap_int32(q5 - log_sum), 22) + 127)
    return np.where(diff > floor, out, -128).astype(np.int8)


KERNELS[OpKind.LOG_SOFTMAX] = log_softmax
