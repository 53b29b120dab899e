"""Kernel specs of the reductions MEAN, SUM, REDUCE_MAX and ARG_MAX (int8 in; int8, or int32 for ARG_MAX, out).

One kernel visits each output element once and reduces over the reduced axes there, so it needs no scratch.
MEAN and SUM follow TFLM's integer QuantizedMeanOrSum whatever the quantization: the int32 sum minus the zero
points, requantized by s_in / s_out (with 1/count folded into the multiplier for MEAN).
"""

from __future__ import annotations

import numpy as np

from .. import quant
from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from .common import in_tensor, out_tensor, pad6, strides_of
from .spec import Binding, Context, KernelSpec, always, no_scratch


def _axes6(op: Op, rank: int) -> set[int]:
    axes = (op.attrs.axis,) if op.kind is OpKind.ARG_MAX else op.attrs.axes
    return {a % rank + 6 - rank for a in axes}


def reduce_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, y = in_tensor(graph, op), out_tensor(graph, op)
    dims = pad6(x.shape)
    axes6 = _axes6(op, len(x.shape))
    strides = strides_of(dims)
    kept = [1 if d in axes6 else n for d, n in enumerate(dims)]
    reduced = [n if d in axes6 else 1 for d, n in enumerate(dims)]
    count = int(np.prod(reduced))
    ctx = dict(
        what=f"over axes {sorted(a - 6 + len(x.shape) for a in axes6)}",
        mode=op.kind.value.lower(),
        out_dims=kept,
        red_dims=reduced,
        strides=strides,
        arg_axis=min(axes6),
    )
    if op.kind in (OpKind.MEAN, OpKind.SUM):
        m, s = quant.requantize_multiplier(x.scale(), y.scale())
        if op.kind is OpKind.MEAN:
            m, s = quant.mean_multiplier(m, s, count)
        ctx.update(mult=m, shift=s, zp_total=x.zero_point * count, out_zp=y.zero_point)
    return ctx


FAMILIES = {
    kind: (KernelSpec("reduce_s8", always, no_scratch, reduce_context),)
    for kind in (OpKind.MEAN, OpKind.SUM, OpKind.REDUCE_MAX, OpKind.ARG_MAX)
}
