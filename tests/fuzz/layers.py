"""One random layer builder per OpKind, used by modelgen.random_model.

Each builder takes the Builder and the current int8 tensor, draws its parameters, appends the op (and any helper
ops or constants it needs) and returns the new current tensor, or None when the layer does not fit the tensor.
Operators that only move data (pools, RESHAPE, PAD, TRANSPOSE, STRIDED_SLICE, RESIZE_NEAREST_NEIGHBOR) keep the
input's quantization, as TFLite requires; the others get a scale calibrated from the float simulation.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from tinyengine_codegen.ir.graph import QuantParams
from tinyengine_codegen.ir.ops import (
    Activation,
    ConcatAttrs,
    Conv2DAttrs,
    DepthwiseConv2DAttrs,
    ElementwiseAttrs,
    FullyConnectedAttrs,
    MeanAttrs,
    NoAttrs,
    OpKind,
    PadAttrs,
    Padding,
    Pool2DAttrs,
    ReshapeAttrs,
    ResizeNearestAttrs,
    SoftmaxAttrs,
    StridedSliceAttrs,
    TransposeAttrs,
)

from . import floatsim as fs

if TYPE_CHECKING:
    from .modelgen import Builder

OUT_PROB = QuantParams((1.0 / 256.0,), (-128,))  # SOFTMAX and LOGISTIC outputs, as TFLite requires
ACTIVATIONS = (Activation.NONE, Activation.NONE, Activation.RELU, Activation.RELU6)


def conv2d(b: Builder, x: str, k: int | None = None, cout: int | None = None, plain: bool = False) -> str | None:
    if len(b.shape(x)) != 4:
        return None
    _, h, w, c = b.shape(x)
    pad = Padding.SAME if plain else b.pick(Padding)
    dh, dw = (1, 1) if plain or b.rng.random() < 0.75 else (b.randint(1, 2), b.randint(1, 2))
    kh = k or b.randint(1, 7)
    kw = k or (kh if b.rng.random() < 0.7 else b.randint(1, 7))
    if pad is Padding.VALID:
        kh, kw = min(kh, (h - 1) // dh + 1), min(kw, (w - 1) // dw + 1)
    strides = (1, 1) if plain else (b.randint(1, 2), b.randint(1, 2))
    attrs = Conv2DAttrs(*strides, dh, dw, pad, Activation.NONE if plain else b.pick(ACTIVATIONS))
    cout = cout or b.randint(1, 12)
    name = b.op_name(OpKind.CONV_2D)
    wn, wf = b.weights(name, (cout, kh, kw, c), 0, kh * kw * c)
    bn, bf = b.bias(name, x, wn, cout, optional=False)  # converters always give CONV_2D a bias (LiteRT needs it)
    return b.emit(OpKind.CONV_2D, (x, wn, bn), fs.conv2d(b.values[x], wf, bf, attrs), attrs)


def depthwise(b: Builder, x: str, plain: bool = False) -> str | None:
    if len(b.shape(x)) != 4:
        return None
    _, h, w, c = b.shape(x)
    mult = 1 if plain else b.pick((1, 1, 2))
    pad = Padding.SAME if plain else b.pick(Padding)
    dh, dw = (1, 1) if plain or b.rng.random() < 0.75 else (b.randint(1, 2), b.randint(1, 2))
    kh = 3 if plain else b.randint(1, 5)
    kw = 3 if plain else (kh if b.rng.random() < 0.7 else b.randint(1, 5))
    if pad is Padding.VALID:
        kh, kw = min(kh, (h - 1) // dh + 1), min(kw, (w - 1) // dw + 1)
    strides = (1, 1) if plain else (b.randint(1, 2), b.randint(1, 2))
    attrs = DepthwiseConv2DAttrs(*strides, dh, dw, pad, mult, Activation.NONE if plain else b.pick(ACTIVATIONS))
    name = b.op_name(OpKind.DEPTHWISE_CONV_2D)
    wn, wf = b.weights(name, (1, kh, kw, c * mult), 3, kh * kw)
    bn, bf = b.bias(name, x, wn, c * mult)
    return b.emit(OpKind.DEPTHWISE_CONV_2D, (x, wn, bn), fs.depthwise(b.values[x], wf, bf, attrs), attrs)


def fully_connected(b: Builder, x: str, out: int | None = None, plain: bool = False) -> str:
    shape = b.shape(x)
    keep = not plain and len(shape) == 4 and b.rng.random() < 0.2
    in_f = shape[-1] if keep else math.prod(shape[1:])
    out = out or b.randint(1, 16)
    out_shape = shape[:-1] + (out,) if keep else (1, out)
    attrs = FullyConnectedAttrs(Activation.NONE if plain else b.pick(ACTIVATIONS), keep)
    name = b.op_name(OpKind.FULLY_CONNECTED)
    wn, wf = b.weights(name, (out, in_f), None, in_f)
    bn, bf = b.bias(name, x, wn, out)
    v = fs.fully_connected(b.values[x], wf, bf, attrs, (-1,) + out_shape[1:])
    return b.emit(OpKind.FULLY_CONNECTED, (x, wn, bn), v, attrs)


def _sibling(b: Builder, x: str) -> str:
    """A tensor of x's shape with its own quantization, from a small side branch."""
    if len(b.shape(x)) == 4:
        return depthwise(b, x, plain=True) if b.rng.random() < 0.5 else conv2d(b, x, 1, b.shape(x)[3], plain=True)
    return fully_connected(b, x, b.shape(x)[-1], plain=True)


def _broadcast_const(b: Builder, x: str, opname: str) -> str:
    shape = b.shape(x)
    if len(shape) == 4:
        _, h, w, c = shape
        cshape = b.pick(((1, 1, 1, c), (c,), (1, h, w, c), (1, h, 1, 1), (1, 1, w, 1)))
    else:
        cshape = b.pick(((shape[1],), (1, shape[1]), (1, 1)))
    v = b.rng.uniform(-1.0, 1.0, cshape) * b.rng.uniform(0.2, 3.0)
    q = b.calibrate(v)
    data = np.clip(np.round(v / q.scale[0]) + q.zero_point[0], -128, 127).astype(np.int8)
    name = b.const(opname, "operand", data, q)
    b.values[name] = (data.astype(np.float64) - q.zero_point[0]) * q.scale[0]
    return name


def _partner(b: Builder, x: str, kind: OpKind) -> str:
    """The second operand of ADD/MUL: x itself, a same-shape branch, a (1,1,1,C) mean, or a broadcast constant."""
    r = b.rng.random()
    if r < 0.2:
        return x
    if r < 0.5:
        return _sibling(b, x)
    if r < 0.7 and len(b.shape(x)) == 4:
        return mean(b, x, keep=True)
    return _broadcast_const(b, x, b.op_name(kind))


def _binary(kind: OpKind):
    def build(b: Builder, x: str) -> str:
        y = _partner(b, x, kind)
        lhs, rhs = (x, y) if b.rng.random() < 0.5 else (y, x)
        attrs = ElementwiseAttrs(b.pick(ACTIVATIONS))
        va, vb = b.values[lhs], b.values[rhs]
        v = va + vb if kind is OpKind.ADD else va * vb
        return b.emit(kind, (lhs, rhs), fs.activate(v, attrs.activation), attrs)

    return build


def _pool(kind: OpKind):
    def build(b: Builder, x: str) -> str:
        _, h, w, _ = b.shape(x)
        pad = b.pick(Padding)
        kh, kw = b.randint(1, 4), b.randint(1, 4)
        if pad is Padding.VALID:
            kh, kw = min(kh, h), min(kw, w)
        act = b.pick(ACTIVATIONS)
        attrs = Pool2DAttrs(kh, kw, b.randint(1, 2), b.randint(1, 2), pad, act)
        return b.emit(kind, (x,), fs.pool(b.values[x], attrs, kind), attrs, quant=b.quant(x))

    return build


def mean(b: Builder, x: str, keep: bool | None = None) -> str:
    attrs = MeanAttrs((1, 2), bool(b.rng.random() < 0.5) if keep is None else keep)
    return b.emit(OpKind.MEAN, (x,), b.values[x].mean(axis=(1, 2), keepdims=attrs.keep_dims), attrs)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def reshape(b: Builder, x: str, to_4d: bool = False, new_shape: tuple[int, ...] | None = None) -> str:
    shape = b.shape(x)
    total = math.prod(shape[1:])
    if new_shape is None and len(shape) == 4 and not to_4d and b.rng.random() < 0.5:
        new_shape = (1, total)
    if new_shape is None:
        a = b.pick(_divisors(total))
        c = b.pick(_divisors(total // a))
        new_shape = (1, a, total // a // c, c)
    v = b.values[x].reshape((-1,) + tuple(new_shape[1:]))
    return b.emit(OpKind.RESHAPE, (x,), v, ReshapeAttrs(tuple(new_shape)), quant=b.quant(x))


def softmax(b: Builder, x: str) -> str:
    attrs = SoftmaxAttrs(b.pick((1.0, 1.0, 0.5, 2.0)))
    return b.emit(OpKind.SOFTMAX, (x,), fs.softmax(b.values[x], attrs.beta), attrs, quant=OUT_PROB)


def _unary(kind: OpKind, fn, quant=None):
    def build(b: Builder, x: str) -> str:
        if quant is None:
            return b.emit(kind, (x,), fn(b.values[x]), NoAttrs())
        return b.emit(kind, (x,), fn(b.values[x]), NoAttrs(), quant=quant)

    return build


def relu6(b: Builder, x: str) -> str:
    """TFLM's int8 RELU6 clamps in the input's quantization and ignores the output's, so both must match."""
    return b.emit(OpKind.RELU6, (x,), np.clip(b.values[x], 0.0, 6.0), NoAttrs(), quant=b.quant(x))


def pad(b: Builder, x: str) -> str:
    rest = tuple((b.randint(0, 2), b.randint(0, 2)) if b.rng.random() < 0.7 else (0, 0) for _ in b.shape(x)[1:])
    paddings = ((0, 0),) + rest
    return b.emit(OpKind.PAD, (x,), np.pad(b.values[x], paddings), PadAttrs(paddings), quant=b.quant(x))


def concatenation(b: Builder, x: str) -> str:
    shape = b.shape(x)
    axis = b.randint(1, len(shape) - 1)
    parts = [x]
    for _ in range(b.randint(1, 2)):
        if axis == len(shape) - 1 and b.rng.random() < 0.6:
            parts.append(
                conv2d(b, x, 1, b.randint(1, 8), plain=True)
                if len(shape) == 4
                else fully_connected(b, x, b.randint(1, 8), plain=True)
            )
        else:
            parts.append(x if b.rng.random() < 0.4 else _sibling(b, x))
    parts = [parts[i] for i in b.rng.permutation(len(parts))]
    v = np.concatenate([b.values[p] for p in parts], axis=axis)
    q = b.calibrate(v)
    # TFLM and LiteRT require every int8 input to share the output's quantization, so inputs with other scales
    # are requantized first, as the TFLite converter does
    parts = [p if b.quant(p) == q else b.emit(OpKind.QUANTIZE, (p,), b.values[p], NoAttrs(), quant=q) for p in parts]
    return b.emit(OpKind.CONCATENATION, tuple(parts), v, ConcatAttrs(axis), quant=q)


def transpose(b: Builder, x: str) -> str:
    perm = (0,) + tuple(int(p) + 1 for p in b.rng.permutation(len(b.shape(x)) - 1))
    return b.emit(OpKind.TRANSPOSE, (x,), b.values[x].transpose(perm), TransposeAttrs(perm), quant=b.quant(x))


def _slice_dim(b: Builder, n: int) -> tuple[int, int, int]:
    if n > 1 and b.rng.random() < 0.15:
        begin = b.randint(0, n - 1)
        return begin, b.randint(-1, begin - 1), -b.randint(1, 2)
    begin = b.randint(0, n - 1)
    return begin, b.randint(begin + 1, n), b.pick((1, 1, 2))


def strided_slice(b: Builder, x: str) -> str:
    shape = b.shape(x)
    dims = [(0, 1, 1)] + [_slice_dim(b, n) for n in shape[1:]]
    shrink: tuple[int, ...] = ()
    if b.rng.random() < 0.2:
        d = b.randint(1, len(shape) - 1)
        begin = b.randint(0, shape[d] - 1)
        dims[d], shrink = (begin, begin + 1, 1), (d,)
    begin, end, strides = (tuple(t) for t in zip(*dims))
    attrs = StridedSliceAttrs(begin, end, strides, shrink)
    index = (slice(None),) + tuple(slice(s0, e if e >= 0 else None, st) for s0, e, st in dims[1:])
    v = b.values[x][index]
    if shrink:
        v = v.reshape(tuple(n for i, n in enumerate(v.shape) if i not in shrink))
    y = b.emit(OpKind.STRIDED_SLICE, (x,), v, attrs, quant=b.quant(x))
    if shrink:  # back to the rank the next layers expect
        y = reshape(b, y, new_shape=(1,) + tuple(v.shape[1 : shrink[0]]) + (1,) + tuple(v.shape[shrink[0] :]))
    return y


def resize_nearest(b: Builder, x: str) -> str:
    _, h, w, c = b.shape(x)
    oh = 2 * h if b.rng.random() < 0.4 else b.randint(1, 2 * h + 1)
    ow = 2 * w if b.rng.random() < 0.4 else b.randint(1, 2 * w + 1)
    mode = b.pick(("none", "none", "align", "half"))
    attrs = ResizeNearestAttrs(mode == "align", mode == "half")
    v = fs.resize_nearest(b.values[x], attrs, (1, oh, ow, c))
    return b.emit(OpKind.RESIZE_NEAREST_NEIGHBOR, (x,), v, attrs, quant=b.quant(x))


def requantize(b: Builder, x: str) -> str:
    q = b.quant(x)
    scale = q.scale[0] * float(np.exp(b.rng.uniform(-0.7, 0.7)))
    zp = int(np.clip(q.zero_point[0] + b.randint(-20, 20), -128, 127))
    return b.emit(OpKind.QUANTIZE, (x,), b.values[x], NoAttrs(), quant=QuantParams((scale,), (zp,)))


LAYERS = {
    OpKind.CONV_2D: conv2d,
    OpKind.DEPTHWISE_CONV_2D: depthwise,
    OpKind.FULLY_CONNECTED: fully_connected,
    OpKind.ADD: _binary(OpKind.ADD),
    OpKind.MUL: _binary(OpKind.MUL),
    OpKind.AVERAGE_POOL_2D: _pool(OpKind.AVERAGE_POOL_2D),
    OpKind.MAX_POOL_2D: _pool(OpKind.MAX_POOL_2D),
    OpKind.MEAN: mean,
    OpKind.RESHAPE: reshape,
    OpKind.SOFTMAX: softmax,
    OpKind.LOGISTIC: _unary(OpKind.LOGISTIC, fs.logistic, OUT_PROB),
    OpKind.HARD_SWISH: _unary(OpKind.HARD_SWISH, fs.hard_swish),
    OpKind.RELU: _unary(OpKind.RELU, lambda v: np.maximum(v, 0.0)),
    OpKind.RELU6: relu6,
    OpKind.PAD: pad,
    OpKind.CONCATENATION: concatenation,
    OpKind.TRANSPOSE: transpose,
    OpKind.STRIDED_SLICE: strided_slice,
    OpKind.RESIZE_NEAREST_NEIGHBOR: resize_nearest,
    OpKind.QUANTIZE: requantize,
}
NEEDS_4D = frozenset(
    {
        OpKind.CONV_2D,
        OpKind.DEPTHWISE_CONV_2D,
        OpKind.AVERAGE_POOL_2D,
        OpKind.MAX_POOL_2D,
        OpKind.MEAN,
        OpKind.TRANSPOSE,
        OpKind.RESIZE_NEAREST_NEIGHBOR,
    }
)

# the operators beyond the convolutional core (MEAN is redrawn there with any axes and independent quantization)
from .layers_more import MORE_LAYERS, NEEDS_4D_MORE  # noqa: E402

LAYERS.update(MORE_LAYERS)

from .layers_lstm import LSTM_LAYERS  # noqa: E402

LAYERS.update(LSTM_LAYERS)
NEEDS_4D = NEEDS_4D | NEEDS_4D_MORE
