"""The arena buffers of a model run with a patch stage (the memory model in planner/patches.py's docstring): the
per-patch buffers sized for the largest patch, the split output live from the first patch on, the stage inputs
until the stage ends, and the ordinary lifetimes after it."""

from __future__ import annotations

from collections.abc import Mapping

from ..ir.graph import Graph
from .arena import Plan, plan_arena
from .buffers import Buffer, lifetimes


def patched_buffers(
    graph: Graph,
    schedule,
    *,
    scratch: Mapping[int, int] | None = None,
    inplace: frozenset[int] = frozenset(),
    alignment: int = 4,
) -> tuple[Buffer, ...]:
    """The arena buffers of `graph` run with `schedule` (see the module docstring for the lifetimes)."""
    inplace = frozenset(i for i in inplace if i > schedule.split_op)
    bufs = lifetimes(graph, scratch=scratch, inplace=inplace, alignment=alignment)
    return _with_stage(graph, bufs, schedule, alignment)


def _with_stage(graph: Graph, bufs: tuple[Buffer, ...], schedule, alignment: int) -> tuple[Buffer, ...]:
    """`bufs` (the lifetimes without patches, no in-place op inside the stage) changed for the patch stage."""
    out = []
    per_patch, split, full, end = schedule.buffer_bytes, schedule.split_tensor, schedule.full_tensors, schedule.split_op
    for b in bufs:
        if b.name in per_patch:
            b = Buffer(b.name, -(-per_patch[b.name] // alignment) * alignment, b.first, b.last, b.alias_of, b.scratch)
        elif b.name == split:
            b = Buffer(b.name, b.size, 0, b.last, b.alias_of, b.scratch)
        elif b.name in full and b.last < end:  # a stage input: read by every patch
            b = Buffer(b.name, b.size, b.first, end, b.alias_of, b.scratch)
        out.append(b)
    return tuple(out)


def plan_patched(
    graph: Graph,
    schedule,
    *,
    scratch: Mapping[int, int] | None = None,
    inplace: frozenset[int] = frozenset(),
    alignment: int = 4,
) -> Plan:
    """The arena plan of `graph` run with `schedule`: per-patch buffers and the later layers in one arena."""
    return plan_arena(patched_buffers(graph, schedule, scratch=scratch, inplace=inplace, alignment=alignment))
