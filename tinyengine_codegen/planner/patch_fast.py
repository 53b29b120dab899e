"""Fast, exact figures of a patch schedule for the search in `choose_patches`, and the regions of every patch
for the schedule itself (`separable_regions`).

A stage op's region in patch (r, c) is a row interval that depends only on r times a column interval that
depends only on c (the receptive-field walk is separable, and region unions are bounding boxes). So the MACs of
all p x p patches are (sum of row lengths) x (sum of column lengths) per op, and a per-patch buffer is (longest
row interval) x (longest column interval): p walks per axis instead of p^2 region walks. When some interval is
empty (a window wholly inside the padding) the 2-D emptiness rules differ, and None sends the caller to the full
builder. The same walks give each patch's regions as (its row's intervals) x (its column's intervals).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StageFigures:
    """What planning needs of a p x p schedule: the duck type that `patched_buffers` reads, plus its MACs."""

    split_op: int
    p: int
    split_tensor: str
    full_tensors: tuple[str, ...]
    buffer_bytes: Mapping[str, int]
    stage_macs: int
    patched_macs: int
    pixels: tuple[int, ...]  # output pixels each stage op computes over all patches (halos included)
    start: int  # the first stage op

    @property
    def extra_macs(self) -> int:
        return self.patched_macs - self.stage_macs


def _axis_walk(geos, o0: int, o1: int, axis: int, span) -> dict[str, tuple[int, int]] | None:
    """Interval of every stage tensor along one axis that output interval [o0, o1) of the split op needs."""
    need = {geos[-1].output: (o0, o1)}
    for geo in reversed(geos):
        lo, hi = need[geo.output]
        dims = geo.rows if axis == 0 else geo.cols
        if dims is None:
            reads = (lo, hi)
        else:
            i0, i1, _, _ = span(lo, hi, *dims)
            if i1 <= i0:
                return None
            reads = (i0, i1)
        for t in geo.acts:
            old = need.get(t)
            need[t] = reads if old is None else (min(old[0], reads[0]), max(old[1], reads[1]))
    return need


def stage_figures(graph, geos, p: int, inputs: tuple[str, ...], span, op_macs_of) -> StageFigures | None:
    """Figures of the p x p schedule of the stage `geos`; `inputs`: the stage inputs, stored whole."""
    split = graph.tensor(geos[-1].output)
    _, h, w, _ = split.shape
    walks: list[list[dict[str, tuple[int, int]]]] = []
    # a square stage whose every op has the same geometry along both axes walks the columns as the rows
    square = h == w and all(g.rows == g.cols for g in geos)
    for axis, size in ((0, h),) if square else ((0, h), (1, w)):
        cuts = [i * size // p for i in range(p + 1)]
        axis_walks = [_axis_walk(geos, cuts[i], cuts[i + 1], axis, span) for i in range(p)]
        found = [a for a in axis_walks if a is not None]
        if len(found) != len(axis_walks):
            return None
        walks.append(found)
    rows, cols = (walks[0], walks[0]) if square else walks
    length = {t: [(b - a) for a, b in (wk[t] for wk in rows)] for t in rows[0]}
    width = {t: [(b - a) for a, b in (wk[t] for wk in cols)] for t in cols[0]}
    pixel = {g.output: g.item_bytes for g in geos}
    nbytes = {t: max(length[t]) * max(width[t]) * pixel[t] for t in pixel if t != split.name and t not in inputs}
    pixels = tuple(sum(length[g.output]) * sum(width[g.output]) for g in geos)
    patched = sum(n * g.per_pixel_macs for n, g in zip(pixels, geos))
    stage = sum(op_macs_of(graph.ops[g.index]) for g in geos)
    full = (*inputs, split.name)
    return StageFigures(geos[-1].index, p, split.name, full, nbytes, stage, patched, pixels, geos[0].index)


def _axis_reads(geos, o0: int, o1: int, axis: int, span):
    """Along one axis: the interval of every stage tensor that output interval [o0, o1) of the split op needs,
    and per stage op the span it reads (i0, i1, pad before, pad after); None when a window lies wholly in the
    padding (the 2-D emptiness rules then differ)."""
    need: dict[str, tuple[int, int]] = {geos[-1].output: (o0, o1)}
    reads: list[tuple[int, int, int, int]] = [(0, 0, 0, 0)] * len(geos)
    for k in range(len(geos) - 1, -1, -1):
        geo = geos[k]
        lo, hi = need[geo.output]
        dims = geo.rows if axis == 0 else geo.cols
        if dims is None:
            r = (lo, hi, 0, 0)
        else:
            r = span(lo, hi, *dims)
            if r[1] <= r[0]:
                return None
        reads[k] = r
        for t in geo.acts:
            old = need.get(t)
            need[t] = (r[0], r[1]) if old is None else (min(old[0], r[0]), max(old[1], r[1]))
    return need, reads


def separable_regions(graph, geos, rows: list[int], cols: list[int], span):
    """Per patch of the grid cut at `rows` x `cols`, row-major: (row, col, the region of every stage tensor, per
    stage op (regions read, their origins, pads, output region)), from p walks per axis: a region is (row
    interval) x (column interval), each depending on the patch's row or column only, as long as no interval is
    empty (then every region is non-empty and a union of regions is the box of the unions per axis). None
    otherwise: the caller walks patch by patch."""
    walks = []
    for axis, cuts in ((0, rows), (1, cols)):
        axis_walks = [_axis_reads(geos, cuts[i], cuts[i + 1], axis, span) for i in range(len(cuts) - 1)]
        if any(a is None for a in axis_walks):
            return None
        walks.append(axis_walks)
    inner = {g.output for g in geos}
    whole = {}
    for t in walks[0][0][0]:
        if t not in inner:  # stage inputs stay whole
            shape = graph.tensor(t).shape
            whole[t] = (0, shape[1], 0, shape[2])
    out = []
    for r, (need_r, reads_r) in enumerate(walks[0]):
        for c, (need_c, reads_c) in enumerate(walks[1]):
            need = {t: whole.get(t) or (y[0], y[1], *need_c[t]) for t, y in need_r.items()}
            ops = []
            for geo, rr, cc in zip(geos, reads_r, reads_c):
                out_region = need[geo.output]
                if geo.rows is None or geo.cols is None:
                    regions: tuple = (out_region,) * len(geo.acts)
                    pads = (0, 0, 0, 0)
                    origins = tuple((out_region[0] - need[t][0], out_region[2] - need[t][2]) for t in geo.acts)
                else:
                    regions = ((rr[0], rr[1], cc[0], cc[1]),)
                    pads = (rr[2], rr[3], cc[2], cc[3])
                    src = need[geo.acts[0]]
                    origins = ((rr[0] - src[0], cc[0] - src[2]),)
                ops.append((regions, origins, pads, out_region))
            out.append((r, c, need, ops))
    return tuple(out)
