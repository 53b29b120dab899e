"""The whole memory decision for one model as one record (`ModelPlan`), and the kernel choice under the live peak.

The passes in passes/ fill a ModelPlan step by step (order, kernel candidates, in-place ops, kernels and arena,
patch stage); `simulate` reports it and the emitter emits exactly it. Kernels are held as `BoundKernel` records
(the KernelSpec object itself, its scratch bytes, whether it overwrites its input), never as names.

Kernel choice (used by the arena and patch passes): for each op its bound candidates in preference order
(fastest first). The live tensors alone give a peak P; each op takes the first candidate whose scratch still fits
under P beside the tensors live at that op, else the one with the least scratch. If placement still ends above
the arena planned without scratch, every op falls back to its least-scratch candidate (kept when that arena is
smaller). In-place variants (KernelSpec.inplace) are only chosen for in-place ops, and in-place ops keep one
when they have one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from ..errors import InternalError
from ..ir.graph import Graph
from ..kernels.spec import KernelSpec
from ..target import HOST, Target
from .arena import Plan, plan_arena
from .buffers import Buffer
from .live import live_profile
from .patches import PatchSchedule


@dataclass(frozen=True, slots=True)
class BoundKernel:
    """One kernel bound to one op: the spec itself, the scratch bytes it needs there, whether it overwrites its
    input (its output gets its input's offset)."""

    spec: KernelSpec
    scratch: int
    inplace: bool

    @property
    def name(self) -> str:
        return self.spec.name


Candidates = tuple[tuple[BoundKernel, ...], ...]  # per op: the matching kernels, preferred first


@dataclass(frozen=True)
class ModelPlan:
    """What the generated C must do to meet `plan.arena_bytes`: run `graph`'s ops in this order, with these
    kernels (None: no C kernel for the op), in-place ops and, when `patches` is set, the patch stage.
    Fields a pass has not computed yet are empty (`plan` None); `plan_model` returns a complete record."""

    graph: Graph
    kernels: tuple[BoundKernel | None, ...] = ()
    inplace: frozenset[int] = frozenset()
    patches: PatchSchedule | None = None
    plan: Plan | None = None
    plain: Plan | None = None  # the same ops without patches
    notes: tuple[str, ...] = ()
    candidates: Candidates = ()
    target: Target = field(default=HOST)

    @property
    def scratch(self) -> Mapping[int, int]:
        """Scratch bytes per op index (ops without scratch are absent)."""
        return MappingProxyType({i: k.scratch for i, k in enumerate(self.kernels) if k is not None and k.scratch})

    @property
    def kernel_names(self) -> tuple[str | None, ...]:
        return tuple(None if k is None else k.name for k in self.kernels)

    @property
    def arena(self) -> Plan:
        """The arena plan; InternalError when the arena pass has not run."""
        if self.plan is None:
            raise InternalError(f"graph '{self.graph.name}': the model plan has no arena yet (run plan_arena)")
        return self.plan


def _pool(c: Sequence[BoundKernel], in_place: bool) -> list[BoundKernel]:
    """The kernels an op may take: an in-place variant when the plan runs it in place (if it has one), otherwise
    only the ordinary ones (in-place variants assume their output sits on their input)."""
    if in_place and any(x.inplace for x in c):
        return [x for x in c if x.inplace]
    return [x for x in c if not x.inplace]


def _round(n: int, a: int) -> int:
    return -(-n // a) * a


def choose_kernels(
    cands: Candidates, inplace: frozenset[int], buffers: Sequence[Buffer], alignment: int = 4
) -> tuple[BoundKernel | None, ...]:
    """Per op the first candidate whose scratch fits under the live-tensor peak; in-place ops keep an in-place
    candidate when they have one."""
    live = live_profile(buffers)
    cap = max(live, default=0)
    out: list[BoundKernel | None] = []
    for i, c in enumerate(cands):
        pool = _pool(c, i in inplace)
        if not pool:
            out.append(None)
            continue
        here = live[i] if i < len(live) else 0
        fits = (x for x in pool if here + _round(x.scratch, alignment) <= cap)
        out.append(next(fits, min(pool, key=lambda x: x.scratch)))
    return tuple(out)


def least_scratch(cands: Candidates, inplace: frozenset[int]) -> tuple[BoundKernel | None, ...]:
    """Per op the candidate with the least scratch (in-place rules as in choose_kernels)."""
    out: list[BoundKernel | None] = []
    for i, c in enumerate(cands):
        pool = _pool(c, i in inplace)
        out.append(min(pool, key=lambda x: x.scratch) if pool else None)
    return tuple(out)


def scratch_of(kernels: Sequence[BoundKernel | None]) -> dict[int, int]:
    return {i: k.scratch for i, k in enumerate(kernels) if k is not None and k.scratch}


def plan_with_kernels(
    make_buffers: Callable[[Mapping[int, int]], Sequence[Buffer]],
    cands: Candidates,
    inplace: frozenset[int],
    alignment: int,
) -> tuple[tuple[BoundKernel | None, ...], Plan]:
    """(kernels, plan) for buffers built by make_buffers(scratch), by the rule in the module docstring."""
    bare_buffers = make_buffers({})
    kernels = choose_kernels(cands, inplace, bare_buffers, alignment)
    scratch = scratch_of(kernels)
    if not scratch:
        return kernels, plan_arena(bare_buffers)
    plan = plan_arena(make_buffers(scratch))
    # the arena without scratch is at least its lower bound: only a plan above that bound can be worse than it
    if plan.arena_bytes > max(live_profile(bare_buffers), default=0):
        bare = plan_arena(bare_buffers)
        if plan.arena_bytes > bare.arena_bytes:
            alt = least_scratch(cands, inplace)
            alt_buffers = make_buffers(scratch_of(alt))
            if max(live_profile(alt_buffers), default=0) < plan.arena_bytes:  # else it cannot be smaller
                alt_plan = plan_arena(alt_buffers)
                if alt_plan.arena_bytes < plan.arena_bytes:
                    kernels, plan = alt, alt_plan
    return kernels, plan
