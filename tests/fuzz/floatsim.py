"""Float32 semantics of every IR operator, used by modelgen.py to calibrate activation ranges.

This is not a bit-exact oracle: it only has to give the value range that each quantized tensor should cover.
Every function takes arrays shaped like the IR tensors (batch included) and the op's attribute record.
"""

from __future__ import annotations

import numpy as np

from tinyengine_codegen.ir.ops import Activation, OpKind, Padding
from tinyengine_codegen.ir.shapes import conv_out_pad


def activate(x: np.ndarray, act: Activation) -> np.ndarray:
    if act is Activation.RELU:
        return np.maximum(x, 0.0)
    if act is Activation.RELU6:
        return np.clip(x, 0.0, 6.0)
    if act is Activation.RELU_N1_TO_1:
        return np.clip(x, -1.0, 1.0)
    return x


def _padded(
    x: np.ndarray, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int], padding: Padding, fill: float
) -> tuple[np.ndarray, int, int]:
    """Pad H and W as TFLite does for a window op; returns the padded input and the output size."""
    (_, h, w, _), pads, outs = x.shape, [], []
    for size, kk, ss, dd in ((h, k[0], s[0], d[0]), (w, k[1], s[1], d[1])):
        out, before = conv_out_pad(size, kk, ss, dd, padding)
        after = max((out - 1) * ss + (kk - 1) * dd + 1 - size - before, 0)
        pads.append((before, after))
        outs.append(out)
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=fill)
    return xp, outs[0], outs[1]


def _windows(xp: np.ndarray, oh: int, ow: int, k, s, d):
    """Yield (i, j, patch) for every kernel tap; patch is (N, oh, ow, C)."""
    for i in range(k[0]):
        for j in range(k[1]):
            r0, c0 = i * d[0], j * d[1]
            yield i, j, xp[:, r0 : r0 + (oh - 1) * s[0] + 1 : s[0], c0 : c0 + (ow - 1) * s[1] + 1 : s[1], :]


def conv2d(x, w, b, a) -> np.ndarray:
    k, s, d = w.shape[1:3], (a.stride_h, a.stride_w), (a.dilation_h, a.dilation_w)
    xp, oh, ow = _padded(x, k, s, d, a.padding, 0.0)
    acc = np.zeros((x.shape[0], oh, ow, w.shape[0]))
    for i, j, patch in _windows(xp, oh, ow, k, s, d):
        acc += patch @ w[:, i, j, :].T
    return activate(acc + (0.0 if b is None else b), a.activation)


def depthwise(x, w, b, a) -> np.ndarray:
    k, s, d = w.shape[1:3], (a.stride_h, a.stride_w), (a.dilation_h, a.dilation_w)
    xp, oh, ow = _padded(x, k, s, d, a.padding, 0.0)
    acc = np.zeros((x.shape[0], oh, ow, w.shape[3]))
    for i, j, patch in _windows(xp, oh, ow, k, s, d):
        acc += np.repeat(patch, a.depth_multiplier, axis=3) * w[0, i, j, :]
    return activate(acc + (0.0 if b is None else b), a.activation)


def pool(x, a, kind: OpKind) -> np.ndarray:
    k, s = (a.filter_h, a.filter_w), (a.stride_h, a.stride_w)
    xp, oh, ow = _padded(x, k, s, (1, 1), a.padding, np.nan)
    stack = np.stack([p for _, _, p in _windows(xp, oh, ow, k, s, (1, 1))])
    out = np.nanmax(stack, axis=0) if kind is OpKind.MAX_POOL_2D else np.nanmean(stack, axis=0)
    return activate(out, a.activation)


def fully_connected(x, w, b, a, out_shape) -> np.ndarray:
    y = x.reshape(-1, w.shape[1]) @ w.T + (0.0 if b is None else b)
    return activate(y, a.activation).reshape(out_shape)


def strided_slice(x, a, out_shape) -> np.ndarray:
    index = tuple(slice(b, e if e >= 0 else None, s) for b, e, s in zip(a.begin, a.end, a.strides))
    return x[index].reshape(out_shape)


def resize_nearest(x, a, out_shape) -> np.ndarray:
    maps = []
    for in_size, out_size in ((x.shape[1], out_shape[1]), (x.shape[2], out_shape[2])):
        if a.align_corners and out_size > 1:
            scale = (in_size - 1) / (out_size - 1)
        else:
            scale = in_size / out_size
        pos = (np.arange(out_size) + (0.5 if a.half_pixel_centers else 0.0)) * scale
        idx = np.round(pos) if a.align_corners else np.floor(pos)
        maps.append(np.clip(idx.astype(int), 0, in_size - 1))
    return x[:, maps[0]][:, :, maps[1]]


def softmax(x, beta: float) -> np.ndarray:
    z = beta * (x - x.max(axis=-1, keepdims=True))
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def hard_swish(x) -> np.ndarray:
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


def logistic(x) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
