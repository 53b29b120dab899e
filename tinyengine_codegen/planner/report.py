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
    output_shape: tuple[int, ...] = ()


def op_rows(graph: Graph, plan: Plan) -> tuple[OpRow, ...]:
    """One row per op: live bytes, scratch bytes, the highest arena byte in use, the high-water mark so far and
    the output shape. Works for any plan whose buffers use op indices as time (patched plans included)."""
    rows, high = [], 0
    for i, op in enumerate(graph.ops):
        live = [b for b in plan.buffers if b.first <= i <= b.last and b.size]
        spans = sorted((plan.offsets[b.name], plan.offsets[b.name] + b.size) for b in live)
        top = max((e for _, e in spans), default=0)
        high = max(high, top)
        rows.append(
            OpRow(
                i,
                op.name,
                op.kind.value,
                _union_length(spans),
                sum(b.size for b in live if b.scratch and b.first == i),
                top,
                high,
                graph.tensor(op.outputs[0]).shape if op.outputs else (),
            )
        )
    return tuple(rows)


def _union_length(spans: list[tuple[int, int]]) -> int:
    total, cur = 0, None  # cur: the (lo, hi) span being merged
    for lo, hi in spans:
        if cur is None or lo > cur[1]:
            total += 0 if cur is None else cur[1] - cur[0]
            cur = (lo, hi)
        else:
            cur = (cur[0], max(cur[1], hi))
    return total + (0 if cur is None else cur[1] - cur[0])


@dataclass(frozen=True, slots=True)
class LiveSplit:
    """The bytes live while op `index` runs, split by role: the op's activation inputs, its outputs, tensors
    kept for later ops, and its scratch. Buffers sharing bytes (in-place, views) count once, in the first role
    of that order that any of them plays; the four parts add up to OpRow.live_bytes when the plan is valid."""

    index: int
    inputs: int
    outputs: int
    kept: int
    scratch: int


def live_split(graph: Graph, plan: Plan) -> tuple[LiveSplit, ...]:
    """One LiveSplit per op (the stacked bars of the memory plot)."""
    root = {b.name: b.name for b in plan.buffers}
    by_name = {b.name: b for b in plan.buffers}
    for name in root:
        cur = name
        while by_name[cur].alias_of is not None:
            cur = str(by_name[cur].alias_of)
        root[name] = cur
    out = []
    for i, op in enumerate(graph.ops):
        groups: dict[str, list] = {}
        for b in plan.buffers:
            if b.first <= i <= b.last and b.size:
                groups.setdefault(root[b.name], []).append(b)
        parts = {"inputs": 0, "outputs": 0, "kept": 0, "scratch": 0}
        for members in groups.values():
            names = {m.name for m in members}
            role = (
                "outputs"
                if names & set(op.outputs)
                else "inputs"
                if names & set(op.inputs)
                else "scratch"
                if any(m.scratch for m in members)
                else "kept"
            )
            parts[role] += max(m.size for m in members)
        out.append(LiveSplit(i, **parts))
    return tuple(out)
