"""An in-place pointwise (1x1, stride 1) CONV_2D: the output starts at the input's offset and may be larger.

Output pixel p covers bytes [p * cout, (p + 1) * cout); input pixel q covers [q * cin, (q + 1) * cin). When
cout >= cin the pixels are visited last to first, when cout < cin first to last, so a write never lands on an
input pixel still to be read, except the current pixel's own, which is copied to a local array first (the
predicate bounds cin so that array stays small). The planner uses it only where it lowers the arena.
"""

from __future__ import annotations

from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from .common import in_tensor
from .conv import is_pointwise, pointwise_context
from .spec import Binding, Context, KernelSpec, TargetLike, no_scratch

MAX_CIN = 64  # bytes of the per-pixel copy on the stack


def pointwise_small_cin(op: Op, graph: Graph, target: TargetLike) -> bool:
    return is_pointwise(op, graph, target) and in_tensor(graph, op, 0).shape[3] <= MAX_CIN


def inplace_context(op: Op, graph: Graph, b: Binding) -> Context:
    ctx = pointwise_context(op, graph, b)
    ctx["reverse"] = ctx["cout"] >= ctx["cin"]
    return ctx


CONV2D_INPLACE = (KernelSpec("conv2d_1x1_s8_inplace", pointwise_small_cin, no_scratch, inplace_context, inplace=True),)

FAMILIES = {OpKind.CONV_2D: CONV2D_INPLACE}
