"""An independent oracle for arena plans: O(N^2) on purpose, sharing no code with the strategies.

check_plan raises InternalError when a plan is unsafe or misreported; lower_bound is the most bytes live at one op.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import InternalError
from .arena import Plan
from .buffers import Buffer


def _roots(buffers: Sequence[Buffer]) -> dict[str, str]:
    """Each buffer's alias root: the buffer reached by following `alias_of` until it ends."""
    by_name = {b.name: b for b in buffers}
    roots = {}
    for b in buffers:
        cur, hops = b, 0
        while cur.alias_of is not None:
            if cur.alias_of not in by_name or hops > len(buffers):
                raise InternalError(f"buffer '{b.name}': alias chain broken or cyclic at '{cur.name}'")
            cur, hops = by_name[cur.alias_of], hops + 1
        roots[b.name] = cur.name
    return roots


def live_bytes(buffers: Sequence[Buffer]) -> dict[int, int]:
    """Bytes live at each op; aliased buffers live together count once (their largest)."""
    roots = _roots(buffers)
    out = {}
    for t in range(min((b.first for b in buffers), default=0), max((b.last for b in buffers), default=-1) + 1):
        per_root: dict[str, int] = {}
        for b in buffers:
            if b.first <= t <= b.last:
                per_root[roots[b.name]] = max(per_root.get(roots[b.name], 0), b.size)
        out[t] = sum(per_root.values())
    return out


def lower_bound(buffers: Sequence[Buffer]) -> int:
    """Max over ops of the bytes live at that op: no plan can use a smaller arena."""
    return max(live_bytes(buffers).values(), default=0)


def check_plan(buffers: Sequence[Buffer], plan: Plan, alignment: int = 1) -> None:
    """Raise InternalError unless every buffer fits, aliases sit where declared and live buffers never overlap."""
    roots = _roots(buffers)
    off = plan.offsets
    for b in buffers:
        if b.name not in off:
            raise InternalError(f"plan has no offset for buffer '{b.name}'")
        o = off[b.name]
        if o < 0 or o % alignment or o + b.size > plan.arena_bytes:
            raise InternalError(
                f"buffer '{b.name}' at [{o}, {o + b.size}) is misaligned or outside the {plan.arena_bytes}-byte arena"
            )
        if b.alias_of is not None and o != off[b.alias_of]:
            raise InternalError(f"buffer '{b.name}' at {o} must share the bytes of '{b.alias_of}' at {off[b.alias_of]}")
    for k, a in enumerate(buffers):
        for b in buffers[k + 1 :]:
            if not (a.size and b.size and a.first <= b.last and b.first <= a.last) or roots[a.name] == roots[b.name]:
                continue
            oa, ob = off[a.name], off[b.name]
            if oa < ob + b.size and ob < oa + a.size:
                raise InternalError(
                    f"overlap at op {max(a.first, b.first)}: '{a.name}' [{oa}, {oa + a.size}) "
                    f"conflicts with '{b.name}' [{ob}, {ob + b.size})"
                )
    _check_reported(buffers, plan)


def _check_reported(buffers: Sequence[Buffer], plan: Plan) -> None:
    ends = [(plan.offsets[b.name] + b.size, b) for b in buffers]
    high = max((e for e, _ in ends), default=0)
    if plan.arena_bytes != high:
        raise InternalError(f"plan reports {plan.arena_bytes} arena bytes, but its buffers reach {high}")
    live = live_bytes(buffers)
    bound = max(live.values(), default=0)
    if plan.lower_bound != bound:
        raise InternalError(f"plan reports lower bound {plan.lower_bound}, but it is {bound}")
    busiest = min((t for t, v in live.items() if v == bound), default=0)
    if plan.peak_op != busiest:
        raise InternalError(f"plan reports peak op {plan.peak_op}, but the most bytes are live first at op {busiest}")
