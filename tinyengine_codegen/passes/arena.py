"""plan_arena: choose each op's kernel among its candidates and place every buffer in the one arena."""

from __future__ import annotations

from dataclasses import replace

from ..options import CompileOptions
from ..planner.buffers import lifetimes
from ..planner.model_plan import ModelPlan, plan_with_kernels


def plan_arena(mp: ModelPlan, options: CompileOptions) -> ModelPlan:
    """Kernels by the live-peak rule of planner/model_plan.py, then the arena plan with their scratch buffers
    (planner/arena.py: several strategies, the smallest kept). Sets `kernels`, `plan` and `plain`."""
    graph, inplace, align = mp.graph, mp.inplace, options.alignment

    def buffers(scratch):
        return lifetimes(graph, scratch=scratch, inplace=inplace, alignment=align)

    kernels, plan = plan_with_kernels(buffers, mp.candidates, inplace, align)
    return replace(mp, kernels=kernels, plan=plan, plain=plan, patches=None)
