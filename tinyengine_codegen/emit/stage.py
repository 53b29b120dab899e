"""The patch stage as the generated C runs it: per stage op, one `tinyml_region_t` row per patch.

For patch k and stage op i the row says where op i reads and writes in that patch (see
templates/runtime/tinyml_runtime.h): operand regions are addressed inside their buffers (the whole graph input,
or the operand's per-patch buffer, a dense block of its region for this patch), the output region inside the
op's per-patch buffer or, for the split op, inside the whole split tensor. Every number comes from the
PatchSchedule; `region_rows` checks that each region stays inside the buffer the plan reserved for it.
"""

from __future__ import annotations

from ..errors import InternalError
from ..ir.graph import DTYPE_BYTES, Graph, Op
from ..kernels.spec import activation_inputs
from ..planner.patches import Patch, PatchOp, PatchSchedule, Region

Row = tuple[int, ...]  # in_off[2], in_row[2], out_off, out_row, in_h, in_w, pad_t, pad_b, pad_l, pad_r, out_h, out_w


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


def _place(graph: Graph, sched: PatchSchedule, patch: Patch, name: str, region: Region, origin=None) -> tuple[int, int]:
    """(byte offset of the region's first pixel, row bytes) inside name's buffer; InternalError when it spills."""
    by, bx, row, size = _buffer(graph, sched, patch, name)
    oy, ox = origin if origin is not None else (region[0] - by, region[2] - bx)
    h, w = region[1] - region[0], region[3] - region[2]
    pixel = _pixel_bytes(graph, name)
    off = oy * row + ox * pixel
    if h > 0 and w > 0 and (oy < 0 or ox < 0 or off + (h - 1) * row + w * pixel > size or w * pixel > row):
        raise InternalError(
            f"patch ({patch.row}, {patch.col}): region {region} of '{name}' spills out of its {size}-byte buffer"
        )
    return off, row


def _row(graph: Graph, sched: PatchSchedule, patch: Patch, op: Op, po: PatchOp) -> Row:
    ins = activation_inputs(graph, op)
    in_off, in_row = [0, 0], [0, 0]
    for k, name in enumerate(ins):
        j = po.inputs.index(name)
        in_off[k], in_row[k] = _place(graph, sched, patch, name, po.in_regions[j], po.in_origins[j])
    out = op.outputs[0]
    out_off, out_row = _place(graph, sched, patch, out, po.out_region)
    r0, (top, bottom, left, right) = po.in_regions[0], po.pads
    o = po.out_region
    row = (
        *in_off,
        *in_row,
        out_off,
        out_row,
        r0[1] - r0[0],
        r0[3] - r0[2],
        top,
        bottom,
        left,
        right,
        o[1] - o[0],
        o[3] - o[2],
    )
    if any(not -32768 <= v <= 32767 for v in row[6:]):
        raise InternalError(f"'{op.name}': a region size or padding does not fit the 16-bit table fields")
    return row


def region_rows(graph: Graph, sched: PatchSchedule) -> dict[int, list[Row]]:
    """Stage op index → its region row for every patch, in patch order."""
    out: dict[int, list[Row]] = {i: [] for i in sched.stage}
    for patch in sched.patches:
        if [po.index for po in patch.ops] != list(sched.stage):
            raise InternalError(f"patch ({patch.row}, {patch.col}) does not run the stage ops in order")
        for po in patch.ops:
            out[po.index].append(_row(graph, sched, patch, graph.ops[po.index], po))
    return out
