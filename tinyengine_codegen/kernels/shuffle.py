"""Kernel specs of SPLIT, SPLIT_V, UNPACK, PACK, DEPTH_TO_SPACE and SPACE_TO_DEPTH: byte moves, no arithmetic
(TFLM copies int8 values unchanged)."""

from __future__ import annotations

import math

from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from .common import in_tensor, out_tensor
from .spec import Binding, Context, KernelSpec, always, no_scratch


def split_context(op: Op, graph: Graph, b: Binding) -> Context:
    """SPLIT / SPLIT_V / UNPACK: every output is a run of `inner` bytes out of each of `outer` input rows."""
    x, axis = in_tensor(graph, op), op.attrs.axis
    outer = math.prod(x.shape[:axis])
    parts, offset = [], 0
    for k, name in enumerate(op.outputs):
        inner = graph.tensor(name).size // outer
        parts.append(dict(dst=f"out{k}", inner=inner, offset=offset))
        offset += inner
    return dict(axis=axis, outer=outer, in_inner=offset, parts=parts)


def pack_context(op: Op, graph: Graph, b: Binding) -> Context:
    """PACK is CONCATENATION along the new axis (concat_s8)."""
    y, axis = out_tensor(graph, op), op.attrs.axis
    outer = math.prod(y.shape[:axis])
    parts, offset = [], 0
    for j, name in enumerate(op.inputs):
        inner = graph.tensor(name).size // outer
        parts.append(dict(src=b.operand(op, j), inner=inner, offset=offset))
        offset += inner
    return dict(axis=axis, outer=outer, out_inner=offset, parts=parts)


def block_context(op: Op, graph: Graph, b: Binding) -> Context:
    """DEPTH_TO_SPACE / SPACE_TO_DEPTH as a 6-d gather (gather_nd_s8)."""
    x, bs = in_tensor(graph, op), op.attrs.block_size
    n, h, w, c = x.shape
    if op.kind is OpKind.DEPTH_TO_SPACE:
        co = c // (bs * bs)  # out[n, h, by, w, bx, co] = in[n, h, w, by, bx, co]
        dims = [n, h, bs, w, bs, co]
        src = [h * w * c, w * c, bs * co, c, co, 1]
    else:  # out[n, oh, ow, by, bx, c] = in[n, oh * bs + by, ow * bs + bx, c]
        dims = [n, h // bs, w // bs, bs, bs, c]
        src = [h * w * c, bs * w * c, bs * c, w * c, c, 1]
    return dict(what=f"block {bs}", out_dims=dims, base=0, src_strides=src, src=b.operand(op, 0))


FAMILIES = {
    OpKind.SPLIT: (KernelSpec("split_s8", always, no_scratch, split_context),),
    OpKind.SPLIT_V: (KernelSpec("split_s8", always, no_scratch, split_context),),
    OpKind.UNPACK: (KernelSpec("split_s8", always, no_scratch, split_context),),
    OpKind.PACK: (KernelSpec("concat_s8", always, no_scratch, pack_context),),
    OpKind.DEPTH_TO_SPACE: (KernelSpec("gather_nd_s8", always, no_scratch, block_context),),
    OpKind.SPACE_TO_DEPTH: (KernelSpec("gather_nd_s8", always, no_scratch, block_context),),
}
