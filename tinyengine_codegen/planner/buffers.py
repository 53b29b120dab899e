"""Graph → Buffer records: the bytes and the live op interval of every activation and scratch buffer.

Time is the op index in execution order. A buffer is live on the closed interval [first, last]:
1. A graph input is live from op 0 (it is in the arena before the first op runs); any other tensor from the op
   that writes it.
2. A tensor is live until the last op that reads it; a graph output until the last op (it is read after it).
3. Op i's scratch buffer (from `scratch`, op index → bytes) is live on [i, i] only.
4. Sizes are rounded up to `alignment`, so every offset a strategy builds from them stays aligned.

Two kinds of buffers share bytes with another one; they name it in `alias_of` and must sit at its offset:
- a RESHAPE output is a zero-copy view of its (non-constant) input;
- the output of an in-place op (its index is in `inplace`) overwrites its input: a depthwise conv
  (depth multiplier 1, any stride: the output is never larger), a STRIDED_SLICE with positive strides (a
  forward gather never writes ahead of what it still reads), a pointwise CONV_2D (its in-place kernel walks the
  pixels in the direction that never overwrites an unread one; its output may be the larger) or an elementwise
  op whose output has the bytes of the input it overwrites (residual ADD, MUL, activations). The op's small
  temporary, if any, is its scratch buffer. An op may only overwrite a buffer that nothing reads after it;
  asking for more is a bug in the pass that marked it and raises InternalError.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import InternalError
from ..ir.graph import Graph, Op
from ..ir.ops import INPLACE_KINDS, Conv2DAttrs, DepthwiseConv2DAttrs, OpKind, StridedSliceAttrs

SCRATCH_SUFFIX = ":scratch"
_ELEMENTWISE_BINARY = frozenset(
    {OpKind.ADD, OpKind.MUL, OpKind.SUB, OpKind.MAXIMUM, OpKind.MINIMUM, OpKind.SQUARED_DIFFERENCE, OpKind.PRELU}
)
# the output is never larger: a depthwise conv, and a forward gather with positive strides (it reads element
# f(i) >= i before it writes element i)
_SHRINKING = frozenset({OpKind.DEPTHWISE_CONV_2D, OpKind.STRIDED_SLICE})


@dataclass(frozen=True, slots=True)
class Buffer:
    """One arena buffer: `size` bytes live on ops [first, last]; `alias_of` names the buffer whose offset it shares."""

    name: str
    size: int
    first: int
    last: int
    alias_of: str | None = None
    scratch: bool = False

    def __post_init__(self) -> None:
        if self.size < 0 or self.first > self.last:
            raise InternalError(f"buffer '{self.name}': bad record size={self.size} live [{self.first}, {self.last}]")

    def overlaps_in_time(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last


def scratch_name(op: Op) -> str:
    """The name of op's scratch buffer in a Plan."""
    return op.name + SCRATCH_SUFFIX


def lifetimes(
    graph: Graph, *, scratch: Mapping[int, int] | None = None, inplace: frozenset[int] = frozenset(), alignment: int = 4
) -> tuple[Buffer, ...]:
    """Buffers of `graph` in first-appearance order, then the scratch buffers in op order."""
    if alignment < 1:
        raise InternalError(f"alignment must be >= 1, got {alignment}")
    bufs = _activation_buffers(graph, frozenset(inplace), alignment)
    if not scratch:
        return bufs
    return bufs + tuple(_scratch_buffers(graph, scratch, alignment, {b.name for b in bufs}))


@dataclass(frozen=True, slots=True)
class _Facts:
    """What every lifetimes call of one graph shares: activation names in first-appearance order, their first
    and last op, rounded sizes, and the last op that reads each."""

    names: tuple[str, ...]
    first: Mapping[str, int]
    last: Mapping[str, int]
    size: Mapping[str, int]
    read_until: Mapping[str, int]


# per graph (graphs are immutable, so nothing here can go stale; entries go with their graph): the shared facts
# by alignment, and the activation buffers by (in-place ops, alignment): the planner asks for the same ones often
_FACTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_MEMO_LIMIT = 256


def _memo(graph: Graph) -> dict:
    memo = _FACTS.get(graph)
    if memo is None:
        memo = _FACTS[graph] = {}
    return memo


def _facts(graph: Graph, alignment: int) -> _Facts:
    memo = _memo(graph)
    key = ("facts", alignment)
    if key not in memo:
        n = len(graph.ops)
        end = max(n - 1, 0)
        acts = graph.activations()
        first = {t.name: (0 if t.name in graph.inputs else graph.producer(t.name) or 0) for t in acts}
        last = {t.name: end if t.name in graph.outputs else max(graph.last_use(t.name), first[t.name]) for t in acts}
        size = {t.name: _round_up(t.nbytes, alignment) for t in acts}
        read_until = {t.name: graph.last_use(t.name) for t in acts}
        memo[key] = _Facts(tuple(t.name for t in acts), first, last, size, read_until)
    return memo[key]


def _activation_buffers(graph: Graph, inplace: frozenset[int], alignment: int) -> tuple[Buffer, ...]:
    memo = _memo(graph)
    key = ("buffers", inplace, alignment)
    hit = memo.get(key)
    if hit is None:
        f = _facts(graph, alignment)
        alias = _aliases(graph, inplace, f.read_until, f.size)
        hit = tuple(Buffer(t, f.size[t], f.first[t], f.last[t], alias.get(t)) for t in f.names)
        if len(memo) < _MEMO_LIMIT:
            memo[key] = hit
    return hit


def inplace_candidates(graph: Graph, kinds: frozenset[OpKind] = INPLACE_KINDS, alignment: int = 4) -> frozenset[int]:
    """Indices of the ops of `kinds` that `lifetimes` accepts in `inplace` (all of them at once), chosen in op order.

    One walk: whether op i may run in place depends only on the aliases of the ops before it, so each op of
    `kinds` is tried against the aliases built so far and joined when it is accepted."""
    f = _facts(graph, alignment)
    walk = _AliasWalk(f.read_until)
    chosen: set[int] = set()
    for i, op in enumerate(graph.ops):
        if op.kind in kinds:
            try:
                src = _inplace_source(graph, i, op, walk.group_last, f.size)
            except InternalError:
                src = None
            if src is not None:
                walk.join(op.outputs[0], src)
                chosen.add(i)
                continue
        walk.view(graph, op)
    return frozenset(chosen)


def _round_up(nbytes: int, alignment: int) -> int:
    return -(-nbytes // alignment) * alignment


def _scratch_buffers(graph: Graph, scratch: Mapping[int, int], alignment: int, taken: set[str]) -> list[Buffer]:
    out = []
    for i in sorted(scratch):
        if not 0 <= i < len(graph.ops):
            raise InternalError(f"scratch given for op index {i}, but the graph has {len(graph.ops)} ops")
        if scratch[i] < 0:
            raise InternalError(f"op {i} '{graph.ops[i].name}': negative scratch size {scratch[i]}")
        if scratch[i] == 0:
            continue
        name = scratch_name(graph.ops[i])
        if name in taken:
            raise InternalError(f"scratch buffer name '{name}' clashes with a tensor name")
        out.append(Buffer(name, _round_up(scratch[i], alignment), i, i, scratch=True))
    return out


class _AliasWalk:
    """Alias groups built op by op: each aliasing tensor → the tensor whose bytes it shares, and each group's
    members (to find the last op that reads any of them)."""

    def __init__(self, last: Mapping[str, int]):
        self.last = last
        self.alias: dict[str, str] = {}
        self.members: dict[str, list[str]] = {}  # alias group root → every tensor in the group

    def root(self, t: str) -> str:
        while t in self.alias:
            t = self.alias[t]
        return t

    def join(self, out: str, src: str) -> None:
        self.alias[out] = src
        r = self.root(src)
        self.members.setdefault(r, [r]).append(out)

    def group_last(self, t: str) -> int:
        return max(self.last[m] for m in self.members.get(self.root(t), [t]))

    def view(self, graph: Graph, op: Op) -> None:
        """A RESHAPE's output is a zero-copy view of its non-constant input of the same bytes."""
        if op.kind is OpKind.RESHAPE:
            src, out = op.inputs[0], op.outputs[0]
            if not graph.tensor(src).is_const and graph.tensor(src).nbytes == graph.tensor(out).nbytes:
                self.join(out, src)


def _aliases(graph: Graph, inplace: frozenset[int], last: Mapping[str, int], size: Mapping[str, int]) -> dict[str, str]:
    """Map each aliasing tensor to the tensor whose bytes it shares, walking the ops in order."""
    for i in inplace:
        if not 0 <= i < len(graph.ops):
            raise InternalError(f"in-place op index {i} out of range (the graph has {len(graph.ops)} ops)")
    walk = _AliasWalk(last)
    for i, op in enumerate(graph.ops):
        if i in inplace:
            walk.join(op.outputs[0], _inplace_source(graph, i, op, walk.group_last, size))
        else:
            walk.view(graph, op)
    return walk.alias


def _pointwise(graph: Graph, op: Op) -> bool:
    """A 1x1 stride-1 ungrouped CONV_2D: its in-place kernel may write an output larger than its input."""
    if op.kind is not OpKind.CONV_2D:
        return False
    w, x, a = graph.tensor(op.inputs[1]), graph.tensor(op.inputs[0]), op.attrs
    if not isinstance(a, Conv2DAttrs):
        return False
    return w.shape[1:3] == (1, 1) and (a.stride_h, a.stride_w) == (1, 1) and w.shape[3] == x.shape[3]


def _inplace_source(graph: Graph, i: int, op: Op, group_last, size: Mapping[str, int]) -> str:
    """The input that op i overwrites; InternalError when the op may not run in place."""

    def refuse(why: str) -> InternalError:
        return InternalError(f"op {i} '{op.name}' ({op.kind.value}) cannot run in place: {why}")

    if (op.kind not in INPLACE_KINDS and not _pointwise(graph, op)) or len(op.outputs) != 1:
        raise refuse("only depthwise convs, pointwise convs, positive-stride slices and elementwise ops can")
    if isinstance(op.attrs, DepthwiseConv2DAttrs) and op.attrs.depth_multiplier != 1:
        raise refuse(f"depth multiplier {op.attrs.depth_multiplier} != 1")
    if isinstance(op.attrs, StridedSliceAttrs) and min(op.attrs.strides) < 1:
        raise refuse(f"strides {op.attrs.strides} run backwards")
    out = op.outputs[0]
    candidates = op.inputs[:2] if op.kind in _ELEMENTWISE_BINARY else op.inputs[:1]
    why = "no input"
    for src in candidates:
        if not src or graph.tensor(src).is_const:
            why = f"input '{src}' is a constant"
        elif op.kind not in _SHRINKING and op.kind is not OpKind.CONV_2D and size[src] != size[out]:
            why = f"input '{src}' has {size[src]} bytes, output '{out}' {size[out]}"
        elif size[src] < size[out] and op.kind is not OpKind.CONV_2D:
            why = f"output '{out}' ({size[out]} B) is larger than input '{src}' ({size[src]} B)"
        elif group_last(src) > i:
            why = f"input '{src}' (or a view of it) is still read after this op"
        else:
            return src
    raise refuse(why)
