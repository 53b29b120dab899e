"""The patch search: which split op and patch count `--patches auto` (or a forced count) runs with.

Every split point and p x p grid is costed with the fast separable figures (planner/patch_fast.py) and the
estimated cycles of its stage (planner/patch_cost.py); among those whose extra cycles stay within the budget the
search keeps the one with the smallest arena.

The search is best-first: every candidate gets a bound no arena can beat (the most bytes live at one op, found
from the stage's few ops and, once per split point, the ops after it), and full arenas are planned in bound
order until the next bound cannot win. The result is the exact minimum over all candidates of (arena, extra
cycles, patches, whole bytes, split op); on most models one arena is planned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import TinyMLError
from ..ir.cost import graph_macs, op_macs
from ..ir.graph import Graph
from .arena import plan_arena
from .buffers import Buffer, lifetimes
from .live import live_peak, live_profile
from .patch_cost import StageCost, stage_cost
from .patch_fast import stage_figures
from .patch_memory import _with_stage
from .patches import MAX_PATCHES, PatchSchedule, _geometry, _schedule, _span, _whole_bytes, split_points, stage_inputs


@dataclass(frozen=True, slots=True)
class Candidate:
    """One split op and patch count within the budget: its estimated extra cycles, the bytes that stay whole
    during its stage (a bound on its arena) and its figures (duck-typed as a schedule for the buffers)."""

    extra: float
    p: int
    split: int
    whole: int
    figures: Any


def patch_candidates(
    graph: Graph,
    cost: StageCost,
    max_extra: float,
    forced: int | None,
    plain: int,
    alignment: int = 4,
    after: Sequence[int] = (),
) -> list[Candidate]:
    """Every (split op, p) whose extra estimated cycles stay within `max_extra` x cost.total and whose whole bytes
    stay below `plain`, in split and p order (p only `forced` when given). after[t], when given: the most bytes
    live at one op t, t + 1, .. once the stage is over; a split s with after[s + 1] >= plain is skipped (no arena
    of its candidates can be below `plain`)."""
    points = split_points(graph)
    if not points:
        return []
    total_macs = graph_macs(graph)
    limit = max_extra * cost.total
    all_geos = _geometry(graph, points[-1])
    floors = cost.floors(graph)
    # rest[k]: the least that ops k+1.. add to the extra cycles of a stage ending at k when it grows deeper (a
    # deeper stage only widens the halos of the ops before it, so extra(deeper) >= extra(k) + rest[k])
    rest, deeper = [0.0] * len(floors), float("inf")  # deeper: min over s' > k of floors[k+1] + .. + floors[s']
    for k in range(len(floors) - 2, -1, -1):
        deeper = floors[k + 1] + min(0.0, deeper)
        rest[k] = min(0.0, deeper)
    start = all_geos[0].index
    out: list[Candidate] = []
    for s in points:
        _, h, w, _ = graph.tensor(graph.ops[s].outputs[0]).shape
        geos = all_geos[: s - start + 1]
        # halos only add work: the stage's extra cycles without them bound every grid's from below
        if sum(floors[start : s + 1]) > limit:
            continue
        whole = _whole_bytes(graph, s, alignment)
        if whole >= plain or (s + 1 < len(after) and after[s + 1] >= plain):
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
            out.append(Candidate(extra, p, s, whole, sched))
        if cheapest is not None and cheapest + rest[s] > limit:
            break  # no deeper split fits the budget either
    return out


def choose_patches(
    graph: Graph,
    *,
    cost: StageCost | None = None,
    max_extra: float = 0.10,
    forced: int | None = None,
    inplace: frozenset[int] = frozenset(),
    scratch: Mapping[int, int] | None = None,
    alignment: int = 4,
    plain: int | None = None,
) -> PatchSchedule | None:
    """The schedule with the smallest peak SRAM whose estimated extra cycles stay within `max_extra` x the model's
    estimated cycles (`cost`, planner/patch_cost.py; None: one cycle per MAC or output element for every kernel,
    a budget of extra work), over every split point and p in 2..8 (only `forced` when given); fewer extra cycles,
    then fewer patches break ties. None unless its peak is strictly below the plan without patches (`plain`: its
    arena bytes when the caller has planned it, with the same inplace, scratch and alignment)."""
    if forced is not None and forced < 2:
        raise TinyMLError(f"patch count {forced}: use 2 or more (or patches off)")
    if not split_points(graph):
        return None
    cost = cost or work_cost(graph)
    if plain is None:
        plain = plan_arena(lifetimes(graph, scratch=scratch, inplace=inplace, alignment=alignment)).arena_bytes
    tails = _suffix_peaks(lifetimes(graph, scratch=scratch, inplace=inplace, alignment=alignment))
    cands = patch_candidates(graph, cost, max_extra, forced, plain, alignment, tails)
    best = best_candidate(graph, cands, inplace=inplace, scratch=scratch, alignment=alignment, tails=tails)
    if best is None or best[0] >= plain:
        return None
    _, c = best
    final = _schedule(graph, _geometry(graph, c.split), c.p, graph_macs(graph))
    return replace(final, est_extra_cycles=c.extra, est_model_cycles=cost.total)


def best_candidate(
    graph: Graph,
    cands: Sequence[Candidate],
    *,
    inplace: frozenset[int] = frozenset(),
    scratch: Mapping[int, int] | None = None,
    alignment: int = 4,
    tails: Sequence[int] | None = None,
) -> tuple[int, Candidate] | None:
    """(arena bytes, candidate) of the least (arena, extra, p, whole, split) over `cands`, by best-first search:
    candidates in the order of their live-bytes bound (no arena is below it), arenas planned until the next
    bound cannot win. `tails`: _suffix_peaks of the plan with every in-place op, when the caller has it."""
    if not cands:
        return None
    # During a stage ending at s no in-place op inside it runs in place, and the ops after it keep theirs: the
    # buffers that exist during the stage are those of the plan without in-place ops, and the bytes live at each
    # op after it are those of the plan with all of them (an in-place op inside the stage only joins stage
    # tensors, dead after it, to the alias groups of later ops).
    early = lifetimes(graph, scratch=scratch, alignment=alignment)
    if tails is None:
        tails = _suffix_peaks(lifetimes(graph, scratch=scratch, inplace=inplace, alignment=alignment))
    scored = []
    for c in cands:
        stage = _with_stage(graph, tuple(b for b in early if b.first <= c.split), c.figures, alignment)
        bound = max(tails[c.split + 1] if c.split + 1 < len(tails) else 0, live_peak(stage, hi=c.split))
        scored.append(((bound, c.extra, c.p, c.whole, c.split), c))
    scored.sort(key=lambda x: x[0])
    bases: dict[int, tuple[Buffer, ...]] = {}
    best: tuple[tuple, Candidate] | None = None
    for key, c in scored:
        if best is not None and key >= best[0]:
            break  # its arena is at least its bound: neither it nor any later candidate can win
        if c.split not in bases:
            kept = frozenset(i for i in inplace if i > c.split)
            bases[c.split] = lifetimes(graph, scratch=scratch, inplace=kept, alignment=alignment)
        arena = plan_arena(_with_stage(graph, bases[c.split], c.figures, alignment)).arena_bytes
        full = (arena, *key[1:])
        if best is None or full < best[0]:
            best = (full, c)
    return None if best is None else (best[0][0], best[1])


def _suffix_peaks(bufs: Sequence[Buffer]) -> list[int]:
    """out[t]: the most bytes live at one op t, t + 1, .. (aliased buffers count once, their largest)."""
    live = live_profile(bufs)
    out = [0] * (len(live) + 1)
    for t in range(len(live) - 1, -1, -1):
        out[t] = max(out[t + 1], live[t])
    return out


def work_cost(graph: Graph) -> StageCost:
    """The cost with every kernel at one cycle per unit of work (MACs, or output elements)."""
    return stage_cost(graph, (None,) * len(graph.ops), (None,) * len(graph.ops), {})
