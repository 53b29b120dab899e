"""Kernel specs of TANH, LEAKY_RELU, ABS, RSQRT, L2_NORMALIZATION, LOG_SOFTMAX and PRELU (int8), with contexts.

Every number is prepared the way TFLM's kernels prepare it, through the reference executor's parameter helpers.
"""

from __future__ import annotations

import numpy as np

from .. import quant
from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from ..reference import more
from .common import in_tensor, out_tensor, pad6
from .elementwise import broadcast_strides
from .spec import Binding, Context, KernelSpec, always, no_scratch


def tanh_context(op: Op, graph: Graph, b: Binding) -> Context:
    x = in_tensor(graph, op)
    p = quant.logistic_params(x.scale(), x.zero_point)
    return dict(
        size=x.size, in_zp=x.zero_point, mult=p.input_multiplier, shift=p.input_left_shift, radius=p.input_range_radius
    )


def leaky_relu_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, y = in_tensor(graph, op), out_tensor(graph, op)
    m1, s1, m2, s2 = more.leaky_relu_params(op, graph)
    return dict(size=x.size, in_zp=x.zero_point, out_zp=y.zero_point, m1=m1, s1=s1, m2=m2, s2=s2)


def abs_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, y = in_tensor(graph, op), out_tensor(graph, op)
    rescale = bool(np.float32(x.scale()) != np.float32(y.scale()))
    m, s = quant.requantize_multiplier(x.scale(), y.scale()) if rescale else (0, 0)
    return dict(size=x.size, in_zp=x.zero_point, out_zp=y.zero_point, rescale=rescale, mult=m, shift=s)


def rsqrt_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, y = in_tensor(graph, op), out_tensor(graph, op)
    m, s = more.rsqrt_multiplier(op, graph)
    return dict(size=x.size, in_zp=x.zero_point, out_zp=y.zero_point, mult=m, shift=s)


def l2norm_context(op: Op, graph: Graph, b: Binding) -> Context:
    x = in_tensor(graph, op)
    depth = x.shape[-1]
    return dict(rows=x.size // depth, depth=depth, in_zp=x.zero_point)


def log_softmax_context(op: Op, graph: Graph, b: Binding) -> Context:
    x = in_tensor(graph, op)
    p = quant.log_softmax_params(x.scale())
    depth = x.shape[-1]
    return dict(
        rows=x.size // depth,
        depth=depth,
        mult=p.input_multiplier,
        shift=p.input_left_shift,
        rmult=p.reverse_multiplier,
        rshift=p.reverse_shift,
        diff_min=p.diff_min,
    )


def prelu_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, a, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), out_tensor(graph, op)
    m1, s1, m2, s2 = more.prelu_params(op, graph)
    out6 = pad6(y.shape)
    return dict(
        a=b.operand(op, 0),
        b=b.operand(op, 1),
        out_dims=out6,
        a_strides=broadcast_strides(x.shape, out6),
        b_strides=broadcast_strides(a.shape, out6),
        in_zp=x.zero_point,
        alpha_zp=a.zero_point,
        out_zp=y.zero_point,
        m1=m1,
        s1=s1,
        m2=m2,
        s2=s2,
    )


FAMILIES = {
    OpKind.TANH: (KernelSpec("tanh_s8_ref", always, no_scratch, tanh_context),),
    OpKind.LEAKY_RELU: (KernelSpec("leaky_relu_s8_ref", always, no_scratch, leaky_relu_context),),
    OpKind.ABS: (KernelSpec("abs_s8_ref", always, no_scratch, abs_context),),
    OpKind.RSQRT: (KernelSpec("rsqrt_s8_ref", always, no_scratch, rsqrt_context),),
    OpKind.L2_NORMALIZATION: (KernelSpec("l2norm_s8_ref", always, no_scratch, l2norm_context),),
    OpKind.PRELU: (KernelSpec("prelu_s8_bcast", always, no_scratch, prelu_context),),
    OpKind.LOG_SOFTMAX: (KernelSpec("log_softmax_s8_ref", always, no_scratch, log_softmax_context),),
}
