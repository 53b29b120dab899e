"""The patch search: which split op and patch count `--patches auto` (or a forced count) runs with.

Every split point and p x p grid is costed with the fast separable figures (planner/patch_fast.py) and the
estimated cycles of its stage (planner/patch_cost.py); among those whose extra cycles stay within the budget the
search keeps the one with the smallest arena.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..errors import TinyMLError
from ..ir.cost import graph_macs, op_macs
from ..ir.graph import Graph
from .arena import plan_arena
from .buffers import Buffer, lifetimes
from .patch_cost import StageCost, stage_cost
from .patch_fast import stage_figures
from .patches import (
    MAX_PATCHES,
    PatchSchedule,
    _geometry,
    _schedule,
    _span,
    _whole_bytes,
    _with_stage,
    split_points,
    stage_inputs,
)


def choose_patches(
    graph: Graph,
    *,
    cost: StageCost | None = None,
    max_extra: float = 0.10,
    forced: int | None = None,
    inplace: frozenset[int] = frozenset(),
    scratch: Mapping[int, int] | None = None,
    alignment: int = 4,
) -> PatchSchedule | None:
    """The schedule with the smallest peak SRAM whose estimated extra cycles stay within `max_extra` x the model's
    estimated cycles (`cost`, planner/patch_cost.py; None: one cycle per MAC or output element for every kernel,
    a budget of extra work), over every split point and p in 2..8 (only `forced` when given); fewer extra cycles,
    then fewer patches break ties. None unless its peak is strictly below the plan without patches.

    Candidates within the budget are ranked by their lower bound (the most bytes live at one op), and arenas are
    planned in that order until no later candidate can win: few full arena plans per model."""
    if forced is not None and forced < 2:
        raise TinyMLError(f"patch count {forced}: use 2 or more (or patches off)")
    points = split_points(graph)
    if not points:
        return None
    total_macs = graph_macs(graph)
    cost = cost or work_cost(graph)
    limit = max_extra * cost.total
    plain = plan_arena(lifetimes(graph, scratch=scratch, inplace=inplace, alignment=alignment)).arena_bytes
    all_geos = _geometry(graph, points[-1])
    floors = cost.floors(graph)
    # rest[k]: the least that ops k+1.. add to the extra cycles of a stage ending at k when it grows deeper (a
    # deeper stage only widens the halos of the ops before it, so extra(deeper) >= extra(k) + rest[k])
    rest, deeper = [0.0] * len(floors), float("inf")  # deeper: min over s' > k of floors[k+1] + .. + floors[s']
    for k in range(len(floors) - 2, -1, -1):
        deeper = floors[k + 1] + min(0.0, deeper)
        rest[k] = min(0.0, deeper)
    whole = {s: _whole_bytes(graph, s, alignment) for s in points}
    start = all_geos[0].index
    cands = []
    for s in points:
        _, h, w, _ = graph.tensor(graph.ops[s].outputs[0]).shape
        geos = all_geos[: s - start + 1]
        # halos only add work: the stage's extra cycles without them bound every grid's from below
        if whole[s] >= plain or sum(floors[start : s + 1]) > limit:
            continue
        inputs = stage_inputs(graph, start, s)
        cheapest = None
        for p in (forced,) if forced else range(2, MAX_PATCHES + 1):
            if p > min(h, w):
                break
            figures = stage_figures(graph, geos, p, inputs, _span, lambda op: op_macs(graph, op))
            # None: an interval wholly in the padding: build the exact 2-D schedule
            sched: Any = figures if figures is not None else _schedule(graph, geos, p, total_macs)
            extra = cost.extra(start, sched.pixels)
            cheapest = extra if cheapest is None else min(cheapest, extra)
            if extra > limit:
                break  # more patches recompute more halo: larger grids of this split cost more still
            cands.append((extra, p, s, sched))
        if cheapest is not None and cheapest + rest[s] > limit:
            break  # no deeper split fits the budget either
    # Rank by a bound no arena can beat: first the bytes that stay whole during the stage (free to compute), then
    # the most bytes live at one op (needs the lifetimes); plan arenas in that order until none can win.
    queue = sorted(((whole[s], extra, p, s, sched) for extra, p, s, sched in cands), key=lambda c: c[:4])
    bases: dict[int, tuple[Buffer, ...]] = {}
    best: tuple[tuple[int, float, int], int, int] | None = None
    for whole_bytes, extra, p, s, sched in queue:
        if best is not None and (whole_bytes, extra, p) >= best[0]:
            break  # its arena is at least `whole`: neither it nor any later candidate can win
        if s not in bases:
            kept = frozenset(i for i in inplace if i > s)
            bases[s] = lifetimes(graph, scratch=scratch, inplace=kept, alignment=alignment)
        bufs = _with_stage(graph, bases[s], sched, alignment)
        if best is not None and (live_peak(bufs), extra, p) >= best[0]:
            continue
        key = (plan_arena(bufs).arena_bytes, extra, p)
        if best is None or key < best[0]:
            best = (key, s, p)
    if best is None or best[0][0] >= plain:
        return None
    (_, extra, p), split, _ = best
    final = _schedule(graph, _geometry(graph, split), p, total_macs)
    return replace(final, est_extra_cycles=extra, est_model_cycles=cost.total)


def live_peak(bufs) -> int:
    """The most bytes live at one op (buffers aliased to one another count once, their largest): the same figure
    as check.lower_bound, by one pass over the buffers instead of one per op."""
    if not bufs:
        return 0
    by_name = {b.name: b for b in bufs}
    groups: dict[str, list[Buffer]] = {}
    for b in bufs:
        root = b
        while root.alias_of is not None:
            root = by_name[root.alias_of]
        groups.setdefault(root.name, []).append(b)
    lo, hi = min(b.first for b in bufs), max(b.last for b in bufs)
    delta = [0] * (hi - lo + 2)
    for members in groups.values():
        if len(members) == 1:
            b = members[0]
            delta[b.first - lo] += b.size
            delta[b.last - lo + 1] -= b.size
            continue
        prev = 0
        for t in range(min(b.first for b in members), max(b.last for b in members) + 2):
            cur = max((b.size for b in members if b.first <= t <= b.last), default=0)
            delta[t - lo] += cur - prev
            prev = cur
    peak = run = 0
    for d in delta[:-1]:
        run += d
        peak = max(peak, run)
    return peak


def work_cost(graph: Graph) -> StageCost:
    """The cost with every kernel at one cycle per unit of work (MACs, or output elements)."""
    return stage_cost(graph, (None,) * len(graph.ops), (None,) * len(graph.ops), {})
