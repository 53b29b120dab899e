"""mark_inplace: choose the ops that write their output over their input (ir.ops.INPLACE_KINDS)."""

from __future__ import annotations

from dataclasses import replace

from ..ir.ops import INPLACE_ELEMENTWISE_KINDS, INPLACE_KINDS
from ..options import CompileOptions
from ..planner.buffers import inplace_candidates
from ..planner.model_plan import ModelPlan


def mark_inplace(mp: ModelPlan, options: CompileOptions) -> ModelPlan:
    """Elementwise ops whenever the lifetimes allow; a depthwise conv only where a bound candidate kernel
    overwrites its input (KernelSpec.inplace). Nothing when options.inplace is off."""
    if not options.inplace:
        return replace(mp, inplace=frozenset())
    graph = mp.graph
    allowed = inplace_candidates(graph, INPLACE_KINDS, options.alignment)
    ok = frozenset(
        i for i in allowed if graph.ops[i].kind in INPLACE_ELEMENTWISE_KINDS or any(k.inplace for k in mp.candidates[i])
    )
    return replace(mp, inplace=ok)
