"""The whole memory decision for one model: execution order, in-place ops, kernel per op (and so its scratch),
the patch stage, and the arena plan. `simulate` reports this plan and the code generator is meant to emit it.

The steps, in order:
1. Order the ops for the fewest live bytes (`best_order`).
2. In-place ops: elementwise ops (ADD, MUL, activations) whenever the lifetimes allow (their C kernels read
   element i before writing element i); a depthwise conv only when the kernel registry offers a matching
   spec that declares it runs in place (a spec attribute `inplace = True`, or "inplace" in its name).
3. Kernels: for each op the registry's matching specs in preference order (fastest first). The live tensors
   alone give a peak P; each op takes the first spec whose scratch still fits under P beside the tensors live
   at that op, else the spec with the least scratch. If placement still ends above the arena planned without
   scratch, every op falls back to its least-scratch spec (kept when that arena is smaller).
4. Patches (options.patches "auto" or a count): `choose_patches`; the stage ops take patch-stage (region)
   kernels (kernels/region.py), the other kernels are chosen again against the patched live bytes, and the
   patched plan is kept only when its arena is strictly smaller.
In-place variants (KernelSpec.inplace) are only chosen for in-place ops; ordinary ops take ordinary specs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from ..errors import InternalError, TinyMLError
from ..ir.graph import Graph
from ..ir.ops import OpKind
from ..options import CompileOptions
from .arena import Plan, plan_arena
from .buffers import INPLACE_KINDS, Buffer, inplace_candidates, lifetimes
from .check import live_bytes
from .patches import PatchSchedule, choose_patches, patched_buffers
from .schedule import best_order, reorder

ELEMENTWISE_INPLACE = INPLACE_KINDS - {OpKind.DEPTHWISE_CONV_2D}
Candidates = tuple[tuple[tuple[str, int, bool], ...], ...]  # per op: (spec name, scratch bytes, runs in place)


@dataclass(frozen=True)
class ModelPlan:
    """What the generated C must do to meet `plan.arena_bytes`: run `graph`'s ops in this order, with these
    kernels (None: the registry has none for the op), in-place ops and, when `patches` is set, the patch stage."""

    graph: Graph
    kernels: tuple[str | None, ...]
    scratch: Mapping[int, int]
    inplace: frozenset[int]
    patches: PatchSchedule | None
    plan: Plan
    plain: Plan  # the same ops without patches
    notes: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "scratch", MappingProxyType(dict(self.scratch)))


def patch_request(value: str | int) -> tuple[bool, int | None]:
    """'off' → (False, None); 'auto' → (True, None); 'N' → (True, N). TinyMLError for anything else."""
    text = str(value).strip().lower()
    if text == "off":
        return False, None
    if text == "auto":
        return True, None
    if text.isdigit() and int(text) >= 2:
        return True, int(text)
    raise TinyMLError(f"patches '{value}': use off, auto or a patch count N >= 2 (N x N patches)")


def kernel_candidates(graph: Graph, target) -> tuple[Candidates, tuple[str, ...]]:
    """Per op its matching kernel specs (name, scratch bytes, in place), fastest first, and notes on gaps."""
    try:
        from ..kernels.registry import families

        table = families()
    except ImportError as exc:
        return tuple(() for _ in graph.ops), (f"kernel registry not importable ({exc}); scratch assumed 0",)
    out, missing = [], []
    for op in graph.ops:
        specs = [s for s in table.get(op.kind, ()) if s.matches(op, graph, target)]
        if not specs:
            missing.append(f"{op.name} ({op.kind.value})")
        out.append(tuple((s.name, int(s.scratch_bytes(op, graph)), _runs_in_place(s)) for s in specs))
    notes = (f"no C kernel for {', '.join(missing)}",) if missing else ()
    return tuple(out), notes


def _runs_in_place(spec) -> bool:
    return bool(getattr(spec, "inplace", False)) or "inplace" in spec.name


def stage_candidates(graph: Graph, sched: PatchSchedule, cands: Candidates, target) -> Candidates | None:
    """`cands` with the stage ops' candidates replaced by the patch-stage (region) kernels; None when a stage op
    has none (or no registry is importable)."""
    try:
        from ..kernels.registry import stage_specs
    except ImportError:
        return None
    out = list(cands)
    for i in sched.stage:
        op = graph.ops[i]
        specs = stage_specs(op, graph, target)
        if not specs:
            return None
        out[i] = tuple((s.name, int(s.scratch_bytes(op, graph)), False) for s in specs)
    return tuple(out)


def choose_inplace(graph: Graph, cands: Candidates, alignment: int = 4) -> frozenset[int]:
    """Elementwise ops always; depthwise convs only where a matching kernel runs in place (see step 2);
    pointwise convs with an in-place kernel only where that lowers the arena."""
    dw = {i for i, c in enumerate(cands) if graph.ops[i].kind is OpKind.DEPTHWISE_CONV_2D and any(x[2] for x in c)}
    allowed = inplace_candidates(graph, INPLACE_KINDS, alignment)
    chosen = frozenset(i for i in allowed if graph.ops[i].kind in ELEMENTWISE_INPLACE or i in dw)
    convs = [i for i, c in enumerate(cands) if graph.ops[i].kind is OpKind.CONV_2D and any(x[2] for x in c)]
    return _inplace_pointwise(graph, chosen, convs, alignment) if convs else chosen


def _inplace_pointwise(graph: Graph, chosen: frozenset[int], convs: list[int], alignment: int) -> frozenset[int]:
    """Add the pointwise convs at the live-bytes peak whose in-place run lowers the planned arena (one at a time)."""
    bufs = lifetimes(graph, inplace=chosen, alignment=alignment)
    best, live = plan_arena(bufs).arena_bytes, live_bytes(bufs)
    peak = max(live.values(), default=0)
    for i in convs:
        if live.get(i, 0) < peak:
            continue
        try:
            trial = plan_arena(lifetimes(graph, inplace=chosen | {i}, alignment=alignment)).arena_bytes
        except InternalError:  # its input is still read later: not in place
            continue
        if trial < best:
            chosen, best = chosen | {i}, trial
    return chosen


def _pool(c, in_place: bool) -> list:
    """The specs an op may take: an in-place variant when the plan runs it in place (if it has one), otherwise
    only the ordinary ones (in-place variants assume their output sits on their input)."""
    if in_place and any(x[2] for x in c):
        return [x for x in c if x[2]]
    return [x for x in c if not x[2]]


def choose_kernels(
    cands: Candidates, inplace: frozenset[int], buffers: Sequence[Buffer], alignment: int = 4
) -> tuple[tuple[str | None, ...], dict[int, int]]:
    """Per op the first spec whose scratch fits under the live-tensor peak (step 3); in-place ops keep an
    in-place spec when they have one."""
    live = live_bytes(buffers)
    cap = max(live.values(), default=0)
    names: list[str | None] = []
    scratch: dict[int, int] = {}
    for i, c in enumerate(cands):
        pool = _pool(c, i in inplace)
        if not pool:
            names.append(None)
            continue
        pick = next((x for x in pool if live.get(i, 0) + _round(x[1], alignment) <= cap), min(pool, key=lambda x: x[1]))
        names.append(pick[0])
        if pick[1]:
            scratch[i] = pick[1]
    return tuple(names), scratch


def _least_scratch(cands: Candidates, inplace: frozenset[int]) -> tuple[tuple[str | None, ...], dict[int, int]]:
    names, scratch = [], {}
    for i, c in enumerate(cands):
        pool = _pool(c, i in inplace)
        pick = min(pool, key=lambda x: x[1]) if pool else None
        names.append(pick[0] if pick else None)
        if pick and pick[1]:
            scratch[i] = pick[1]
    return tuple(names), scratch


def _round(n: int, a: int) -> int:
    return -(-n // a) * a


def _plan_with_kernels(make_buffers, cands: Candidates, inplace: frozenset[int], alignment: int):
    """(kernels, scratch, plan) for buffers built by make_buffers(scratch), following step 3."""
    bare = plan_arena(make_buffers({}))
    names, scratch = choose_kernels(cands, inplace, bare.buffers, alignment)
    plan = plan_arena(make_buffers(scratch)) if scratch else bare
    if plan.arena_bytes > bare.arena_bytes:
        alt_names, alt_scratch = _least_scratch(cands, inplace)
        alt = plan_arena(make_buffers(alt_scratch))
        if alt.arena_bytes < plan.arena_bytes:
            names, scratch, plan = alt_names, alt_scratch, alt
    return names, scratch, plan


def plan_model(graph: Graph, options: CompileOptions = CompileOptions(), target=None) -> ModelPlan:
    """The memory plan of `graph` for `target` (a Board or kernels.registry.Target; default: the host)."""
    if target is None:
        from ..kernels.spec import HOST

        target = HOST
    enabled, forced = patch_request(options.patches)
    graph = reorder(graph, best_order(graph))
    cands, notes = kernel_candidates(graph, target)
    align = options.alignment
    inplace = choose_inplace(graph, cands, align) if options.inplace else frozenset()

    def plain_buffers(scratch):
        return lifetimes(graph, scratch=scratch, inplace=inplace, alignment=align)

    names, scratch, plain = _plan_with_kernels(plain_buffers, cands, inplace, align)
    result = ModelPlan(graph, names, scratch, inplace, None, plain, plain, notes)
    if not enabled:
        return result
    sched = choose_patches(
        graph, max_extra_macs=options.max_extra_macs, forced=forced, inplace=inplace, scratch=scratch, alignment=align
    )
    why = (
        "no split point and patch count lowers the peak"
        + ("" if forced is None else f" with {forced}x{forced}")
        + f" within {options.max_extra_macs:.0%} extra MACs; planned without patches"
    )
    if sched is None:
        return replace(result, notes=notes + (why,))

    kept = frozenset(i for i in inplace if i > sched.split_op)
    s_cands = stage_candidates(graph, sched, cands, target)
    if s_cands is None:
        return replace(result, notes=notes + ("a patch-stage op has no region kernel; planned without patches",))

    def stage_buffers(scratch):
        return patched_buffers(graph, sched, scratch=scratch, inplace=kept, alignment=align)

    p_names, p_scratch, patched = _plan_with_kernels(stage_buffers, s_cands, kept, align)
    if patched.arena_bytes >= plain.arena_bytes:
        return replace(result, notes=notes + (why,))
    return ModelPlan(graph, p_names, p_scratch, kept, sched, patched, plain, notes)
