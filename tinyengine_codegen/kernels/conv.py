"""CONV_2D kernel specs and their template contexts (NHWC activations, OHWI filters)."""

from __future__ import annotations

from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from ..ir.shapes import conv_out_pad, explicit_pads
from .common import act_range, channel_multipliers, in_tensor, out_tensor
from .spec import Binding, Context, KernelSpec, TargetLike, always, no_scratch


def requant_q(op: Op, graph: Graph, channels: int) -> dict:
    """The requantization record of a conv-like op: per-channel tables, output zero point, clamp range."""
    x, w, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), out_tensor(graph, op)
    mult, shift = channel_multipliers(x, w, y, channels)
    lo, hi = act_range(op.attrs.activation, y)
    return dict(per_channel=True, mult=mult, shift=shift, zp=y.zero_point, lo=lo, hi=hi)


def geometry(op: Op, graph: Graph) -> Context:
    """Sizes, strides, dilations and the top/left padding of a conv or depthwise conv."""
    x, w, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), out_tensor(graph, op)
    a = op.attrs
    kh, kw = w.shape[1], w.shape[2]
    _, pad_t = conv_out_pad(x.shape[1], kh, a.stride_h, a.dilation_h, a.padding, explicit_pads(a, 1))
    _, pad_l = conv_out_pad(x.shape[2], kw, a.stride_w, a.dilation_w, a.padding, explicit_pads(a, 2))
    return dict(
        batches=x.shape[0],
        ih=x.shape[1],
        iw=x.shape[2],
        cin=x.shape[3],
        oh=y.shape[1],
        ow=y.shape[2],
        cout=y.shape[3],
        kh=kh,
        kw=kw,
        sh=a.stride_h,
        sw=a.stride_w,
        dh=a.dilation_h,
        dw=a.dilation_w,
        pad_t=pad_t,
        pad_l=pad_l,
        in_batch=x.shape[1] * x.shape[2] * x.shape[3],
        out_batch=y.shape[1] * y.shape[2] * y.shape[3],
        in_offset=-x.zero_point,
    )


def _bias(op: Op, b: Binding) -> str | None:
    return b.const(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] else None


def generic_context(op: Op, graph: Graph, b: Binding) -> Context:
    g = geometry(op, graph)
    w = in_tensor(graph, op, 1)
    groups = g["cin"] // w.shape[3]
    return dict(
        g,
        fid=w.shape[3],
        filters_per_group=g["cout"] // groups,
        weights=b.const(op.inputs[1]),
        bias=_bias(op, b),
        q=requant_q(op, graph, g["cout"]),
    )


def pointwise_context(op: Op, graph: Graph, b: Binding) -> Context:
    g = geometry(op, graph)
    return dict(
        pixels=g["batches"] * g["ih"] * g["iw"],
        cin=g["cin"],
        cout=g["cout"],
        in_offset=g["in_offset"],
        weights=b.const(op.inputs[1]),
        bias=_bias(op, b),
        q=requant_q(op, graph, g["cout"]),
    )


def is_pointwise(op: Op, graph: Graph, target: TargetLike) -> bool:
    x, w = in_tensor(graph, op, 0), in_tensor(graph, op, 1)
    a = op.attrs
    return w.shape[1] == 1 and w.shape[2] == 1 and a.stride_h == 1 and a.stride_w == 1 and w.shape[3] == x.shape[3]


CONV2D = (  # first match wins; the last entry always matches
    KernelSpec("conv2d_1x1_s8_ref", is_pointwise, no_scratch, pointwise_context),
    KernelSpec("conv2d_kxk_s8_ref", always, no_scratch, generic_context),
)

FAMILIES = {OpKind.CONV_2D: CONV2D}
