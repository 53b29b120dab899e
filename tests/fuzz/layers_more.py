"""Random layer builders of the operators beyond the convolutional core (merged into layers.LAYERS).

Each op's output quantization is drawn independently of its input's: equal to it about a third of the time, else
calibrated from the float simulation, wherever TFLM accepts both (fixed-output ops and pure data movement keep
what TFLite requires).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyengine_codegen.ir.graph import Op, QuantParams
from tinyengine_codegen.ir.ops import (
    Activation,
    AxisAttrs,
    BlockAttrs,
    ElementwiseAttrs,
    LeakyReluAttrs,
    MeanAttrs,
    NoAttrs,
    OpKind,
    PadAttrs,
    Padding,
    ResizeNearestAttrs,
    SplitAttrs,
    TransposeConvAttrs,
)
from tinyengine_codegen.ir.shapes import conv_out_pad

from . import floatsim as fs

if TYPE_CHECKING:
    from .modelgen import Builder

OUT_TANH = QuantParams((1.0 / 128.0,), (0,))  # TANH and L2_NORMALIZATION outputs, as TFLite requires
OUT_LOG_SOFTMAX = QuantParams((16.0 / 256.0,), (127,))
PROB_SAME_QUANT = 0.35


def out_quant(b: Builder, x: str, v: np.ndarray) -> QuantParams:
    """The input's quantization (about a third of the time) or one calibrated from the float values."""
    return b.quant(x) if b.rng.random() < PROB_SAME_QUANT else b.calibrate(v)


def emit_multi(b: Builder, kind: OpKind, inputs: tuple[str, ...], values: list[np.ndarray], attrs, quant) -> list[str]:
    """Append an op with one output per float array in `values`, all with quantization `quant`."""
    name = b.op_name(kind)
    outs = [b.activation(v, quant) for v in values]
    b.ops.append(Op(name, kind, inputs, tuple(outs), attrs))
    return outs


def _reduced_axes(b: Builder, rank: int) -> tuple[int, ...]:
    if rank == 4:
        return b.pick(((1, 2), (1, 2), (3,), (1,), (2, 3), (1, 2, 3)))
    return tuple(range(1, rank))


def _keep(b: Builder, rank: int, axes: tuple[int, ...]) -> bool:
    """keep_dims drawn at random when dropping the axes leaves a 2-d tensor; kept otherwise (the other layers
    take 2-d or 4-d tensors)."""
    return rank - len(axes) != 2 or bool(b.rng.random() < 0.5)


def mean(b: Builder, x: str, keep: bool | None = None) -> str:
    axes = (1, 2) if keep is not None else _reduced_axes(b, len(b.shape(x)))
    attrs = MeanAttrs(axes, _keep(b, len(b.shape(x)), axes) if keep is None else keep)
    v = b.values[x].mean(axis=axes, keepdims=attrs.keep_dims)
    return b.emit(OpKind.MEAN, (x,), v, attrs, quant=out_quant(b, x, v))


def reduce_sum(b: Builder, x: str) -> str:
    axes = _reduced_axes(b, len(b.shape(x)))
    attrs = MeanAttrs(axes, _keep(b, len(b.shape(x)), axes))
    v = b.values[x].sum(axis=attrs.axes, keepdims=attrs.keep_dims)
    return b.emit(OpKind.SUM, (x,), v, attrs, quant=out_quant(b, x, v))


def reduce_max(b: Builder, x: str) -> str:
    """TFLM requires REDUCE_MAX's output quantization to be its input's."""
    axes = _reduced_axes(b, len(b.shape(x)))
    attrs = MeanAttrs(axes, _keep(b, len(b.shape(x)), axes))
    v = b.values[x].max(axis=attrs.axes, keepdims=attrs.keep_dims)
    return b.emit(OpKind.REDUCE_MAX, (x,), v, attrs, quant=b.quant(x))


def arg_max(b: Builder, x: str) -> str:
    """int32 indices: only ever the last layer (modelgen places it)."""
    axis = b.randint(1, len(b.shape(x)) - 1)
    v = np.argmax(b.values[x], axis=axis).astype(np.float64)
    return b.emit(OpKind.ARG_MAX, (x,), v, AxisAttrs(axis), quant=None, dtype="int32")


def tanh(b: Builder, x: str) -> str:
    return b.emit(OpKind.TANH, (x,), np.tanh(b.values[x]), NoAttrs(), quant=OUT_TANH)


def leaky_relu(b: Builder, x: str) -> str:
    attrs = LeakyReluAttrs(float(np.float32(b.pick((0.01, 0.1, 0.2, 0.3)))))  # .tflite stores a float32
    v = np.where(b.values[x] >= 0, b.values[x], attrs.alpha * b.values[x])
    return b.emit(OpKind.LEAKY_RELU, (x,), v, attrs, quant=out_quant(b, x, v))


def abs_layer(b: Builder, x: str) -> str:
    v = np.abs(b.values[x])
    return b.emit(OpKind.ABS, (x,), v, NoAttrs(), quant=out_quant(b, x, v))


def rsqrt(b: Builder, x: str) -> str:
    """TFLM refuses RSQRT inputs below the zero point, so the input first goes through ABS."""
    x = abs_layer(b, x)
    lo = b.quant(x).scale[0]
    v = 1.0 / np.sqrt(np.maximum(b.values[x], lo))
    return b.emit(OpKind.RSQRT, (x,), v, NoAttrs(), quant=b.calibrate(v))


def l2_normalization(b: Builder, x: str) -> str:
    v = b.values[x]
    v = v / np.maximum(np.sqrt(np.sum(v * v, axis=-1, keepdims=True)), 1e-6)
    return b.emit(OpKind.L2_NORMALIZATION, (x,), v, NoAttrs(), quant=OUT_TANH)


def log_softmax(b: Builder, x: str) -> str:
    v = b.values[x] - b.values[x].max(axis=-1, keepdims=True)
    v = v - np.log(np.exp(v).sum(axis=-1, keepdims=True))
    return b.emit(OpKind.LOG_SOFTMAX, (x,), v, NoAttrs(), quant=OUT_LOG_SOFTMAX)


def prelu(b: Builder, x: str) -> str:
    shape = b.shape(x)
    ashape = b.pick(((shape[-1],), (1, 1, shape[-1]))) if len(shape) == 4 else (shape[-1],)
    av = b.rng.uniform(-0.5, 0.5, ashape)
    aq = b.calibrate(av)
    data = np.clip(np.round(av / aq.scale[0]) + aq.zero_point[0], -128, 127).astype(np.int8)
    alpha = b.const(b.op_name(OpKind.PRELU), "alpha", data, aq)
    af = (data.astype(np.float64) - aq.zero_point[0]) * aq.scale[0]
    v = np.where(b.values[x] >= 0, b.values[x], b.values[x] * af)
    return b.emit(OpKind.PRELU, (x, alpha), v, NoAttrs(), quant=out_quant(b, x, v))


def _binary(kind: OpKind):
    def build(b: Builder, x: str) -> str:
        from .layers import _partner

        y = _partner(b, x, kind)
        lhs, rhs = (x, y) if b.rng.random() < 0.5 else (y, x)
        va, vb = b.values[lhs], b.values[rhs]
        if kind is OpKind.SUB:
            attrs = ElementwiseAttrs(b.pick((Activation.NONE, Activation.NONE, Activation.RELU)))
            v = va - vb if attrs.activation is Activation.NONE else np.maximum(va - vb, 0.0)
            return b.emit(kind, (lhs, rhs), v, attrs, quant=out_quant(b, lhs, v))
        if kind is OpKind.SQUARED_DIFFERENCE:
            v = (va - vb) ** 2
            return b.emit(kind, (lhs, rhs), v, NoAttrs(), quant=out_quant(b, lhs, v))
        v = np.maximum(va, vb) if kind is OpKind.MAXIMUM else np.minimum(va, vb)  # TFLM compares raw int8 values
        return b.emit(kind, (lhs, rhs), v, NoAttrs(), quant=out_quant(b, lhs, v))

    return build


def transpose_conv(b: Builder, x: str) -> str | None:
    if len(b.shape(x)) != 4:
        return None
    _, h, w, c = b.shape(x)
    pad = b.pick(Padding)
    kh, kw, sh, sw = b.randint(1, 4), b.randint(1, 4), b.randint(1, 2), b.randint(1, 2)
    oh, ow = (h * sh, w * sw) if pad is Padding.SAME else ((h - 1) * sh + kh, (w - 1) * sw + kw)
    cout = b.randint(1, 8)
    attrs = TransposeConvAttrs(sh, sw, pad)
    name = b.op_name(OpKind.TRANSPOSE_CONV)
    wn, wf = b.weights(name, (cout, kh, kw, c), 0, kh * kw * c)
    bn, bf = b.bias(name, x, wn, cout)
    _, pad_t = conv_out_pad(oh, kh, sh, 1, pad)
    _, pad_l = conv_out_pad(ow, kw, sw, 1, pad)
    xv = b.values[x]
    big = np.zeros((xv.shape[0], (h - 1) * sh + kh + oh, (w - 1) * sw + kw + ow, cout))
    for fy in range(kh):
        for fx in range(kw):
            big[:, fy : fy + (h - 1) * sh + 1 : sh, fx : fx + (w - 1) * sw + 1 : sw] += xv @ wf[:, fy, fx, :].T
    v = big[:, pad_t : pad_t + oh, pad_l : pad_l + ow] + (0.0 if bf is None else bf)
    inputs = (x, wn, bn) if bn else (x, wn)
    return b.emit(OpKind.TRANSPOSE_CONV, inputs, v, attrs, quant=b.calibrate(v))


def resize_bilinear(b: Builder, x: str) -> str:
    _, h, w, _ = b.shape(x)
    oh = 2 * h if b.rng.random() < 0.4 else b.randint(1, 2 * h + 1)
    ow = 2 * w if b.rng.random() < 0.4 else b.randint(1, 2 * w + 1)
    mode = b.pick(("none", "align", "half"))
    attrs = ResizeNearestAttrs(mode == "align", mode == "half")
    ys = np.clip(np.round(np.linspace(0, h - 1, oh)).astype(int), 0, h - 1)
    xs = np.clip(np.round(np.linspace(0, w - 1, ow)).astype(int), 0, w - 1)
    v = b.values[x][:, ys][:, :, xs]  # a stand-in for the float range: values stay within the input's
    return b.emit(OpKind.RESIZE_BILINEAR, (x,), v, attrs, quant=b.quant(x))


def _split_axis(b: Builder, x: str) -> int:
    """A non-batch axis, one longer than 1 when there is one."""
    shape = b.shape(x)
    axes = [d for d, n in enumerate(shape) if d > 0 and n > 1]
    return b.pick(axes or list(range(1, len(shape))))


def split(kind: OpKind):
    def build(b: Builder, x: str) -> str:
        axis = _split_axis(b, x)
        n = b.shape(x)[axis]
        if kind is OpKind.SPLIT:
            parts = b.pick([k for k in range(2, min(n, 4) + 1) if n % k == 0] or [1])
            sizes = (n // parts,) * parts
        else:
            cuts = sorted(b.rng.choice(np.arange(1, n), size=min(b.randint(1, 3), n - 1), replace=False).tolist())
            cuts = cuts if n > 1 else []
            sizes = tuple(np.diff([0, *cuts, n]).tolist())
        values = np.split(b.values[x], np.cumsum(sizes)[:-1], axis=axis)
        outs = emit_multi(b, kind, (x,), values, SplitAttrs(axis, sizes), b.quant(x))
        return b.pick(outs)

    return build


def pack(b: Builder, x: str) -> str:
    from .layers import _sibling, reshape

    others = [x if b.rng.random() < 0.5 else _sibling(b, x) for _ in range(b.randint(1, 2))]
    q = b.quant(x)
    same = [p if b.quant(p) == q else b.emit(OpKind.QUANTIZE, (p,), b.values[p], NoAttrs(), quant=q) for p in others]
    parts = [x, *same]
    axis = b.randint(1, len(b.shape(x)))
    v = np.stack([b.values[p] for p in parts], axis=axis)
    y = b.emit(OpKind.PACK, tuple(parts), v, AxisAttrs(axis), quant=q)
    return reshape(b, y, to_4d=len(b.shape(y)) > 4)


def unpack(b: Builder, x: str) -> str:
    from .layers import reshape

    axis = _split_axis(b, x)
    values = [np.take(b.values[x], i, axis=axis) for i in range(b.shape(x)[axis])]
    outs = emit_multi(b, OpKind.UNPACK, (x,), values, AxisAttrs(axis), b.quant(x))
    return reshape(b, b.pick(outs), to_4d=True)


def depth_to_space(b: Builder, x: str) -> str:
    from .layers import conv2d

    if b.shape(x)[3] % 4:
        x = conv2d(b, x, 1, 4 * b.randint(1, 3), plain=True)
    _, h, w, c = b.shape(x)
    v = b.values[x].reshape(-1, h, w, 2, 2, c // 4).transpose(0, 1, 3, 2, 4, 5).reshape(-1, 2 * h, 2 * w, c // 4)
    return b.emit(OpKind.DEPTH_TO_SPACE, (x,), v, BlockAttrs(2), quant=b.quant(x))


def space_to_depth(b: Builder, x: str) -> str:
    _, h, w, c = b.shape(x)
    if h % 2 or w % 2:
        paddings = ((0, 0), (0, h % 2), (0, w % 2), (0, 0))
        x = b.emit(OpKind.PAD, (x,), np.pad(b.values[x], paddings), PadAttrs(paddings), quant=b.quant(x))
        h, w = h + h % 2, w + w % 2
    v = b.values[x].reshape(-1, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 2, 4, 5).reshape(-1, h // 2, w // 2, 4 * c)
    return b.emit(OpKind.SPACE_TO_DEPTH, (x,), v, BlockAttrs(2), quant=b.quant(x))


def hard_swish(b: Builder, x: str) -> str:
    """TFLM needs s_in / 128 <= s_out: a near-constant output (after a saturated LOG_SOFTMAX, say) gets a floor."""
    v = fs.hard_swish(b.values[x])
    q = b.calibrate(v)
    floor = b.quant(x).scale[0] / 64.0
    if q.scale[0] < floor:
        q = QuantParams((floor,), q.zero_point)
    return b.emit(OpKind.HARD_SWISH, (x,), v, NoAttrs(), quant=q)


MORE_LAYERS = {
    OpKind.HARD_SWISH: hard_swish,
    OpKind.MEAN: mean,
    OpKind.SUM: reduce_sum,
    OpKind.REDUCE_MAX: reduce_max,
    OpKind.ARG_MAX: arg_max,
    OpKind.TANH: tanh,
    OpKind.LEAKY_RELU: leaky_relu,
    OpKind.ABS: abs_layer,
    OpKind.RSQRT: rsqrt,
    OpKind.L2_NORMALIZATION: l2_normalization,
    OpKind.LOG_SOFTMAX: log_softmax,
    OpKind.PRELU: prelu,
    OpKind.SUB: _binary(OpKind.SUB),
    OpKind.MAXIMUM: _binary(OpKind.MAXIMUM),
    OpKind.MINIMUM: _binary(OpKind.MINIMUM),
    OpKind.SQUARED_DIFFERENCE: _binary(OpKind.SQUARED_DIFFERENCE),
    OpKind.TRANSPOSE_CONV: transpose_conv,
    OpKind.RESIZE_BILINEAR: resize_bilinear,
    OpKind.SPLIT: split(OpKind.SPLIT),
    OpKind.SPLIT_V: split(OpKind.SPLIT_V),
    OpKind.PACK: pack,
    OpKind.UNPACK: unpack,
    OpKind.DEPTH_TO_SPACE: depth_to_space,
    OpKind.SPACE_TO_DEPTH: space_to_depth,
}
NEEDS_4D_MORE = frozenset({OpKind.TRANSPOSE_CONV, OpKind.RESIZE_BILINEAR, OpKind.DEPTH_TO_SPACE, OpKind.SPACE_TO_DEPTH})
