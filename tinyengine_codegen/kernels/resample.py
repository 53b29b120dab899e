"""Kernel specs of TRANSPOSE_CONV and RESIZE_BILINEAR (int8) and their template contexts.

TRANSPOSE_CONV is written as a gather: each output element sums the input pixels whose scattered filter window
covers it, so no int32 scratch image is needed (the sum is the same: int32 addition in another order).
"""

from __future__ import annotations

from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from ..reference import more
from .common import act_range, channel_multipliers, in_tensor, out_tensor
from .spec import Binding, Context, KernelSpec, always, no_scratch


def transpose_conv_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, w, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), out_tensor(graph, op)
    a = op.attrs
    pad_t, pad_l = more.transpose_conv_pads(op, graph)
    mult, shift = channel_multipliers(x, w, y, w.shape[0])
    lo, hi = act_range(a.activation, y)
    bias = b.const(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] else None
    return dict(
        n=x.shape[0],
        ih=x.shape[1],
        iw=x.shape[2],
        cin=x.shape[3],
        oh=y.shape[1],
        ow=y.shape[2],
        cout=w.shape[0],
        kh=w.shape[1],
        kw=w.shape[2],
        sh=a.stride_h,
        sw=a.stride_w,
        pad_t=pad_t,
        pad_l=pad_l,
        in_offset=-x.zero_point,
        weights=b.const(op.inputs[1]),
        bias=bias,
        q=dict(per_channel=True, mult=mult, shift=shift, zp=y.zero_point, lo=lo, hi=hi),
    )


def _taps(out_size: int, in_size: int, a) -> list[int]:
    pos, lower, upper = more.bilinear_taps(out_size, in_size, a.align_corners, a.half_pixel_centers)
    rows = []
    for p, lo_, hi_ in zip(pos.tolist(), lower.tolist(), upper.tolist()):
        rows += [lo_, hi_, p - 1024 * lo_]
    return rows


def bilinear_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, y, a = in_tensor(graph, op), out_tensor(graph, op), op.attrs
    return dict(
        n=x.shape[0],
        ih=x.shape[1],
        iw=x.shape[2],
        c=x.shape[3],
        oh=y.shape[1],
        ow=y.shape[2],
        ytaps=_taps(y.shape[1], x.shape[1], a),
        xtaps=_taps(y.shape[2], x.shape[2], a),
        modes=("align_corners " if a.align_corners else "") + ("half_pixel_centers" if a.half_pixel_centers else ""),
    )


FAMILIES = {
    OpKind.TRANSPOSE_CONV: (KernelSpec("transpose_conv_s8_ref", always, no_scratch, transpose_conv_context),),
    OpKind.RESIZE_BILINEAR: (KernelSpec("resize_bilinear_s8", always, no_scratch, bilinear_context),),
}
