"""Readable text of a ModelPlan between passes: the graph (ir/text.py) and, per op, what the passes decided."""

from __future__ import annotations

from ..ir.text import dump
from ..planner.buffers import scratch_name
from ..planner.model_plan import ModelPlan


def plan_text(mp: ModelPlan, after: str = "") -> str:
    """The IR text, then one line per op: candidates or bound kernel, in place, scratch and arena offsets."""
    lines = [f"# after {after}" if after else "# model plan", dump(mp.graph).rstrip("\n")]
    offsets = mp.plan.offsets if mp.plan is not None else {}
    for i, op in enumerate(mp.graph.ops):
        parts = [f"  #{i} {op.name}:"]
        k = mp.kernels[i] if i < len(mp.kernels) else None
        if k is not None:
            parts.append(f"kernel={k.name} scratch={k.scratch}")
        elif i < len(mp.candidates):
            parts.append("candidates=" + (",".join(k.name for k in mp.candidates[i]) or "none"))
        if i in mp.inplace:
            parts.append("inplace")
        if mp.patches is not None and i in mp.patches.stage:
            parts.append(f"patch-stage({mp.patches.p}x{mp.patches.p})")
        placed = [f"{t}@{offsets[t]}" for t in op.outputs if t in offsets]
        if scratch_name(op) in offsets:
            placed.append(f"scratch@{offsets[scratch_name(op)]}")
        if placed:
            parts.append("at " + " ".join(placed))
        lines.append(" ".join(parts))
    if mp.plan is not None:
        lines.append(f"  arena {mp.plan.arena_bytes} B ({mp.plan.strategy}), lower bound {mp.plan.lower_bound} B")
    lines += [f"  note: {n}" for n in mp.notes]
    return "\n".join(lines) + "\n"
