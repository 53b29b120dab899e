"""Execution order: choose the topological order of the ops that needs the fewest live bytes.

The algorithm, in plain steps:
1. A state is the set S of ops already run (closed under producers). The bytes live while op v runs right after
   S depend only on S and v: every tensor written by S (or a graph input) that an op outside S still reads or that
   is a graph output, plus v's outputs and v's scratch bytes.
2. Dynamic programming over states, breadth first by |S|: the best peak to reach S ∪ {v} is the smaller over its
   predecessors of max(best peak of S, bytes while v runs). Ties keep the order closest to the given one.
3. Chains have one state per step, and residual or parallel branches only a few, so this is exact and fast on
   the networks we plan. Graphs with more than `max_states` states at one step keep their given order.
4. The result is a permutation of op indices; `reorder` applies it. In-place marks and scratch sizes are keyed
   by op index, so run this before choosing them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ..errors import InternalError
from ..ir.graph import Graph


def _masks(graph: Graph) -> tuple[list[int], list[tuple[int, int, int]]]:
    """Per op the bit mask of the ops it depends on; per activation (bytes, producer mask, reader mask)."""
    deps, tensors = [], []
    for op in graph.ops:
        m = 0
        for t in op.inputs:
            p = graph.producer(t) if t else None
            if p is not None:
                m |= 1 << p
        deps.append(m)
    end = 1 << len(graph.ops)  # a pseudo reader: graph outputs are read after the last op
    for tensor in graph.activations():
        p = graph.producer(tensor.name)
        readers = sum(1 << c for c in set(graph.consumers(tensor.name)))
        readers |= end if tensor.name in graph.outputs else 0
        tensors.append((tensor.nbytes, 0 if p is None else 1 << p, readers))
    return deps, tensors


def _step_bytes(s: int, v: int, tensors, scratch: Mapping[int, int]) -> int:
    bit = 1 << v
    live = scratch.get(v, 0)
    for nbytes, prod, readers in tensors:
        if prod == bit or ((prod & s) == prod and readers & ~s):
            live += nbytes
    return live


def best_order(graph: Graph, *, scratch: Mapping[int, int] | None = None, max_states: int = 4096) -> tuple[int, ...]:
    """The topological order with the smallest peak of live bytes (the given order when the search is too wide)."""
    scratch = scratch or {}
    n = len(graph.ops)
    deps, tensors = _masks(graph)
    # bytes while v runs right after S = the bytes S leaves live (the same for every v) + v's outputs and scratch
    own = [scratch.get(v, 0) for v in range(n)]
    for nbytes, prod, _readers in tensors:
        if prod:
            own[prod.bit_length() - 1] += nbytes
    layer: dict[int, tuple[int, tuple[int, ...]]] = {0: (0, ())}
    for _ in range(n):
        nxt: dict[int, tuple[int, tuple[int, ...]]] = {}
        for s, (peak, order) in layer.items():
            left = sum(nbytes for nbytes, prod, readers in tensors if (prod & s) == prod and readers & ~s)
            for v in range(n):
                if not (s >> v) & 1 and (deps[v] & s) == deps[v]:
                    cand = (max(peak, left + own[v]), order + (v,))
                    key = s | (1 << v)
                    if key not in nxt or cand < nxt[key]:
                        nxt[key] = cand
        if len(nxt) > max_states:
            return tuple(range(n))
        layer = nxt
    return layer[(1 << n) - 1][1] if n else ()


def order_peak(graph: Graph, order: tuple[int, ...], scratch: Mapping[int, int] | None = None) -> int:
    """The most bytes live at one step when the ops run in `order`."""
    _deps, tensors = _masks(graph)
    s, peak = 0, 0
    for v in order:
        peak = max(peak, _step_bytes(s, v, tensors, scratch or {}))
        s |= 1 << v
    return peak


def reorder(graph: Graph, order: tuple[int, ...]) -> Graph:
    """The same graph with its ops in `order` (a permutation of op indices)."""
    if sorted(order) != list(range(len(graph.ops))):
        raise InternalError(f"order {order} is not a permutation of {len(graph.ops)} ops")
    return replace(graph, ops=tuple(graph.ops[i] for i in order))
