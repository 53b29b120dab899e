"""ADD and MUL kernel specs (int8, with TFLite broadcasting) and their template contexts."""

from __future__ import annotations

from collections.abc import Callable

from .. import quant
from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from .common import act_range, in_tensor, out_tensor, pad6, strides_of
from .spec import Binding, Context, KernelSpec, TargetLike, always, no_scratch


def add_sub_params(a, b, y) -> dict:
    """TFLite's ADD/SUB rescaling of both operands to a common scale and back, as template fields."""
    p = quant.add_params(a.scale(), b.scale(), y.scale())
    return dict(
        left_shift=p.left_shift,
        a_mult=p.input1_multiplier,
        a_shift=p.input1_shift,
        b_mult=p.input2_multiplier,
        b_shift=p.input2_shift,
        mult=p.output_multiplier,
        shift=p.output_shift,
    )


def element_params(op: Op, graph: Graph) -> dict:
    """Offsets, multipliers and the clamp range of one int8 ADD or MUL element."""
    a, b, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), out_tensor(graph, op)
    lo, hi = act_range(op.attrs.activation, y)
    e = dict(a_offset=-a.zero_point, b_offset=-b.zero_point, out_zp=y.zero_point, lo=lo, hi=hi)
    if op.kind is OpKind.ADD:
        e.update(op="add", **add_sub_params(a, b, y))
    else:
        e["op"] = "mul"
        e["mult"], e["shift"] = quant.mul_multiplier(a.scale(), b.scale(), y.scale())
    return e


def same_shapes(op: Op, graph: Graph, target: TargetLike) -> bool:
    return in_tensor(graph, op, 0).shape == in_tensor(graph, op, 1).shape == out_tensor(graph, op).shape


def flat_context_of(params: Callable[[Op, Graph], dict]) -> Callable[[Op, Graph, Binding], Context]:
    """The template context of a same-shape binary kernel whose per-element fields come from `params`."""

    def context(op: Op, graph: Graph, b: Binding) -> Context:
        return dict(size=out_tensor(graph, op).size, a=b.operand(op, 0), b=b.operand(op, 1), e=params(op, graph))

    return context


def broadcast_strides(shape: tuple[int, ...], out6: list[int]) -> list[int]:
    """Rank-6 element strides of `shape` read at every index of the output: 0 along broadcast dimensions."""
    dims = pad6(shape)
    return [0 if n == 1 and o != 1 else s for n, o, s in zip(dims, out6, strides_of(dims))]


def bcast_context_of(params: Callable[[Op, Graph], dict]) -> Callable[[Op, Graph, Binding], Context]:
    """The template context of a broadcasting binary kernel whose per-element fields come from `params`."""

    def context(op: Op, graph: Graph, b: Binding) -> Context:
        x1, x2, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), out_tensor(graph, op)
        out6 = pad6(y.shape)
        return dict(
            a=b.operand(op, 0),
            b=b.operand(op, 1),
            a_shape=list(x1.shape),
            b_shape=list(x2.shape),
            out_dims=out6,
            a_strides=broadcast_strides(x1.shape, out6),
            b_strides=broadcast_strides(x2.shape, out6),
            e=params(op, graph),
        )

    return context


flat_context = flat_context_of(element_params)
bcast_context = bcast_context_of(element_params)


BINARY = (  # first match wins; the last entry always matches
    KernelSpec("binary_s8_flat", same_shapes, no_scratch, flat_context),
    KernelSpec("binary_s8_bcast", always, no_scratch, bcast_context),
)

FAMILIES = {OpKind.ADD: BINARY, OpKind.MUL: BINARY}
