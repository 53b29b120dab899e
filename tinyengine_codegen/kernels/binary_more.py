"""Kernel specs of SUB, MAXIMUM, MINIMUM and SQUARED_DIFFERENCE (int8, TFLite broadcasting)."""

from __future__ import annotations

from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from ..reference import more
from .common import act_range, in_tensor, out_tensor
from .elementwise import add_sub_params, bcast_context_of, flat_context_of, same_shapes
from .spec import KernelSpec, always, no_scratch


def element_params(op: Op, graph: Graph) -> dict:
    """Offsets, multipliers and the clamp range of one element, by op."""
    a, b, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), out_tensor(graph, op)
    e = dict(op=op.kind.value.lower(), a_offset=-a.zero_point, b_offset=-b.zero_point, out_zp=y.zero_point)
    if op.kind is OpKind.SUB:
        lo, hi = act_range(op.attrs.activation, y)
        e.update(add_sub_params(a, b, y), lo=lo, hi=hi)
    elif op.kind is OpKind.SQUARED_DIFFERENCE:
        e.update(more.squared_difference_params(op, graph))
    return e


flat_context = flat_context_of(element_params)
bcast_context = bcast_context_of(element_params)


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
