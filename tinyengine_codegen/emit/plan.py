"""Arena placement as the emitter sees it, and `linear_plan`, the simple baseline placement.

The emitter needs three things from a memory plan: the arena offset of every activation tensor, the offset of
each op's scratch buffer, and the arena size. `ArenaPlan` is that interface; `from_model_plan` takes them from
the planner's ModelPlan (the plan `tinyml simulate` reports), `adapt` wraps any plan with offsets. `linear_plan`
is a baseline for comparisons: buffers in order of first use, each at the lowest aligned offset that overlaps no
buffer live at the same time (first fit over lifetimes). It is correct, not optimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from ..errors import InternalError
from ..ir.graph import Graph


class ArenaPlan(Protocol):
    arena_bytes: int

    def offset(self, name: str) -> int: ...

    def scratch_offset(self, op_index: int) -> int | None: ...


@dataclass(frozen=True)
class EmitPlan:
    """Offsets by tensor name, scratch offsets by op index, and the arena size."""

    offsets: Mapping[str, int]
    scratch: Mapping[int, int]
    arena_bytes: int
    strategy: str = "linear"

    def __post_init__(self) -> None:
        object.__setattr__(self, "offsets", MappingProxyType(dict(self.offsets)))
        object.__setattr__(self, "scratch", MappingProxyType(dict(self.scratch)))

    def offset(self, name: str) -> int:
        return self.offsets[name]

    def scratch_offset(self, op_index: int) -> int | None:
        return self.scratch.get(op_index)


def _round_up(n: int, a: int) -> int:
    return -(-n // a) * a


def intervals(graph: Graph, scratch: Mapping[int, int], alignment: int) -> list[tuple[str, int, int, int]]:
    """(key, bytes, first op, last op) of every activation and scratch buffer; scratch keys are '#<op index>'."""
    n = len(graph.ops)
    out = []
    for t in graph.activations():
        first = 0 if t.name in graph.inputs else (graph.producer(t.name) or 0)
        last = n if t.name in graph.outputs else max(graph.last_use(t.name), first)
        out.append((t.name, _round_up(max(t.nbytes, 1), alignment), first, last))
    out += [(f"#{i}", _round_up(b, alignment), i, i) for i, b in sorted(scratch.items()) if b > 0]
    return out


def linear_plan(graph: Graph, scratch: Mapping[int, int] | None = None, alignment: int = 4) -> EmitPlan:
    """First-fit placement over lifetimes (the baseline described in the module docstring)."""
    placed: list[tuple[int, int, int, int]] = []  # (offset, size, first, last)
    offsets: dict[str, int] = {}
    for key, size, first, last in sorted(intervals(graph, scratch or {}, alignment), key=lambda r: (r[2], -r[1])):
        busy = sorted((o, o + s) for o, s, f, end in placed if f <= last and first <= end)
        at = 0
        for lo, hi in busy:
            if at + size <= lo:
                break
            at = max(at, hi)
        placed.append((at, size, first, last))
        offsets[key] = at
    arena = max((o + s for o, s, _, _ in placed), default=0)
    return EmitPlan(
        {k: v for k, v in offsets.items() if not k.startswith("#")},
        {int(k[1:]): v for k, v in offsets.items() if k.startswith("#")},
        arena,
        "linear",
    )


def from_model_plan(mp) -> EmitPlan:
    """The offsets, scratch offsets and arena size of a planner.model_plan.ModelPlan, exactly as planned."""
    from ..planner.buffers import scratch_name

    offsets = dict(mp.plan.offsets)
    scratch = {}
    for i, op in enumerate(mp.graph.ops):
        key = scratch_name(op)
        if key in offsets:
            scratch[i] = offsets.pop(key)
    return EmitPlan(offsets, scratch, int(mp.plan.arena_bytes), str(mp.plan.strategy))


def check_covers(
    plan: ArenaPlan, graph: Graph, scratch: Mapping[int, int], sizes: Mapping[str, int] | None = None
) -> None:
    """InternalError unless every activation (`sizes` overrides its bytes, e.g. per-patch buffers) and scratch
    buffer has an offset inside the arena."""
    for t in graph.activations():
        try:
            off = plan.offset(t.name)
        except KeyError:
            raise InternalError(f"memory plan has no offset for tensor '{t.name}'") from None
        if off < 0 or off + (sizes or {}).get(t.name, t.nbytes) > plan.arena_bytes:
            raise InternalError(
                f"tensor '{t.name}' at [{off}, {off + t.nbytes}) is outside the {plan.arena_bytes}-byte arena"
            )
    for i, size in scratch.items():
        off = plan.scratch_offset(i) if size else 0
        if size and (off is None or off + size > plan.arena_bytes):
            raise InternalError(f"op {i} '{graph.ops[i].name}': scratch of {size} B is not placed in the arena")
