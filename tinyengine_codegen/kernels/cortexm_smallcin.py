"""CONV_2D spec for Cortex-M DSP cores with few input channels (cin 1..3, the first layer of image models).

conv2d_s8_rows_simd: no scratch. Each window row (kw * cin contiguous bytes, dilation_w == 1) is read as whole
words straight from the input; the weights of each row are zero-padded offline to a multiple of four bytes, so the
bytes read past the row multiply by zero. Rows above/below the image read a row of zero-point bytes; rows cut by
the left/right border (or whose over-read would leave the input tensor) are copied into a small stack row with the
zero point outside the image. Four output channels per pass (SXTB16 + SMLAD), then the fast requant epilogue.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Op
from .common import in_tensor
from .conv import geometry, requant_q
from .cortexm import (
    acc_bounds,
    constant_channels,
    folded_bias,
    has_dsp,
    pack_pairs,
    pad_row,
    prescale,
    requant_fast,
    scratch_is_free,
)
from .spec import Binding, Context, KernelSpec, TargetLike, no_scratch

MAX_ROW_WORDS = 8  # kw * cin <= 32 bytes per window row


def _row_bytes(op: Op, graph: Graph) -> int:
    w = in_tensor(graph, op, 1)
    return (w.shape[2] * w.shape[3] + 3) // 4 * 4


def _span(n_out: int, stride: int, pad: int, ok) -> tuple[int, int]:
    """[lo, hi): the output positions whose first input index i = o * stride - pad passes ok(i) (lo == hi when
    none). Columns also keep the word over-read of the last row inside its image row."""
    good = [o for o in range(n_out) if ok(o * stride - pad)]
    return (good[0], good[-1] + 1) if good else (0, 0)


def is_rows(op: Op, graph: Graph, target: TargetLike) -> bool:
    """cin 1..3, cout % 4 == 0, dilation_w 1, window rows of at most 32 bytes. One-word rows (kw * cin <= 4, e.g.
    KWS's 10x4 cin-1 layer) only where im2col's scratch is not free: there im2col is as fast."""
    x, w, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), graph.tensor(op.outputs[0])
    ok = (
        has_dsp(target)
        and x.shape[0] == 1
        and x.dtype == "int8"
        and w.dtype == "int8"
        and w.quant is not None
        and not any(w.quant.zero_point)
        and 1 <= x.shape[3] <= 3
        and w.shape[3] == x.shape[3]
        and y.shape[3] % 4 == 0
        and op.attrs.dilation_w == 1
        and _row_bytes(op, graph) <= 4 * MAX_ROW_WORDS
    )
    if not ok or _row_bytes(op, graph) > 4:
        return ok
    kpad = (w.shape[1] * w.shape[2] * w.shape[3] + 3) // 4 * 4
    return kpad > 252 or not scratch_is_free(op, graph, 4 * kpad)


def rows_context(op: Op, graph: Graph, b: Binding) -> Context:
    g = geometry(op, graph)
    cout, kh, row = g["cout"], g["kh"], g["kw"] * g["cin"]
    rpad = _row_bytes(op, graph)
    w = np.asarray(in_tensor(graph, op, 1).data).reshape(cout, -1)
    rows = np.zeros((cout, kh, rpad), np.int16)
    rows[:, :, :row] = w.reshape(cout, kh, row)
    rows = rows.reshape(cout, kh * rpad)
    bias = folded_bias(
        np.asarray(graph.tensor(op.inputs[2]).data) if len(op.inputs) > 2 and op.inputs[2] else None, w, g["in_offset"]
    )
    q0 = requant_q(op, graph, cout)
    q = requant_fast(q0, acc_bounds(bias, w), constant_channels(q0, w, bias))
    q, rows, bias = prescale(q, rows, bias)
    zp, width = -g["in_offset"], g["iw"] * g["cin"]
    key = f"{op.inputs[1]}#cmrows{rpad}p{q.get('prescaled', 0)}"
    return dict(
        g=g,
        **g,
        row=row,
        rpad=rpad,
        words=rpad // 4,
        bias=bias.tolist(),
        q=q,
        zp=zp,
        rows_in=_span(g["oh"], g["sh"], g["pad_t"], lambda i: i >= 0 and i + (kh - 1) * g["dh"] < g["ih"]),
        cols_in=_span(g["ow"], g["sw"], g["pad_l"], lambda i: i >= 0 and i * g["cin"] + rpad <= width),
        pad=b.weights.add(f"cm_pad_{zp}_{rpad}", pad_row(zp, rpad)),
        weights=b.weights.add(key, pack_pairs(rows, 4, True)),
    )


ROWS_SIMD = (KernelSpec("conv2d_s8_rows_simd", is_rows, no_scratch, rows_context),)
