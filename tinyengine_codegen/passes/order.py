"""order_ops: run the ops in the topological order that needs the fewest live bytes (planner/schedule.py)."""

from __future__ import annotations

from dataclasses import replace

from ..options import CompileOptions
from ..planner.model_plan import ModelPlan
from ..planner.schedule import best_order, reorder


def order_ops(mp: ModelPlan, options: CompileOptions) -> ModelPlan:
    """Reorder the graph's ops by `best_order` (exact dynamic programming over branch orders)."""
    return replace(mp, graph=reorder(mp.graph, best_order(mp.graph)))
