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


def _matching(op: Op, graph: Graph, target, specs) -> tuple[BoundKernel, ...]:
    """The matching specs of one op that the kernel choice can pick, in order. Predicates are evaluated only until
    an ordinary spec without scratch has matched (no later ordinary one can be picked: the first that fits wins,
    and none has less scratch) and, when the family has in-place variants, an in-place one without scratch too."""
    found: list[BoundKernel] = []
    ordinary_done = inplace_done = False
    for k, spec in enumerate(specs):
        if (inplace_done if spec.inplace else ordinary_done) or not spec.matches(op, graph, target):
            continue
        b = bound(spec, op, graph)
        found.append(b)
        if b.scratch == 0 and spec.inplace:
            inplace_done = True
        elif b.scratch == 0:
            ordinary_done = True
        if ordinary_done and (inplace_done or not any(x.inplace for x in specs[k + 1 :])):
            break
    return tuple(found)


def bind_kernels(mp: ModelPlan, options: CompileOptions) -> ModelPlan:
    """Per op the registry's specs whose preconditions hold on `options.target`, in preference order; the final
    choice among them is plan_arena's (it depends on the live bytes). An op with no C kernel keeps an empty list
    and a note (simulate reports it; the emitter refuses it with a one-line error)."""
    graph, target, table = mp.graph, options.target, registry.families()
    cands, missing = [], []
    for op in graph.ops:
        found = _matching(op, graph, target, table.get(op.kind, ()))
        if not found:
            missing.append(f"{op.name} ({op.kind.value})")
        cands.append(found)
    notes = (f"no C kernel for {', '.join(missing)}",) if missing else ()
    return replace(mp, candidates=tuple(cands), target=target, notes=mp.notes + target.kernel_notes + notes)
