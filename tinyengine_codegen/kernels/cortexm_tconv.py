"""TRANSPOSE_CONV for Cortex-M cores with the DSP extension: each output element gathers its contributing taps
and takes the dot product over the input channels four at a time (SXTB16 + SMLAD against int16 weights).

The weights of each (output channel, tap) row are padded to a multiple of four channels and stored in the
SXTB16 order; the input offset is folded in per tap as in_offset * sum(row), so the inner loop reads raw bytes.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from .common import in_tensor
from .cortexm import has_dsp, pack_pairs
from .resample import transpose_conv_context
from .spec import Binding, Context, KernelSpec, TargetLike, no_scratch


def is_tconv_simd(op: Op, graph: Graph, target: TargetLike) -> bool:
    w = in_tensor(graph, op, 1)
    return has_dsp(target) and w.quant is not None and not any(w.quant.zero_point)


def tconv_simd_context(op: Op, graph: Graph, b: Binding) -> Context:
    ctx = transpose_conv_context(op, graph, b)
    w = np.asarray(in_tensor(graph, op, 1).data).astype(np.int64)
    cout, kh, kw, cin = w.shape
    cin4 = -(-cin // 4) * 4
    rows = np.zeros((cout * kh * kw, cin4), np.int64)
    rows[:, :cin] = w.reshape(-1, cin)
    ctx.update(
        words=cin4 // 4,
        full=cin // 4,
        rem=cin % 4,
        wsum=(rows.sum(axis=1) * ctx["in_offset"]).tolist(),
        weights=b.weights.add(f"{op.inputs[1]}#cmtconv", pack_pairs(rows, 1).astype(np.int16)),
    )
    return ctx


TCONV_SIMD = (KernelSpec("transpose_conv_s8_simd", is_tconv_simd, no_scratch, tconv_simd_context),)

FAMILIES = {OpKind.TRANSPOSE_CONV: TCONV_SIMD}
