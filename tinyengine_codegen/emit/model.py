"""NAME.c / NAME.h / NAME_weights.c of one planned model (NAME: the prefix): one static arena with the planner's
offsets baked in (inputs and outputs inside it), one function per layer, the patch stage (when planned) as a loop
over patches with per-op region tables, the call sequence with NAME_LAYER_BEGIN/END hooks, the I/O API of
docs/c_api.md and optional canaries.

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
from ..ir.cost import graph_macs
from ..ir.graph import Graph, Op
from ..kernels.registry import select
from ..kernels.spec import Binding, WeightTable, activation_inputs, may_run_in_place
from ..planner.model_plan import BoundKernel, ModelPlan
from .env import TEMPLATES_DIR, c_ident, render
from .io import check_distinct, header_comment, io_tensors, manifest
from .plan import ArenaPlan, check_covers, from_model_plan
from .quad_share import quad_use, shared_unrolls
from .stage import region_grid, region_rows
from .weights import render_weights

ARENA_ALIGNMENT = 16  # bytes: the arena's alignment
IO_ALIGNMENT = 4  # bytes: every input and output pointer (the planner's buffer alignment)


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


def compact_regions(rows: dict) -> bool:
    """True when every region row fits tinyml_region_t's compact layout (tinyml_runtime.h): row strides below
    2^16, heights, widths and pads below 2^8; else the model defines TINYML_WIDE_REGIONS."""
    flat = [r for lst in rows.values() for r in lst]
    return all(0 <= v < 1 << 16 for r in flat for v in (r[2], r[3], r[5])) and all(
        0 <= v < 1 << 8 for r in flat for v in r[6:]
    )


def compact_grid(grid: dict) -> bool:
    """True when every row and column part fits the compact tinyml_region_y_t / tinyml_region_x_t (first rows,
    bytes and strides below 2^16, sizes and pads below 2^8), as the compact tinyml_region_t they assemble."""
    ys = [y for lst, _ in grid.values() for y in lst]
    xs = [x for _, lst in grid.values() for x in lst]
    return (
        all(0 <= v < 1 << 16 for y in ys for v in y[:3])
        and all(0 <= v < 1 << 8 for y in ys for v in y[3:])
        and (all(0 <= v < 1 << 16 for x in xs for v in x[:6]) and all(0 <= v < 1 << 8 for x in xs for v in x[6:]))
    )


def _c_part(part: tuple[int, ...], kind: str) -> str:
    """One tinyml_region_y_t ({first rows}, sizes and pads) or tinyml_region_x_t ({first bytes}, {row strides},
    sizes and pads) initializer."""
    cut = 3 if kind == "y" else 6
    heads = [part[:3]] if kind == "y" else [part[:3], part[3:6]]
    fields = ["{" + ", ".join(map(str, h)) + "}" for h in heads] + [str(v) for v in part[cut:]]
    return "{" + ", ".join(fields) + "}"


def _grid_tables(grid: dict, layers: list[dict]) -> list[dict]:
    """The row-part and column-part tables of the stage layers, each distinct table once: sets each stage layer's
    `ry` and `rx` (the names of its tables) and returns the tables to emit (name, C type, initializers)."""
    tables: dict[tuple, str] = {}
    out = []
    for lay in layers:
        if lay["index"] not in grid:
            continue
        for kind, parts in zip(("y", "x"), grid[lay["index"]]):
            key = (kind, tuple(parts))
            if key not in tables:
                tables[key] = f"{lay['fn']}_r{kind}"
                inits = [_c_part(part, kind) for part in parts]
                out.append(dict(name=tables[key], ctype=f"tinyml_region_{kind}_t", rows=inits))
            lay["r" + kind] = tables[key]
    return out


def _c_row(row: tuple[int, ...], compact: bool) -> str:
    """One region initializer: (in_off0, in_off1, in_row0, in_row1, out_off, out_row, in_h, in_w, pad_t, pad_b,
    pad_l, pad_r, out_h, out_w) in the field order of the layout in use."""
    rest = ", ".join(map(str, row[6:]))
    if compact:
        return f"{{{{{row[0]}, {row[1]}}}, {row[4]}, {{{row[2]}, {row[3]}}}, {row[5]}, {rest}}}"
    return f"{{{{{row[0]}, {row[1]}}}, {{{row[2]}, {row[3]}}}, {row[4]}, {row[5]}, {rest}}}"


def _layer(
    i: int,
    op: Op,
    k: BoundKernel,
    graph: Graph,
    plan: ArenaPlan,
    weights: WeightTable,
    rows: list | None,
    compact: bool = True,
) -> dict:
    """Describe one layer: its template context, its call (and its region table inside a patch stage)."""
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
    touch += [(scratch, k.scratch)] if scratch is not None else []
    return dict(
        index=i,
        fn=fn,
        args=args,
        ctx=ctx,  # rendered by generate once every layer's context is known (quad_share)
        kernel=spec.name,
        name=op.name,
        regions=None if rows is None else [_c_row(r, compact) for r in rows],
        touch=[v for pair in touch for v in pair],
    )


def _render_layers(layers: list[dict], graph: Graph, sched) -> None:
    """Render every layer's C (sets `code`), the layers on the quad core with the unrolls quad_share picks."""
    stretch = sched.patched_macs / sched.stage_macs if sched is not None and sched.stage_macs else 1.0
    uses = []
    for lay in layers:
        out = graph.tensor(graph.ops[lay["index"]].outputs[0]).shape
        pixels = out[1] * out[2] if len(out) == 4 else 1
        if lay["regions"] is not None:
            pixels = int(pixels * stretch)  # a stage layer computes its halos too
        uses.append(quad_use(lay["index"], lay["kernel"], lay["ctx"], pixels))
    shared = shared_unrolls([u for u in uses if u is not None], graph_macs(graph))
    for lay in layers:
        ctx = lay.pop("ctx")
        if lay["index"] in shared:
            ctx["unroll"] = shared[lay["index"]]
        lay["code"] = render(f"kernels/{lay['kernel']}.c.j2", **ctx)


def generate(
    mp: ModelPlan, *, prefix: str = "tinyml", canaries: bool = False, labels: tuple[str, ...] = (), info=None
) -> GeneratedProject:
    """C sources that run the ModelPlan `mp` (passes.plan_model) for its target: NAME.h (the API of
    docs/c_api.md), NAME.c, NAME_weights.c/.h, tinyml_runtime.h and manifest.json (NAME = `prefix`).
    labels: class names (NAME_labels); info: extra manifest facts (preprocessing, labels, ...)."""
    check_prefix(prefix)
    graph = mp.graph
    if not graph.ops:
        raise InternalError(f"graph '{graph.name}' has no operators")
    kernels = bound_kernels(mp)
    plan = from_model_plan(mp)
    ins = io_tensors(graph, graph.inputs, "INPUT", plan.offset)
    outs = io_tensors(graph, graph.outputs, "OUTPUT", plan.offset)
    check_distinct(graph, ins, outs)
    for t in ins + outs:
        if t.offset % IO_ALIGNMENT:
            raise InternalError(f"{t.kind.lower()} {t.index} '{t.name}' sits at arena offset {t.offset}, not aligned")
    sched = mp.patches
    check_covers(plan, graph, mp.scratch, sched.buffer_bytes if sched is not None else None)
    rows = region_rows(graph, sched) if sched is not None else {}
    grid = region_grid(graph, sched) if sched is not None else None
    weights = WeightTable(prefix)
    compact = compact_regions(rows) and (grid is None or compact_grid(grid))
    layers = [
        _layer(i, op, s, graph, plan, weights, rows.get(i), compact)
        for i, (op, s) in enumerate(zip(graph.ops, kernels))
    ]
    grid_tables = _grid_tables(grid, layers) if grid is not None else []
    _render_layers(layers, graph, sched)
    stage = (
        None
        if sched is None
        else dict(
            patches=len(sched.patches),
            p=sched.p,
            start=sched.start,
            split=sched.split_op,
            split_layer=graph.ops[sched.split_op].name,
        )
    )
    P = prefix.upper()
    io = [dict(kind=t.kind, index=t.index, ctype=t.ctype, offset=t.offset, bytes=t.bytes, comment=header_comment(t),
               macros=t.macros(P)) for t in ins + outs]  # fmt: skip
    ctx = dict(
        p=prefix,
        P=P,
        graph=graph.name,
        arena=plan.arena_bytes,
        align=ARENA_ALIGNMENT,
        io_align=IO_ALIGNMENT,
        layers=layers,
        layer_count=len(layers),
        ins=io[: len(ins)],
        outs=io[len(ins) :],
        comments=[d["comment"] for d in io],
        canaries=canaries,
        wide_regions=not compact,
        rc_not_initialized=-(len(layers) + 1),
        rc_no_memory=-(len(layers) + 2),
        strategy=plan.strategy,
        stage=stage,
        grid=None if grid is None else (len(grid[sched.start][0]), len(grid[sched.start][1])),
        grid_tables=grid_tables,
        inplace=sorted(mp.inplace),
        labels=[_c_string(x) for x in labels],
    )
    extra = dict(info or {})
    if labels:
        extra["labels"] = list(labels)
    extra.update(
        layer_count=len(layers),
        inplace_layers=sorted(mp.inplace),
        patches=stage,
        layers=[dict(name=lay["name"], kernel=lay["kernel"]) for lay in layers],
    )
    man = manifest(graph, prefix, plan.arena_bytes, ins, outs, extra)
    files = {
        f"{prefix}.h": render("model/model.h.j2", **ctx),
        f"{prefix}.c": render("model/model.c.j2", **ctx),
        **render_weights(weights, prefix, f"model '{graph.name}'"),
        "tinyml_runtime.h": (TEMPLATES_DIR / "runtime" / "tinyml_runtime.h").read_text(),
        "manifest.json": json.dumps(man, indent=2) + "\n",
    }
    if labels:
        files[f"{prefix}_labels.c"] = render("model/labels.c.j2", **ctx)
    return GeneratedProject(files, prefix, plan.arena_bytes, tuple(lay["kernel"] for lay in layers), plan, man)


RESERVED_PREFIXES = ("tinyml_runtime", "tinyml_board", "tinyml_port", "tinyml_hooks", "tinyml_cycles")


def check_prefix(prefix: str) -> None:
    """TinyMLError unless `prefix` is a C identifier that cannot clash with the runtime's own names."""
    if not prefix or c_ident(prefix) != prefix or prefix.startswith("__"):
        raise TinyMLError(
            f"--prefix '{prefix}' is not a C identifier; use letters, digits and '_' (not starting with a digit)"
        )
    if prefix in RESERVED_PREFIXES or len(prefix) > 32:
        raise TinyMLError(f"--prefix '{prefix}' is reserved or longer than 32 characters; choose another name")


def _c_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~" and ch != "?":
            out.append(ch)
        else:
            out.extend(f"\\{b:03o}" for b in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'
