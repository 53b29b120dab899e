"""mark_inplace: choose the ops that write their output over their input (ir.ops.INPLACE_KINDS)."""

from __future__ import annotations

from dataclasses import replace

from ..errors import InternalError
from ..ir.ops import INPLACE_ELEMENTWISE_KINDS, INPLACE_KINDS, OpKind
from ..options import CompileOptions
from ..planner.arena import plan_arena
from ..planner.buffers import inplace_candidates, lifetimes
from ..planner.live import live_profile
from ..planner.model_plan import ModelPlan


def mark_inplace(mp: ModelPlan, options: CompileOptions) -> ModelPlan:
    """Elementwise ops and positive-stride slices whenever the lifetimes allow; a depthwise conv only where a
    bound candidate kernel overwrites its input (KernelSpec.inplace); a pointwise conv with such a kernel only
    where that lowers the arena. Nothing when options.inplace is off."""
    if not options.inplace:
        return replace(mp, inplace=frozenset())
    graph = mp.graph
    allowed = inplace_candidates(graph, INPLACE_KINDS, options.alignment)
    ok = frozenset(
        i
        for i in allowed
        if graph.ops[i].kind in INPLACE_ELEMENTWISE_KINDS
        or graph.ops[i].kind is OpKind.STRIDED_SLICE
        or any(k.inplace for k in mp.candidates[i])
    )
    convs = [
        i for i, c in enumerate(mp.candidates) if graph.ops[i].kind is OpKind.CONV_2D and any(k.inplace for k in c)
    ]
    if convs:
        ok = _pointwise_in_place(graph, ok, convs, options.alignment)
    return replace(mp, inplace=ok)


def _pointwise_in_place(graph, chosen: frozenset[int], convs: list[int], alignment: int) -> frozenset[int]:
    """Add the pointwise convs at the live-bytes peak whose in-place run lowers the planned arena (one at a time):
    their in-place kernel may write an output larger than its input, which pays only where the peak is."""
    bufs = lifetimes(graph, inplace=chosen, alignment=alignment)
    live = live_profile(bufs)
    peak = max(live, default=0)
    at_peak = [i for i in convs if (live[i] if i < len(live) else 0) >= peak]
    if not at_peak:
        return chosen
    best = plan_arena(bufs).arena_bytes
    for i in at_peak:
        try:
            trial_bufs = lifetimes(graph, inplace=chosen | {i}, alignment=alignment)
        except InternalError:  # its input is still read later: not in place
            continue
        if max(live_profile(trial_bufs), default=0) >= best:
            continue  # no arena is below its live peak
        trial = plan_arena(trial_bufs).arena_bytes
        if trial < best:
            chosen, best = chosen | {i}, trial
    return chosen
