"""Bytes live at each op of a set of buffers, in one pass over them (the planner's fast counterpart of the
O(ops x buffers) oracle in check.py): buffers aliased to one another count once, their largest live member."""

from __future__ import annotations

from collections.abc import Sequence

from .buffers import Buffer


def live_peak(bufs: Sequence[Buffer], lo: int | None = None, hi: int | None = None) -> int:
    """The most bytes live at one op (buffers aliased to one another count once, their largest): the same figure
    as check.lower_bound, by one pass over the buffers instead of one per op. With `lo` / `hi`: only over the
    ops lo..hi."""
    return max(live_profile(bufs, lo, hi), default=0)


def live_profile(bufs: Sequence[Buffer], lo: int | None = None, hi: int | None = None) -> list[int]:
    """Bytes live at each op lo..hi (default: from op 0 to the last op any buffer lives at; aliased buffers
    count once, their largest)."""
    if not bufs:
        return []
    by_name = {b.name: b for b in bufs}
    groups: dict[str, list[Buffer]] = {}
    for b in bufs:
        root = b
        while root.alias_of is not None:
            root = by_name[root.alias_of]
        groups.setdefault(root.name, []).append(b)
    lo = 0 if lo is None else lo
    hi = max(b.last for b in bufs) if hi is None else hi
    if hi < lo:
        return []
    delta = [0] * (hi - lo + 2)  # single buffers, as differences
    live = [0] * (hi - lo + 1)  # alias groups, directly
    for members in groups.values():
        if len(members) == 1:
            b = members[0]
            f, last = max(b.first, lo), min(b.last, hi)
            if f <= last:
                delta[f - lo] += b.size
                delta[last - lo + 1] -= b.size
            continue
        top: dict[int, int] = {}
        for b in members:
            for t in range(max(b.first, lo), min(b.last, hi) + 1):
                if b.size > top.get(t, 0):
                    top[t] = b.size
        for t, size in top.items():
            live[t - lo] += size
    run = 0
    for t in range(len(live)):
        run += delta[t]
        live[t] += run
    return live
