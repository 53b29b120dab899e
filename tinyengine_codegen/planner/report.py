"""Per-op memory rows of a plan, as data (the `simulate` report and the plots read them; nothing is printed)."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir.graph import Graph
from .arena import Plan


@dataclass(frozen=True, slots=True)
class OpRow:
    """Arena use while op `index` runs. live_bytes counts shared (aliased) bytes once."""

    index: int
    name: str
    kind: str
    live_bytes: int
    scratch_bytes: int
    top_bytes: int
    high_water: int


def op_rows(graph: Graph, plan: Plan) -> tuple[OpRow, ...]:
    """One row per op: live bytes, scratch bytes, the highest arena byte in use, and the high-water mark so far."""
    rows, high = [], 0
    for i, op in enumerate(graph.ops):
        live = [b for b in plan.buffers if b.first <= i <= b.last and b.size]
        spans = sorted((plan.offsets[b.name], plan.offsets[b.name] + b.size) for b in live)
        top = max((e for _, e in spans), default=0)
        high = max(high, top)
        rows.append(OpRow(i, op.name, op.kind.value, _union_length(spans),
                          sum(b.size for b in live if b.scratch and b.first == i), top, high))
    return tuple(rows)


def _union_length(spans: list[tuple[int, int]]) -> int:
    total, cur_lo, cur_hi = 0, None, None
    for lo, hi in spans:
        if cur_hi is None or lo > cur_hi:
            total += 0 if cur_hi is None else cur_hi - cur_lo
            cur_lo, cur_hi = lo, hi
        else:
            cur_hi = max(cur_hi, hi)
    return total + (0 if cur_hi is None else cur_hi - cur_lo)
