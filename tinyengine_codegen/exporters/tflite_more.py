"""Export rules of the operators beyond the convolutional core (see tflite_ops.py for the shared types).

Operand order and options are those the importer (importers/tflite_more.py) reads back; every operator is written
as version 1, which every op resolver registers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from ..schema import schema
from .tflite_common import ACTIVATION_CODE, PADDING_CODE, ConstInput, Lowered
from .tflite_lstm import lower_lstm


def _i32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int32)


def _code(kind: OpKind) -> int:
    return getattr(schema.BuiltinOperator, kind.value)


def _with_options(options_name: str | None, make=None):
    """An operator whose operands are the IR op's inputs and whose options come from `make(graph, op)`."""

    def lower(graph: Graph, op: Op):
        if options_name is None:
            return Lowered(_code(op.kind), op.inputs, 0, None, 1)
        opts = make(graph, op) if make else getattr(schema, options_name + "T")()
        return Lowered(_code(op.kind), op.inputs, getattr(schema.BuiltinOptions, options_name), opts, 1)

    return lower


def _sub_options(graph: Graph, op: Op):
    return schema.SubOptionsT(fusedActivationFunction=ACTIVATION_CODE[op.attrs.activation])


def _leaky(graph: Graph, op: Op):
    return schema.LeakyReluOptionsT(alpha=float(op.attrs.alpha))


def _reduce(graph: Graph, op: Op):
    axes = ConstInput("axes", _i32(op.attrs.axes))
    opts = schema.ReducerOptionsT(keepDims=op.attrs.keep_dims)
    return Lowered(_code(op.kind), (op.inputs[0], axes), schema.BuiltinOptions.ReducerOptions, opts, 1)


def _arg_max(graph: Graph, op: Op):
    opts = schema.ArgMaxOptionsT(outputType=schema.TensorType.INT32)
    axis = ConstInput("axis", _i32([op.attrs.axis]))
    return Lowered(_code(op.kind), (op.inputs[0], axis), schema.BuiltinOptions.ArgMaxOptions, opts, 1)


def _transpose_conv(graph: Graph, op: Op):
    a = op.attrs
    shape = ConstInput("output_shape", _i32(graph.tensors[op.outputs[0]].shape))
    opts = schema.TransposeConvOptionsT(
        padding=PADDING_CODE[a.padding],
        strideW=a.stride_w,
        strideH=a.stride_h,
        fusedActivationFunction=ACTIVATION_CODE[a.activation],
    )
    x, w, *rest = op.inputs
    operands = (shape, w, x) + ((rest[0],) if rest and rest[0] else ())
    return Lowered(_code(op.kind), operands, schema.BuiltinOptions.TransposeConvOptions, opts, 1)


def _resize_bilinear(graph: Graph, op: Op):
    a = op.attrs
    size = ConstInput("size", _i32(graph.tensors[op.outputs[0]].shape[1:3]))
    opts = schema.ResizeBilinearOptionsT(alignCorners=a.align_corners, halfPixelCenters=a.half_pixel_centers)
    return Lowered(_code(op.kind), (op.inputs[0], size), schema.BuiltinOptions.ResizeBilinearOptions, opts, 1)


def _split(graph: Graph, op: Op):
    a = op.attrs
    if op.kind is OpKind.SPLIT:
        opts = schema.SplitOptionsT(numSplits=len(a.sizes))
        operands = (ConstInput("axis", _i32([a.axis])), op.inputs[0])
        return Lowered(_code(op.kind), operands, schema.BuiltinOptions.SplitOptions, opts, 1)
    opts = schema.SplitVOptionsT(numSplits=len(a.sizes))
    operands = (op.inputs[0], ConstInput("size_splits", _i32(a.sizes)), ConstInput("axis", _i32([a.axis])))
    return Lowered(_code(op.kind), operands, schema.BuiltinOptions.SplitVOptions, opts, 1)


def _pack(graph: Graph, op: Op):
    return schema.PackOptionsT(valuesCount=len(op.inputs), axis=op.attrs.axis)


def _unpack(graph: Graph, op: Op):
    return schema.UnpackOptionsT(num=len(op.outputs), axis=op.attrs.axis)


def _d2s(graph: Graph, op: Op):
    return schema.DepthToSpaceOptionsT(blockSize=op.attrs.block_size)


def _s2d(graph: Graph, op: Op):
    return schema.SpaceToDepthOptionsT(blockSize=op.attrs.block_size)


LOWER_MORE: dict[OpKind, Callable] = {
    OpKind.TANH: _with_options(None),
    OpKind.RSQRT: _with_options(None),
    OpKind.PRELU: _with_options(None),
    OpKind.ABS: _with_options("AbsOptions"),
    OpKind.L2_NORMALIZATION: _with_options("L2NormOptions"),
    OpKind.LOG_SOFTMAX: _with_options("LogSoftmaxOptions"),
    OpKind.LEAKY_RELU: _with_options("LeakyReluOptions", _leaky),
    OpKind.SUB: _with_options("SubOptions", _sub_options),
    OpKind.MAXIMUM: _with_options("MaximumMinimumOptions"),
    OpKind.MINIMUM: _with_options("MaximumMinimumOptions"),
    OpKind.SQUARED_DIFFERENCE: _with_options("SquaredDifferenceOptions"),
    OpKind.SUM: _reduce,
    OpKind.REDUCE_MAX: _reduce,
    OpKind.ARG_MAX: _arg_max,
    OpKind.TRANSPOSE_CONV: _transpose_conv,
    OpKind.RESIZE_BILINEAR: _resize_bilinear,
    OpKind.SPLIT: _split,
    OpKind.SPLIT_V: _split,
    OpKind.PACK: _with_options("PackOptions", _pack),
    OpKind.UNPACK: _with_options("UnpackOptions", _unpack),
    OpKind.DEPTH_TO_SPACE: _with_options("DepthToSpaceOptions", _d2s),
    OpKind.SPACE_TO_DEPTH: _with_options("SpaceToDepthOptions", _s2d),
    OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM: lower_lstm,
}
