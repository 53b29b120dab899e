"""Kernel specs of SUB, MAXIMUM, MINIMUM and SQUARED_DIFFERENCE (int8, TFLite broadcasting)."""

from __future__ import annotations

from .. import quant
from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from ..reference import more
from .common import act_range, in_tensor, out_tensor, pad6
from .elementwise import broadcast_strides, same_shapes
from .spec import Binding, Context, KernelSpec, always, no_scratch


def element_params(op: Op, graph: Graph) -> dict:
    """Offsets, multipliers and the clamp range of one element, by op."""
    a, b, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), out_tensor(graph, op)
    e = dict(op=op.kind.value.lower(), a_offset=-a.zero_point, b_offset=-b.zero_point, out_zp=y.zero_point)
    if op.kind is OpKind.SUB:
        p = quant.add_params(a.scale(), b.scale(), y.scale())
        lo, hi = act_range(op.attrs.activation, y)
        e.update(
            left_shift=p.left_shift,
            a_mult=p.input1_multiplier,
            a_shift=p.input1_shift,
            b_mult=p.input2_multiplier,
            b_shift=p.input2_shift,
            mult=p.output_multiplier,
            shift=p.output_shift,
            lo=lo,
            hi=hi,
        )
    elif op.kind is OpKind.SQUARED_DIFFERENCE:
        e.update(more.squared_difference_params(op, graph))
    return e


def flat_context(op: Op, graph: Graph, b: Binding) -> Context:
    return dict(size=out_tensor(graph, op).size, a=b.operand(op, 0), b=b.operand(op, 1), e=element_params(op, graph))


def bcast_context(op: Op, graph: Graph, b: Binding) -> Context:
    x1, x2, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), out_tensor(graph, op)
    out6 = pad6(y.shape)
    return dict(
        a=b.operand(op, 0),
        b=b.operand(op, 1),
        out_dims=out6,
        a_strides=broadcast_strides(x1.shape, out6),
        b_strides=broadcast_strides(x2.shape, out6),
        e=element_params(op, graph),
    )


BINARY_MORE = (  # first match wins; the last entry always matches
    KernelSpec("binary_more_s8_flat", same_shapes, no_scratch, flat_context),
    KernelSpec("binary_more_s8_bcast", always, no_scratch, bcast_context),
)

FAMILIES = {
    OpKind.SUB: BINARY_MORE,
    OpKind.MAXIMUM: BINARY_MORE,
    OpKind.MINIMUM: BINARY_MORE,
    OpKind.SQUARED_DIFFERENCE: BINARY_MORE,
}
