"""Buffer records → Plan: one offset per buffer in a single arena, as small as we can make it.

The algorithm, in plain steps (the placement core is explained in placement.py):
1. Group aliased buffers (in-place outputs, zero-copy views) into blocks that share one base offset, and find
   which blocks are live at the same op. The lower bound is the largest number of bytes live at one op.
2. Run every cheap strategy; each is a block order plus a rule for where a block goes:
   - greedy_size: largest block first, at the lowest offset that clears every placed neighbour (TFLM's order);
   - greedy_size_bestfit: the same order, in the tightest gap that holds it;
   - greedy_first_use and greedy_first_use_bestfit: by first use, larger first on ties;
   - greedy_area: by bytes x ops live (the largest "rectangles" first);
   - greedy_pressure: blocks that are live while the most bytes are live first;
   - two_ended: by first use, alternately against the bottom and against a cap, the cap bisected from the lower
     bound up (optimal on chains: each op's input and output end at opposite ends of the arena).
3. Keep the smallest arena (the first strategy listed wins ties). If it is above the lower bound, sort its blocks
   by offset and improve from that order with a local search over orders and, on small problems, with a bounded
   branch-and-bound, which is exact when it finishes within its budget.
4. Return a frozen Plan: offsets by buffer name (aliases at their block's base), arena_bytes = the high-water mark,
   the lower bound, the first op where it is reached (peak_op: the op that sets the peak when the plan meets the
   bound; the op to shrink first in any case) and the winning strategy's name.
Every step is deterministic: the same buffers always give the same plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from ..errors import InternalError
from .buffers import Buffer
from .placement import Problem, best_fit, build_problem, lowest, place
from .search import branch_and_bound, local_search, order_of, two_ended_search


@dataclass(frozen=True)
class Plan:
    """Where every buffer lives in the one arena, and how big the arena is."""

    offsets: Mapping[str, int]
    arena_bytes: int
    peak_op: int
    lower_bound: int
    strategy: str
    buffers: tuple[Buffer, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "offsets", MappingProxyType(dict(self.offsets)))

    @property
    def peak(self) -> int:
        return self.arena_bytes

    def offset(self, name: str) -> int:
        return self.offsets[name]

    def buffer(self, name: str) -> Buffer:
        for b in self.buffers:
            if b.name == name:
                return b
        raise KeyError(name)


Strategy = Callable[[Problem], list[int]]


def _greedy(key: Callable[[Problem, int], tuple], fit=lowest) -> Strategy:
    def run(prob: Problem) -> list[int]:
        return place(sorted(range(len(prob.blocks)), key=lambda i: key(prob, i)), prob, fit)[0]

    return run


def _by_size(prob: Problem, i: int) -> tuple:
    b = prob.blocks[i]
    return (-b.size, b.first, i)


def _by_first_use(prob: Problem, i: int) -> tuple:
    b = prob.blocks[i]
    return (b.first, -b.size, i)


def _by_area(prob: Problem, i: int) -> tuple:
    b = prob.blocks[i]
    return (-b.area, -b.size, i)


def _by_pressure(prob: Problem, i: int) -> tuple:
    b = prob.blocks[i]
    return (-(b.size + sum(prob.blocks[j].size for j, _, _ in prob.conflicts[i])), -b.size, i)


def _two_ended(prob: Problem) -> list[int]:
    start, peak = place(sorted(range(len(prob.blocks)), key=lambda i: _by_size(prob, i)), prob)
    return two_ended_search(prob, peak) or start


def _local_search(prob: Problem) -> list[int]:
    return local_search(prob, sorted(range(len(prob.blocks)), key=lambda i: _by_size(prob, i)))[0]


def _branch_and_bound(prob: Problem) -> list[int]:
    return branch_and_bound(prob, sorted(range(len(prob.blocks)), key=lambda i: _by_size(prob, i)))[0]


CHEAP: dict[str, Strategy] = {
    "greedy_size": _greedy(_by_size),
    "greedy_size_bestfit": _greedy(_by_size, best_fit),
    "greedy_first_use": _greedy(_by_first_use),
    "greedy_first_use_bestfit": _greedy(_by_first_use, best_fit),
    "greedy_area": _greedy(_by_area),
    "greedy_pressure": _greedy(_by_pressure),
    "two_ended": _two_ended,
}
STRATEGIES: Mapping[str, Strategy] = MappingProxyType(
    {**CHEAP, "local_search": _local_search, "branch_and_bound": _branch_and_bound}
)


def run_strategy(name: str, buffers: Sequence[Buffer]) -> Plan:
    """Plan with one named strategy only (tests and comparisons)."""
    prob = build_problem(buffers)
    return _make_plan(buffers, prob, STRATEGIES[name](prob), name)


# the last few plans by (buffers, strategies, search): a plan is a pure function of them and immutable, and the
# passes of one plan_model often plan the same buffers twice (mark_inplace's trial and plan_arena's bare plan)
_RECENT: dict[tuple, Plan] = {}
_RECENT_LIMIT = 8


def plan_arena(buffers: Sequence[Buffer], *, strategies: Sequence[str] = tuple(CHEAP), search: bool = True) -> Plan:
    """The smallest plan among `strategies`, then improved by searching over orders when above the lower bound."""
    key = (tuple(buffers), tuple(strategies), search)
    hit = _RECENT.get(key)
    if hit is None:
        hit = _plan_arena(key[0], strategies, search)
        if len(_RECENT) >= _RECENT_LIMIT:
            del _RECENT[next(iter(_RECENT))]
        _RECENT[key] = hit
    return hit


def _plan_arena(buffers: tuple[Buffer, ...], strategies: Sequence[str], search: bool) -> Plan:
    for name in strategies:
        if name not in STRATEGIES:
            raise InternalError(f"unknown planner strategy '{name}' (known: {', '.join(STRATEGIES)})")
    prob = build_problem(buffers)
    best_name, best_off, best_peak = "empty", [], 0
    for name in strategies:
        off = STRATEGIES[name](prob)
        peak = _arena_of(prob, off)
        if best_name == "empty" or peak < best_peak:
            best_name, best_off, best_peak = name, off, peak
        if best_peak <= prob.lower_bound:
            break
    if search and prob.blocks and best_peak > prob.lower_bound:
        start = order_of(best_off, prob)
        for name, improve in (("local_search", local_search), ("branch_and_bound", branch_and_bound)):
            off, peak = improve(prob, start)
            if peak < best_peak:
                best_name, best_off, best_peak = f"{best_name}+{name}", off, peak
                start = order_of(off, prob)
    return _make_plan(buffers, prob, best_off, best_name)


def _arena_of(prob: Problem, off: Sequence[int]) -> int:
    return max((o + b.size for o, b in zip(off, prob.blocks)), default=0)


def _make_plan(buffers: Sequence[Buffer], prob: Problem, off: Sequence[int], strategy: str) -> Plan:
    offsets = {name: o for o, blk in zip(off, prob.blocks) for name in blk.names}
    arena = max((offsets[b.name] + b.size for b in buffers), default=0)
    return Plan(offsets, arena, prob.busiest_op, prob.lower_bound, strategy, tuple(buffers))
