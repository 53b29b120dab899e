"""FULLY_CONNECTED kernel specs for Cortex-M cores with the DSP extension.

fc_s8_pair: int8 weights in the row-pair format of kernels/cortexm_pair.py; the input row sign-extended on the
    stack (or read in place when deeper than the stack budget allows), groups of eight units through one shared
    unrolled dot per depth, the rest in groups of four.
fc_s8_simd: its fallback, four units per pass with int16 weights."""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Op
from .common import in_tensor
from .cortexm import acc_bounds, constant_channels, folded_bias, has_dsp, pack_pairs, per_op, prescale, requant_fast
from .cortexm_pair import MAX_K, STACK_COLUMNS, _padded, _record, _unroll, pair_encode, pair_fits, quad_table, uniform
from .misc import fc_requant
from .spec import Binding, Context, KernelSpec, TargetLike, no_scratch


def octet_table(q: dict, bias: np.ndarray, n: int) -> np.ndarray:
    """int32 constants per group of eight rows r..r+7 (four pairs) below row n: biasA of the pairs, biasB << ls of
    the pairs, then (mult, rnd, rs) of each row unless the requantization is uniform."""
    b = np.asarray(bias, np.int64)
    flat = uniform(q)
    out = []
    for r in range(0, n, 8):
        out += [b[p] for p in range(r, r + 8, 2)] + [b[p + 1] << q["ls"] for p in range(r, r + 8, 2)]
        if not flat:
            for c in range(r, r + 8):
                out += [q["mult"][c], q["rnd"][c], q["rs"][c]]
    return np.asarray(out, np.int64).astype(np.int32)


def _fc_parts(op: Op, graph: Graph):
    return per_op(graph, ("_fc_parts", op), lambda: _fc_parts_compute(op, graph))


def _fc_parts_compute(op: Op, graph: Graph):
    x, w = in_tensor(graph, op, 0), in_tensor(graph, op, 1)
    rows = np.asarray(w.data).astype(np.int64)
    bias_t = np.asarray(graph.tensor(op.inputs[2]).data) if len(op.inputs) > 2 and op.inputs[2] else None
    bias = folded_bias(bias_t, rows, -x.zero_point)
    return rows, bias, _record(fc_requant(op, graph), rows, bias)


def is_fc_pair(op: Op, graph: Graph, target: TargetLike) -> bool:
    if not (is_fc_simd(op, graph, target) and in_tensor(graph, op, 1).shape[1] <= MAX_K):
        return False
    rows, bias, q = _fc_parts(op, graph)
    if q is None:
        return False
    n = (len(rows) + 3) // 4 * 4
    _, rows, bias = _padded(q, rows, bias, n)
    return pair_fits(rows)


FC_DOT_DEPTH = 128  # deepest FC row whose unrolled four-pair dot is emitted (once per depth, about 4.3 KB at 128)
FC_DOT_UNITS = 32  # fewest units that pay for that code (it saves about 0.1 estimated cycles per MAC)


def fc_pair_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, w = in_tensor(graph, op, 0), in_tensor(graph, op, 1)
    units, depth = w.shape
    rows, bias, q = _fc_parts(op, graph)
    n = (units + 3) // 4 * 4
    q, rows, bias = _padded(q, rows, bias, n)
    ext = 2 * depth <= STACK_COLUMNS
    # groups of eight units through the shared unrolled dot (input row on the stack), the rest in groups of four
    n8 = units // 8 * 8 if ext and depth <= FC_DOT_DEPTH and units >= FC_DOT_UNITS else 0
    rest = units - n8
    parts = ([pair_encode(rows[:n8], 4)] if n8 else []) + ([pair_encode(rows[n8:], 2)] if rest else [])
    return dict(
        rows=x.size // depth,
        depth=depth,
        units=units,
        ext=ext,
        octets=n8 // 8,
        w8=n8 * depth,
        table8=b.weights.add(f"{op.inputs[1]}#octq", octet_table(q, bias, n8)) if n8 else None,
        full=rest // 4,
        tail=rest % 4,
        unroll=_unroll(depth // 4, 16 if depth >= 512 else 8 if depth >= 128 else 4),
        q=q,
        uniform=uniform(q),
        weights=b.weights.add(f"{op.inputs[1]}#pair42", np.concatenate(parts)),
        wfull=(n8 + rest // 4 * 4) * depth,
        table=b.weights.add(f"{op.inputs[1]}#quadq", quad_table(q, bias, n8)) if rest else None,
    )


FC_PAIR = (KernelSpec("fc_s8_pair", is_fc_pair, no_scratch, fc_pair_context),)


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
