"""verify(graph): shapes, dtypes and quantization of every operator; each error names the op and the tensor."""

from __future__ import annotations

from ..errors import TinyMLError
from .graph import Graph, Op, Tensor
from .lstm import check_lstm_output, lstm_shape
from .ops import (
    ATTRS_OF,
    ConcatAttrs,
    Conv2DAttrs,
    DepthwiseConv2DAttrs,
    FullyConnectedAttrs,
    MeanAttrs,
    OpKind,
    PadAttrs,
    Pool2DAttrs,
    StridedSliceAttrs,
    TransposeAttrs,
)
from .shapes import broadcast_shape, conv_out_pad, explicit_pads
from .structure import check_structure
from .verify_more import KINDS as MORE_KINDS
from .verify_more import expected_shape as more_shape

_QUANTIZED_OUT_FIXED = {OpKind.SOFTMAX: (1 / 256, -128), OpKind.LOGISTIC: (1 / 256, -128)}


def verify(graph: Graph) -> Graph:
    """Raise TinyMLError at the first inconsistency; return the graph unchanged so it chains in pipelines."""
    check_structure(graph)
    written: set[str] = set(graph.inputs)
    for op in graph.ops:
        _check_op(graph, op, written)
        written.update(op.outputs)
    for name in graph.outputs:
        if name not in written:
            raise TinyMLError(f"graph '{graph.name}': output '{name}' is never written")
    return graph


def _fail(op: Op, msg: str) -> TinyMLError:
    return TinyMLError(f"{op.name} ({op.kind.value}): {msg}")


def _check_op(graph: Graph, op: Op, written: set[str]) -> None:
    if not isinstance(op.attrs, ATTRS_OF[op.kind]):
        raise _fail(op, f"attributes are {type(op.attrs).__name__}, expected {ATTRS_OF[op.kind].__name__}")
    for t in op.inputs + op.outputs:
        if t and t not in graph.tensors:
            raise _fail(op, f"tensor '{t}' does not exist")
    for t in op.inputs:
        if t and not graph.tensors[t].is_const and t not in written:
            raise _fail(op, f"reads '{t}' before any op writes it")
    ins = graph.op_inputs(op)
    outs = [graph.tensors[t] for t in op.outputs]
    if not ins or ins[0] is None or not outs:
        raise _fail(op, "needs at least one input and one output")
    for out in outs:
        if out.dtype == "int8" and out.quant is None:
            raise _fail(op, f"int8 output '{out.name}' has no quantization parameters")
    fixed = _QUANTIZED_OUT_FIXED.get(op.kind)
    if fixed and outs[0].quant is not None:
        scale, zp = fixed
        if abs(outs[0].scale() - scale) > 1e-6 * scale or outs[0].zero_point != zp:
            raise _fail(
                op,
                f"int8 output '{outs[0].name}' must have scale 1/256 and zero point -128 "
                f"(has {outs[0].scale():g}, {outs[0].zero_point})",
            )
    expected = _expected_shape(graph, op, ins, outs)
    if expected is not None and tuple(expected) != outs[0].shape:
        raise _fail(op, f"output '{outs[0].name}' has shape {outs[0].shape}, the inputs give {tuple(expected)}")


def _expected_shape(graph: Graph, op: Op, ins: tuple[Tensor | None, ...], outs: list[Tensor]):
    x, a, k = ins[0], op.attrs, op.kind
    assert x is not None  # _check_op refused ops without a first input
    if k in MORE_KINDS:
        return more_shape(graph, op, ins, outs)
    if k is OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM:
        check_lstm_output(op, outs[0])
        return lstm_shape(graph, op, ins)
    operands = [t for t in ins[1:] if t is not None]
    if isinstance(a, (Conv2DAttrs, DepthwiseConv2DAttrs)):
        if not operands:
            raise _fail(op, "needs a filter operand")
        return _conv_shape(op, a, x, operands[0], ins[2] if len(ins) > 2 else None)
    if isinstance(a, Pool2DAttrs):
        _rank(op, x, 4)
        oh, _ = conv_out_pad(x.shape[1], a.filter_h, a.stride_h, 1, a.padding)
        ow, _ = conv_out_pad(x.shape[2], a.filter_w, a.stride_w, 1, a.padding)
        return (x.shape[0], oh, ow, x.shape[3])
    if isinstance(a, FullyConnectedAttrs):
        if not operands:
            raise _fail(op, "needs a weights operand")
        w = operands[0]
        if w.shape[-1] == 0 or x.size % w.shape[-1]:
            raise _fail(op, f"input '{x.name}' {x.shape} does not split into rows of {w.shape[-1]} features")
        bias = ins[2] if len(ins) > 2 else None
        if bias is not None and bias.size != w.shape[0]:
            raise _fail(op, f"bias '{bias.name}' has {bias.size} values for {w.shape[0]} outputs")
        if a.keep_num_dims:
            return x.shape[:-1] + (w.shape[0],)
        return (x.size // w.shape[-1], w.shape[0])
    if k in (OpKind.ADD, OpKind.MUL):
        try:
            return broadcast_shape(x.shape, operands[0].shape if operands else ())
        except ValueError as exc:
            raise _fail(op, str(exc)) from None
    if isinstance(a, MeanAttrs):
        return tuple((1 if d in a.axes else n) for d, n in enumerate(x.shape) if a.keep_dims or d not in a.axes)
    if k is OpKind.RESHAPE:
        if x.size != outs[0].size:
            raise _fail(op, f"reshape of {x.shape} into {outs[0].shape} changes the element count")
        return None
    if isinstance(a, PadAttrs):
        if len(a.paddings) != len(x.shape):
            raise _fail(op, f"{len(a.paddings)} paddings for a rank-{len(x.shape)} input")
        return tuple(n + b + e for n, (b, e) in zip(x.shape, a.paddings))
    if isinstance(a, ConcatAttrs):
        axis = a.axis % len(x.shape)
        total = sum(t.shape[axis] for t in ins if t is not None)
        return x.shape[:axis] + (total,) + x.shape[axis + 1 :]
    if isinstance(a, TransposeAttrs):
        if sorted(a.perm) != list(range(len(x.shape))):
            raise _fail(op, f"permutation {a.perm} does not fit a rank-{len(x.shape)} input")
        return tuple(x.shape[p] for p in a.perm)
    if isinstance(a, StridedSliceAttrs):
        dims = [max(0, -(-(e - b) // s)) for b, e, s in zip(a.begin, a.end, a.strides)]
        return tuple(n for d, n in enumerate(dims) if d not in a.shrink_axis)
    if k is OpKind.RESIZE_NEAREST_NEIGHBOR:
        return (x.shape[0],) + outs[0].shape[1:3] + (x.shape[3],)
    return x.shape  # elementwise unary ops, softmax, quantize, dequantize


def _rank(op: Op, t: Tensor, rank: int) -> None:
    if len(t.shape) != rank:
        raise _fail(op, f"input '{t.name}' has shape {t.shape}; a rank-{rank} tensor is needed")


def _conv_shape(op: Op, a: Conv2DAttrs | DepthwiseConv2DAttrs, x: Tensor, w: Tensor, bias: Tensor | None):
    _rank(op, x, 4)
    _rank(op, w, 4)
    depthwise = isinstance(a, DepthwiseConv2DAttrs)
    cout = w.shape[3] if depthwise else w.shape[0]
    if isinstance(a, DepthwiseConv2DAttrs) and cout != x.shape[3] * a.depth_multiplier:
        raise _fail(
            op, f"filter '{w.name}' has {cout} channels; input {x.shape[3]} x multiplier {a.depth_multiplier} expected"
        )
    if not depthwise and x.shape[3] % w.shape[3]:
        raise _fail(op, f"input '{x.name}' has {x.shape[3]} channels, filter '{w.name}' expects {w.shape[3]}")
    if w.quant is not None and w.quant.per_channel and len(w.quant.scale) != cout:
        raise _fail(op, f"filter '{w.name}' has {len(w.quant.scale)} scales for {cout} output channels")
    if bias is not None and bias.size != cout:
        raise _fail(op, f"bias '{bias.name}' has {bias.size} values for {cout} output channels")
    kh, kw = w.shape[1], w.shape[2]
    oh, _ = conv_out_pad(x.shape[1], kh, a.stride_h, a.dilation_h, a.padding, explicit_pads(a, 1))
    ow, _ = conv_out_pad(x.shape[2], kw, a.stride_w, a.dilation_w, a.padding, explicit_pads(a, 2))
    if oh <= 0 or ow <= 0:
        raise _fail(op, f"a {kh}x{kw} kernel does not fit the {x.shape[1]}x{x.shape[2]} input with VALID padding")
    return (x.shape[0], oh, ow, cout)
