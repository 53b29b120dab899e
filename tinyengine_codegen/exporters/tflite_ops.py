"""Per-operator rules of the .tflite exporter: operands, builtin options and operator version for each OpKind.

Shape-carrying operands that the IR keeps as attributes (RESHAPE shape, PAD paddings, MEAN axes, TRANSPOSE perm,
STRIDED_SLICE begin/end/strides, RESIZE_NEAREST_NEIGHBOR size) come back as int32 constant operands.
Versions follow the rules the TFLite converter applies to int8 operators, so LiteRT's op resolver accepts them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import InternalError
from ..ir.graph import Graph, Op, QuantParams
from ..ir.ops import OpKind
from ..schema import schema
from .tflite_common import ACTIVATION_CODE, PADDING_CODE, ConstInput, Lowered
from .tflite_more import LOWER_MORE


def _i32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int32)


def _dtype(graph: Graph, name: str) -> str:
    return graph.tensors[name].dtype if name else ""


def _int8_in(graph: Graph, op: Op) -> bool:
    return _dtype(graph, op.inputs[0]) == "int8"


def _rank(graph: Graph, op: Op) -> int:
    return len(graph.tensors[op.inputs[0]].shape)


def _simple(kind: OpKind, options_cls, int8_version: int = 2):
    """An operator whose only operand is its input and whose options (if any) are empty."""

    def lower(graph: Graph, op: Op) -> Lowered:
        opts_type = getattr(schema.BuiltinOptions, options_cls.__name__[:-1]) if options_cls else 0
        version = int8_version if _int8_in(graph, op) else 1
        return Lowered(
            getattr(schema.BuiltinOperator, kind.value),
            op.inputs,
            opts_type,
            options_cls() if options_cls else None,
            version,
        )

    return lower


def _conv(graph: Graph, op: Op) -> Lowered:
    a = op.attrs
    _no_explicit_pads(op)
    opts = schema.Conv2DOptionsT(
        padding=PADDING_CODE[a.padding],
        strideW=a.stride_w,
        strideH=a.stride_h,
        fusedActivationFunction=ACTIVATION_CODE[a.activation],
        dilationWFactor=a.dilation_w,
        dilationHFactor=a.dilation_h,
    )
    int8 = _int8_in(graph, op) and _dtype(graph, op.inputs[1]) == "int8"
    operands: tuple = _with_bias(op)
    if int8 and len(operands) == 2:  # LiteRT's int8 CONV_2D insists on a bias: write zeros
        operands += (_zero_bias(graph, op),)
    return Lowered(
        schema.BuiltinOperator.CONV_2D, operands, schema.BuiltinOptions.Conv2DOptions, opts, 3 if int8 else 1
    )


def _no_explicit_pads(op: Op) -> None:
    if op.attrs.pads is not None:
        raise InternalError(
            f"{op.name} ({op.kind.value}): explicit pads (a PAD folded by fuse_pad) have no TFLite form; "
            "export the graph as imported, before the passes"
        )


def _zero_bias(graph: Graph, op: Op) -> ConstInput:
    x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    cout = w.shape[0]
    w_scales = w.quant.scale if w.quant.per_channel else w.quant.scale * cout
    scales = tuple(x.scale() * s for s in w_scales)
    return ConstInput("bias", np.zeros(cout, np.int32), QuantParams(scales, (0,) * cout, 0))


def _depthwise(graph: Graph, op: Op) -> Lowered:
    a = op.attrs
    _no_explicit_pads(op)
    opts = schema.DepthwiseConv2DOptionsT(
        padding=PADDING_CODE[a.padding],
        strideW=a.stride_w,
        strideH=a.stride_h,
        depthMultiplier=a.depth_multiplier,
        fusedActivationFunction=ACTIVATION_CODE[a.activation],
        dilationWFactor=a.dilation_w,
        dilationHFactor=a.dilation_h,
    )
    if _int8_in(graph, op):
        version = 3
    else:
        version = 2 if (a.dilation_h, a.dilation_w) != (1, 1) else 1
    return Lowered(
        schema.BuiltinOperator.DEPTHWISE_CONV_2D,
        _with_bias(op),
        schema.BuiltinOptions.DepthwiseConv2DOptions,
        opts,
        version,
    )


def _with_bias(op: Op, keep_absent: bool = False) -> tuple[str, ...]:
    """(input, filter, bias). An absent bias is dropped for convolutions (LiteRT's CONV_2D rejects a -1 operand)
    and written as -1 for FULLY_CONNECTED (`keep_absent`), as the TFLite converter does."""
    x, w, *rest = op.inputs
    bias = rest[0] if rest else ""
    return (x, w, bias) if bias or keep_absent else (x, w)


def _fully_connected(graph: Graph, op: Op) -> Lowered:
    a = op.attrs
    opts = schema.FullyConnectedOptionsT(
        fusedActivationFunction=ACTIVATION_CODE[a.activation], keepNumDims=a.keep_num_dims
    )
    if a.keep_num_dims:
        version = 5
    elif _int8_in(graph, op) and _dtype(graph, op.inputs[1]) == "int8":
        version = 4
    else:
        version = 1
    return Lowered(
        schema.BuiltinOperator.FULLY_CONNECTED,
        _with_bias(op, keep_absent=True),
        schema.BuiltinOptions.FullyConnectedOptions,
        opts,
        version,
    )


def _add(graph: Graph, op: Op) -> Lowered:
    opts = schema.AddOptionsT(fusedActivationFunction=ACTIVATION_CODE[op.attrs.activation])
    return Lowered(
        schema.BuiltinOperator.ADD, op.inputs, schema.BuiltinOptions.AddOptions, opts, 2 if _int8_in(graph, op) else 1
    )


def _mul(graph: Graph, op: Op) -> Lowered:
    opts = schema.MulOptionsT(fusedActivationFunction=ACTIVATION_CODE[op.attrs.activation])
    version = 1
    if _int8_in(graph, op):
        a, b, out = (graph.tensors[n] for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
        version = 3 if a.scale() * b.scale() / out.scale() >= 1.0 else 2
    return Lowered(schema.BuiltinOperator.MUL, op.inputs, schema.BuiltinOptions.MulOptions, opts, version)


def _pool(graph: Graph, op: Op) -> Lowered:
    a = op.attrs
    opts = schema.Pool2DOptionsT(
        padding=PADDING_CODE[a.padding],
        strideW=a.stride_w,
        strideH=a.stride_h,
        filterWidth=a.filter_w,
        filterHeight=a.filter_h,
        fusedActivationFunction=ACTIVATION_CODE[a.activation],
    )
    return Lowered(
        getattr(schema.BuiltinOperator, op.kind.value),
        op.inputs,
        schema.BuiltinOptions.Pool2DOptions,
        opts,
        2 if _int8_in(graph, op) else 1,
    )


def _mean(graph: Graph, op: Op) -> Lowered:
    opts = schema.ReducerOptionsT(keepDims=op.attrs.keep_dims)
    axes = ConstInput("axes", _i32(op.attrs.axes))
    return Lowered(
        schema.BuiltinOperator.MEAN,
        (op.inputs[0], axes),
        schema.BuiltinOptions.ReducerOptions,
        opts,
        2 if _int8_in(graph, op) else 1,
    )


def _reshape(graph: Graph, op: Op) -> Lowered:
    shape = list(op.attrs.new_shape)
    opts = schema.ReshapeOptionsT(newShape=shape)
    return Lowered(
        schema.BuiltinOperator.RESHAPE,
        (op.inputs[0], ConstInput("shape", _i32(shape))),
        schema.BuiltinOptions.ReshapeOptions,
        opts,
        1,
    )


def _softmax(graph: Graph, op: Op) -> Lowered:
    opts = schema.SoftmaxOptionsT(beta=float(op.attrs.beta))
    return Lowered(
        schema.BuiltinOperator.SOFTMAX,
        op.inputs,
        schema.BuiltinOptions.SoftmaxOptions,
        opts,
        2 if _int8_in(graph, op) else 1,
    )


def _pad(graph: Graph, op: Op) -> Lowered:
    paddings = ConstInput("paddings", _i32(op.attrs.paddings).reshape(-1, 2))
    version = 4 if _rank(graph, op) > 4 else (2 if _int8_in(graph, op) else 1)
    return Lowered(
        schema.BuiltinOperator.PAD,
        (op.inputs[0], paddings),
        schema.BuiltinOptions.PadOptions,
        schema.PadOptionsT(),
        version,
    )


def _concat(graph: Graph, op: Op) -> Lowered:
    opts = schema.ConcatenationOptionsT(
        axis=op.attrs.axis, fusedActivationFunction=ACTIVATION_CODE[op.attrs.activation]
    )
    return Lowered(
        schema.BuiltinOperator.CONCATENATION,
        op.inputs,
        schema.BuiltinOptions.ConcatenationOptions,
        opts,
        2 if _int8_in(graph, op) else 1,
    )


def _transpose(graph: Graph, op: Op) -> Lowered:
    rank = _rank(graph, op)
    version = 6 if rank > 5 else 4 if rank > 4 else (2 if _int8_in(graph, op) else 1)
    return Lowered(
        schema.BuiltinOperator.TRANSPOSE,
        (op.inputs[0], ConstInput("perm", _i32(op.attrs.perm))),
        schema.BuiltinOptions.TransposeOptions,
        schema.TransposeOptionsT(),
        version,
    )


def _strided_slice(graph: Graph, op: Op) -> Lowered:
    a = op.attrs
    end_mask = 0
    end = list(a.end)
    for d, (e, s) in enumerate(zip(a.end, a.strides)):
        if s < 0 and e < 0:  # a resolved end before index 0: only the end mask can say "run to the start"
            end_mask |= 1 << d
            end[d] = 0
    shrink = sum(1 << d for d in a.shrink_axis)
    opts = schema.StridedSliceOptionsT(beginMask=0, endMask=end_mask, shrinkAxisMask=shrink)
    operands = (
        op.inputs[0],
        ConstInput("begin", _i32(a.begin)),
        ConstInput("end", _i32(end)),
        ConstInput("strides", _i32(a.strides)),
    )
    version = 4 if _rank(graph, op) > 4 else (2 if _int8_in(graph, op) else 1)
    return Lowered(
        schema.BuiltinOperator.STRIDED_SLICE, operands, schema.BuiltinOptions.StridedSliceOptions, opts, version
    )


def _resize_nearest(graph: Graph, op: Op) -> Lowered:
    a = op.attrs
    out_shape = graph.tensors[op.outputs[0]].shape
    opts = schema.ResizeNearestNeighborOptionsT(alignCorners=a.align_corners, halfPixelCenters=a.half_pixel_centers)
    if a.align_corners or a.half_pixel_centers:
        version = 3
    else:
        version = 2 if _int8_in(graph, op) else 1
    return Lowered(
        schema.BuiltinOperator.RESIZE_NEAREST_NEIGHBOR,
        (op.inputs[0], ConstInput("size", _i32(out_shape[1:3]))),
        schema.BuiltinOptions.ResizeNearestNeighborOptions,
        opts,
        version,
    )


def _quantize(graph: Graph, op: Op) -> Lowered:
    out = graph.tensors[op.outputs[0]]
    version = 3 if out.quant is not None and out.quant.per_channel else 2 if out.dtype == "int16" else 1
    return Lowered(
        schema.BuiltinOperator.QUANTIZE,
        op.inputs,
        schema.BuiltinOptions.QuantizeOptions,
        schema.QuantizeOptionsT(),
        version,
    )


def _dequantize(graph: Graph, op: Op) -> Lowered:
    src = graph.tensors[op.inputs[0]]
    version = 3 if src.dtype == "int16" else 2 if src.dtype == "int8" else 1
    if src.dtype == "int8" and src.quant is not None and src.quant.per_channel:
        version = 5
    return Lowered(
        schema.BuiltinOperator.DEQUANTIZE,
        op.inputs,
        schema.BuiltinOptions.DequantizeOptions,
        schema.DequantizeOptionsT(),
        version,
    )


LOWER: dict[OpKind, Callable[[Graph, Op], Lowered]] = {
    OpKind.CONV_2D: _conv,
    OpKind.DEPTHWISE_CONV_2D: _depthwise,
    OpKind.FULLY_CONNECTED: _fully_connected,
    OpKind.ADD: _add,
    OpKind.MUL: _mul,
    OpKind.AVERAGE_POOL_2D: _pool,
    OpKind.MAX_POOL_2D: _pool,
    OpKind.MEAN: _mean,
    OpKind.RESHAPE: _reshape,
    OpKind.SOFTMAX: _softmax,
    OpKind.LOGISTIC: _simple(OpKind.LOGISTIC, None),
    OpKind.HARD_SWISH: _simple(OpKind.HARD_SWISH, schema.HardSwishOptionsT, int8_version=1),
    OpKind.RELU: _simple(OpKind.RELU, None),
    OpKind.RELU6: _simple(OpKind.RELU6, None),
    OpKind.PAD: _pad,
    OpKind.CONCATENATION: _concat,
    OpKind.TRANSPOSE: _transpose,
    OpKind.STRIDED_SLICE: _strided_slice,
    OpKind.RESIZE_NEAREST_NEIGHBOR: _resize_nearest,
    OpKind.QUANTIZE: _quantize,
    OpKind.DEQUANTIZE: _dequantize,
}


def lower(graph: Graph, op: Op) -> Lowered:
    """The flatbuffer form of `op`: builtin code, operands (with new int32 constants), options and version."""
    rule = LOWER.get(op.kind) or LOWER_MORE.get(op.kind)
    if rule is None:
        raise InternalError(f"op '{op.name}': no .tflite export rule for {op.kind.value}")
    return rule(graph, op)
