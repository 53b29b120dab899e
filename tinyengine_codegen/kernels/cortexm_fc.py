"""FULLY_CONNECTED kernel spec for Cortex-M cores with the DSP extension: four units per pass, int16 weights."""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Op
from .common import in_tensor
from .cortexm import acc_bounds, constant_channels, folded_bias, has_dsp, pack_pairs, prescale, requant_fast
from .cortexm_pair import FC_PAIR
from .misc import fc_requant
from .spec import Binding, Context, KernelSpec, TargetLike, no_scratch


def is_fc_simd(op: Op, graph: Graph, target: TargetLike) -> bool:
    x, w = in_tensor(graph, op, 0), in_tensor(graph, op, 1)
    return (
        has_dsp(target)
        and x.dtype == w.dtype == "int8"
        and w.quant is not None
        and len(w.shape) == 2
        and not any(w.quant.zero_point)
        and w.shape[1] % 4 == 0
    )


def fc_simd_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, w = in_tensor(graph, op, 0), in_tensor(graph, op, 1)
    units, depth = w.shape
    q = fc_requant(op, graph)
    rows = np.asarray(w.data).astype(np.int64)
    bias_t = np.asarray(graph.tensor(op.inputs[2]).data) if len(op.inputs) > 2 and op.inputs[2] else None
    bias = folded_bias(bias_t, rows, -x.zero_point)
    q, rows, bias = prescale(requant_fast(q, acc_bounds(bias, rows), constant_channels(q, rows, bias)), rows, bias)
    units4 = units // 4 * 4
    parts = [pack_pairs(rows[:units4], 4)] if units4 else []
    if units4 < units:
        parts.append(pack_pairs(rows[units4:], 1))
    packed = np.concatenate(parts).astype(np.int16)
    return dict(
        rows=x.size // depth,
        depth=depth,
        unroll=2 if depth % 8 == 0 else 1,
        units=units,
        units4=units4,
        bias=bias.tolist(),
        q=q,
        weights=b.weights.add(f"{op.inputs[1]}#cmfcp{q.get('prescaled', 0)}", packed),
    )


FC_SIMD = (*FC_PAIR, KernelSpec("fc_s8_simd", is_fc_simd, no_scratch, fc_simd_context))
