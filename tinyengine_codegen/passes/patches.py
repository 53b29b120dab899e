"""plan_patches: run the first layers patch by patch (MCUNetV2) when that lowers the arena (planner/patches.py),
within a budget of extra estimated cycles (planner/patch_cost.py, planner/patch_search.py)."""

from __future__ import annotations

from dataclasses import replace

from ..ir.graph import Graph
from ..kernels.registry import first_stage_spec, stage_specs
from ..options import CompileOptions
from ..planner.model_plan import Candidates, ModelPlan, plan_with_kernels
from ..planner.patch_cost import kernel_table, stage_cost
from ..planner.patch_search import choose_patches
from ..planner.patches import PatchSchedule, patched_buffers, split_points
from ..target import Target
from .bind import bound


def stage_candidates(graph: Graph, sched: PatchSchedule, cands: Candidates, target: Target) -> Candidates | None:
    """`cands` with the stage ops' candidates replaced by their patch-stage (region) kernels; None when a stage
    op has none."""
    out = list(cands)
    for i in sched.stage:
        op = graph.ops[i]
        specs = stage_specs(op, graph, target)
        if not specs:
            return None
        out[i] = tuple(replace(bound(s, op, graph), inplace=False) for s in specs)
    return tuple(out)


def region_kernels(graph: Graph, target: Target) -> tuple[str | None, ...]:
    """The patch-stage kernel each op that can be in a patch stage would run (None: it has none)."""
    points = split_points(graph)
    if not points:
        return ()
    out = []
    for op in graph.ops[: points[-1] + 1]:
        spec = first_stage_spec(op, graph, target)
        out.append(spec.name if spec else None)
    return tuple(out)


def plan_patches(mp: ModelPlan, options: CompileOptions) -> ModelPlan:
    """With options.patches on: choose the split layer and patch count (`choose_patches`), give the stage ops
    patch-stage (region) kernels, choose the other kernels again against the patched live bytes, and keep the
    patched plan only when its arena is strictly smaller; otherwise a note says why not."""
    request = options.patches
    if not request.enabled:
        return mp
    graph, align, plain = mp.graph, options.alignment, mp.arena
    cost = stage_cost(graph, mp.kernel_names, region_kernels(graph, options.target), kernel_table(options.target))
    sched = choose_patches(
        graph,
        cost=cost,
        max_extra=options.max_extra_cycles,
        forced=request.count,
        inplace=mp.inplace,
        scratch=mp.scratch,
        alignment=align,
        plain=plain.arena_bytes,
    )
    why = (
        "no split point and patch count lowers the peak"
        + ("" if request.count is None else f" with {request.count}x{request.count}")
        + f" within {options.max_extra_cycles:.0%} extra estimated cycles; planned without patches"
    )
    if sched is None:
        return replace(mp, notes=mp.notes + (why,))
    cands = stage_candidates(graph, sched, mp.candidates, options.target)
    if cands is None:
        return replace(mp, notes=mp.notes + ("a patch-stage op has no region kernel; planned without patches",))
    kept = frozenset(i for i in mp.inplace if i > sched.split_op)

    def buffers(scratch):
        return patched_buffers(graph, sched, scratch=scratch, inplace=kept, alignment=align)

    kernels, patched = plan_with_kernels(buffers, cands, kept, align)
    if patched.arena_bytes >= plain.arena_bytes:
        return replace(mp, notes=mp.notes + (why,))
    return replace(mp, kernels=kernels, inplace=kept, patches=sched, plan=patched, plain=plain)
