"""bind_kernels: attach to every op its matching kernels, fastest first, as BoundKernel records."""

from __future__ import annotations

from dataclasses import replace

from ..ir.graph import Graph, Op
from ..kernels import registry
from ..kernels.spec import KernelSpec
from ..options import CompileOptions
from ..planner.model_plan import BoundKernel, ModelPlan


def bound(spec: KernelSpec, op: Op, graph: Graph) -> BoundKernel:
    """`spec` bound to `op`: its scratch bytes there and whether it overwrites its input."""
    return BoundKernel(spec, int(spec.scratch_bytes(op, graph)), spec.inplace)


def bind_kernels(mp: ModelPlan, options: CompileOptions) -> ModelPlan:
    """Per op the registry's specs whose preconditions hold on `options.target`, in preference order; the final
    choice among them is plan_arena's (it depends on the live bytes). An op with no C kernel keeps an empty list
    and a note (simulate reports it; the emitter refuses it with a one-line error)."""
    graph, target, table = mp.graph, options.target, registry.families()
    cands, missing = [], []
    for op in graph.ops:
        specs = [s for s in table.get(op.kind, ()) if s.matches(op, graph, target)]
        if not specs:
            missing.append(f"{op.name} ({op.kind.value})")
        cands.append(tuple(bound(s, op, graph) for s in specs))
    notes = (f"no C kernel for {', '.join(missing)}",) if missing else ()
    return replace(mp, candidates=tuple(cands), target=target, notes=mp.notes + target.kernel_notes + notes)
