"""Operator kinds and one frozen attribute record per operator.

Layout conventions (the same as TFLite, so importers and exporters stay simple):
activations are NHWC; CONV_2D filters are OHWI; DEPTHWISE_CONV_2D filters are 1 x H x W x (C*M);
FULLY_CONNECTED weights are (out_features, in_features); biases are int32 with scale = s_in * s_w.
Constant operands that only carry shapes or axes (RESHAPE shape, PAD paddings, MEAN axes, TRANSPOSE perm,
STRIDED_SLICE begin/end/strides) are folded into the attributes at import and are not op inputs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum


class OpKind(Enum):
    CONV_2D = "CONV_2D"
    DEPTHWISE_CONV_2D = "DEPTHWISE_CONV_2D"
    FULLY_CONNECTED = "FULLY_CONNECTED"
    ADD = "ADD"
    MUL = "MUL"
    AVERAGE_POOL_2D = "AVERAGE_POOL_2D"
    MAX_POOL_2D = "MAX_POOL_2D"
    MEAN = "MEAN"
    RESHAPE = "RESHAPE"
    SOFTMAX = "SOFTMAX"
    LOGISTIC = "LOGISTIC"
    HARD_SWISH = "HARD_SWISH"
    RELU = "RELU"
    RELU6 = "RELU6"
    PAD = "PAD"
    CONCATENATION = "CONCATENATION"
    TRANSPOSE = "TRANSPOSE"
    STRIDED_SLICE = "STRIDED_SLICE"
    RESIZE_NEAREST_NEIGHBOR = "RESIZE_NEAREST_NEIGHBOR"
    QUANTIZE = "QUANTIZE"
    DEQUANTIZE = "DEQUANTIZE"
    TANH = "TANH"
    LEAKY_RELU = "LEAKY_RELU"
    PRELU = "PRELU"
    SUB = "SUB"
    MAXIMUM = "MAXIMUM"
    MINIMUM = "MINIMUM"
    SQUARED_DIFFERENCE = "SQUARED_DIFFERENCE"
    RSQRT = "RSQRT"
    ABS = "ABS"
    REDUCE_MAX = "REDUCE_MAX"
    SUM = "SUM"
    ARG_MAX = "ARG_MAX"
    TRANSPOSE_CONV = "TRANSPOSE_CONV"
    RESIZE_BILINEAR = "RESIZE_BILINEAR"
    SPLIT = "SPLIT"
    SPLIT_V = "SPLIT_V"
    PACK = "PACK"
    UNPACK = "UNPACK"
    DEPTH_TO_SPACE = "DEPTH_TO_SPACE"
    SPACE_TO_DEPTH = "SPACE_TO_DEPTH"
    L2_NORMALIZATION = "L2_NORMALIZATION"
    LOG_SOFTMAX = "LOG_SOFTMAX"
    UNIDIRECTIONAL_SEQUENCE_LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"


# Operator classes, each defined once here (the planner, the patch stage and the kernels read them).
# Elementwise: output element i depends only on element i of each input (after broadcasting). Every kernel of
# these kinds reads element i before it writes element i, so it may overwrite an input of the output's size.
ELEMENTWISE_KINDS = frozenset({OpKind.ADD, OpKind.MUL, OpKind.RELU, OpKind.RELU6, OpKind.LOGISTIC, OpKind.HARD_SWISH})
# Pointwise: elementwise ops and QUANTIZE; they run region by region in a patch stage.
POINTWISE_KINDS = ELEMENTWISE_KINDS | {OpKind.QUANTIZE}
# In place: the elementwise ops (and the other ops whose kernels read element i, or a whole last-axis row, before
# writing it), a STRIDED_SLICE with positive strides (a forward gather), and a depthwise conv through a kernel
# written for it (KernelSpec.inplace) with depth multiplier 1. A pointwise CONV_2D may also run in place through
# its in-place kernel (planner/buffers.py, passes/inplace.py), only where that lowers the arena.
INPLACE_ELEMENTWISE_KINDS = ELEMENTWISE_KINDS | {
    OpKind.SUB,
    OpKind.MAXIMUM,
    OpKind.MINIMUM,
    OpKind.SQUARED_DIFFERENCE,
    OpKind.PRELU,
    OpKind.TANH,
    OpKind.LEAKY_RELU,
    OpKind.ABS,
    OpKind.RSQRT,
    OpKind.L2_NORMALIZATION,
}
INPLACE_KINDS = INPLACE_ELEMENTWISE_KINDS | {OpKind.DEPTHWISE_CONV_2D, OpKind.STRIDED_SLICE}


class Padding(Enum):
    SAME = "SAME"
    VALID = "VALID"


class Activation(Enum):
    """A fused activation: clamps the quantized output to the float range it stands for."""

    NONE = "NONE"
    RELU = "RELU"
    RELU6 = "RELU6"
    RELU_N1_TO_1 = "RELU_N1_TO_1"


@dataclass(frozen=True, slots=True)
class NoAttrs:
    pass


@dataclass(frozen=True, slots=True)
class Conv2DAttrs:
    stride_h: int = 1
    stride_w: int = 1
    dilation_h: int = 1
    dilation_w: int = 1
    padding: Padding = Padding.SAME
    activation: Activation = Activation.NONE
    # explicit (top, bottom, left, right) padding with the input zero point, on top of VALID; set by the fuse_pad
    # pass when it folds a PAD into this op (TFLite itself has no such field)
    pads: tuple[int, int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class DepthwiseConv2DAttrs:
    stride_h: int = 1
    stride_w: int = 1
    dilation_h: int = 1
    dilation_w: int = 1
    padding: Padding = Padding.SAME
    depth_multiplier: int = 1
    activation: Activation = Activation.NONE
    pads: tuple[int, int, int, int] | None = None  # as in Conv2DAttrs


@dataclass(frozen=True, slots=True)
class FullyConnectedAttrs:
    activation: Activation = Activation.NONE
    keep_num_dims: bool = False


@dataclass(frozen=True, slots=True)
class ElementwiseAttrs:
    """ADD and MUL (with broadcasting as TFLite allows it)."""

    activation: Activation = Activation.NONE


@dataclass(frozen=True, slots=True)
class Pool2DAttrs:
    filter_h: int
    filter_w: int
    stride_h: int = 1
    stride_w: int = 1
    padding: Padding = Padding.VALID
    activation: Activation = Activation.NONE


@dataclass(frozen=True, slots=True)
class MeanAttrs:
    axes: tuple[int, ...]
    keep_dims: bool


@dataclass(frozen=True, slots=True)
class ReshapeAttrs:
    new_shape: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SoftmaxAttrs:
    beta: float = 1.0


@dataclass(frozen=True, slots=True)
class PadAttrs:
    """Per-dimension (before, after) padding; the pad value is the output zero point (PAD) or `value` (PADV2)."""

    paddings: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class ConcatAttrs:
    axis: int
    activation: Activation = Activation.NONE


@dataclass(frozen=True, slots=True)
class TransposeAttrs:
    perm: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class StridedSliceAttrs:
    """Resolved per input dimension: masks and negative indices are already applied at import.
    `shrink_axis` lists the dimensions dropped from the output (stride 1, length 1)."""

    begin: tuple[int, ...]
    end: tuple[int, ...]
    strides: tuple[int, ...]
    shrink_axis: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ResizeNearestAttrs:
    align_corners: bool = False
    half_pixel_centers: bool = False


@dataclass(frozen=True, slots=True)
class LeakyReluAttrs:
    alpha: float


@dataclass(frozen=True, slots=True)
class AxisAttrs:
    """ARG_MAX (the reduced axis), PACK (the new axis) and UNPACK (the removed axis), already non-negative."""

    axis: int


@dataclass(frozen=True, slots=True)
class SplitAttrs:
    """SPLIT and SPLIT_V: the axis and the size of every output along it."""

    axis: int
    sizes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BlockAttrs:
    """DEPTH_TO_SPACE and SPACE_TO_DEPTH."""

    block_size: int


@dataclass(frozen=True, slots=True)
class TransposeConvAttrs:
    """TRANSPOSE_CONV: inputs are (input, OHWI filter, optional bias); the output shape is the output tensor's."""

    stride_h: int = 1
    stride_w: int = 1
    padding: Padding = Padding.SAME
    activation: Activation = Activation.NONE


@dataclass(frozen=True, slots=True)
class LstmAttrs:
    """UNIDIRECTIONAL_SEQUENCE_LSTM, the int8 LSTM with int16 gates and cell state (ir/lstm.py has the operand order).

    The hidden and cell states start at zero in every inference (a Keras LSTM with stateful=False); they are not
    tensors of the graph, so their quantization is kept here: the int8 hidden state's scale and zero point, and
    the int16 cell state's scale as a power of two (scale = 2**cell_scale_power). `cell_clip` is the float clip
    of the cell state (0 = none). The cell gate's activation is TANH, the only one a .tflite file can name."""

    time_major: bool
    hidden_scale: float
    hidden_zero_point: int
    cell_scale_power: int
    cell_clip: float = 0.0

    def __post_init__(self) -> None:  # both floats are float32 in a .tflite file: keep them so, exports round-trip
        for name in ("hidden_scale", "cell_clip"):
            object.__setattr__(self, name, struct.unpack("<f", struct.pack("<f", getattr(self, name)))[0])


OpAttrs = (
    NoAttrs
    | Conv2DAttrs
    | DepthwiseConv2DAttrs
    | FullyConnectedAttrs
    | ElementwiseAttrs
    | Pool2DAttrs
    | MeanAttrs
    | ReshapeAttrs
    | SoftmaxAttrs
    | PadAttrs
    | ConcatAttrs
    | TransposeAttrs
    | StridedSliceAttrs
    | ResizeNearestAttrs
    | LeakyReluAttrs
    | AxisAttrs
    | SplitAttrs
    | BlockAttrs
    | TransposeConvAttrs
    | LstmAttrs
)

ATTRS_OF: dict[OpKind, type] = {
    OpKind.CONV_2D: Conv2DAttrs,
    OpKind.DEPTHWISE_CONV_2D: DepthwiseConv2DAttrs,
    OpKind.FULLY_CONNECTED: FullyConnectedAttrs,
    OpKind.ADD: ElementwiseAttrs,
    OpKind.MUL: ElementwiseAttrs,
    OpKind.AVERAGE_POOL_2D: Pool2DAttrs,
    OpKind.MAX_POOL_2D: Pool2DAttrs,
    OpKind.MEAN: MeanAttrs,
    OpKind.RESHAPE: ReshapeAttrs,
    OpKind.SOFTMAX: SoftmaxAttrs,
    OpKind.LOGISTIC: NoAttrs,
    OpKind.HARD_SWISH: NoAttrs,
    OpKind.RELU: NoAttrs,
    OpKind.RELU6: NoAttrs,
    OpKind.PAD: PadAttrs,
    OpKind.CONCATENATION: ConcatAttrs,
    OpKind.TRANSPOSE: TransposeAttrs,
    OpKind.STRIDED_SLICE: StridedSliceAttrs,
    OpKind.RESIZE_NEAREST_NEIGHBOR: ResizeNearestAttrs,
    OpKind.QUANTIZE: NoAttrs,
    OpKind.DEQUANTIZE: NoAttrs,
    OpKind.TANH: NoAttrs,
    OpKind.LEAKY_RELU: LeakyReluAttrs,
    OpKind.PRELU: NoAttrs,
    OpKind.SUB: ElementwiseAttrs,
    OpKind.MAXIMUM: NoAttrs,
    OpKind.MINIMUM: NoAttrs,
    OpKind.SQUARED_DIFFERENCE: NoAttrs,
    OpKind.RSQRT: NoAttrs,
    OpKind.ABS: NoAttrs,
    OpKind.REDUCE_MAX: MeanAttrs,
    OpKind.SUM: MeanAttrs,
    OpKind.ARG_MAX: AxisAttrs,
    OpKind.TRANSPOSE_CONV: TransposeConvAttrs,
    OpKind.RESIZE_BILINEAR: ResizeNearestAttrs,
    OpKind.SPLIT: SplitAttrs,
    OpKind.SPLIT_V: SplitAttrs,
    OpKind.PACK: AxisAttrs,
    OpKind.UNPACK: AxisAttrs,
    OpKind.DEPTH_TO_SPACE: BlockAttrs,
    OpKind.SPACE_TO_DEPTH: BlockAttrs,
    OpKind.L2_NORMALIZATION: NoAttrs,
    OpKind.LOG_SOFTMAX: NoAttrs,
    OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM: LstmAttrs,
}
