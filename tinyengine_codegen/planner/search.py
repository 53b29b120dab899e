"""Placement strategies that search: two-ended packing, a bounded branch-and-bound, and a local search over orders.

All three are deterministic (a fixed seed, budgets counted in placements, never in seconds), so one graph always
gets the same plan. Each returns (base per block, arena bytes) and never does worse than the order it starts from.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .placement import Problem, highest, lowest, place

BNB_MAX_BLOCKS = 14  # the exact search runs only on problems this small ...
BNB_BUDGET = 30_000  # ... and gives up after this many candidate placements
LOCAL_BUDGET = 12_000  # block placements spent by the local search


def order_of(off: Sequence[int], prob: Problem) -> list[int]:
    """Blocks by base offset (larger first on ties): lowest-fit placement in this order is never worse than `off`."""
    return sorted(range(len(off)), key=lambda i: (off[i], -prob.blocks[i].size, i))


def two_ended(prob: Problem, cap: int) -> list[int] | None:
    """Place blocks by first use, alternately against the bottom and against `cap`; None if one does not fit.

    A block goes to the end opposite to its most recent placed neighbour, so on a chain each op's input and output
    sit at opposite ends: a chain fits in the largest sum of two neighbours, its lower bound.
    """
    blocks = prob.blocks
    off, top_side = [-1] * len(blocks), [False] * len(blocks)
    for i in sorted(range(len(blocks)), key=lambda i: (blocks[i].first, -blocks[i].size, i)):
        size = blocks[i].size
        lo = lowest(i, prob, off)
        hi = highest(i, prob, off, cap - size) if cap >= size else None
        placed = [j for j, _, _ in prob.conflicts[i] if off[j] >= 0]
        want_top = bool(placed) and not top_side[max(placed, key=lambda j: (blocks[j].first, j))]
        if want_top and hi is not None:
            off[i], top_side[i] = hi, True
        elif lo + size <= cap:
            off[i] = lo
        elif hi is not None:
            off[i], top_side[i] = hi, True
        else:
            return None
    return off


def two_ended_search(prob: Problem, start_peak: int, steps: int = 10) -> list[int] | None:
    """Bisect the smallest cap in [lower bound, start_peak) at which `two_ended` succeeds."""
    lo, hi, best = prob.lower_bound, start_peak - 1, None
    off = two_ended(prob, lo) if lo <= hi else None
    if off is not None:
        return off
    lo += 1
    for _ in range(steps):
        if lo > hi:
            break
        mid = (lo + hi) // 2
        off = two_ended(prob, mid)
        if off is None:
            lo = mid + 1
        else:
            best, hi = off, mid - 1
    return best


def branch_and_bound(prob: Problem, order: Sequence[int], budget: int = BNB_BUDGET) -> tuple[list[int], int]:
    """Depth-first search over placement orders (lowest fit), pruned by the best arena found; stops at the
    lower bound or after `budget` candidate placements. Exact when it finishes within the budget."""
    n = len(prob.blocks)
    best_off, best_peak = place(order, prob)
    if n > BNB_MAX_BLOCKS or best_peak <= prob.lower_bound:
        return best_off, best_peak
    state = {"peak": best_peak, "left": budget}
    found = {"off": best_off}
    off = [-1] * n

    def dfs(depth: int, peak: int) -> None:
        if depth == n:
            state["peak"], found["off"] = peak, list(off)
            return
        cands = []
        for i in range(n):
            if off[i] < 0:
                o = lowest(i, prob, off)
                top = max(peak, o + prob.blocks[i].size)
                if top < state["peak"]:
                    cands.append((top, -prob.blocks[i].size, i, o))
        state["left"] -= n - depth
        for top, _, i, o in sorted(cands):
            if state["left"] <= 0 or state["peak"] <= max(top, prob.lower_bound) or state["peak"] == prob.lower_bound:
                return
            off[i] = o
            dfs(depth + 1, top)
            off[i] = -1

    dfs(0, 0)
    return found["off"], state["peak"]


def local_search(
    prob: Problem, order: Sequence[int], budget: int = LOCAL_BUDGET, seed: int = 0
) -> tuple[list[int], int]:
    """Move blocks that touch the arena top to earlier places in the order; keep moves that do not raise the peak."""
    n = len(prob.blocks)
    cur = list(order)
    off, peak = place(cur, prob)
    if n < 2:
        return off, peak
    rng = np.random.default_rng(seed)
    for _ in range(budget // n):
        if peak <= prob.lower_bound:
            break
        tops = [k for k, i in enumerate(cur) if off[i] + prob.blocks[i].size == peak and k > 0]
        k = int(rng.choice(tops)) if tops and rng.random() < 0.8 else int(rng.integers(1, n))
        cand = list(cur)
        cand.insert(int(rng.integers(0, k)), cand.pop(k))
        cand_off, cand_peak = place(cand, prob)
        if cand_peak <= peak:
            cur, off, peak = cand, cand_off, cand_peak
    return off, peak
