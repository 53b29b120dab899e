"""TFLite builtin options → IR attributes for the operators beyond the convolutional core: the extra elementwise
and activation ops, reductions, ARG_MAX, TRANSPOSE_CONV, RESIZE_BILINEAR and the data-movement ops with several
inputs or outputs (SPLIT, SPLIT_V, PACK, UNPACK, DEPTH_TO_SPACE, SPACE_TO_DEPTH).

Each handler returns (IR op kind, attrs, indices of the model inputs the IR op keeps), as in tflite_ops.py.
"""

from __future__ import annotations

import numpy as np

from ..ir.ops import (
    Activation,
    AxisAttrs,
    BlockAttrs,
    ElementwiseAttrs,
    LeakyReluAttrs,
    MeanAttrs,
    NoAttrs,
    Padding,
    ResizeNearestAttrs,
    SplitAttrs,
    TransposeConvAttrs,
)
from .tflite_common import ModelError, fused_activation

# the operand that carries the activation data, when it is not operand 0
DATA_INPUT = {"SPLIT": 1, "TRANSPOSE_CONV": 2}
# outputs that are not int8 activations
INT32_OUTPUT = frozenset({"ARG_MAX"})
# kind: (its builtin options class, whether the handler needs them); options of another class mean a corrupt file
OPTIONS = {
    "ABS": ("AbsOptionsT", False),
    "L2_NORMALIZATION": ("L2NormOptionsT", False),
    "LOG_SOFTMAX": ("LogSoftmaxOptionsT", False),
    "LEAKY_RELU": ("LeakyReluOptionsT", True),
    "SUB": ("SubOptionsT", False),
    "MAXIMUM": ("MaximumMinimumOptionsT", False),
    "MINIMUM": ("MaximumMinimumOptionsT", False),
    "SQUARED_DIFFERENCE": ("SquaredDifferenceOptionsT", False),
    "REDUCE_MAX": ("ReducerOptionsT", False),
    "SUM": ("ReducerOptionsT", False),
    "ARG_MAX": ("ArgMaxOptionsT", False),
    "TRANSPOSE_CONV": ("TransposeConvOptionsT", True),
    "RESIZE_BILINEAR": ("ResizeBilinearOptionsT", True),
    "SPLIT": ("SplitOptionsT", False),
    "SPLIT_V": ("SplitVOptionsT", False),
    "PACK": ("PackOptionsT", True),
    "UNPACK": ("UnpackOptionsT", True),
    "DEPTH_TO_SPACE": ("DepthToSpaceOptionsT", True),
    "SPACE_TO_DEPTH": ("SpaceToDepthOptionsT", True),
}


def _const(t, what: str) -> np.ndarray:
    if t is None or t.data is None:
        raise ModelError(f"{what} must be a constant tensor")
    return np.asarray(t.data)


def _act(opts) -> Activation:
    return fused_activation(opts) if opts is not None else Activation.NONE


def _unary(kind):
    def handler(opts, tensors, outs):
        if kind == "L2_NORMALIZATION" and _act(opts) is not Activation.NONE:
            raise ModelError("a fused activation on L2_NORMALIZATION is not supported")
        return kind, NoAttrs(), (0,)

    return handler


def _binary(kind):
    def handler(opts, tensors, outs):
        for t in tensors[:2]:
            if t is not None and t.dtype != "int8":
                raise ModelError(f"operand '{t.name}' is {t.dtype}; only int8 operands are supported")
        attrs = ElementwiseAttrs(_act(opts)) if kind == "SUB" else NoAttrs()
        return kind, attrs, (0, 1)

    return handler


def _leaky_relu(opts, tensors, outs):
    return "LEAKY_RELU", LeakyReluAttrs(float(opts.alpha)), (0,)


def _prelu(opts, tensors, outs):
    alpha = tensors[1]
    if alpha is None or alpha.dtype != "int8" or alpha.quant is None:
        raise ModelError("the PRELU alpha must be an int8 quantized tensor")
    if alpha.quant.per_channel:
        raise ModelError(f"alpha '{alpha.name}' is quantized per channel; PRELU needs one scale")
    return "PRELU", NoAttrs(), (0, 1)


def _reduce(kind):
    def handler(opts, tensors, outs):
        x = tensors[0]
        rank = len(x.shape)
        axes = tuple(sorted({int(a) % rank for a in _const(tensors[1], f"{kind} axes").reshape(-1)}))
        if kind == "REDUCE_MAX" and (
            x.zero_point != outs[0].zero_point or np.float32(x.scale()) != np.float32(outs[0].scale())
        ):
            raise ModelError("REDUCE_MAX needs the same quantization on its input and output (TFLM requires it)")
        return kind, MeanAttrs(axes, bool(getattr(opts, "keepDims", False))), (0,)

    return handler


def _arg_max(opts, tensors, outs):
    if outs[0].dtype != "int32":
        raise ModelError(f"ARG_MAX output '{outs[0].name}' is {outs[0].dtype}; only int32 indices are supported")
    axis = _const(tensors[1], "ARG_MAX axis").reshape(-1)
    return "ARG_MAX", AxisAttrs(int(axis[0]) % len(tensors[0].shape)), (0,)


def _transpose_conv(opts, tensors, outs):
    w = tensors[1]
    if w is None or not w.is_const or w.dtype != "int8":
        raise ModelError("the TRANSPOSE_CONV filter must be a constant int8 tensor")
    bias = tensors[3] if len(tensors) > 3 else None
    if bias is not None and bias.dtype != "int32":
        raise ModelError(f"bias '{bias.name}' is {bias.dtype}; int8 models need int32 biases")
    padding = {0: Padding.SAME, 1: Padding.VALID}[int(opts.padding)]
    act = _act(opts) if hasattr(opts, "fusedActivationFunction") else Activation.NONE
    attrs = TransposeConvAttrs(int(opts.strideH), int(opts.strideW), padding, act)
    return "TRANSPOSE_CONV", attrs, (2, 1, 3) if bias is not None else (2, 1)


def _resize_bilinear(opts, tensors, outs):
    return "RESIZE_BILINEAR", ResizeNearestAttrs(bool(opts.alignCorners), bool(opts.halfPixelCenters)), (0,)


def _split(opts, tensors, outs):
    x = tensors[1]
    axis = int(_const(tensors[0], "SPLIT axis").reshape(-1)[0]) % len(x.shape)
    return "SPLIT", SplitAttrs(axis, tuple(o.shape[axis] for o in outs)), (1,)


def _split_v(opts, tensors, outs):
    x = tensors[0]
    axis = int(_const(tensors[2], "SPLIT_V axis").reshape(-1)[0]) % len(x.shape)
    return "SPLIT_V", SplitAttrs(axis, tuple(o.shape[axis] for o in outs)), (0,)


def _pack(opts, tensors, outs):
    rank = len(outs[0].shape)
    return "PACK", AxisAttrs(int(opts.axis) % rank), tuple(range(len(tensors)))


def _unpack(opts, tensors, outs):
    return "UNPACK", AxisAttrs(int(opts.axis) % len(tensors[0].shape)), (0,)


def _block(kind):
    def handler(opts, tensors, outs):
        if len(tensors[0].shape) != 4:
            raise ModelError(f"{kind} needs a 4-d NHWC input, not {tensors[0].shape}")
        return kind, BlockAttrs(int(opts.blockSize)), (0,)

    return handler


HANDLERS = {
    "TANH": _unary("TANH"),
    "RSQRT": _unary("RSQRT"),
    "ABS": _unary("ABS"),
    "L2_NORMALIZATION": _unary("L2_NORMALIZATION"),
    "LOG_SOFTMAX": _unary("LOG_SOFTMAX"),
    "LEAKY_RELU": _leaky_relu,
    "PRELU": _prelu,
    "SUB": _binary("SUB"),
    "MAXIMUM": _binary("MAXIMUM"),
    "MINIMUM": _binary("MINIMUM"),
    "SQUARED_DIFFERENCE": _binary("SQUARED_DIFFERENCE"),
    "REDUCE_MAX": _reduce("REDUCE_MAX"),
    "SUM": _reduce("SUM"),
    "ARG_MAX": _arg_max,
    "TRANSPOSE_CONV": _transpose_conv,
    "RESIZE_BILINEAR": _resize_bilinear,
    "SPLIT": _split,
    "SPLIT_V": _split_v,
    "PACK": _pack,
    "UNPACK": _unpack,
    "DEPTH_TO_SPACE": _block("DEPTH_TO_SPACE"),
    "SPACE_TO_DEPTH": _block("SPACE_TO_DEPTH"),
}
