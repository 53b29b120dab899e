"""fuse_pad: fold an explicit zero-point PAD into the convolution that reads it, so the padded tensor never exists.

A PAD writes the input zero point around its input; a CONV_2D or DEPTHWISE_CONV_2D with VALID padding that reads
the result sees taps whose contribution (value - zero point) * weight is zero there. The same conv with explicit
per-side padding (Conv2DAttrs.pads: the kernels skip or zero-point those taps, as TFLM does for SAME) computes the
same integers from the unpadded input. Folded only when that holds exactly:
- the PAD pads only rows and columns of a 4-D int8 tensor, with non-negative amounts;
- its input and output share scale and zero point (the pad value is the input zero point);
- its output is read by exactly one op, a conv or depthwise conv with VALID padding and no explicit pads yet,
  as that op's activation input, and is not a graph output.
"""

from __future__ import annotations

from dataclasses import replace

from ..ir.graph import Graph, Op
from ..ir.ops import Conv2DAttrs, DepthwiseConv2DAttrs, PadAttrs, Padding
from ..options import CompileOptions
from ..planner.model_plan import ModelPlan


def foldable_pad(graph: Graph, op: Op) -> int | None:
    """The index of the conv that `op` (a PAD) can be folded into, or None (conditions in the module docstring)."""
    if not isinstance(op.attrs, PadAttrs) or len(op.outputs) != 1 or not op.inputs or not op.inputs[0]:
        return None
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    pads = op.attrs.paddings
    if x.is_const or x.dtype != "int8" or y.dtype != "int8" or len(x.shape) != 4 or len(pads) != 4:
        return None
    if pads[0] != (0, 0) or pads[3] != (0, 0) or min(min(p) for p in pads) < 0:
        return None
    if x.quant is None or y.quant is None or (x.quant.scale, x.quant.zero_point) != (y.quant.scale, y.quant.zero_point):
        return None
    users = graph.consumers(y.name)
    if y.name in graph.outputs or len(users) != 1:
        return None
    conv = graph.ops[users[0]]
    ok = (
        isinstance(conv.attrs, (Conv2DAttrs, DepthwiseConv2DAttrs))
        and conv.inputs[0] == y.name
        and y.name not in conv.inputs[1:]
        and conv.attrs.padding is Padding.VALID
        and conv.attrs.pads is None
    )
    return users[0] if ok else None


def fuse_pad(mp: ModelPlan, options: CompileOptions) -> ModelPlan:
    """Fold every PAD that `foldable_pad` accepts into its conv's explicit padding and drop the PAD op."""
    if not options.fuse_pad:
        return mp
    graph = mp.graph
    ops = list(graph.ops)
    dropped: set[int] = set()
    for i, op in enumerate(graph.ops):
        j = foldable_pad(graph, op)
        conv = ops[j] if j is not None else None
        if j is None or conv is None or not isinstance(op.attrs, PadAttrs):
            continue
        if not isinstance(conv.attrs, (Conv2DAttrs, DepthwiseConv2DAttrs)):
            continue
        (top, bottom), (left, right) = op.attrs.paddings[1], op.attrs.paddings[2]
        attrs = replace(conv.attrs, pads=(top, bottom, left, right))
        ops[j] = replace(conv, inputs=(op.inputs[0],) + conv.inputs[1:], attrs=attrs)
        dropped.add(i)
    if not dropped:
        return mp
    kept = tuple(op for i, op in enumerate(ops) if i not in dropped)
    used = {t for op in kept for t in op.inputs + op.outputs if t} | set(graph.inputs) | set(graph.outputs)
    tensors = {k: v for k, v in graph.tensors.items() if k in used}
    return replace(mp, graph=replace(graph, ops=kept, tensors=tensors))
