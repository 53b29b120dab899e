"""The patch stage as the generated C runs it: per stage op, one `tinyml_region_t` row per patch.

For patch k and stage op i the row says where op i reads and writes in that patch (see
templates/runtime/tinyml_runtime.h): operand regions are addressed inside their buffers (the whole graph input,
or the operand's per-patch buffer, a dense block of its region for this patch), the output region inside the
op's per-patch buffer or, for the split op, inside the whole split tensor. Every number comes from the
PatchSchedule; `region_rows` checks that each region stays inside the buffer the plan reserved for it.

`region_grid` stores the same rows in less flash: on a row-major grid of patches each row is the product of a
part that depends only on the patch row (first region row of every operand, heights, top and bottom pads) and a
part that depends only on the patch column (first region byte inside a row, row strides, widths, left and right
pads); the C keeps one table of each and assembles a patch's row at run time (tinyml_region_at).
"""

from __future__ import annotations

from ..errors import InternalError
from ..ir.graph import DTYPE_BYTES, Graph, Op
from ..kernels.spec import activation_inputs
from ..planner.patches import Patch, PatchOp, PatchSchedule, Region

Row = tuple[int, ...]  # in_off[2], in_row[2], out_off, out_row, in_h, in_w, pad_t, pad_b, pad_l, pad_r, out_h, out_w
YPart = tuple[int, ...]  # first region row of in0, in1, out; in_h, pad_t, pad_b, out_h
XPart = tuple[
    int, ...
]  # first region byte inside a row of in0, in1, out; in_row[2], out_row; in_w, pad_l, pad_r, out_w


def _pixel_bytes(graph: Graph, name: str) -> int:
    t = graph.tensor(name)
    return t.shape[3] * DTYPE_BYTES[t.dtype]


def _buffer(graph: Graph, sched: PatchSchedule, patch: Patch, name: str) -> tuple[int, int, int, int]:
    """(first row, first column, row bytes, buffer bytes) of the buffer holding `name` during this patch."""
    pixel = _pixel_bytes(graph, name)
    if name in sched.full_tensors:
        _, h, w, _ = graph.tensor(name).shape
        return 0, 0, w * pixel, h * w * pixel
    y0, _y1, x0, x1 = patch.region(name)
    return y0, x0, (x1 - x0) * pixel, sched.buffer_bytes[name]


def _place(
    graph: Graph, sched: PatchSchedule, patch: Patch, name: str, region: Region, origin=None
) -> tuple[int, int, int]:
    """(first row, byte of its first pixel inside that row, row bytes) of the region inside name's buffer (its byte
    offset is first row x row bytes + that byte); InternalError when it spills."""
    by, bx, row, size = _buffer(graph, sched, patch, name)
    oy, ox = origin if origin is not None else (region[0] - by, region[2] - bx)
    h, w = region[1] - region[0], region[3] - region[2]
    pixel = _pixel_bytes(graph, name)
    off = oy * row + ox * pixel
    if h > 0 and w > 0 and (oy < 0 or ox < 0 or off + (h - 1) * row + w * pixel > size or w * pixel > row):
        raise InternalError(
            f"patch ({patch.row}, {patch.col}): region {region} of '{name}' spills out of its {size}-byte buffer"
        )
    return oy, ox * pixel, row


def _parts(graph: Graph, sched: PatchSchedule, patch: Patch, op: Op, po: PatchOp) -> tuple[YPart, XPart]:
    ins = activation_inputs(graph, op)
    places = [(0, 0, 0), (0, 0, 0)]
    for k, name in enumerate(ins):
        j = po.inputs.index(name)
        places[k] = _place(graph, sched, patch, name, po.in_regions[j], po.in_origins[j])
    places.append(_place(graph, sched, patch, op.outputs[0], po.out_region))
    r0, (top, bottom, left, right) = po.in_regions[0], po.pads
    o = po.out_region
    y = (*(pl[0] for pl in places), r0[1] - r0[0], top, bottom, o[1] - o[0])
    x = (*(pl[1] for pl in places), *(pl[2] for pl in places), r0[3] - r0[2], left, right, o[3] - o[2])
    if any(not -32768 <= v <= 32767 for v in y[3:] + x[6:]):
        raise InternalError(f"'{op.name}': a region size or padding does not fit the 16-bit table fields")
    return y, x


def combine(y: YPart, x: XPart) -> Row:
    """The tinyml_region_t row of the patch whose row part is `y` and column part `x` (tinyml_region_at in C)."""
    off = [y[k] * x[3 + k] + x[k] for k in range(3)]
    return (off[0], off[1], x[3], x[4], off[2], x[5], y[3], x[6], y[4], y[5], x[7], x[8], y[6], x[9])


def _row(graph: Graph, sched: PatchSchedule, patch: Patch, op: Op, po: PatchOp) -> Row:
    return combine(*_parts(graph, sched, patch, op, po))


def region_rows(graph: Graph, sched: PatchSchedule) -> dict[int, list[Row]]:
    """Stage op index → its region row for every patch, in patch order."""
    out: dict[int, list[Row]] = {i: [] for i in sched.stage}
    for patch in sched.patches:
        if [po.index for po in patch.ops] != list(sched.stage):
            raise InternalError(f"patch ({patch.row}, {patch.col}) does not run the stage ops in order")
        for po in patch.ops:
            out[po.index].append(_row(graph, sched, patch, graph.ops[po.index], po))
    return out


def region_grid(graph: Graph, sched: PatchSchedule) -> dict[int, tuple[list[YPart], list[XPart]]] | None:
    """Stage op index → (its row part for every patch row, its column part for every patch column), when the
    patches run row by row over a grid and every region row is the product of the two (combine); else None."""
    rows = 1 + max(pt.row for pt in sched.patches)
    cols = 1 + max(pt.col for pt in sched.patches)
    if [(pt.row, pt.col) for pt in sched.patches] != [(r, c) for r in range(rows) for c in range(cols)]:
        return None
    out: dict[int, tuple[list, list]] = {i: ([None] * rows, [None] * cols) for i in sched.stage}
    for patch in sched.patches:
        if [po.index for po in patch.ops] != list(sched.stage):
            raise InternalError(f"patch ({patch.row}, {patch.col}) does not run the stage ops in order")
        for po in patch.ops:
            y, x = _parts(graph, sched, patch, graph.ops[po.index], po)
            ys, xs = out[po.index]
            if ys[patch.row] not in (None, y) or xs[patch.col] not in (None, x):
                return None
            ys[patch.row], xs[patch.col] = y, x
    return out
