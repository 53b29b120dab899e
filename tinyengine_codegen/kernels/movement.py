"""Data-movement kernel specs: RESHAPE, PAD, CONCATENATION, TRANSPOSE, STRIDED_SLICE, RESIZE_NEAREST_NEIGHBOR.

None of them changes values (int8 in, int8 out on the same quantization, as TFLite Micro copies them).
"""

from __future__ import annotations

import math

import numpy as np

from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from .common import in_tensor, out_tensor, pad6, strides_of
from .spec import Binding, Context, KernelSpec, always, no_scratch


def copy_context(op: Op, graph: Graph, b: Binding) -> Context:
    src, dst = op.inputs[0], op.outputs[0]
    alias = not graph.tensor(src).is_const and b.offsets.get(src) == b.offsets.get(dst)
    return dict(nbytes=graph.tensor(dst).nbytes, alias=alias, src=b.operand(op, 0))


def pad_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, y = in_tensor(graph, op), out_tensor(graph, op)
    lead = 6 - len(x.shape)
    before = [0] * lead + [p[0] for p in op.attrs.paddings]
    out_strides = strides_of(pad6(y.shape))
    return dict(
        paddings=[list(p) for p in op.attrs.paddings],
        value=y.zero_point,
        out_size=y.size,
        in_dims=pad6(x.shape),
        in_strides=strides_of(pad6(x.shape)),
        out_strides=out_strides,
        base=sum(p * s for p, s in zip(before, out_strides)),
        src=b.operand(op, 0),
    )


def concat_context(op: Op, graph: Graph, b: Binding) -> Context:
    y, axis = out_tensor(graph, op), op.attrs.axis
    outer = math.prod(y.shape[:axis])
    parts, offset = [], 0
    for j, name in enumerate(op.inputs):
        t = graph.tensor(name)
        inner = math.prod(t.shape[axis:])
        parts.append(dict(src=b.operand(op, j), inner=inner, offset=offset))
        offset += inner
    return dict(axis=axis, outer=outer, out_inner=offset, parts=parts)


def transpose_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, y = in_tensor(graph, op), out_tensor(graph, op)
    lead = 6 - len(x.shape)
    in_strides = strides_of(pad6(x.shape))
    perm6 = list(range(lead)) + [p + lead for p in op.attrs.perm]
    return dict(
        what=f"permutation {list(op.attrs.perm)}",
        out_dims=pad6(y.shape),
        base=0,
        src_strides=[in_strides[p] for p in perm6],
        src=b.operand(op, 0),
    )


def slice_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, a = in_tensor(graph, op), op.attrs
    lead = 6 - len(x.shape)
    in_strides = strides_of(pad6(x.shape))[lead:]
    counts = [max(0, -(-(e - s0) // st)) for s0, e, st in zip(a.begin, a.end, a.strides)]
    return dict(
        what=f"begin {list(a.begin)} end {list(a.end)} strides {list(a.strides)}",
        out_dims=pad6(tuple(counts)),
        base=sum(s0 * s for s0, s in zip(a.begin, in_strides)),
        src_strides=[0] * lead + [st * s for st, s in zip(a.strides, in_strides)],
        src=b.operand(op, 0),
    )


def nearest_indices(in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> list[int]:
    """TFLite's nearest-neighbour source index of every output position (float32 arithmetic, as in C++)."""
    f = np.float32
    scale = (f(in_size - 1) / f(out_size - 1)) if (align_corners and out_size > 1) else f(in_size) / f(out_size)
    offset = f(0.5) if half_pixel else f(0.0)
    out = []
    for i in range(out_size):
        v = float((f(i) + offset) * scale)
        idx = int(math.copysign(math.floor(abs(v) + 0.5), v)) if align_corners else math.floor(v)
        idx = min(idx, in_size - 1)
        out.append(max(0, idx) if half_pixel else idx)
    return out


def resize_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, y, a = in_tensor(graph, op), out_tensor(graph, op), op.attrs
    return dict(
        batches=x.shape[0],
        ih=x.shape[1],
        iw=x.shape[2],
        c=x.shape[3],
        oh=y.shape[1],
        ow=y.shape[2],
        in_batch=x.shape[1] * x.shape[2] * x.shape[3],
        ys=nearest_indices(x.shape[1], y.shape[1], a.align_corners, a.half_pixel_centers),
        xs=nearest_indices(x.shape[2], y.shape[2], a.align_corners, a.half_pixel_centers),
    )


FAMILIES = {
    OpKind.RESHAPE: (KernelSpec("copy_s8", always, no_scratch, copy_context),),
    OpKind.PAD: (KernelSpec("pad_s8", always, no_scratch, pad_context),),
    OpKind.CONCATENATION: (KernelSpec("concat_s8", always, no_scratch, concat_context),),
    OpKind.TRANSPOSE: (KernelSpec("gather_nd_s8", always, no_scratch, transpose_context),),
    OpKind.STRIDED_SLICE: (KernelSpec("gather_nd_s8", always, no_scratch, slice_context),),
    OpKind.RESIZE_NEAREST_NEIGHBOR: (KernelSpec("resize_nearest_s8", always, no_scratch, resize_context),),
}
