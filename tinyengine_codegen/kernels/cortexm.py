"""Numbers shared by the Cortex-M SIMD kernels: offline weight packing, folded biases, the fast requant epilogue.

The SIMD kernels multiply int8 activations (sign-extended in registers with SXTB16) by weights stored
pre-extended as int16 pairs, so one SMLAD does two multiply-accumulates with no unpacking of weights at run time.
The input offset is folded into the bias offline: sum_k w_k (x_k + off) = sum_k w_k x_k + off * sum_k w_k; padded
taps then read a row of bytes equal to the input zero point, whose contribution cancels exactly.

Requantization is TFLM's MultiplyByQuantizedMultiplier (double rounding). When the accumulator provably stays
below 2^30 after the left shift and every channel shifts right by at least one bit, it is computed exactly by
t = SMMLAR(acc << (left + 1), m, rnd) = round(acc * m * 2^(left+1) / 2^32) + rnd, then (t + (acc >> 31)) >> e, where
rnd = 2^(e-1) + zp * 2^e. The sign of acc may stand in for the sign of the rounded product (m >= 0): they differ
only when the product rounds to 0, and then both give zp because 2^(e-1) - 1 < 2^e. Channels with all-zero weights
become constants. A uniform left shift is folded into the weights offline (`prescale`). Otherwise the portable
helper is used.
"""

from __future__ import annotations

import weakref

import numpy as np

from .. import quant
from ..ir.graph import Graph, Op, Tensor
from .common import INT8_MAX, INT8_MIN
from .conv import geometry, requant_q

ACC_LIMIT = 1 << 30


def has_dsp(target) -> bool:
    return bool(getattr(target, "dsp", False))


def folded_bias(bias: np.ndarray | None, w_rows: np.ndarray, in_offset: int) -> np.ndarray:
    """bias + in_offset * sum(w) per output channel (w_rows: channels x K, int)."""
    sums = np.asarray(w_rows).sum(axis=1, dtype=np.int64)
    base = np.zeros(len(sums), np.int64) if bias is None else np.asarray(bias, np.int64)
    out = base + in_offset * sums
    assert np.all(np.abs(out) < 2**31), "folded bias overflows int32"
    return out.astype(np.int32)


def acc_bounds(bias: np.ndarray, w_rows: np.ndarray) -> np.ndarray:
    """Largest |accumulator| per channel for raw int8 inputs (|x| <= 128) on top of the folded bias."""
    w = np.asarray(w_rows)
    w = w.astype(np.int32) if w.dtype.itemsize < 4 else w  # |int8| and |int16| fit; wider ints stay as they are
    return np.abs(np.asarray(bias, np.int64)) + 128 * np.abs(w).sum(axis=1, dtype=np.int64)


def requant_fast(q: dict, bounds: np.ndarray, const_out: dict[int, int] | None = None) -> dict:
    """The epilogue record of the SIMD kernels: q (per_channel, mult, shift, zp, lo, hi) plus the fast path.

    fast=True adds per-channel right shifts `rs`, rounding constants `rnd` (2^(rs-1) plus the output zero point
    shifted left by rs, so SMMLAR adds both) and the pre-shift `ls` (one value when all channels agree, else a
    table). const_out maps channels whose accumulator is a constant (all-zero weights) to their output byte:
    they get mult 0, rs 1 and rnd 2c + 1, so the same sequence yields c whatever the accumulator's sign."""
    n = len(bounds)
    const_out = const_out or {}
    mult = list(q["mult"]) if q["per_channel"] else [q["mult"]] * n
    shift = list(q["shift"]) if q["per_channel"] else [q["shift"]] * n
    sh = np.array(shift, np.int64)
    left, right = np.maximum(sh, 0), np.maximum(-sh, 0)
    # bound << left < ACC_LIMIT, for a non-negative integer bound, without shifting past 64 bits
    live_ok = (right >= 1) & (right <= 22) & (np.asarray(bounds, np.int64).reshape(n) <= (ACC_LIMIT - 1) >> left)
    if const_out:
        is_const = np.zeros(n, bool)
        is_const[list(const_out)] = True
        live_ok |= is_const
    ok = bool(live_ok.all()) and abs(q["zp"]) <= 128
    out = dict(q, per_channel=True, mult=mult, shift=shift, fast=ok, ssat=q["lo"] == INT8_MIN and q["hi"] == INT8_MAX)
    if not ok:
        return out
    fields = dict(lo_clip=q["lo"] > INT8_MIN, hi_clip=q["hi"] < INT8_MAX, prescaled=0)
    if not const_out:  # the usual case: every channel computes
        lt = left.tolist()
        ls = set(lt)
        rnd = (np.int64(1) << (right - 1)) + (np.int64(q["zp"]) << right)
        out.update(
            mult=mult,
            rs=right.tolist(),
            rnd=rnd.tolist(),
            ls=lt[0] + 1 if len(ls) == 1 else (None if lt else 1),
            ls_table=[v + 1 for v in lt],
            **fields,
        )
        return out
    ls = sorted(set((left[~is_const] + 1).tolist())) or [1]
    rs = np.where(is_const, 1, right)
    const_rnd = np.zeros(n, np.int64)
    for c, v in const_out.items():
        const_rnd[c] = 2 * v + 1
    rnd = np.where(is_const, const_rnd, (np.int64(1) << (rs - 1)) + (np.int64(q["zp"]) << rs))
    out.update(
        mult=np.where(is_const, 0, np.asarray(mult, np.int64)).tolist(),
        rs=rs.tolist(),
        rnd=rnd.tolist(),
        ls=ls[0] if len(ls) == 1 else None,
        ls_table=np.where(is_const, ls[0], left + 1).tolist(),
        **fields,
    )
    return out


RQ_BIAS_LIMIT = 1 << 23  # the folded bias of a compact requantization word: high 24 bits, signed


def _constant_rewrites(q: dict, bias: np.ndarray, spans: np.ndarray) -> dict[int, tuple[int, int, int]]:
    """channel -> (bias', multiplier', rs') for each bias of 2^23 or more whose channel outputs one constant c over
    its whole accumulator range (requantization is monotonic: the two ends decide): multiplier 2^30 and the
    smallest rs' with span < 2^rs', bias' = (c - zp) 2^(rs' + 1) (or the nearest 24-bit value), so bias' +- span
    requantizes to c as well. Every rewrite is checked with TFLM's arithmetic at both ends."""
    b = np.asarray(bias, np.int64)
    out: dict[int, tuple[int, int, int]] = {}
    for c in np.flatnonzero(np.abs(b) >= RQ_BIAS_LIMIT).tolist():
        r, m, sh = int(spans[c]), int(q["mult"][c]), int(q["shift"][c])
        v = _clamped(q, np.array([b[c] - r, b[c] + r]), m, sh)
        if v[0] != v[1] or m == 0:
            continue
        rs = max(1, r.bit_length())
        top = int(np.sign(b[c])) * (RQ_BIAS_LIMIT - 1)  # a saturated output: the largest bias, the smallest shift
        for nrs, nb in ((rs, (int(v[0]) - q["zp"]) << (rs + 1)), (1, top)):
            nb = int(np.clip(nb, -(RQ_BIAS_LIMIT - 1), RQ_BIAS_LIMIT - 1))
            if nrs <= 22 and np.all(_clamped(q, np.array([nb - r, nb, nb + r]), 1 << 30, -nrs) == v[0]):
                out[c] = (nb, 1 << 30, nrs)
                break
    return out


def _clamped(q: dict, acc: np.ndarray, mult: int, shift: int) -> np.ndarray:
    return np.clip(quant.multiply_by_quantized_multiplier(acc, mult, shift) + q["zp"], q["lo"], q["hi"])


def requant_words(
    q: dict, bias: np.ndarray, ls: int, spans: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """The compact requantization of a fast record q: per channel one word (bias << 8) | (rs - 1) and the
    multiplier, 8 bytes with the folded bias; None when a bias needs more than 24 bits (use the wide table).

    At run time the kernel forms the rounding constant (2 zp + 1) << (rs - 1) = 2^(rs-1) + zp 2^rs from the low
    byte, shifts the SMMLAR result right by that byte (a register shift reads only the low byte) and by one more
    inside SSAT. A channel with a constant output c (mult 0 in q) becomes bias 4 (c - zp), multiplier
    2^(31 - ls), rs 1: its accumulator is that bias, so the sequence yields (2 (c - zp) + 2 zp + 1 + sign) >> 1 = c.
    `ls` is the pre-shift the kernel applies to the accumulator before SMMLAR. spans (128 x sum |w| per channel,
    optional): a bias of 2^23 or more whose channel outputs one constant over its whole accumulator range is
    re-encoded with a 24-bit bias that yields the same constant (_constant_rewrites) instead of the wide table."""
    n = len(q["mult"])
    b = np.asarray(bias, np.int64).reshape(n).copy()
    mult = np.asarray(q["mult"], np.int64).copy()
    rs = np.asarray(q["rs"], np.int64).copy()
    for c, (nb, nm, nrs) in (_constant_rewrites(q, b, spans) if spans is not None else {}).items():
        b[c], mult[c], rs[c] = nb, nm, nrs
    const = mult == 0
    if const.any():
        c = (np.asarray(q["rnd"], np.int64)[const] - 1) // 2
        b[const] = 4 * (c - q["zp"])
        mult[const] = 1 << (31 - ls)
        rs[const] = 1
    if np.any(np.abs(b) >= RQ_BIAS_LIMIT) or np.any(rs < 1) or np.any(rs > 32):
        return None
    return (b << 8) | (rs - 1), mult


def requant_table(words: tuple[np.ndarray, np.ndarray], group: int, order: tuple[int, ...]) -> list[int]:
    """int32 stream of compact requantization words: per group of `group` channels, the packed words of the
    channels group + order[i], then their multipliers in the same order (len(order) == group)."""
    packed, mult = words
    out: list[int] = []
    for g in range(0, len(packed) - len(packed) % group, group):
        out += [int(packed[g + i]) for i in order]
        out += [int(mult[g + i]) for i in order]
    return out


def constant_channels(q: dict, w_rows: np.ndarray, bias: np.ndarray) -> dict[int, int]:
    """Channels whose weights are all zero → their (constant) output byte, computed the reference way."""
    zero = np.flatnonzero(~np.asarray(w_rows).any(axis=1))
    if not len(zero):
        return {}
    m = np.asarray(q["mult"], np.int64)[zero] if q["per_channel"] else q["mult"]
    s = np.asarray(q["shift"], np.int64)[zero] if q["per_channel"] else q["shift"]
    v = quant.multiply_by_quantized_multiplier(np.asarray(bias, np.int64)[zero], m, s) + q["zp"]
    return dict(zip(zero.tolist(), np.clip(v, q["lo"], q["hi"]).astype(np.int64).tolist()))


def prescale(q: dict, rows: np.ndarray, bias: np.ndarray) -> tuple[dict, np.ndarray, np.ndarray]:
    """Fold a uniform pre-shift `ls` (<= 8) into int16 weights and the int32 bias, so the epilogue skips it.

    Exact: the fast path already proved |acc| << ls < 2^31, and |w| << 8 fits int16."""
    if not q["fast"] or q["ls"] is None or q["ls"] > 8:
        return q, rows, bias
    ls = q["ls"]
    const = np.asarray(q["mult"]) == 0
    b = np.where(const, 0, np.asarray(bias, np.int64) << ls)
    assert np.all(np.abs(b) < 2**31)
    return dict(q, ls=0, prescaled=ls), np.asarray(rows, np.int64) << ls, b.astype(np.int32)


def pack_pairs(w_rows: np.ndarray, tile: int, interleave: bool = True) -> np.ndarray:
    """Rows (channels x K, K % 4 == 0) → int16 in the SIMD order [row/tile][K/4][tile][4 values].

    interleave=True stores each group of four as (k0, k2, k1, k3), the order SXTB16 / SXTB16 ROR #8 produce
    from one activation word; False keeps (k0, k1, k2, k3) for activations already stored as int16."""
    rows, k = w_rows.shape
    assert rows % tile == 0 and k % 4 == 0, (rows, k, tile)
    w = w_rows.astype(np.int16).reshape(rows // tile, tile, k // 4, 4)
    if interleave:
        w = w[..., [0, 2, 1, 3]]
    return np.ascontiguousarray(w.transpose(0, 2, 1, 3)).reshape(-1)


def pad_row(in_zp: int, n: int) -> np.ndarray:
    """n bytes equal to the input zero point: what a padded tap reads (its offset-added value is 0)."""
    return np.full(max(n, 4), in_zp, np.int8)


_LIVE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def live_bytes(graph: Graph) -> list[int]:
    """Activation bytes live while each op runs (its inputs, outputs and everything still needed later).
    Computed once per graph (graphs are immutable; every kernel predicate of a plan asks for it)."""
    cached = _LIVE.get(graph)
    if cached is None:
        cached = _LIVE[graph] = _live_bytes(graph)
    return list(cached)


_PER_OP: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def per_op(graph: Graph, key: tuple, compute):
    """compute() once per (graph, key): the offline numbers several predicates and the context of an op share
    (graphs are immutable, so a result cannot go stale; it is dropped with its graph)."""
    memo = _PER_OP.setdefault(graph, {})
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def fast_epilogue(q0: dict, w: np.ndarray, bias_t, in_offset: int) -> tuple[np.ndarray, dict]:
    """(folded bias, requant_fast record) of weight rows w (channels x K, int64) with the op's bias (or None) and
    input offset: the accumulator bounds of acc_bounds from one pass over |w|, whose row sums are also zero exactly
    for the all-zero rows constant_channels looks for (so it runs only when there is one)."""
    bias = folded_bias(bias_t, w, in_offset)
    spans = np.abs(w).sum(axis=1)
    const = constant_channels(q0, w, bias) if not spans.all() else {}
    return bias, requant_fast(q0, np.abs(bias.astype(np.int64)) + 128 * spans, const)


def gemm_facts(op: Op, graph: Graph) -> tuple[dict, np.ndarray, np.ndarray, dict]:
    """(geometry, weight rows as int64 cout x K, folded bias, fast requant record before any pre-shift) of a
    CONV_2D: the numbers every GEMM-type predicate and context of the op starts from, computed once per op."""
    return per_op(graph, ("gemm_facts", op), lambda: _gemm_facts(op, graph))


def _gemm_facts(op: Op, graph: Graph) -> tuple[dict, np.ndarray, np.ndarray, dict]:
    g = geometry(op, graph)
    w = np.asarray(graph.tensor(op.inputs[1]).data).reshape(g["cout"], -1).astype(np.int64)
    bias_t = graph.tensor(op.inputs[2]).data if len(op.inputs) > 2 and op.inputs[2] else None
    bias, q = fast_epilogue(requant_q(op, graph, g["cout"]), w, bias_t, g["in_offset"])
    return g, w, bias, q


def _live_bytes(graph: Graph) -> list[int]:
    first: dict[str, int] = dict.fromkeys(graph.inputs, -1)
    for i, op in enumerate(graph.ops):
        for t in op.outputs:
            first.setdefault(t, i)
    n = len(graph.ops)
    delta = [0] * (n + 1)
    for name, f in first.items():
        t: Tensor = graph.tensor(name)
        lo, hi = max(f, 0), min(graph.last_use(name), n - 1)
        if not t.is_const and lo <= hi:
            delta[lo] += (t.nbytes + 3) // 4 * 4
            delta[hi + 1] -= (t.nbytes + 3) // 4 * 4
    out, run = [], 0
    for d in delta[:n]:
        run += d
        out.append(run)
    return out


def scratch_is_free(op: Op, graph: Graph, scratch: int) -> bool:
    """True when op's live bytes plus `scratch` stay within the graph's per-op activation bound (its peak)."""
    live = live_bytes(graph)
    i = graph.producer(op.outputs[0])
    return live[i] + (scratch + 3) // 4 * 4 <= max(live)
