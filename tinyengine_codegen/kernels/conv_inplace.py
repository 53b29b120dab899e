"""An in-place pointwise (1x1, stride 1) CONV_2D: the output starts at the input's offset and may be larger.

Output pixel p covers bytes [p * cout, (p + 1) * cout); input pixel q covers [q * cin, (q + 1) * cin). When
cout >= cin the pixels are visited last to first, when cout < cin first to last, so a write never lands on an
input pixel still to be read, except the current pixel's own, which is copied to a local array first (the
predicate bounds cin so that array stays small). The planner uses it only where it lowers the arena. On cores with
the DSP extension each pixel goes through fc_s8_simd's packed-weight dot products.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from .common import in_tensor
from .conv import is_pointwise, pointwise_context, requant_q
from .cortexm import acc_bounds, constant_channels, folded_bias, has_dsp, pack_pairs, prescale, requant_fast
from .spec import Binding, Context, KernelSpec, TargetLike, no_scratch

MAX_CIN = 64  # bytes of the per-pixel copy on the stack


def pointwise_small_cin(op: Op, graph: Graph, target: TargetLike) -> bool:
    return is_pointwise(op, graph, target) and in_tensor(graph, op, 0).shape[3] <= MAX_CIN


def inplace_context(op: Op, graph: Graph, b: Binding) -> Context:
    ctx = pointwise_context(op, graph, b)
    ctx["reverse"] = ctx["cout"] >= ctx["cin"]
    return ctx


_PORTABLE = (KernelSpec("conv2d_1x1_s8_inplace", pointwise_small_cin, no_scratch, inplace_context, inplace=True),)


def is_inplace_simd(op: Op, graph: Graph, target: TargetLike) -> bool:
    w = in_tensor(graph, op, 1)
    return (
        has_dsp(target)
        and pointwise_small_cin(op, graph, target)
        and w.shape[3] % 4 == 0
        and not any(w.quant.zero_point)
    )


def inplace_simd_context(op: Op, graph: Graph, b: Binding) -> Context:
    """fc_s8_simd's packing and epilogue, one pixel at a time (the pixel is a fully connected row)."""
    x, w = in_tensor(graph, op, 0), in_tensor(graph, op, 1)
    cout, cin = w.shape[0], w.shape[3]
    rows = np.asarray(w.data).astype(np.int64).reshape(cout, cin)
    bias_t = np.asarray(graph.tensor(op.inputs[2]).data) if len(op.inputs) > 2 and op.inputs[2] else None
    bias = folded_bias(bias_t, rows, -x.zero_point)
    q = requant_q(op, graph, cout)
    q, rows, bias = prescale(requant_fast(q, acc_bounds(bias, rows), constant_channels(q, rows, bias)), rows, bias)
    units4 = cout // 4 * 4
    parts = [pack_pairs(rows[:units4], 4)] if units4 else []
    if units4 < cout:
        parts.append(pack_pairs(rows[units4:], 1))
    return dict(
        pixels=x.size // cin,
        depth=cin,
        unroll=2 if cin % 8 == 0 else 1,
        units=cout,
        units4=units4,
        reverse=cout >= cin,
        bias=bias.tolist(),
        q=q,
        weights=b.weights.add(f"{op.inputs[1]}#cmpwip{q.get('prescaled', 0)}", np.concatenate(parts).astype(np.int16)),
    )


CONV2D_INPLACE = (
    KernelSpec("conv2d_1x1_s8_inplace_simd", is_inplace_simd, no_scratch, inplace_simd_context, inplace=True),
    *_PORTABLE,
)
FAMILIES = {OpKind.CONV_2D: CONV2D_INPLACE}
