"""Fast, exact figures of a patch schedule for the search in `choose_patches`.

A stage op's region in patch (r, c) is a row interval that depends only on r times a column interval that
depends only on c (the receptive-field walk is separable, and region unions are bounding boxes). So the MACs of
all p x p patches are (sum of row lengths) x (sum of column lengths) per op, and a per-patch buffer is (longest
row interval) x (longest column interval): p walks per axis instead of p^2 region walks. When some interval is
empty (a window wholly inside the padding) the 2-D emptiness rules differ, and None sends the caller to the full
builder.
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
