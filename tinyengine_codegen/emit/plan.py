"""Arena placement as the emitter sees it.

The emitter needs three things from a memory plan: the arena offset of every activation tensor, the offset of
each op's scratch buffer, and the arena size. `ArenaPlan` is that interface; `from_model_plan` takes them from
the planner's ModelPlan (the plan `tinyml simulate` reports). Lifetimes are the planner's alone
(planner/buffers.py); nothing here computes them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from ..errors import InternalError
from ..ir.graph import Graph
from ..planner.buffers import scratch_name
from ..planner.model_plan import ModelPlan


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
    strategy: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "offsets", MappingProxyType(dict(self.offsets)))
        object.__setattr__(self, "scratch", MappingProxyType(dict(self.scratch)))

    def offset(self, name: str) -> int:
        return self.offsets[name]

    def scratch_offset(self, op_index: int) -> int | None:
        return self.scratch.get(op_index)


def from_model_plan(mp: ModelPlan) -> EmitPlan:
    """The offsets, scratch offsets and arena size of a planner.model_plan.ModelPlan, exactly as planned."""
    offsets = dict(mp.arena.offsets)
    scratch = {}
    for i, op in enumerate(mp.graph.ops):
        key = scratch_name(op)
        if key in offsets:
            scratch[i] = offsets.pop(key)
    return EmitPlan(offsets, scratch, int(mp.arena.arena_bytes), str(mp.arena.strategy))


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
