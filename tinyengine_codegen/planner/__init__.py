"""Arena memory planning: Graph → Buffer records (lifetimes) → Plan (offsets, arena size), checked independently.

plan = plan_memory(graph, scratch={op_index: bytes}, inplace=frozenset({op_index, ...}))
plan.offsets[tensor_name]; plan.offsets[scratch_name(op)]; plan.arena_bytes; plan.peak_op; plan.lower_bound
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..ir.graph import Graph
from .arena import CHEAP, STRATEGIES, Plan, plan_arena, run_strategy
from .buffers import INPLACE_KINDS, Buffer, inplace_candidates, lifetimes, scratch_name
from .check import check_plan, lower_bound
from .report import OpRow, op_rows
from .schedule import best_order, reorder

__all__ = [
    "INPLACE_KINDS",
    "STRATEGIES",
    "Buffer",
    "OpRow",
    "Plan",
    "best_order",
    "check_plan",
    "inplace_candidates",
    "lifetimes",
    "lower_bound",
    "op_rows",
    "plan_arena",
    "plan_memory",
    "reorder",
    "run_strategy",
    "scratch_name",
]


def plan_memory(
    graph: Graph,
    *,
    scratch: Mapping[int, int] | None = None,
    inplace: frozenset[int] = frozenset(),
    alignment: int = 4,
    strategies: Sequence[str] = tuple(CHEAP),
    search: bool = True,
) -> Plan:
    """Plan the activation arena of `graph` in its op order: scratch bytes per op index, in-place op indices."""
    return plan_arena(
        lifetimes(graph, scratch=scratch, inplace=inplace, alignment=alignment), strategies=strategies, search=search
    )
