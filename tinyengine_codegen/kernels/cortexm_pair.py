"""Row-pair GEMM kernels for Cortex-M cores with the DSP extension: int8 weights in flash, two rows per weight word.

Rows A and B of the weight matrix (output channels or units 2i and 2i + 1) are stored together, one byte per weight:
at each k the int16 h = wA + 256 * wB is written little-endian, so its low byte is wA itself and its high byte is
wB - (wA < 0). A weight word holds h at k0 and k2 (or k1 and k3): the halves that SMLAD multiplies with the two
int16 lanes SXTB16 makes of an activation word (x0, x2), and SXTB16 ROR 8 (x1, x3). Two accumulators per pair:

    acc1 += SMLAD(x, word)          = sum x * (wA + 256 wB)
    acc2 += SMLAD(x, SXTB16(word))  = sum x * wA

so row A is acc2 and row B is (acc1 - acc2) / 256, exact in wrapping 32-bit arithmetic while |row B's dot| < 2^23
(the predicates check 128 * sum |wB| against it). Four multiply-accumulates cost one word load, one
SXTB16 and two SMLADs, with no weight widened in flash.

The input offset is folded into the bias offline; both accumulators start at biasA, and biasB is added to row B
in the epilogue. The epilogue is the exact fast requantization of kernels/cortexm.py (SMMLAR with rounding and
output zero point, sign correction, arithmetic shift, SSAT), with the uniform pre-shift applied in registers:
row B's difference is a multiple of 256, so one ADD of (biasB << ls) and the difference shifted right by 8 - ls
yields it already shifted. Per-tensor requantization puts the multiplier, rounding constant and shift in the
code as immediates.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Op
from .common import in_tensor
from .cortexm import acc_bounds, constant_channels, gemm_facts, has_dsp, per_op, requant_fast, scratch_is_free
from .cortexm_tables import B_LIMIT, pair_parts, quad_table, quad_table_compact, uniform
from .spec import Binding, Context, KernelSpec, TargetLike, no_scratch

MAX_K = 4095  # the loop end is an immediate offset from the input pointer
# bytes of the two columns a kernel without arena scratch may build on the stack
STACK_COLUMNS = 1536


def pair_encode(rows: np.ndarray, group: int) -> np.ndarray:
    """int8 stream of rows (2 * group * n x K, K % 4 == 0): per group of `group` pairs, per k quad, per pair the
    words (h(k0), h(k2)) and (h(k1), h(k3)) with h = wA + 256 wB."""
    r = np.asarray(rows, np.int64)
    n, k = r.shape
    assert n % (2 * group) == 0 and k % 4 == 0, (n, k, group)
    h = (r[0::2] + 256 * r[1::2]).astype(np.int16)  # pairs x K
    h = h.reshape(n // (2 * group), group, k // 4, 4)[..., [0, 2, 1, 3]]
    return np.ascontiguousarray(h.transpose(0, 2, 1, 3)).reshape(-1).view(np.int8)


def pair_fits(rows: np.ndarray) -> bool:
    """True when every h fits int16 and 256 * (row B's dot) stays inside int32 for any int8 input."""
    r = np.asarray(rows, np.int64)
    if len(r) % 2:
        return False
    a, b = r[0::2], r[1::2]
    if r.size and (r.max() > 128 or r.min() < -128):
        return False
    if b.size and b.min() == -128 and np.any((b == -128) & (a < 0)):
        return False
    return bool(np.all(128 * np.abs(b).sum(axis=1) < B_LIMIT))


def _record(q: dict, rows: np.ndarray, bias: np.ndarray) -> dict | None:
    """The fast requant record with a uniform pre-shift 1..8 and no per-channel clamps beyond lo/hi, else None."""
    return _usable(requant_fast(q, acc_bounds(bias, rows), constant_channels(q, rows, bias)))


def _usable(q: dict) -> dict | None:
    """q when it is a fast record with a uniform pre-shift 1..8, else None."""
    if not q["fast"] or q["ls"] is None or not 1 <= q["ls"] <= 8:
        return None
    return q


def _fits(op: Op, graph: Graph, rows: np.ndarray) -> bool:
    """pair_fits of the op's weight rows, once per op (zero columns padding K do not change it)."""
    return per_op(graph, ("pair_fits", op), lambda: pair_fits(rows))


def quad_encode(rows: np.ndarray) -> np.ndarray:
    """The quad kernels' int8 stream: every full group of four rows as pair_encode(group 2), then a last pair
    (rows % 4 == 2) as pair_encode(group 1)."""
    n = len(rows) // 4 * 4
    parts = [pair_encode(rows[:n], 2)] if n else []
    if n < len(rows):
        parts.append(pair_encode(rows[n:], 1))
    return np.concatenate(parts)


def quad_parts(rows: np.ndarray, q: dict, bias: np.ndarray, b: Binding, key: str) -> dict:
    """Template fields of the quad core (groups of four rows) and the pair core for a last pair: one weight
    stream, two tables."""
    quads, tail = len(rows) // 4, len(rows) % 4 == 2
    wq = 4 * quads * rows.shape[1]
    compact = quad_table_compact(q, rows, bias) if quads else None
    table = np.asarray(compact, np.int64).astype(np.int32) if compact is not None else quad_table(q, bias)
    tail_table, tail_compact = pair_parts(q, rows, bias, 4 * quads) if tail else (None, False)
    return dict(
        quads=quads,
        tail=tail,
        compact=compact is not None,
        weights=b.weights.add(f"{key}#quad", quad_encode(rows)),
        wq=wq,
        wtail=rows.size - wq,
        table=b.weights.add(f"{key}#quadq", table) if quads else None,
        table_tail=b.weights.add(f"{key}#quadt", tail_table) if tail else None,
        tail_compact=tail_compact,
    )


def pair_fields(q: dict, rows: np.ndarray, bias: np.ndarray, b: Binding, key: str) -> dict:
    """Template fields of a pair core over all rows: its table (compact when it applies) and the layout flag."""
    table, compact = pair_parts(q, rows, bias)
    return dict(table=b.weights.add(key, table), pcompact=compact)


def _padded(q: dict, rows: np.ndarray, bias: np.ndarray, n: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """rows, bias and the requant lists padded with zero rows to n rows (their outputs are never stored)."""
    extra = n - len(rows)
    if extra <= 0:
        return q, rows, bias
    rows = np.concatenate([rows, np.zeros((extra, rows.shape[1]), np.int64)])
    bias = np.concatenate([np.asarray(bias, np.int64), np.zeros(extra, np.int64)])
    q = dict(
        q,
        rs=list(q["rs"]) + [q["rs"][0]] * extra,
        mult=list(q["mult"]) + [q["mult"][0]] * extra,
        rnd=list(q["rnd"]) + [q["rnd"][0]] * extra,
    )
    return q, rows, bias


def _unroll(kq: int, limit: int = 8) -> int:
    return max(u for u in (1, 2, 4, 8, 16) if u <= limit and kq % u == 0)


def quad_unroll(kq: int) -> int:
    """k quads per quad-core loop pass: each costs about 110 bytes of code (once per shared variant) and the loop
    test 6 cycles per pass, so columns of a multiple of 8 k quads take 8 per pass, the rest up to 4; columns of
    fewer than 4 k quads take 1 (they share the first layers' variant: at most two extra loop tests)."""
    return 1 if kq < 4 else 8 if kq % 8 == 0 else _unroll(kq, 4)


# ---- 1x1 CONV_2D: two pixels x one row pair per pass ------------------------------------------------------------


def _pw_parts(op: Op, graph: Graph):
    return per_op(graph, ("_pw_parts", op), lambda: _pw_parts_compute(op, graph))


def _pw_parts_compute(op: Op, graph: Graph):
    g, w, bias, q = gemm_facts(op, graph)
    return g, w, bias, _usable(q)


def is_pointwise_pair(op: Op, graph: Graph, target: TargetLike) -> bool:
    x, w, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), graph.tensor(op.outputs[0])
    a = op.attrs
    if not (
        has_dsp(target)
        and x.shape[0] == 1
        and x.dtype == w.dtype == "int8"
        and w.quant is not None
        and not any(w.quant.zero_point)
        and w.shape[1] == w.shape[2] == 1
        and a.stride_h == a.stride_w == 1
        and x.shape[3] % 4 == 0
        and 16 <= x.shape[3] <= MAX_K
        and w.shape[3] == x.shape[3]
        and y.shape[3] % 2 == 0
    ):
        return False
    _g, rows, _bias, q = _pw_parts(op, graph)
    return q is not None and _fits(op, graph, rows)


def pointwise_pair_context(op: Op, graph: Graph, b: Binding) -> Context:
    g, rows, bias, q = _pw_parts(op, graph)
    kq = g["cin"] // 4
    return dict(
        ext=4 * g["cin"] <= STACK_COLUMNS,
        pixels=g["oh"] * g["ow"],
        cin=g["cin"],
        cout=g["cout"],
        unroll=quad_unroll(kq) if 4 * g["cin"] <= STACK_COLUMNS else _unroll(kq, 4),
        q=q,
        uniform=uniform(q),
        **(
            quad_parts(rows, q, bias, b, op.inputs[1])
            if 4 * g["cin"] <= STACK_COLUMNS
            else dict(
                weights=b.weights.add(f"{op.inputs[1]}#pair1", pair_encode(rows, 1)),
                wbytes=rows.size,
                **pair_fields(q, rows, bias, b, f"{op.inputs[1]}#pair1q"),
            )
        ),
    )


POINTWISE_PAIR = (KernelSpec("conv2d_1x1_s8_pair", is_pointwise_pair, no_scratch, pointwise_pair_context),)


# ---- k x k CONV_2D (any stride, padding, dilation; cin % 4 == 0): two sign-extended im2col columns in scratch --


def _kp(op: Op, graph: Graph) -> int:
    w = in_tensor(graph, op, 1)
    return (w.shape[1] * w.shape[2] * w.shape[3] + 3) // 4 * 4


def conv_pair_scratch(op: Op, graph: Graph) -> int:
    """Two sign-extended columns (two bytes per k)."""
    return 4 * _kp(op, graph)


def _conv_parts(op: Op, graph: Graph):
    return per_op(graph, ("_conv_parts", op), lambda: _conv_parts_compute(op, graph))


def _conv_parts_compute(op: Op, graph: Graph):
    g, w, bias, q = gemm_facts(op, graph)
    kp = _kp(op, graph)
    rows = w
    if kp != w.shape[1]:
        rows = np.zeros((g["cout"], kp), np.int64)
        rows[:, : w.shape[1]] = w
    return g, rows, bias, _usable(q)


def _pair_conv_operands(op: Op, graph: Graph, target: TargetLike) -> bool:
    """A DSP core, batch 1, int8 input and symmetric int8 weights over all input channels, an even channel count
    out: what every row-pair convolution kernel needs before its own bounds."""
    x, w, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), graph.tensor(op.outputs[0])
    return (
        has_dsp(target)
        and x.shape[0] == 1
        and x.dtype == w.dtype == "int8"
        and w.quant is not None
        and not any(w.quant.zero_point)
        and w.shape[3] == x.shape[3]
        and y.shape[3] % 2 == 0
    )


def is_conv_pair(op: Op, graph: Graph, target: TargetLike) -> bool:
    x = in_tensor(graph, op, 0)
    if not (
        _pair_conv_operands(op, graph, target)
        and 2 * _kp(op, graph) <= MAX_K
        and x.shape[3] % 4 == 0
        and scratch_is_free(op, graph, conv_pair_scratch(op, graph))
    ):
        return False
    return pair_weights_fit(op, graph)


def conv_pair_context(op: Op, graph: Graph, b: Binding) -> Context:
    ctx = quad_conv_context(op, graph, b, columns=False)
    return dict(ctx, pixels=ctx["oh"] * ctx["ow"], k=ctx["kh"] * ctx["kw"] * ctx["cin"])


CONV_PAIR = (KernelSpec("conv2d_s8_pair", is_conv_pair, conv_pair_scratch, conv_pair_context),)


# ---- k x k CONV_2D without scratch: interior pixel pairs read the input rows in place -----------------------------


def _inside(n_out: int, n_in: int, stride: int, pad: int, k: int, dil: int) -> tuple[int, int]:
    """[lo, hi): the output positions whose whole window lies inside the input (lo == hi when none)."""
    ok = [o for o in range(n_out) if o * stride - pad >= 0 and o * stride - pad + (k - 1) * dil < n_in]
    return (ok[0], ok[-1] + 1) if ok else (0, 0)


def is_conv_pair_direct(op: Op, graph: Graph, target: TargetLike) -> bool:
    x, w = in_tensor(graph, op, 0), in_tensor(graph, op, 1)
    a = op.attrs
    if not (
        _pair_conv_operands(op, graph, target)
        and x.shape[3] % 4 == 0
        and a.dilation_w == 1
        and w.shape[2] * x.shape[3] <= MAX_K
        and a.dilation_h * x.shape[2] * x.shape[3] <= MAX_K
        and 2 * _kp(op, graph) <= STACK_COLUMNS
    ):
        return False
    return pair_weights_fit(op, graph)


def conv_pair_direct_context(op: Op, graph: Graph, b: Binding) -> Context:
    ctx = dict(conv_pair_context(op, graph, b))
    g, rows, bias, q = _conv_parts(op, graph)
    seg = g["kw"] * g["cin"]
    ctx.update(
        weights=b.weights.add(f"{op.inputs[1]}#pairk", pair_encode(rows, 1)),
        wbytes=rows.size,
        **pair_fields(q, rows, bias, b, f"{op.inputs[1]}#pairkq"),
        segs=dict(n=g["kh"], bytes=seg, gap=g["dh"] * g["iw"] * g["cin"] - seg, unroll=_unroll(seg // 4, 4)),
        unroll=_unroll(ctx["kp"] // 4, 4),
        rows_in=_inside(g["oh"], g["ih"], g["sh"], g["pad_t"], g["kh"], g["dh"]),
        cols_in=_inside(g["ow"], g["iw"], g["sw"], g["pad_l"], g["kw"], g["dw"]),
    )
    return ctx


# ---- k x k CONV_2D, any cin (first layers included): two sign-extended columns on the stack --------------------


def _slot(i: int) -> int:
    """int16 position of window value i in an interleaved column: its k quad's words (x0, x2), (x1, x3) at 8 per k
    quad (the other column's 4 values sit in between)."""
    return ((i & ~3) << 1) | ((i & 1) << 1) | ((i >> 1) & 1)


def column_fields(g: dict, kp: int) -> Context:
    """Template fields of the column builder (templates/common/cortexm_pair.c.j2 col_fn): per window value its
    (slot, kernel row, byte offset from that row's first tap), and the slots of the zero padding up to kp."""
    col_taps = [
        (_slot((ky * g["kw"] + kx) * g["cin"] + ci), ky, kx * g["dw"] * g["cin"] + ci)
        for ky in range(g["kh"])
        for kx in range(g["kw"])
        for ci in range(g["cin"])
    ]
    return dict(col_taps=col_taps, pad_slots=[_slot(i) for i in range(len(col_taps), kp)])


def pair_weights_fit(op: Op, graph: Graph) -> bool:
    """The convolution's requantization has a fast record and its weights fit the row-pair format."""
    _g, rows, _bias, q = _conv_parts(op, graph)
    return q is not None and _fits(op, graph, rows)


def quad_conv_context(op: Op, graph: Graph, b: Binding, columns: bool) -> Context:
    """Template fields shared by the convolutions on the quad core (im2col scratch, stack columns or a region):
    geometry, padded depth, unroll, requantization and the encoded weights and table; `columns` adds the
    stack-column taps."""
    g, rows, bias, q = _conv_parts(op, graph)
    kp = rows.shape[1]
    return dict(
        g,
        **(column_fields(g, kp) if columns else {}),
        kp=kp,
        zp=-g["in_offset"],
        unroll=quad_unroll(kp // 4),
        q=q,
        uniform=uniform(q),
        **quad_parts(rows, q, bias, b, op.inputs[1]),
    )


def is_conv_pair_stack(op: Op, graph: Graph, target: TargetLike) -> bool:
    if not (_pair_conv_operands(op, graph, target) and 4 * _kp(op, graph) <= STACK_COLUMNS):
        return False
    return pair_weights_fit(op, graph)


def conv_pair_stack_context(op: Op, graph: Graph, b: Binding) -> Context:
    ctx = quad_conv_context(op, graph, b, columns=True)
    return dict(ctx, pixels=ctx["oh"] * ctx["ow"])


CONV_PAIR_STACK = (KernelSpec("conv2d_s8_pair_stack", is_conv_pair_stack, no_scratch, conv_pair_stack_context),)
CONV_PAIR_DIRECT = (KernelSpec("conv2d_s8_pair_direct", is_conv_pair_direct, no_scratch, conv_pair_direct_context),)
