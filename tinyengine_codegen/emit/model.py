"""model.c / model.h / weights.c of one planned model: one static arena with the planner's offsets baked in, one
function per layer, the patch stage (when planned) as a loop over patches with per-op region tables, the call
sequence with TINYML_LAYER_BEGIN/END hooks, the I/O API of docs/c_api.md and optional canaries.

`generate` takes a planner.model_plan.ModelPlan and emits exactly it: the plan's op order, the kernel it chose for
each op (bound by name, never selected again), its in-place ops, scratch buffers, patch schedule and arena.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..errors import InternalError, TinyMLError
from ..ir.graph import Graph, Op
from ..kernels.registry import select, spec_named
from ..kernels.spec import Binding, KernelSpec, TargetLike, WeightTable, activation_inputs, may_run_in_place
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


def bind_kernels(mp, target: TargetLike) -> tuple[KernelSpec, ...]:
    """The KernelSpec the plan chose for each op; InternalError when the plan and the specs disagree."""
    graph = mp.graph
    stage = set(mp.patches.stage) if mp.patches is not None else set()
    out = []
    for i, (op, name) in enumerate(zip(graph.ops, mp.kernels)):
        if name is None:
            select(op, graph, target)  # raises the user-facing error for an op without a C kernel
            raise InternalError(f"op {i} '{op.name}': the plan has no kernel for it")
        spec = spec_named(op, name, stage=i in stage)
        if i in mp.inplace and not may_run_in_place(spec, op):
            raise InternalError(
                f"op {i} '{op.name}': the plan runs it in place, but kernel '{name}' does not "
                "write its output over its input"
            )
        if spec.inplace and i not in mp.inplace:
            raise InternalError(
                f"op {i} '{op.name}': in-place kernel '{name}' bound to an op the plan gives its own output buffer"
            )
        if int(spec.scratch_bytes(op, graph)) != mp.scratch.get(i, 0):
            raise InternalError(
                f"op {i} '{op.name}': kernel '{name}' needs {spec.scratch_bytes(op, graph)} scratch "
                f"bytes, the plan reserved {mp.scratch.get(i, 0)}"
            )
        out.append(spec)
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
    i: int, op: Op, spec: KernelSpec, graph: Graph, plan: ArenaPlan, weights: WeightTable, rows: list | None
) -> dict:
    """Render one layer function and describe its call (and its region table inside a patch stage)."""
    fn = f"l{i}_{c_ident(op.kind.value.lower())}"
    ins = activation_inputs(graph, op)
    offsets = {t: plan.offset(t) for t in ins + list(op.outputs)}
    scratch = plan.scratch_offset(i) if spec.scratch_bytes(op, graph) else None
    if spec.scratch_bytes(op, graph) and scratch is None:
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
    code = render(f"kernels/{spec.name}.c.j2", **ctx)
    return dict(
        index=i,
        fn=fn,
        args=args,
        code=code,
        kernel=spec.name,
        name=op.name,
        regions=None if rows is None else [_c_row(r) for r in rows],
    )


def generate(mp, target: TargetLike, *, prefix: str = "tinyml", canaries: bool = False) -> GeneratedProject:
    """C sources that run the ModelPlan `mp` (planner.model_plan.plan_model) for `target`."""
    if c_ident(prefix) != prefix:
        raise TinyMLError(f"symbol prefix '{prefix}' is not a C identifier; use letters, digits and '_'")
    graph = mp.graph
    x, y = _boundary(graph, graph.inputs, "input"), _boundary(graph, graph.outputs, "output")
    if not graph.ops:
        raise InternalError(f"graph '{graph.name}' has no operators")
    specs = bind_kernels(mp, target)
    plan = from_model_plan(mp)
    sched = mp.patches
    check_covers(plan, graph, mp.scratch, sched.buffer_bytes if sched is not None else None)
    rows = region_rows(graph, sched) if sched is not None else {}
    weights = WeightTable(prefix)
    layers = [_layer(i, op, s, graph, plan, weights, rows.get(i)) for i, (op, s) in enumerate(zip(graph.ops, specs))]
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
