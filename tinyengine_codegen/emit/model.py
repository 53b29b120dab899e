"""model.c / model.h / weights.c of one planned model: one static arena with the planner's offsets baked in, one
function per layer, the patch stage (when planned) as a loop over patches with per-op region tables, the call
sequence with TINYML_LAYER_BEGIN/END hooks, the I/O API of docs/c_api.md and optional canaries.

`generate` takes a planner.model_plan.ModelPlan and emits exactly it: the plan's op order, the kernel it chose for
each op (its bound kernel records, never selected again), its in-place ops, scratch buffers, patch schedule
and arena.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..errors import InternalError, TinyMLError
from ..ir.graph import Graph, Op
from ..kernels.registry import select
from ..kernels.spec import Binding, WeightTable, activation_inputs, may_run_in_place
from ..planner.model_plan import BoundKernel, ModelPlan
from .env import TEMPLATES_DIR, c_ident, render
from .plan import ArenaPlan, check_covers, from_model_plan
from .stage import region_rows
from .weights import declarations, render_weights

_C_TYPES = {"int8": "int8_t", "float32": "float", "int32": "int32_t"}


@dataclass(frozen=True)
class GeneratedProject:
    """The generated files (name → text) and what was decided on the way."""

    files: Mapping[str, str]
    prefix: str
    arena_bytes: int
    kernels: tuple[str, ...]  # kernel name per op, in execution order
    plan: ArenaPlan
    manifest: Mapping[str, object]

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))


def bound_kernels(mp: ModelPlan) -> tuple[BoundKernel, ...]:
    """The kernel record the plan bound to each op; InternalError when a record contradicts the plan."""
    graph = mp.graph
    if len(mp.kernels) != len(graph.ops):
        raise InternalError(f"graph '{graph.name}': the plan binds {len(mp.kernels)} kernels to {len(graph.ops)} ops")
    out = []
    for i, (op, k) in enumerate(zip(graph.ops, mp.kernels)):
        if k is None:
            select(op, graph, mp.target)  # raises the user-facing error for an op without a C kernel
            raise InternalError(f"op {i} '{op.name}': the plan has no kernel for it")
        if i in mp.inplace and not may_run_in_place(k.spec, op):
            raise InternalError(
                f"op {i} '{op.name}': the plan runs it in place, but kernel '{k.name}' does not "
                "write its output over its input"
            )
        if k.spec.inplace and i not in mp.inplace:
            raise InternalError(
                f"op {i} '{op.name}': in-place kernel '{k.name}' bound to an op the plan gives its own output buffer"
            )
        if int(k.spec.scratch_bytes(op, graph)) != k.scratch:
            raise InternalError(
                f"op {i} '{op.name}': kernel '{k.name}' needs {k.spec.scratch_bytes(op, graph)} scratch "
                f"bytes, the plan reserved {k.scratch}"
            )
        out.append(k)
    return tuple(out)


def _boundary(graph: Graph, names: tuple[str, ...], what: str):
    if len(names) != 1:
        raise TinyMLError(
            f"graph '{graph.name}' has {len(names)} {what}s; the generated C API takes exactly one "
            f"{what} (split the model or merge its {what}s)"
        )
    t = graph.tensor(names[0])
    if t.dtype not in _C_TYPES:
        raise TinyMLError(
            f"graph '{graph.name}': {what} '{t.name}' is {t.dtype}; only int8 or float32 {what}s are supported"
        )
    return t


def _c_row(row: tuple[int, ...]) -> str:
    rest = ", ".join(map(str, row[4:]))
    return f"{{{{{row[0]}, {row[1]}}}, {{{row[2]}, {row[3]}}}, {rest}}}"


def _layer(
    i: int, op: Op, k: BoundKernel, graph: Graph, plan: ArenaPlan, weights: WeightTable, rows: list | None
) -> dict:
    """Render one layer function and describe its call (and its region table inside a patch stage)."""
    spec = k.spec
    fn = f"l{i}_{c_ident(op.kind.value.lower())}"
    ins = activation_inputs(graph, op)
    offsets = {t: plan.offset(t) for t in ins + list(op.outputs)}
    scratch = plan.scratch_offset(i) if k.scratch else None
    if k.scratch and scratch is None:
        raise InternalError(f"op {i} '{op.name}': kernel '{spec.name}' needs scratch, the plan placed none")
    if spec.inplace and offsets[op.inputs[0]] != offsets[op.outputs[0]]:
        raise InternalError(f"op {i} '{op.name}': in-place kernel, but input and output sit at different offsets")
    binding = Binding(i, fn, graph, weights, offsets, scratch)
    params = [f"const int8_t *in{k}" for k in range(len(ins))] + [f"int8_t *out{k}" for k in range(len(op.outputs))]
    args = [offsets[t] for t in ins] + [offsets[t] for t in op.outputs]
    if scratch is not None:
        params.append("int8_t *scratch")
        args.append(scratch)
    if rows is not None:
        params.append("const tinyml_region_t *r")
    ctx = dict(spec.context(op, graph, binding))
    ctx.update(fn=fn, layer=op.name, kind=op.kind.value, params=", ".join(params) or "void")
    # the arena bytes this layer may touch (sanitized builds poison every other byte while it runs)
    touch = [(offsets[t], graph.tensor(t).nbytes) for t in ins + list(op.outputs)]
    touch += [(scratch, spec.scratch_bytes(op, graph))] if scratch is not None else []
    code = render(f"kernels/{spec.name}.c.j2", **ctx)
    return dict(
        index=i,
        fn=fn,
        args=args,
        code=code,
        kernel=spec.name,
        name=op.name,
        regions=None if rows is None else [_c_row(r) for r in rows],
        touch=[v for pair in touch for v in pair],
    )


def generate(mp: ModelPlan, *, prefix: str = "tinyml", canaries: bool = False) -> GeneratedProject:
    """C sources that run the ModelPlan `mp` (passes.plan_model) for its target."""
    if c_ident(prefix) != prefix:
        raise TinyMLError(f"symbol prefix '{prefix}' is not a C identifier; use letters, digits and '_'")
    graph = mp.graph
    x, y = _boundary(graph, graph.inputs, "input"), _boundary(graph, graph.outputs, "output")
    if not graph.ops:
        raise InternalError(f"graph '{graph.name}' has no operators")
    kernels = bound_kernels(mp)
    plan = from_model_plan(mp)
    sched = mp.patches
    check_covers(plan, graph, mp.scratch, sched.buffer_bytes if sched is not None else None)
    rows = region_rows(graph, sched) if sched is not None else {}
    weights = WeightTable(prefix)
    layers = [_layer(i, op, s, graph, plan, weights, rows.get(i)) for i, (op, s) in enumerate(zip(graph.ops, kernels))]
    io = dict(
        in_type=_C_TYPES[x.dtype],
        in_size=x.size,
        in_offset=plan.offset(x.name),
        out_type=_C_TYPES[y.dtype],
        out_size=y.size,
        out_offset=plan.offset(y.name),
    )
    stage = (
        None
        if sched is None
        else dict(
            patches=len(sched.patches), p=sched.p, split=sched.split_op, split_layer=graph.ops[sched.split_op].name
        )
    )
    ctx = dict(
        p=prefix,
        P=prefix.upper(),
        graph=graph.name,
        arena=plan.arena_bytes,
        layers=layers,
        io=io,
        externs=declarations(weights),
        canaries=canaries,
        bad_args_rc=-(len(layers) + 1),
        strategy=plan.strategy,
        stage=stage,
        inplace=sorted(mp.inplace),
    )
    manifest = dict(
        name=graph.name,
        prefix=prefix,
        arena_bytes=plan.arena_bytes,
        input=dict(name=x.name, dtype=x.dtype, shape=list(x.shape)),
        output=dict(name=y.name, dtype=y.dtype, shape=list(y.shape)),
        inplace_layers=sorted(mp.inplace),
        patches=stage,
        layers=[dict(name=lay["name"], kernel=lay["kernel"]) for lay in layers],
    )
    files = {
        "model.c": render("model/model.c.j2", **ctx),
        "model.h": render("model/model.h.j2", **ctx),
        "weights.c": render_weights(weights, f"model '{graph.name}'"),
        "tinyml_runtime.h": (TEMPLATES_DIR / "runtime" / "tinyml_runtime.h").read_text(),
        "manifest.json": json.dumps(manifest, indent=2) + "\n",
    }
    return GeneratedProject(files, prefix, plan.arena_bytes, tuple(lay["kernel"] for lay in layers), plan, manifest)
