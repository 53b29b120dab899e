"""MCUNetV2 patch-based inference: run the first layers patch by patch so their big feature maps never exist whole.

The patch stage is a prefix of the ops, ops 0..split, where every op has a local receptive field (convolutions,
pools, PAD, elementwise ops on stage tensors). The split op's output (a full NHWC map) is cut into a p x p grid
of patches; for each patch the stage runs backwards from the patch to find, per op, the exact part of each
input it reads (receptive field with halo, clipped at the borders) and the padding to add where the window
leaves the tensor (SAME padding, PAD ops). Then the stage runs forwards on those regions, patch after patch, and
each patch's result is written into its place in the full split output.

Memory model (one static arena shared by both phases; `patched_buffers` in patch_memory.py builds the records,
the ordinary arena planner places them):
- during the stage the graph input stays whole and is live until the stage ends; the split output is live
  from the first patch on, because every patch writes part of it;
- every other stage tensor has one per-patch buffer, sized for the largest patch and reused by every patch;
  it lives from the op that writes it to the last stage op that reads it (the same in every patch, so one
  timeline of op indices describes all patches). Stage ops never run in place;
- after the stage the remaining ops run layer by layer with the usual lifetimes (and in-place ops).

Regions are (y0, y1, x0, x1), half-open, in the coordinates of the tensor they belong to. A per-patch buffer holds
its tensor's region for that patch as a dense NHWC block of (y1 - y0) x (x1 - x0) x C values; the graph input and
the split output are stored whole (row stride = tensor width x C). Extra MACs are exact: the sum over patches and
stage ops of the computed output pixels times the op's MACs per output pixel, minus the stage's own MACs.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..errors import TinyMLError
from ..ir.cost import graph_macs, op_macs
from ..ir.graph import DTYPE_BYTES, Graph, Op
from ..ir.ops import POINTWISE_KINDS, Conv2DAttrs, DepthwiseConv2DAttrs, OpKind, PadAttrs, Pool2DAttrs
from ..ir.shapes import conv_out_pad, explicit_pads
from .patch_fast import separable_regions
from .patch_memory import patched_buffers, plan_patched  # noqa: F401  (the patch stage's buffers, re-exported)

Region = tuple[int, int, int, int]  # y0, y1, x0, x1: half-open, in the tensor's own coordinates
Pads = tuple[int, int, int, int]  # top, bottom, left, right

_WINDOWED = frozenset({OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.MAX_POOL_2D, OpKind.AVERAGE_POOL_2D})
_POINTWISE = POINTWISE_KINDS
STAGE_KINDS = _WINDOWED | _POINTWISE | {OpKind.PAD}
MAX_PATCHES = 8


@dataclass(frozen=True, slots=True)
class PatchOp:
    """One stage op on one patch. `inputs`, `in_regions` and `in_origins` follow the op's activation operands
    (op.inputs without constants and empty names, duplicates kept): the region of each operand the op reads,
    and where that region starts (row, col) inside the operand's buffer for this patch. `pads` is the padding
    (top, bottom, left, right) the op adds around its first operand's region; its output fills `out_region`."""

    index: int
    inputs: tuple[str, ...]
    in_regions: tuple[Region, ...]
    in_origins: tuple[tuple[int, int], ...]
    pads: Pads
    out_region: Region


@dataclass(frozen=True, slots=True)
class Patch:
    """One patch: its grid cell, the stage ops on it in order, and the region each stage tensor holds."""

    row: int
    col: int
    ops: tuple[PatchOp, ...]
    regions: tuple[tuple[str, Region], ...]

    def region(self, tensor: str) -> Region:
        return dict(self.regions)[tensor]


@dataclass(frozen=True)
class PatchSchedule:
    """Everything an emitter or executor needs to run ops 0..split_op patch by patch, all numbers precomputed.

    buffer_bytes: the bytes of the per-patch buffer of each stage tensor other than the split output: its largest
    region over all patches (dense NHWC). full_tensors: the tensors stored whole during the stage
    (the graph inputs the stage reads and the split output)."""

    split_op: int
    p: int
    split_tensor: str
    full_tensors: tuple[str, ...]
    buffer_bytes: Mapping[str, int]
    patches: tuple[Patch, ...]
    stage_macs: int
    patched_macs: int
    model_macs: int
    est_extra_cycles: float = 0.0  # estimated by the planner's cycle table (planner/patch_cost.py); 0: not costed
    est_model_cycles: float = 0.0  # the model's estimated cycles without patches, under the same table
    start: int = 0  # the first stage op: ops before it (a QUANTIZE of a wider graph input) run whole first

    def __post_init__(self) -> None:
        object.__setattr__(self, "buffer_bytes", MappingProxyType(dict(self.buffer_bytes)))

    @property
    def stage(self) -> range:
        return range(self.start, self.split_op + 1)

    @property
    def extra_macs(self) -> int:
        return self.patched_macs - self.stage_macs

    @property
    def pixels(self) -> tuple[int, ...]:
        """Output pixels each stage op computes over all patches (halos included)."""
        return tuple(sum(_area(patch.ops[k].out_region) for patch in self.patches) for k in range(len(self.stage)))

    @property
    def extra_cycle_fraction(self) -> float:
        return self.est_extra_cycles / self.est_model_cycles if self.est_model_cycles else 0.0

    @property
    def extra_mac_fraction(self) -> float:
        return self.extra_macs / self.model_macs if self.model_macs else (0.0 if not self.extra_macs else float("inf"))


def activation_operands(graph: Graph, op: Op) -> tuple[str, ...]:
    return tuple(t for t in op.inputs if t and not graph.tensor(t).is_const)


def stage_refusal(graph: Graph, i: int) -> str | None:
    """Why op i cannot run inside a patch stage, or None when it can."""
    op = graph.ops[i]
    if op.kind not in STAGE_KINDS or len(op.outputs) != 1:
        return f"{op.kind.value} has no local receptive field"
    out = graph.tensor(op.outputs[0])
    acts = activation_operands(graph, op)
    if len(out.shape) != 4 or out.shape[0] != 1 or not acts:
        return f"output {out.shape} is not a single NHWC feature map"
    for t in acts:
        shape = graph.tensor(t).shape
        if len(shape) != 4 or shape[0] != 1:
            return f"operand '{t}' {shape} is not a single NHWC feature map"
        if op.kind in _POINTWISE and shape != out.shape:
            return f"operand '{t}' {shape} broadcasts to {out.shape}"
    if len(acts) != (2 if op.kind in (OpKind.ADD, OpKind.MUL) else 1):
        return "an elementwise operand is a constant"
    if isinstance(op.attrs, PadAttrs) and (op.attrs.paddings[0] != (0, 0) or op.attrs.paddings[3] != (0, 0)):
        return "PAD pads the batch or channel axis"
    if op.kind is OpKind.AVERAGE_POOL_2D and any(_axis(graph, op, a)[2] or _extent_pad(graph, op, a) for a in (1, 2)):
        return "AVERAGE_POOL_2D pads (its divisor depends on the border)"
    return None


def stage_start(graph: Graph) -> int:
    """The first op of any patch stage: 1 when op 0 quantizes a wider graph input (float32, int16) that nothing
    else reads, so that op runs whole first and the wide input is dead before the stage; else 0."""
    if not graph.ops:
        return 0
    op = graph.ops[0]
    acts = activation_operands(graph, op)
    if op.kind is not OpKind.QUANTIZE or len(acts) != 1 or acts[0] not in graph.inputs:
        return 0
    src, out = graph.tensor(acts[0]), graph.tensor(op.outputs[0])
    wider = DTYPE_BYTES[src.dtype] > DTYPE_BYTES[out.dtype]
    return 1 if wider and graph.consumers(acts[0]) == (0,) and len(graph.ops) > 1 else 0


def stage_inputs(graph: Graph, start: int, split: int) -> tuple[str, ...]:
    """Activations the stage ops start..split read that no stage op writes (graph inputs, prologue outputs)."""
    inner = {graph.ops[i].outputs[0] for i in range(start, split + 1)}
    out: dict[str, None] = {}
    for op in graph.ops[start : split + 1]:
        for t in activation_operands(graph, op):
            if t not in inner:
                out[t] = None
    return tuple(out)


_SPLITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def split_points(graph: Graph) -> tuple[int, ...]:
    """Op indices that may end a patch stage (which begins at `stage_start`): every tensor the stage writes, other
    than the split op's output, is read only inside the stage (and at least once), and is not a graph output.
    Computed once per graph (graphs are immutable; the planner asks several times)."""
    points = _SPLITS.get(graph)
    if points is None:
        points = _SPLITS[graph] = _split_points(graph)
    return points


def _split_points(graph: Graph) -> tuple[int, ...]:
    points = []
    latest, blocked = -1, False  # over the outputs of ops before s: their last reader; one never read / an output
    for s in range(stage_start(graph), len(graph.ops)):
        if stage_refusal(graph, s) is not None:
            break
        if not blocked and latest <= s:
            points.append(s)
        t = graph.ops[s].outputs[0]
        readers = graph.consumers(t)
        blocked = blocked or t in graph.outputs or not readers
        latest = max(latest, max(readers, default=-1))
    return tuple(points)


def _axis(graph: Graph, op: Op, axis: int) -> tuple[int, int, int]:
    """(effective kernel, stride, padding before) of a stage op along axis 1 (rows) or 2 (columns)."""
    a = op.attrs
    if isinstance(a, PadAttrs):
        return 1, 1, a.paddings[axis][0]
    if not isinstance(a, (Pool2DAttrs, Conv2DAttrs, DepthwiseConv2DAttrs)):
        return 1, 1, 0
    if isinstance(a, Pool2DAttrs):
        k, dil = (a.filter_h, 1) if axis == 1 else (a.filter_w, 1)
    else:
        w = graph.tensor(op.inputs[1]).shape
        k, dil = (w[1], a.dilation_h) if axis == 1 else (w[2], a.dilation_w)
    stride = a.stride_h if axis == 1 else a.stride_w
    size = graph.tensor(op.inputs[0]).shape[axis]
    _, before = conv_out_pad(size, k, stride, dil, a.padding, explicit_pads(a, axis))
    return (k - 1) * dil + 1, stride, before


def _extent_pad(graph: Graph, op: Op, axis: int) -> int:
    """Padding after the tensor along an axis for a windowed op (the part the window runs past the end)."""
    k, stride, before = _axis(graph, op, axis)
    size = graph.tensor(op.inputs[0]).shape[axis]
    out = graph.tensor(op.outputs[0]).shape[axis]
    return max((out - 1) * stride - before + k - size, 0)


def _span(o0: int, o1: int, k: int, stride: int, before: int, size: int) -> tuple[int, int, int, int]:
    """Input rows [i0, i1) that output rows [o0, o1) read, and the padding (lo, hi) around them."""
    lo, hi = o0 * stride - before, (o1 - 1) * stride - before + k
    i0, i1 = min(max(lo, 0), size), max(min(hi, size), 0)
    if i1 <= i0:  # the whole window lies in the padding
        return i0, i0, hi - lo, 0
    return i0, i1, i0 - lo, hi - i1


@dataclass(frozen=True, slots=True)
class _Geo:
    """What the region walk needs of one stage op, computed once per graph."""

    index: int  # the op's index in the graph
    output: str
    acts: tuple[str, ...]
    rows: tuple[int, int, int, int] | None  # kernel, stride, padding before, input size; None: pointwise
    cols: tuple[int, int, int, int] | None
    per_pixel_macs: int
    item_bytes: int  # bytes of one output pixel (all channels)


def _geometry(graph: Graph, split: int) -> tuple[_Geo, ...]:
    out = []
    start = stage_start(graph)
    for index, op in enumerate(graph.ops[start : split + 1], start):
        acts, t = activation_operands(graph, op), graph.tensor(op.outputs[0])
        rows = cols = None
        if op.kind not in _POINTWISE:
            shape = graph.tensor(acts[0]).shape
            rows, cols = (*_axis(graph, op, 1), shape[1]), (*_axis(graph, op, 2), shape[2])
        out.append(
            _Geo(
                index,
                op.outputs[0],
                acts,
                rows,
                cols,
                op_macs(graph, op) // (t.shape[1] * t.shape[2]),
                t.shape[3] * DTYPE_BYTES[t.dtype],
            )
        )
    return tuple(out)


def _reads(geo: _Geo, out: Region) -> tuple[tuple[Region, ...], Pads]:
    """Regions of the op's activation operands that computing `out` reads, and the padding of the first."""
    if geo.rows is None or geo.cols is None:
        return tuple(out for _ in geo.acts), (0, 0, 0, 0)
    y0, y1, pt, pb = _span(out[0], out[1], *geo.rows)
    x0, x1, pl, pr = _span(out[2], out[3], *geo.cols)
    return ((y0, y1, x0, x1),), (pt, pb, pl, pr)


def _union(a: Region | None, b: Region) -> Region:
    if a is None or a[0] >= a[1] or a[2] >= a[3]:
        return b
    if b[0] >= b[1] or b[2] >= b[3]:
        return a
    return min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])


def _patch(graph: Graph, geos: tuple[_Geo, ...], row: int, col: int, target: Region) -> Patch:
    """Walk the stage backwards from the split op's `target` region, then record each op's reads in order."""
    need: dict[str, Region] = {geos[-1].output: target}
    reads: list[tuple[tuple[Region, ...], Pads]] = [((), (0, 0, 0, 0))] * len(geos)
    for i in range(len(geos) - 1, -1, -1):
        reads[i] = _reads(geos[i], need[geos[i].output])
        for t, r in zip(geos[i].acts, reads[i][0]):
            need[t] = _union(need.get(t), r)
    inner = {g.output for g in geos}
    for t in [t for t in need if t not in inner]:  # stage inputs stay whole
        shape = graph.tensor(t).shape
        need[t] = (0, shape[1], 0, shape[2])
    ops = []
    for geo, (regions, pads) in zip(geos, reads):
        origins = tuple((r[0] - need[t][0], r[2] - need[t][2]) for t, r in zip(geo.acts, regions))
        ops.append(PatchOp(geo.index, geo.acts, regions, origins, pads, need[geo.output]))
    return Patch(row, col, tuple(ops), tuple(sorted(need.items())))


def _separable_patches(graph: Graph, geos: tuple[_Geo, ...], rows: list[int], cols: list[int]):
    """The patches from p walks per axis (planner/patch_fast.py), or None when that walk does not apply."""
    walked = separable_regions(graph, geos, rows, cols, _span)
    if walked is None:
        return None
    return tuple(
        Patch(r, c, tuple(PatchOp(g.index, g.acts, *o) for g, o in zip(geos, ops)), tuple(sorted(need.items())))
        for r, c, need, ops in walked
    )


def build_schedule(graph: Graph, split_op: int, p: int) -> PatchSchedule:
    """The p x p patch schedule of ops stage_start..split_op; TinyMLError when that stage or grid is not possible."""
    if not 0 <= split_op < len(graph.ops):
        raise TinyMLError(f"split op {split_op} is out of range: the graph has {len(graph.ops)} ops")
    if split_op not in split_points(graph):
        why = next(
            (
                f"op {i} ('{graph.ops[i].name}'): {stage_refusal(graph, i)}"
                for i in range(stage_start(graph), split_op + 1)
                if stage_refusal(graph, i)
            ),
            "a stage tensor is read after the stage",
        )
        raise TinyMLError(
            f"cannot end a patch stage at op {split_op} ('{graph.ops[split_op].name}'): {why}; choose another split op"
        )
    _, h, w, _ = graph.tensor(graph.ops[split_op].outputs[0]).shape
    if not 1 <= p <= min(h, w):
        raise TinyMLError(
            f"{p}x{p} patches do not fit the {h}x{w} output of '{graph.ops[split_op].name}'; use 1..{min(h, w)}"
        )
    return _schedule(graph, _geometry(graph, split_op), p)


def _schedule(
    graph: Graph, geos: tuple[_Geo, ...], p: int, total_macs: int | None = None, *, separable: bool = True
) -> PatchSchedule:
    """The p x p schedule of the stage `geos`: by the separable walk (`_separable_patches`) when it applies (and
    `separable`), else patch by patch (`_patch`); both give the same schedule."""
    split = graph.tensor(geos[-1].output)
    _, h, w, _ = split.shape
    rows = [r * h // p for r in range(p + 1)]
    cols = [c * w // p for c in range(p + 1)]
    patches = _separable_patches(graph, geos, rows, cols) if separable else None
    if patches is None:
        patches = tuple(
            _patch(graph, geos, r, c, (rows[r], rows[r + 1], cols[c], cols[c + 1])) for r in range(p) for c in range(p)
        )
    start, split_op = geos[0].index, geos[-1].index
    full = stage_inputs(graph, start, split_op) + (split.name,)
    pixel = {g.output: g.item_bytes for g in geos}
    nbytes: dict[str, int] = {}
    patched_macs = 0
    macs_per_pixel = [g.per_pixel_macs for g in geos]
    for patch in patches:
        for t, (y0, y1, x0, x1) in patch.regions:
            if t not in full:
                n = (y1 - y0) * (x1 - x0) * pixel[t]
                if n > nbytes.get(t, 0):
                    nbytes[t] = n
                elif t not in nbytes:
                    nbytes[t] = 0
        for po, m in zip(patch.ops, macs_per_pixel):
            r = po.out_region
            if r[1] > r[0] and r[3] > r[2]:
                patched_macs += (r[1] - r[0]) * (r[3] - r[2]) * m
    stage_macs = sum(op_macs(graph, graph.ops[g.index]) for g in geos)
    total = graph_macs(graph) if total_macs is None else total_macs
    return PatchSchedule(split_op, p, split.name, full, nbytes, patches, stage_macs, patched_macs, total, start=start)


def _whole_bytes(graph: Graph, split: int, alignment: int) -> int:
    """Bytes that stay whole during a stage ending at `split`: the split output and the stage's inputs."""
    names = {graph.ops[split].outputs[0], *stage_inputs(graph, stage_start(graph), split)}
    return sum(-(-graph.tensor(t).nbytes // alignment) * alignment for t in names)


def _area(r: Region) -> int:
    return max(r[1] - r[0], 0) * max(r[3] - r[2], 0)
