"""Graph equality for tests: `graph_difference` names the first op or tensor where two graphs differ.

Two graphs are equal when they have the same boundary tensor names, the same ops in the same order (kind,
attributes, operand and result names) and, for every tensor those ops or the boundaries use, the same shape,
dtype, quantization and constant data. Tensors nobody uses are ignored, and so is the graph's name.
Scales are compared as float32, the precision a .tflite file stores them in.
"""

from __future__ import annotations

import numpy as np

from tinyengine_codegen.ir.graph import Graph, Op, QuantParams, Tensor


def graph_difference(a: Graph, b: Graph, *, op_names: bool = True) -> str | None:
    """A one-line description of the first difference between `a` and `b`, or None when they are equal.

    Trailing absent operands ("") are ignored, so (x, w) equals (x, w, "")."""
    for what in ("inputs", "outputs"):
        if getattr(a, what) != getattr(b, what):
            return f"graph {what} differ: {getattr(a, what)} vs {getattr(b, what)}"
    if len(a.ops) != len(b.ops):
        kinds_a, kinds_b = [o.kind.value for o in a.ops], [o.kind.value for o in b.ops]
        return f"{len(a.ops)} ops vs {len(b.ops)} ops: {kinds_a} vs {kinds_b}"
    for i, (x, y) in enumerate(zip(a.ops, b.ops)):
        diff = _op_difference(x, y, op_names)
        if diff:
            return f"op {i} '{x.name}' ({x.kind.value}): {diff}"
    for name in _used_tensors(a):
        diff = _tensor_difference(a.tensors[name], b.tensors.get(name))
        if diff:
            return f"tensor '{name}' ({_role(a, name)}): {diff}"
    return None


def assert_graphs_equal(a: Graph, b: Graph, *, op_names: bool = True) -> None:
    diff = graph_difference(a, b, op_names=op_names)
    assert diff is None, diff


def _strip(names: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(names)
    while names and not names[-1]:
        names = names[:-1]
    return names


def _op_difference(x: Op, y: Op, op_names: bool) -> str | None:
    if op_names and x.name != y.name:
        return f"name '{x.name}' vs '{y.name}'"
    if x.kind is not y.kind:
        return f"kind {x.kind.value} vs {y.kind.value}"
    if x.attrs != y.attrs:
        return f"attributes {x.attrs} vs {y.attrs}"
    if _strip(x.inputs) != _strip(y.inputs):
        return f"inputs {x.inputs} vs {y.inputs}"
    if x.outputs != y.outputs:
        return f"outputs {x.outputs} vs {y.outputs}"
    return None


def _used_tensors(g: Graph) -> list[str]:
    names = dict.fromkeys(g.inputs)
    for op in g.ops:
        names.update(dict.fromkeys(t for t in op.inputs + op.outputs if t))
    names.update(dict.fromkeys(g.outputs))
    return list(names)


def _role(g: Graph, name: str) -> str:
    if name in g.inputs:
        return "graph input"
    p = g.producer(name)
    if p is not None:
        return f"output of op '{g.ops[p].name}'"
    users = g.consumers(name)
    return (
        f"{'constant' if g.tensors[name].is_const else 'tensor'} read by op '{g.ops[users[0]].name}'"
        if users
        else "unused"
    )


def _tensor_difference(x: Tensor, y: Tensor | None) -> str | None:
    if y is None:
        return "missing from the second graph"
    if x.shape != y.shape:
        return f"shape {x.shape} vs {y.shape}"
    if x.dtype != y.dtype:
        return f"dtype {x.dtype} vs {y.dtype}"
    diff = _quant_difference(x.quant, y.quant)
    if diff:
        return diff
    if x.is_const != y.is_const:
        return f"constant {x.is_const} vs {y.is_const}"
    if x.is_const:
        da, db = np.asarray(x.data), np.asarray(y.data)
        if da.dtype != db.dtype or da.shape != db.shape:
            return f"data {da.dtype}{da.shape} vs {db.dtype}{db.shape}"
        if not np.array_equal(da, db):
            k = int(np.flatnonzero(da.reshape(-1) != db.reshape(-1))[0])
            return f"data differs at flat index {k}: {da.reshape(-1)[k]} vs {db.reshape(-1)[k]}"
    return None


def _quant_difference(p: QuantParams | None, q: QuantParams | None) -> str | None:
    if (p is None) != (q is None):
        return f"quantization {p} vs {q}"
    if p is None:
        return None
    if not np.array_equal(np.float32(p.scale), np.float32(q.scale)):
        return f"scales {p.scale[:4]} vs {q.scale[:4]} (as float32)"
    if tuple(p.zero_point) != tuple(q.zero_point):
        return f"zero points {p.zero_point[:4]} vs {q.zero_point[:4]}"
    if p.per_channel and p.axis != q.axis:
        return f"quantized axis {p.axis} vs {q.axis}"
    return None
