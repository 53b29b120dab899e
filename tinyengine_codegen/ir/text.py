"""Readable text dump of a graph, for --dump-ir and for test failure messages."""

from __future__ import annotations

from dataclasses import fields

from .graph import Graph, Tensor


def _tensor(t: Tensor | None) -> str:
    if t is None:
        return "-"
    shape = "x".join(str(d) for d in t.shape) or "scalar"
    q = ""
    if t.quant is not None:
        q = (
            f" q[{len(t.quant.scale)} ch, axis {t.quant.axis}]"
            if t.quant.per_channel
            else f" q({t.quant.scale[0]:.6g}, {t.quant.zero_point[0]})"
        )
    return f"{'const ' if t.is_const else ''}{t.dtype}[{shape}]{q} {t.name}"


def _attrs(attrs) -> str:
    parts = []
    for f in fields(attrs):
        v = getattr(attrs, f.name)
        parts.append(f"{f.name}={getattr(v, 'value', v)}")
    return ", ".join(parts)


def dump(graph: Graph) -> str:
    lines = [f"graph {graph.name}"]
    lines += [f"  input  {_tensor(graph.tensors[n])}" for n in graph.inputs]
    lines += [f"  output {_tensor(graph.tensors[n])}" for n in graph.outputs]
    for i, op in enumerate(graph.ops):
        lines.append(f"  #{i} {op.name} = {op.kind.value}({_attrs(op.attrs)})")
        lines += [f"      in  {_tensor(graph.tensors[t] if t else None)}" for t in op.inputs]
        lines += [f"      out {_tensor(graph.tensors[t])}" for t in op.outputs]
    return "\n".join(lines) + "\n"
