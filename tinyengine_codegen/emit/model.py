"""model.c / model.h / weights.c of one graph: one static arena with baked-in offsets, one function per layer,
the call sequence with TINYML_LAYER_BEGIN/END hooks, the I/O API of docs/c_api.md and optional canaries."""
from __future__ import annotations

import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from ..errors import InternalError, TinyMLError
from ..ir.graph import Graph, Op
from ..kernels.registry import Binding, KernelSpec, TargetLike, WeightTable, activation_inputs, select
from .env import TEMPLATES_DIR, c_ident, render
from .plan import ArenaPlan, adapt, check_covers, planned
from .weights import declarations, render_weights

_C_TYPES = {"int8": "int8_t", "float32": "float"}


@dataclass(frozen=True)
class GeneratedProject:
    """The generated files (name → text) and what was decided on the way."""

    files: Mapping[str, str]
    prefix: str
    arena_bytes: int
    kernels: tuple[str, ...]            # kernel name per op, in execution order
    plan: ArenaPlan
    manifest: Mapping[str, object]

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))


def choose_kernels(graph: Graph, target: TargetLike) -> tuple[KernelSpec, ...]:
    return tuple(select(op, graph, target) for op in graph.ops)


def scratch_sizes(graph: Graph, specs: tuple[KernelSpec, ...]) -> dict[int, int]:
    return {i: s.scratch_bytes(op, graph) for i, (op, s) in enumerate(zip(graph.ops, specs))
            if s.scratch_bytes(op, graph) > 0}


def _boundary(graph: Graph, names: tuple[str, ...], what: str):
    if len(names) != 1:
        raise TinyMLError(f"graph '{graph.name}' has {len(names)} {what}s; the generated C API takes exactly one "
                          f"{what} (split the model or merge its {what}s)")
    t = graph.tensor(names[0])
    if t.dtype not in _C_TYPES:
        raise TinyMLError(f"graph '{graph.name}': {what} '{t.name}' is {t.dtype}; only int8 or float32 {what}s "
                          "are supported")
    return t


def _layer(i: int, op: Op, spec: KernelSpec, graph: Graph, plan: ArenaPlan, weights: WeightTable) -> dict:
    """Render one layer function and describe its call."""
    fn = f"l{i}_{c_ident(op.kind.value.lower())}"
    ins = activation_inputs(graph, op)
    offsets = {t: plan.offset(t) for t in ins + list(op.outputs)}
    scratch = plan.scratch_offset(i) if spec.scratch_bytes(op, graph) else None
    binding = Binding(i, fn, graph, weights, offsets, scratch)
    params = [f"const int8_t *in{k}" for k in range(len(ins))] + [f"int8_t *out{k}" for k in range(len(op.outputs))]
    args = [offsets[t] for t in ins] + [offsets[t] for t in op.outputs]
    if scratch is not None:
        params.append("int8_t *scratch")
        args.append(scratch)
    ctx = dict(spec.context(op, graph, binding))
    ctx.update(fn=fn, layer=op.name, kind=op.kind.value, params=", ".join(params) or "void")
    code = render(f"kernels/{spec.name}.c.j2", **ctx)
    return dict(index=i, fn=fn, args=args, code=code, kernel=spec.name, name=op.name)


def generate(graph: Graph, target: TargetLike, *, plan=None, prefix: str = "tinyml", alignment: int = 4,
             canaries: bool = False) -> GeneratedProject:
    """C sources of `graph` for `target`; `plan` is any arena plan (see plan.py), else one is made here."""
    if c_ident(prefix) != prefix:
        raise TinyMLError(f"symbol prefix '{prefix}' is not a C identifier; use letters, digits and '_'")
    x, y = _boundary(graph, graph.inputs, "input"), _boundary(graph, graph.outputs, "output")
    specs = choose_kernels(graph, target)
    scratch = scratch_sizes(graph, specs)
    plan = planned(graph, scratch, alignment) if plan is None else adapt(plan, graph)
    check_covers(plan, graph, scratch)
    weights = WeightTable(prefix)
    layers = [_layer(i, op, s, graph, plan, weights) for i, (op, s) in enumerate(zip(graph.ops, specs))]
    io = dict(in_type=_C_TYPES[x.dtype], in_size=x.size, in_offset=plan.offset(x.name), out_type=_C_TYPES[y.dtype],
              out_size=y.size, out_offset=plan.offset(y.name))
    ctx = dict(p=prefix, P=prefix.upper(), graph=graph.name, arena=plan.arena_bytes, layers=layers, io=io,
               externs=declarations(weights), canaries=canaries, bad_args_rc=-(len(layers) + 1), strategy=getattr(plan, "strategy", ""))
    manifest = dict(name=graph.name, prefix=prefix, arena_bytes=plan.arena_bytes,
                    input=dict(name=x.name, dtype=x.dtype, shape=list(x.shape)),
                    output=dict(name=y.name, dtype=y.dtype, shape=list(y.shape)),
                    layers=[dict(name=l["name"], kernel=l["kernel"]) for l in layers])
    files = {"model.c": render("model/model.c.j2", **ctx), "model.h": render("model/model.h.j2", **ctx),
             "weights.c": render_weights(weights, f"model '{graph.name}'"),
             "tinyml_runtime.h": (TEMPLATES_DIR / "runtime" / "tinyml_runtime.h").read_text(),
             "manifest.json": json.dumps(manifest, indent=2) + "\n"}
    if not layers:
        raise InternalError(f"graph '{graph.name}' has no operators")
    return GeneratedProject(files, prefix, plan.arena_bytes, tuple(l["kernel"] for l in layers), plan, manifest)
