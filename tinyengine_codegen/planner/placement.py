"""The placement core shared by every arena strategy: blocks, their conflicts, and first-fit placement.

1. Buffers that share bytes (a buffer and everything that names it, directly or not, in `alias_of`) form one
   block. All members of a block sit at the block's base offset, so a block is a "skyline": member m occupies
   [base, base + m.size) during [m.first, m.last].
2. Two blocks conflict when a member of one is live at the same op as a member of the other. For the pair (P, Q)
   we keep a = the largest P member that meets a Q member in time, and b = the same for Q. Every member starts
   at its block's base, so once Q sits at q, P's base o is legal against Q exactly when o + a <= q or o >= q + b:
   the forbidden bases form the one open interval (q - a, q + b).
3. Placing a block = collecting the forbidden intervals of its already placed neighbours, sorting them, and
   sweeping for a legal base (the lowest, the best fitting gap, or the highest under a cap).
4. The arena size is max(base + block size). Placing blocks in the order of their offsets in an optimal
   solution, always at the lowest legal base, never puts a block above its optimal offset (each earlier
   neighbour lies below it there and can only have moved down), so searching over orders can reach the optimum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ..errors import InternalError
from .buffers import Buffer

INF = float("inf")


class Block(NamedTuple):
    """Buffers placed at one common base offset. `members` are (size, first, last) rectangles. (A named tuple:
    the planner builds hundreds per plan, and a frozen dataclass's __init__ costs several times more.)"""

    names: tuple[str, ...]
    members: tuple[tuple[int, int, int], ...]
    size: int
    first: int
    last: int
    area: int


@dataclass(frozen=True, slots=True)
class Problem:
    """Blocks, and for each block its conflicts (other block index, a, b) as described in the module docstring."""

    blocks: tuple[Block, ...]
    conflicts: tuple[tuple[tuple[int, int, int], ...], ...]
    lower_bound: int
    busiest_op: int


def alias_root(name: str, by_name: dict[str, Buffer]) -> str:
    seen = set()
    while by_name[name].alias_of is not None:
        if name in seen:
            raise InternalError(f"alias cycle through buffer '{name}'")
        seen.add(name)
        name = str(by_name[name].alias_of)
        if name not in by_name:
            raise InternalError(f"buffer aliases unknown buffer '{name}'")
    return name


def build_problem(buffers: Sequence[Buffer]) -> Problem:
    by_name = {b.name: b for b in buffers}
    if len(by_name) != len(buffers):
        raise InternalError("two buffers share a name")
    groups: dict[str, list[Buffer]] = {}
    for b in buffers:
        groups.setdefault(alias_root(b.name, by_name), []).append(b)
    blocks = tuple(_block(g) for g in groups.values())
    return Problem(blocks, _conflicts(blocks), *_lower_bound(blocks))


def _block(group: list[Buffer]) -> Block:
    if len(group) == 1:
        b = group[0]
        return Block((b.name,), ((b.size, b.first, b.last),), b.size, b.first, b.last, b.size * (b.last - b.first + 1))
    members = tuple((b.size, b.first, b.last) for b in group)
    return Block(
        names=tuple(b.name for b in group),
        members=members,
        size=max(m[0] for m in members),
        first=min(m[1] for m in members),
        last=max(m[2] for m in members),
        area=sum(s * (hi - lo + 1) for s, lo, hi in members),
    )


def _conflicts(blocks: tuple[Block, ...]) -> tuple[tuple[tuple[int, int, int], ...], ...]:
    out: list[list[tuple[int, int, int]]] = [[] for _ in blocks]
    order = sorted(range(len(blocks)), key=lambda i: blocks[i].first)
    for k, i in enumerate(order):
        p = blocks[i]
        single = len(p.members) == 1
        for j in order[k + 1 :]:
            q = blocks[j]
            if q.first > p.last:
                break
            if single and len(q.members) == 1:  # one rectangle each: they meet in time (q.first <= p.last)
                a, b = (p.size, q.size) if p.size and q.size and p.first <= q.last else (0, 0)
            else:
                a = b = 0
                for ps, pf, pl in p.members:
                    for qs, qf, ql in q.members:
                        if pf <= ql and qf <= pl and ps and qs:
                            a, b = max(a, ps), max(b, qs)
            if a:
                out[i].append((j, a, b))
                out[j].append((i, b, a))
    return tuple(tuple(c) for c in out)


def _lower_bound(blocks: tuple[Block, ...]) -> tuple[int, int]:
    """Max over ops of the live bytes (a block counts the largest of its members live at that op), and the first
    op where it is reached."""
    if not blocks:
        return 0, 0
    t0 = min(b.first for b in blocks)
    n = max(b.last for b in blocks) - t0 + 1
    delta = [0] * (n + 1)  # single-member blocks, as differences
    live = [0] * n  # the other blocks, directly
    for blk in blocks:
        if len(blk.members) == 1:
            s, lo, hi = blk.members[0]
            delta[lo - t0] += s
            delta[hi - t0 + 1] -= s
            continue
        top: dict[int, int] = {}
        for s, lo, hi in blk.members:
            for t in range(lo, hi + 1):
                top[t] = max(top.get(t, 0), s)
        for t, s in top.items():
            live[t - t0] += s
    run = 0
    for t in range(n):
        run += delta[t]
        live[t] += run
    peak = max(live)
    return peak, live.index(peak) + t0


def forbidden(i: int, prob: Problem, off: list[int]) -> list[tuple[int, int]]:
    """Sorted open intervals (lo, hi) of bases that block i may not take, given the placed blocks (off >= 0)."""
    return sorted((off[j] - a, off[j] + b) for j, a, b in prob.conflicts[i] if off[j] >= 0)


def gaps(iv: list[tuple[int, int]]) -> list[tuple[int, float]]:
    """Closed ranges [lo, hi] of legal bases (hi may be INF) between the sorted forbidden intervals."""
    out: list[tuple[int, float]] = []
    cur = 0
    for s, e in iv:
        if cur <= s:
            out.append((cur, s))
        cur = max(cur, e)
    out.append((cur, INF))
    return out


def lowest(i: int, prob: Problem, off: list[int]) -> int:
    o = 0
    for s, e in forbidden(i, prob, off):
        if o <= s:
            break
        if o < e:
            o = e
    return o


def best_fit(i: int, prob: Problem, off: list[int]) -> int:
    """The lowest base of the tightest finite gap that holds the block, else the lowest base above all."""
    free = gaps(forbidden(i, prob, off))
    best = min(((hi - lo, lo) for lo, hi in free[:-1]), default=(0, free[-1][0]))
    return int(best[1])


def highest(i: int, prob: Problem, off: list[int], cap: int) -> int | None:
    """The highest legal base <= cap, or None."""
    best = None
    for lo, hi in gaps(forbidden(i, prob, off)):
        if lo <= cap:
            best = int(min(hi, cap))
    return best


def place(order: Sequence[int], prob: Problem, fit=lowest) -> tuple[list[int], int]:
    """Place blocks in `order` with `fit`; returns (base per block, arena bytes)."""
    off = [-1] * len(prob.blocks)
    peak = 0
    for i in order:
        o = fit(i, prob, off)
        off[i] = o
        peak = max(peak, o + prob.blocks[i].size)
    return off, peak
