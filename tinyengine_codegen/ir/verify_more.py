"""Expected output shapes of the operators beyond the convolutional core (see verify.py); every output of an op
with several outputs is checked here."""

from __future__ import annotations

from ..errors import TinyMLError
from .graph import Graph, Op, Tensor
from .ops import AxisAttrs, BlockAttrs, MeanAttrs, OpKind, ResizeNearestAttrs, SplitAttrs, TransposeConvAttrs
from .shapes import broadcast_shape

BINARY = frozenset({OpKind.SUB, OpKind.MAXIMUM, OpKind.MINIMUM, OpKind.SQUARED_DIFFERENCE, OpKind.PRELU})
UNARY = frozenset(
    {OpKind.TANH, OpKind.LEAKY_RELU, OpKind.RSQRT, OpKind.ABS, OpKind.L2_NORMALIZATION, OpKind.LOG_SOFTMAX}
)
KINDS = (
    BINARY
    | UNARY
    | {
        OpKind.REDUCE_MAX,
        OpKind.SUM,
        OpKind.ARG_MAX,
        OpKind.TRANSPOSE_CONV,
        OpKind.RESIZE_BILINEAR,
        OpKind.SPLIT,
        OpKind.SPLIT_V,
        OpKind.PACK,
        OpKind.UNPACK,
        OpKind.DEPTH_TO_SPACE,
        OpKind.SPACE_TO_DEPTH,
    }
)


def _fail(op: Op, msg: str) -> TinyMLError:
    return TinyMLError(f"{op.name} ({op.kind.value}): {msg}")


def expected_shape(graph: Graph, op: Op, ins: tuple[Tensor | None, ...], outs: list[Tensor]):
    """The shape output 0 must have (None when it is free); raises for a wrong shape of any other output."""
    x, a, k = ins[0], op.attrs, op.kind
    assert x is not None  # verify refused ops without a first input
    others = [t for t in ins[1:] if t is not None]
    if k in UNARY:
        return x.shape
    if k in BINARY:
        if not others:
            raise _fail(op, "needs a second operand")
        try:
            return broadcast_shape(x.shape, others[0].shape)
        except ValueError as exc:
            raise _fail(op, str(exc)) from None
    if isinstance(a, MeanAttrs):  # SUM, REDUCE_MAX
        return tuple((1 if d in a.axes else n) for d, n in enumerate(x.shape) if a.keep_dims or d not in a.axes)
    if isinstance(a, TransposeConvAttrs):
        if not others:
            raise _fail(op, "needs a filter operand")
        return _transpose_conv_shape(op, x, others[0], outs[0])
    if isinstance(a, ResizeNearestAttrs):  # RESIZE_BILINEAR
        return (x.shape[0],) + outs[0].shape[1:3] + (x.shape[3],)
    if isinstance(a, SplitAttrs):
        return _split_shape(op, a, x, outs)
    if isinstance(a, AxisAttrs):
        return _axis_shape(op, a, x, [t for t in ins if t is not None], outs)
    if isinstance(a, BlockAttrs):
        return _block_shape(op, a.block_size, x)
    raise _fail(op, f"no shape rule for attributes {type(a).__name__}")


def _axis_shape(op: Op, a: AxisAttrs, x: Tensor, ins: list[Tensor], outs: list[Tensor]):
    if op.kind is OpKind.ARG_MAX:
        return tuple(n for d, n in enumerate(x.shape) if d != a.axis)
    if op.kind is OpKind.PACK:
        if any(t.shape != x.shape for t in ins):
            raise _fail(op, f"inputs have different shapes {[t.shape for t in ins]}")
        return x.shape[: a.axis] + (len(ins),) + x.shape[a.axis :]
    want = x.shape[: a.axis] + x.shape[a.axis + 1 :]  # UNPACK
    if len(outs) != x.shape[a.axis] or any(t.shape != want for t in outs):
        raise _fail(op, f"{len(outs)} outputs {[t.shape for t in outs]}; unpacking {x.shape} gives {want}")
    return want


def _transpose_conv_shape(op: Op, x: Tensor, w: Tensor, y: Tensor):
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        raise _fail(op, f"needs 4-d input, filter and output, has {x.shape}, {w.shape}, {y.shape}")
    if w.shape[3] != x.shape[3]:
        raise _fail(op, f"filter '{w.name}' expects {w.shape[3]} input channels, input '{x.name}' has {x.shape[3]}")
    return y.shape[:3] + (w.shape[0],)


def _split_shape(op: Op, a: SplitAttrs, x: Tensor, outs: list[Tensor]):
    if sum(a.sizes) != x.shape[a.axis] or len(a.sizes) != len(outs):
        raise _fail(op, f"sizes {a.sizes} do not split axis {a.axis} of {x.shape} into {len(outs)} outputs")
    for t, n in zip(outs, a.sizes):
        want = x.shape[: a.axis] + (n,) + x.shape[a.axis + 1 :]
        if t.shape != want:
            raise _fail(op, f"output '{t.name}' has shape {t.shape}, expected {want}")
    return outs[0].shape


def _block_shape(op: Op, b: int, x: Tensor):
    n, h, w, c = x.shape
    if op.kind is OpKind.DEPTH_TO_SPACE:
        if c % (b * b):
            raise _fail(op, f"{c} channels are not a multiple of block {b} squared")
        return (n, h * b, w * b, c // (b * b))
    if h % b or w % b:
        raise _fail(op, f"a {h}x{w} input does not split into {b}x{b} blocks")
    return (n, h // b, w // b, c * b * b)
