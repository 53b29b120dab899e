"""Per-operator translation of TFLite builtin options into IR attributes, and constant folding of shape arithmetic.

`convert` returns (IR op kind, attrs, indices of the model inputs the IR op keeps); the dropped inputs are the
shape-carrying constants that became attributes.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Tensor
from ..ir.ops import (
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
from .tflite_common import ModelError as ModelError
from .tflite_common import fused_activation
from .tflite_lstm import convert_lstm
from .tflite_more import DATA_INPUT, INT32_OUTPUT
from .tflite_more import HANDLERS as MORE_HANDLERS
from .tflite_more import OPTIONS as MORE_OPTIONS


def _builtin_names() -> dict[int, str]:
    from ..schema import schema

    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}


BUILTIN = _builtin_names()
SUPPORTED = frozenset(k.value for k in OpKind) | {"PADV2", "MEAN"}
_PAD = {0: Padding.SAME, 1: Padding.VALID}


def _padding(opts) -> Padding:
    code = int(opts.padding)
    if code not in _PAD:
        raise ModelError(f"padding {code} is not a known padding (0 = SAME, 1 = VALID)")
    return _PAD[code]


def _dilations(opts) -> tuple[int, int]:
    dh, dw = int(opts.dilationHFactor), int(opts.dilationWFactor)
    if dh < 1 or dw < 1:
        raise ModelError(f"dilation {dh}x{dw} is invalid; dilation factors are at least 1")
    return dh, dw


def _require_int8(kind: str, tensors: list[Tensor | None], outs: list[Tensor]) -> None:
    for t in [tensors[0], *outs]:
        if t is None:
            continue
        if t.dtype == "float32":
            raise ModelError(
                f"tensor '{t.name}' is float32: the model is not quantized; convert it with "
                "full-integer int8 quantization (float inputs/outputs around QUANTIZE/DEQUANTIZE "
                "are fine)"
            )
        if t.dtype != "int8":
            raise ModelError(f"tensor '{t.name}' is {t.dtype}; only int8 activations are supported")
        if t.quant is None:
            raise ModelError(f"tensor '{t.name}' has no quantization parameters")


def _const(t: Tensor | None, what: str) -> np.ndarray:
    if t is None or t.data is None:
        raise ModelError(f"{what} must be a constant tensor")
    return np.asarray(t.data)


# kind: (options class, options required, fewest inputs, most inputs)
_SIGNATURE = {
    "CONV_2D": ("Conv2DOptionsT", True, 2, 3),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptionsT", True, 2, 3),
    "FULLY_CONNECTED": ("FullyConnectedOptionsT", False, 2, 3),
    "ADD": ("AddOptionsT", False, 2, 2),
    "MUL": ("MulOptionsT", False, 2, 2),
    "AVERAGE_POOL_2D": ("Pool2DOptionsT", True, 1, 1),
    "MAX_POOL_2D": ("Pool2DOptionsT", True, 1, 1),
    "MEAN": ("ReducerOptionsT", False, 2, 2),
    "RESHAPE": ("ReshapeOptionsT", False, 1, 2),
    "SOFTMAX": ("SoftmaxOptionsT", True, 1, 1),
    "PAD": ("PadOptionsT", False, 2, 2),
    "PADV2": ("PadV2OptionsT", False, 3, 3),
    "CONCATENATION": ("ConcatenationOptionsT", True, 1, 1 << 16),
    "TRANSPOSE": ("TransposeOptionsT", False, 2, 2),
    "STRIDED_SLICE": ("StridedSliceOptionsT", False, 4, 4),
    "RESIZE_NEAREST_NEIGHBOR": ("ResizeNearestNeighborOptionsT", True, 2, 2),
    "QUANTIZE": ("QuantizeOptionsT", False, 1, 1),
    "DEQUANTIZE": ("DequantizeOptionsT", False, 1, 1),
    "HARD_SWISH": ("HardSwishOptionsT", False, 1, 1),
    "LOGISTIC": (None, False, 1, 1),
    "RELU": (None, False, 1, 1),
    "RELU6": (None, False, 1, 1),
}
_REQUIRED_INPUTS = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2}  # the rest may not be absent


def _check_options(cls: str | None, required: bool, opts) -> None:
    if opts is None and required:
        raise ModelError("has no builtin options; the file is corrupt, re-export the model")
    if opts is not None and type(opts).__name__ != cls:
        raise ModelError(f"has builtin options of type {type(opts).__name__}, expected {cls}; the file is corrupt")


def _check_signature(kind: str, opts, tensors: list[Tensor | None]) -> None:
    """Options of the operator's own type (or none where TFLite's defaults apply) and a valid operand count."""
    if kind in MORE_OPTIONS:
        cls, required = MORE_OPTIONS[kind]
        _check_options(cls, required, opts)
        return
    if kind not in _SIGNATURE:
        return
    cls, required, lo, hi = _SIGNATURE[kind]
    _check_options(cls, required, opts)
    if not lo <= len(tensors) <= hi:
        count = f"{lo}" if lo == hi else f"{lo} to {hi}"
        raise ModelError(f"has {len(tensors)} inputs; it takes {count}")
    need = _REQUIRED_INPUTS.get(kind, len(tensors))
    missing = [j for j, t in enumerate(tensors[:need]) if t is None]
    if missing:
        raise ModelError(f"input {missing[0]} is absent (index -1); it is required")


def convert(kind: str, op, tensors: list[Tensor | None], outs: list[Tensor]):
    opts = op.builtinOptions
    _check_signature(kind, opts, tensors)
    if kind not in ("QUANTIZE", "DEQUANTIZE"):
        data = tensors[DATA_INPUT.get(kind, 0)] if len(tensors) > DATA_INPUT.get(kind, 0) else None
        _require_int8(kind, [data], [] if kind in INT32_OUTPUT else outs)
    handler = _HANDLERS.get(kind)
    if handler is None:
        return kind, NoAttrs(), (0,)
    return handler(opts, tensors, outs)


def _conv(opts, tensors, outs):
    _check_weights(tensors)
    return (
        "CONV_2D",
        Conv2DAttrs(int(opts.strideH), int(opts.strideW), *_dilations(opts), _padding(opts), fused_activation(opts)),
        (0, 1, 2),
    )


def _depthwise(opts, tensors, outs):
    _check_weights(tensors)
    if len(tensors[0].shape) != 4 or len(tensors[1].shape) != 4:
        raise ModelError(f"input {tensors[0].shape} and filter {tensors[1].shape} must both have rank 4")
    cin, cout = tensors[0].shape[-1], tensors[1].shape[-1]
    if cout % cin:
        raise ModelError(f"depthwise filter has {cout} channels, not a multiple of the {cin} input channels")
    if int(opts.depthMultiplier) != cout // cin:
        raise ModelError(
            f"depthMultiplier {int(opts.depthMultiplier)} does not match the filter: {cout} output channels for "
            f"{cin} input channels is a multiplier of {cout // cin}"
        )
    return (
        "DEPTHWISE_CONV_2D",
        DepthwiseConv2DAttrs(
            int(opts.strideH), int(opts.strideW), *_dilations(opts), _padding(opts), cout // cin, fused_activation(opts)
        ),
        (0, 1, 2),
    )


def _check_weights(tensors) -> None:
    w = tensors[1]
    if w is None or not w.is_const:
        raise ModelError("the filter must be a constant tensor")
    if w.dtype != "int8":
        raise ModelError(f"filter '{w.name}' is {w.dtype}; only int8 weights are supported")
    if len(tensors) > 2 and tensors[2] is not None and tensors[2].dtype != "int32":
        raise ModelError(f"bias '{tensors[2].name}' is {tensors[2].dtype}; int8 models need int32 biases")


def _fully_connected(opts, tensors, outs):
    _check_weights(tensors)
    if int(getattr(opts, "weightsFormat", 0) or 0) != 0:
        raise ModelError("shuffled FULLY_CONNECTED weights are not supported")
    return (
        "FULLY_CONNECTED",
        FullyConnectedAttrs(fused_activation(opts), bool(getattr(opts, "keepNumDims", False))),
        (0, 1, 2),
    )


def _elementwise(kind):
    def handler(opts, tensors, outs):
        for t in tensors[:2]:
            if t is not None and t.dtype != "int8":
                raise ModelError(f"operand '{t.name}' is {t.dtype}; only int8 operands are supported")
        return kind, ElementwiseAttrs(fused_activation(opts) if opts is not None else Activation.NONE), (0, 1)

    return handler


def _pool(kind):
    def handler(opts, tensors, outs):
        return (
            kind,
            Pool2DAttrs(
                int(opts.filterHeight),
                int(opts.filterWidth),
                int(opts.strideH),
                int(opts.strideW),
                _padding(opts),
                fused_activation(opts),
            ),
            (0,),
        )

    return handler


def _mean(opts, tensors, outs):
    rank = len(tensors[0].shape)
    raw = [int(a) for a in _const(tensors[1], "MEAN axes").reshape(-1)]
    if not raw or any(not -rank <= a < rank for a in raw):
        raise ModelError(f"axes {raw} are not axes of the rank-{rank} input")
    axes = tuple(sorted({a % rank for a in raw}))
    return "MEAN", MeanAttrs(axes, bool(getattr(opts, "keepDims", False))), (0,)


def _reshape(opts, tensors, outs):
    if tensors[0].size != outs[0].size:
        raise ModelError(f"reshape of {tensors[0].shape} into {outs[0].shape} changes the element count")
    return "RESHAPE", ReshapeAttrs(outs[0].shape), (0,)


def _softmax(opts, tensors, outs):
    return "SOFTMAX", SoftmaxAttrs(float(opts.beta) if opts is not None else 1.0), (0,)


def _pad(opts, tensors, outs):
    pads = _const(tensors[1], "PAD paddings").reshape(-1, 2)
    if len(tensors) > 2 and tensors[2] is not None:
        value = int(_const(tensors[2], "PADV2 constant value").reshape(-1)[0])
        if value != outs[0].zero_point:
            raise ModelError(f"PADV2 pads with {value}, not the output zero point {outs[0].zero_point}")
    return "PAD", PadAttrs(tuple((int(a), int(b)) for a, b in pads)), (0,)


def _concat(opts, tensors, outs):
    rank = len(outs[0].shape)
    if not -rank <= int(opts.axis) < rank:
        raise ModelError(f"axis {int(opts.axis)} is not an axis of the rank-{rank} output")
    for t in tensors:
        if t is None or len(t.shape) != rank:
            raise ModelError(f"every input must have the output's rank {rank}")
    return "CONCATENATION", ConcatAttrs(int(opts.axis) % rank, fused_activation(opts)), tuple(range(len(tensors)))


def _transpose(opts, tensors, outs):
    perm = tuple(int(p) for p in _const(tensors[1], "TRANSPOSE permutation").reshape(-1))
    return "TRANSPOSE", TransposeAttrs(perm), (0,)


def _strided_slice(opts, tensors, outs):
    shape = tensors[0].shape
    begin, end, strides, shrink = resolve_strided_slice(
        shape, _const(tensors[1], "begin"), _const(tensors[2], "end"), _const(tensors[3], "strides"), opts
    )
    return "STRIDED_SLICE", StridedSliceAttrs(begin, end, strides, shrink), (0,)


def _resize_nearest(opts, tensors, outs):
    return "RESIZE_NEAREST_NEIGHBOR", ResizeNearestAttrs(bool(opts.alignCorners), bool(opts.halfPixelCenters)), (0,)


def _quantize(opts, tensors, outs):
    src, dst = tensors[0], outs[0]
    if dst.dtype != "int8" or dst.quant is None or src.dtype not in ("float32", "int8"):
        raise ModelError(f"QUANTIZE {src.dtype} -> {dst.dtype} is not supported; only float32/int8 -> int8")
    return "QUANTIZE", NoAttrs(), (0,)


def _dequantize(opts, tensors, outs):
    if tensors[0].dtype != "int8" or outs[0].dtype != "float32":
        raise ModelError(f"DEQUANTIZE {tensors[0].dtype} -> {outs[0].dtype} is not supported; only int8 -> float32")
    return "DEQUANTIZE", NoAttrs(), (0,)


def resolve_strided_slice(shape, begin, end, strides, opts):
    """Apply TFLite's masks and negative indices: per-dimension (begin, end, stride) plus the shrunk axes."""
    begin, end, strides = (np.asarray(v).reshape(-1).astype(np.int64) for v in (begin, end, strides))
    bm, em = int(getattr(opts, "beginMask", 0) or 0), int(getattr(opts, "endMask", 0) or 0)
    sm = int(getattr(opts, "shrinkAxisMask", 0) or 0)
    if int(getattr(opts, "ellipsisMask", 0) or 0) or int(getattr(opts, "newAxisMask", 0) or 0):
        raise ModelError("STRIDED_SLICE with ellipsis or new-axis masks is not supported")
    offset = bool(getattr(opts, "offset", False))
    rb, re_, rs, shrink = [], [], [], []
    for d, dim in enumerate(shape):
        if d >= len(begin):
            rb.append(0), re_.append(dim), rs.append(1)
            continue
        s = int(strides[d])
        if s == 0:
            raise ModelError(f"STRIDED_SLICE stride 0 on axis {d}")
        b = int(begin[d]) + (dim if begin[d] < 0 else 0)
        if sm >> d & 1:
            rb.append(b), re_.append(b + 1), rs.append(1), shrink.append(d)
            continue
        e = int(end[d]) + (b if offset else 0)
        e += dim if (e < 0 and not offset) else 0
        lo, hi = (0, dim) if s > 0 else (-1, dim - 1)
        b = (0 if s > 0 else dim - 1) if bm >> d & 1 else min(max(b, lo), hi)
        e = (dim if s > 0 else -1) if em >> d & 1 else min(max(e, lo), hi)
        rb.append(b), re_.append(e), rs.append(s)
    return tuple(rb), tuple(re_), tuple(rs), tuple(shrink)


def fold_constant(kind: str, op, values: list):
    """Evaluate an int32 shape-arithmetic op at import time; None when it cannot be folded."""
    opts = op.builtinOptions
    if kind == "SHAPE":
        return np.array(values[0].shape, np.int32)
    if kind == "PACK":
        return np.stack(values, axis=int(opts.axis))
    if kind == "CONCATENATION":
        return np.concatenate([np.atleast_1d(v) for v in values], axis=int(opts.axis))
    if kind in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS", "CAST"):
        return values[0].reshape(-1) if values[0].ndim else values[0]
    if kind == "GATHER":
        return np.take(values[0], values[1].astype(np.int64), axis=int(opts.axis))
    if kind in ("MUL", "ADD"):
        return values[0] * values[1] if kind == "MUL" else values[0] + values[1]
    if kind == "STRIDED_SLICE":
        begin, end, strides, shrink = resolve_strided_slice(values[0].shape, values[1], values[2], values[3], opts)
        out = values[0][tuple(slice(b, None if e < 0 else e, s) for b, e, s in zip(begin, end, strides))]
        return out.reshape(tuple(n for d, n in enumerate(out.shape) if d not in shrink))
    return None


_HANDLERS = {
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _depthwise,
    "FULLY_CONNECTED": _fully_connected,
    "ADD": _elementwise("ADD"),
    "MUL": _elementwise("MUL"),
    "AVERAGE_POOL_2D": _pool("AVERAGE_POOL_2D"),
    "MAX_POOL_2D": _pool("MAX_POOL_2D"),
    "MEAN": _mean,
    "RESHAPE": _reshape,
    "SOFTMAX": _softmax,
    "PAD": _pad,
    "PADV2": _pad,
    "CONCATENATION": _concat,
    "TRANSPOSE": _transpose,
    "STRIDED_SLICE": _strided_slice,
    "RESIZE_NEAREST_NEIGHBOR": _resize_nearest,
    "QUANTIZE": _quantize,
    "DEQUANTIZE": _dequantize,
    **MORE_HANDLERS,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": convert_lstm,
}
