"""FULLY_CONNECTED kernel specs for Cortex-M cores with the DSP extension.

fc_s8_pair: int8 weights in the row-pair format of kernels/cortexm_pair.py; the input row sign-extended on the
    stack (or read in place when deeper than the stack budget allows, or when a single group of four units reads
    it), groups of eight units through one shared dot (whole up to 128 deep, called per chunk of k quads deeper),
    the rest in groups of four.
fc_s8_simd: its fallback, four units per pass with int16 weights.
Neither takes a tiny layer (tiny_fc: at most two units and 4,096 MACs, e.g. a binary classifier's head): the
portable kernel keeps its weights unpadded in less code."""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Op
from .common import in_tensor
from .cortexm import acc_bounds, constant_channels, folded_bias, has_dsp, pack_pairs, per_op, prescale, requant_fast
from .cortexm_pair import (
    B_LIMIT,
    MAX_K,
    STACK_COLUMNS,
    _padded,
    _record,
    _unroll,
    pair_encode,
    pair_fits,
    quad_table,
    uniform,
)
from .misc import fc_requant
from .spec import Binding, Context, KernelSpec, TargetLike, no_scratch


def octet_encode(rows: np.ndarray) -> np.ndarray:
    """int8 stream of rows (8n x K, K % 4 == 0): per group of four pairs (eight rows), per k quad, first the words
    (h(k0), h(k2)) of pairs 0..3, then their words (h(k1), h(k3)), with h = wA + 256 wB: each half k quad's four
    weight words are consecutive, so one LDM or a chain of single loads reads them."""
    r = np.asarray(rows, np.int64)
    n, k = r.shape
    assert n % 8 == 0 and k % 4 == 0, (n, k)
    h = (r[0::2] + 256 * r[1::2]).astype(np.int16)  # pairs x K
    h = h.reshape(n // 8, 4, k // 4, 4)[..., [0, 2, 1, 3]].reshape(n // 8, 4, k // 4, 2, 2)
    return np.ascontiguousarray(h.transpose(0, 2, 3, 1, 4)).reshape(-1).view(np.int8)


def octet_stream(q: dict, rows: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """One int32 stream for groups of eight rows (8n x K): per group the start values of its eight accumulators
    (per pair acc1 = biasA + 256 biasB, acc2 = biasA, so that (acc1 - acc2) / 256 is row B with its bias), its
    weights (octet_encode), then (mult, rnd, rs) of each row unless the requantization is uniform. The kernel reads
    it front to back with one pointer."""
    b = np.asarray(bias, np.int64)
    flat = uniform(q)
    words = octet_encode(rows).view(np.int32).reshape(len(rows) // 8, -1).astype(np.int64)
    parts = []
    for o, w in enumerate(words):
        r = 8 * o
        head = [v for p in range(r, r + 8, 2) for v in (b[p] + 256 * b[p + 1], b[p])]
        tail = [] if flat else [v for c in range(r, r + 8) for v in (q["mult"][c], q["rnd"][c], q["rs"][c])]
        parts += [np.asarray(head, np.int64), w, np.asarray(tail, np.int64)]
    wrapped = (np.concatenate(parts) + (1 << 31)) % (1 << 32) - (1 << 31)
    return wrapped.astype(np.int32)


def octets_fit(rows: np.ndarray, bias: np.ndarray) -> bool:
    """True when row B of every pair keeps 256 x (its dot + its bias) inside int32 for any int8 input: the octet
    accumulators carry biasB from the start."""
    b = np.asarray(bias, np.int64)[1::2]
    return bool(np.all(128 * np.abs(np.asarray(rows, np.int64)[1::2]).sum(axis=1) + np.abs(b) < B_LIMIT))


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


FC_DOT_DEPTH = 128  # deepest FC row whose four-pair dot is emitted whole (chained loads; about 4.3 KB at 128)
FC_CHUNK = (8, 32)  # k quads of the dot that a deeper row calls repeatedly (LDM weight loads; about 3.6 KB at 32)
# one half k quad in FC_CHAIN_EVERY of the chunked dot loads by a chain of single loads (one cycle less, three
# instructions more than its LDM): a balance of estimated cycles against instruction count
FC_CHAIN_EVERY = 4
FC_DOT_UNITS = 32  # fewest units that pay for that code (it saves 0.08 to 0.13 estimated cycles per MAC)
FC_SMALL_MACS = 4096  # a layer of at most this many MACs (padded units) unrolls its k loop at most twice
FC_TINY_UNITS = 2  # a small layer of at most this many units takes the portable kernel (tiny_fc)


def fc_dot_plan(depth: int, ext: bool) -> tuple[int, int, bool] | None:
    """(k quads per dot call, calls per group of eight units, LDM weight loads) of a sign-extended row of `depth`,
    or None when its k quads have no dot size: up to FC_DOT_DEPTH one call of a whole dot with chained loads
    (1.125 estimated cycles, 1.06 instructions per MAC), deeper rows the largest chunk of FC_CHUNK k quads that
    divides the depth, called once per chunk (1.17 cycles, 0.92 instructions per MAC)."""
    kq = depth // 4
    if not ext:
        return None
    if depth <= FC_DOT_DEPTH:
        return kq, 1, False
    chunk = max((c for c in range(FC_CHUNK[0], FC_CHUNK[1] + 1) if kq % c == 0), default=0)
    return (chunk, kq // chunk, True) if chunk else None


def fc_pair_context(op: Op, graph: Graph, b: Binding) -> Context:
    x, w = in_tensor(graph, op, 0), in_tensor(graph, op, 1)
    units, depth = w.shape
    rows, bias, q = _fc_parts(op, graph)
    n = (units + 3) // 4 * 4
    q, rows, bias = _padded(q, rows, bias, n)
    fits_stack = 2 * depth <= STACK_COLUMNS
    # groups of eight units through the shared dot (input row on the stack), the rest in groups of four
    n8 = units // 8 * 8
    plan = fc_dot_plan(depth, fits_stack) if n8 >= FC_DOT_UNITS and octets_fit(rows[:n8], bias[:n8]) else None
    n8 = n8 if plan else 0
    rest = units - n8
    # the row is sign-extended on the stack when more than one group reads it; a single group of four units
    # widens its words in registers as it goes (the same cycles per k quad, no extension pass, less code)
    ext = fits_stack and (n8 > 0 or rest > 4)
    rows_n = x.size // depth
    # a small layer's loop test costs next to nothing: its k loop is unrolled at most twice (less code)
    limit = 2 if rows_n * n * depth <= FC_SMALL_MACS else 16 if depth >= 512 else 8 if depth >= 128 else 4
    stream = octet_stream(q, rows[:n8], bias[:n8]) if n8 else None
    chunk, calls, ldm = plan or (0, 0, False)
    return dict(
        rows=rows_n,
        depth=depth,
        units=units,
        ext=ext,
        octets=n8 // 8,
        chunk=chunk,
        calls=calls,
        dot=f"cm_fc4_dotm_{4 * chunk}x{calls}c{FC_CHAIN_EVERY}" if ldm else f"cm_fc4_dot_{4 * chunk}",
        ldm=ldm,
        chain_every=FC_CHAIN_EVERY,
        stream=b.weights.add(f"{op.inputs[1]}#oct", stream) if n8 else None,
        stream_bytes=4 * len(stream) if n8 else 0,
        full=rest // 4,
        tail=rest % 4,
        unroll=_unroll(depth // 4, limit),
        q=q,
        uniform=uniform(q),
        weights=b.weights.add(f"{op.inputs[1]}#pair42@{n8}", pair_encode(rows[n8:], 2)) if rest else None,
        wfull=rest // 4 * 4 * depth,
        table=b.weights.add(f"{op.inputs[1]}#quadq", quad_table(q, bias, n8)) if rest else None,
    )


FC_PAIR = (KernelSpec("fc_s8_pair", is_fc_pair, no_scratch, fc_pair_context),)


def tiny_fc(op: Op, graph: Graph) -> bool:
    """At most FC_TINY_UNITS units and FC_SMALL_MACS MACs: the SIMD kernels would pad the weights to a group of
    four units (half of them zero); the portable kernel keeps them as they are, in less code, for a few
    thousand cycles."""
    x, w = in_tensor(graph, op, 0), in_tensor(graph, op, 1)
    return len(w.shape) == 2 and w.shape[0] <= FC_TINY_UNITS and x.size * w.shape[0] <= FC_SMALL_MACS


def is_fc_simd(op: Op, graph: Graph, target: TargetLike) -> bool:
    x, w = in_tensor(graph, op, 0), in_tensor(graph, op, 1)
    return (
        not tiny_fc(op, graph)
        and has_dsp(target)
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
