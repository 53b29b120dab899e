"""Reference CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and 2-D pooling, bit-exact with TFLM's int8 kernels.

Products of int8 values are summed in float64 (exact below 2**53) so NumPy can use BLAS; accumulators are then
wrapped to int32 like the C kernels' and requantized with the fixed-point helpers of `quant`.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Op, Tensor
from ..ir.shapes import conv_out_pad
from ..quant import (
    activation_range,
    conv_output_multipliers,
    fully_connected_multiplier,
    multiply_by_quantized_multiplier,
    wrap_int32,
)


def _windows(
    x: np.ndarray, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, padding, pad_value, pads=None
) -> tuple[list[np.ndarray], int, int]:
    """Pad NHWC x as TFLite does and return one strided (N, OH, OW, C) view per filter tap, row-major taps."""
    _, h, w, _ = x.shape
    oh, pad_t = conv_out_pad(h, kh, sh, dh, padding, None if pads is None else (pads[0], pads[1]))
    ow, pad_l = conv_out_pad(w, kw, sw, dw, padding, None if pads is None else (pads[2], pads[3]))
    need_h = (oh - 1) * sh + (kh - 1) * dh + 1
    need_w = (ow - 1) * sw + (kw - 1) * dw + 1
    pad_b = max(need_h - h - pad_t, 0)
    pad_r = max(need_w - w - pad_l, 0)
    xp = np.pad(x, ((0, 0), (pad_t, pad_b), (pad_l, pad_r), (0, 0)), constant_values=pad_value)
    taps = [
        xp[:, ky * dh : ky * dh + (oh - 1) * sh + 1 : sh, kx * dw : kx * dw + (ow - 1) * sw + 1 : sw, :]
        for ky in range(kh)
        for kx in range(kw)
    ]
    return taps, oh, ow


def to_shape(y: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`y` reshaped to a tensor's `shape`, or, for a batch of N items stacked on axis 0, to (N, *shape[1:])."""
    if y.size == int(np.prod(shape, dtype=np.int64)):
        return y.reshape(shape)
    return y.reshape((-1,) + tuple(shape[1:]))


def _requantize(acc: np.ndarray, op: Op, graph: Graph, multipliers, shifts) -> np.ndarray:
    """int32 accumulator -> int8 output: per-channel MultiplyByQuantizedMultiplier, + zero point, clamp."""
    out_t = graph.tensor(op.outputs[0])
    lo, hi = activation_range(op.attrs.activation, out_t.scale(), out_t.zero_point)
    y = multiply_by_quantized_multiplier(acc, multipliers, shifts) + out_t.zero_point
    return np.clip(y, lo, hi).astype(np.int8)


def _bias(graph: Graph, op: Op, channels: int) -> np.ndarray:
    if len(op.inputs) > 2 and op.inputs[2]:
        return np.asarray(graph.tensor(op.inputs[2]).data, np.int64).reshape(channels)
    return np.zeros(channels, np.int64)


def _weight_scales(w: Tensor) -> tuple[float, ...]:
    assert w.quant is not None, f"weight tensor '{w.name}' is not quantized"
    return w.quant.scale


def conv2d(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """CONV_2D, NHWC input, OHWI filter (grouped when the filter has fewer input channels than x)."""
    a = op.attrs
    in_t, w_t = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1])
    w = np.asarray(w_t.data, np.float64)
    cout, kh, kw, cin_g = w.shape
    groups = x.shape[3] // cin_g
    xc = x.astype(np.float64) - in_t.zero_point  # padding with 0 here == skipping taps, as TFLM does
    taps, oh, ow = _windows(xc, kh, kw, a.stride_h, a.stride_w, a.dilation_h, a.dilation_w, a.padding, 0.0, a.pads)
    cols = np.stack(taps, axis=3)  # N, OH, OW, taps, C
    n = x.shape[0]
    acc = np.empty((n, oh, ow, cout), np.float64)
    per_group = cout // groups
    for g in range(groups):
        patch = cols[..., g * cin_g : (g + 1) * cin_g].reshape(n * oh * ow, kh * kw * cin_g)
        wg = w[g * per_group : (g + 1) * per_group].reshape(per_group, kh * kw * cin_g)
        acc[..., g * per_group : (g + 1) * per_group] = (patch @ wg.T).reshape(n, oh, ow, per_group)
    acc = wrap_int32(acc.astype(np.int64) + _bias(graph, op, cout))
    m, s = conv_output_multipliers(in_t.scale(), _weight_scales(w_t), graph.tensor(op.outputs[0]).scale(), cout)
    return _requantize(acc, op, graph, m, s)


def depthwise_conv2d(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """DEPTHWISE_CONV_2D: output channel c*M + j reads input channel c; filter 1 x KH x KW x (C*M)."""
    a = op.attrs
    in_t, w_t = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1])
    w = np.asarray(w_t.data, np.int64)
    _, kh, kw, cout = w.shape
    mult = cout // x.shape[3]
    xc = x.astype(np.int64) - in_t.zero_point
    if mult > 1:
        xc = np.repeat(xc, mult, axis=3)
    taps, oh, ow = _windows(xc, kh, kw, a.stride_h, a.stride_w, a.dilation_h, a.dilation_w, a.padding, 0, a.pads)
    acc = np.zeros((x.shape[0], oh, ow, cout), np.int64)
    for t, tap in enumerate(taps):
        acc += tap * w[0, t // kw, t % kw, :]
    acc = wrap_int32(acc + _bias(graph, op, cout))
    m, s = conv_output_multipliers(in_t.scale(), _weight_scales(w_t), graph.tensor(op.outputs[0]).scale(), cout)
    return _requantize(acc, op, graph, m, s)


def fully_connected(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """FULLY_CONNECTED: rows of `in_features` times (out, in) weights; per-tensor or per-channel scales."""
    in_t, w_t, out_t = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    w = np.asarray(w_t.data, np.float64)
    cout, cin = w.shape
    rows = x.reshape(-1, cin).astype(np.float64) - in_t.zero_point
    acc = wrap_int32((rows @ w.T).astype(np.int64) + _bias(graph, op, cout))
    scales = _weight_scales(w_t)
    if len(scales) > 1:
        m, s = conv_output_multipliers(in_t.scale(), scales, out_t.scale(), cout)
    else:
        m, s = fully_connected_multiplier(in_t.scale(), scales[0], out_t.scale())
    return to_shape(_requantize(acc, op, graph, m, s), out_t.shape)


def average_pool2d(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """AVERAGE_POOL_2D: sum of the in-bounds taps divided by their count, rounded half away from zero."""
    a = op.attrs
    taps, _, _ = _windows(x.astype(np.int64), a.filter_h, a.filter_w, a.stride_h, a.stride_w, 1, 1, a.padding, 0)
    ones = np.ones(x.shape[:3] + (1,), np.int64)
    count_taps, _, _ = _windows(ones, a.filter_h, a.filter_w, a.stride_h, a.stride_w, 1, 1, a.padding, 0)
    acc = np.sum(taps, axis=0)
    count = np.sum(count_taps, axis=0)
    half = count // 2
    avg = np.where(acc > 0, (acc + half) // count, -((half - acc) // count))
    out_t = graph.tensor(op.outputs[0])
    lo, hi = activation_range(a.activation, out_t.scale(), out_t.zero_point)
    return np.clip(avg, lo, hi).astype(np.int8)


def max_pool2d(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """MAX_POOL_2D: maximum of the in-bounds taps, then the activation clamp."""
    a = op.attrs
    taps, _, _ = _windows(x.astype(np.int16), a.filter_h, a.filter_w, a.stride_h, a.stride_w, 1, 1, a.padding, -128)
    out_t = graph.tensor(op.outputs[0])
    lo, hi = activation_range(a.activation, out_t.scale(), out_t.zero_point)
    return np.clip(np.max(np.stack(taps), axis=0), lo, hi).astype(np.int8)
