"""Kernel specs of fully connected, pooling, softmax, activations, QUANTIZE and DEQUANTIZE."""

from __future__ import annotations

import numpy as np

from .. import quant
from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from ..ir.shapes import conv_out_pad
from .common import act_range, c_double, c_float, channel_multipliers, in_tensor, out_tensor
from .spec import Binding, Context, KernelSpec, TargetLike, always, no_scratch


def fc_requant(op: Op, graph: Graph) -> dict:
    """The output stage of a FULLY_CONNECTED op as TFLM computes it: zero point, clamp, multiplier(s), shift(s)."""
    x, w, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), out_tensor(graph, op)
    lo, hi = act_range(op.attrs.activation, y)
    q = dict(per_channel=False, zp=y.zero_point, lo=lo, hi=hi)
    if w.quant.per_channel:
        mult, shift = channel_multipliers(x, w, y, w.shape[0])
        q.update(per_channel=True, mult=mult, shift=shift)
    else:
        q["mult"], q["shift"] = quant.fully_connected_multiplier(x.scale(), w.scale(), y.scale())
    return q


def fc_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, w = in_tensor(graph, op, 0), in_tensor(graph, op, 1)
    units, depth = w.shape[0], w.shape[-1]
    q = fc_requant(op, graph)
    bias = b.const(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] else None
    return dict(
        rows=x.size // depth,
        depth=depth,
        units=units,
        in_offset=-x.zero_point,
        w_offset=-w.zero_point,
        weights=b.const(op.inputs[1]),
        bias=bias,
        q=q,
    )


def pool_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, y, a = in_tensor(graph, op), out_tensor(graph, op), op.attrs
    _, pad_t = conv_out_pad(x.shape[1], a.filter_h, a.stride_h, 1, a.padding)
    _, pad_l = conv_out_pad(x.shape[2], a.filter_w, a.stride_w, 1, a.padding)
    lo, hi = act_range(a.activation, y)
    return dict(
        batches=x.shape[0],
        ih=x.shape[1],
        iw=x.shape[2],
        c=x.shape[3],
        oh=y.shape[1],
        ow=y.shape[2],
        fh=a.filter_h,
        fw=a.filter_w,
        sh=a.stride_h,
        sw=a.stride_w,
        pad_t=pad_t,
        pad_l=pad_l,
        in_batch=x.shape[1] * x.shape[2] * x.shape[3],
        out_batch=y.shape[1] * y.shape[2] * y.shape[3],
        lo=lo,
        hi=hi,
    )


def softmax_context(op: Op, graph: Graph, b: Binding) -> Context:
    x = in_tensor(graph, op)
    p = quant.softmax_params(x.scale(), op.attrs.beta)
    depth = x.shape[-1]
    return dict(
        rows=x.size // depth,
        depth=depth,
        beta=op.attrs.beta,
        mult=p.input_multiplier,
        shift=p.input_left_shift,
        diff_min=p.diff_min,
    )


def logistic_context(op: Op, graph: Graph, b: Binding) -> Context:
    x = in_tensor(graph, op)
    p = quant.logistic_params(x.scale(), x.zero_point)
    return dict(
        size=x.size, in_zp=x.zero_point, mult=p.input_multiplier, shift=p.input_left_shift, radius=p.input_range_radius
    )


def hardswish_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, y = in_tensor(graph, op), out_tensor(graph, op)
    p = quant.hard_swish_params(x.scale(), x.zero_point, y.scale(), y.zero_point)
    return dict(
        size=x.size,
        in_zp=x.zero_point,
        out_zp=y.zero_point,
        out_m=p.output_multiplier_int16,
        out_neg_e=-p.output_multiplier_exponent,
        relu_m=p.reluish_multiplier_int16,
        relu_e=p.reluish_multiplier_exponent,
        relu_e_minus_1=p.reluish_multiplier_exponent - 1,
        relu_neg_e=-p.reluish_multiplier_exponent,
    )


def relu_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, y = in_tensor(graph, op), out_tensor(graph, op)
    m, s = quant.requantize_multiplier(x.scale(), y.scale())
    lo, _ = quant.activation_range(quant.Activation.RELU, y.scale(), y.zero_point)
    return dict(size=x.size, in_zp=x.zero_point, out_zp=y.zero_point, mult=m, shift=s, lo=lo, hi=127)


def relu6_context(op: Op, graph: Graph, b: Binding) -> Context:
    x = in_tensor(graph, op)
    six = int(quant.quantize_float(np.float32(6.0), x.scale(), x.zero_point))
    return dict(size=x.size, lo=x.zero_point, hi=six)


def requantize_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, y = in_tensor(graph, op), out_tensor(graph, op)
    m, s = quant.requantize_multiplier(x.scale(), y.scale())
    return dict(size=x.size, in_zp=x.zero_point, out_zp=y.zero_point, mult=m, shift=s)


def quantize_context(op: Op, graph: Graph, b: Binding) -> Context:
    y = out_tensor(graph, op)
    return dict(size=y.size, out_zp=y.zero_point, scale_f=c_float(y.scale()), scale_text=f"{y.scale():.6g}")


def dequantize_context(op: Op, graph: Graph, b: Binding) -> Context:
    x = in_tensor(graph, op)
    return dict(size=x.size, in_zp=x.zero_point, scale_d=c_double(quant.f32(x.scale())), scale_text=f"{x.scale():.6g}")


def _float_input(op: Op, graph: Graph, target: TargetLike) -> bool:
    return in_tensor(graph, op).dtype == "float32"


FAMILIES = {
    OpKind.FULLY_CONNECTED: (KernelSpec("fc_s8_ref", always, no_scratch, fc_context),),
    OpKind.AVERAGE_POOL_2D: (KernelSpec("avgpool_s8_ref", always, no_scratch, pool_context),),
    OpKind.MAX_POOL_2D: (KernelSpec("maxpool_s8_ref", always, no_scratch, pool_context),),
    OpKind.SOFTMAX: (KernelSpec("softmax_s8_ref", always, no_scratch, softmax_context),),
    OpKind.LOGISTIC: (KernelSpec("logistic_s8_ref", always, no_scratch, logistic_context),),
    OpKind.HARD_SWISH: (KernelSpec("hardswish_s8_ref", always, no_scratch, hardswish_context),),
    OpKind.RELU: (KernelSpec("relu_s8_ref", always, no_scratch, relu_context),),
    OpKind.RELU6: (KernelSpec("relu6_s8_ref", always, no_scratch, relu6_context),),
    OpKind.QUANTIZE: (
        KernelSpec("quantize_f32_s8_ref", _float_input, no_scratch, quantize_context),
        KernelSpec("requantize_s8_ref", always, no_scratch, requantize_context),
    ),
    OpKind.DEQUANTIZE: (KernelSpec("dequantize_s8_f32_ref", always, no_scratch, dequantize_context),),
}
