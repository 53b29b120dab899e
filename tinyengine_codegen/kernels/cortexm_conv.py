"""CONV_2D and DEPTHWISE_CONV_2D kernel specs for Cortex-M cores with the DSP extension (SXTB16 + SMLAD).

conv2d_1x1_s8_simd (kernels/cortexm_pointwise.py) comes first for 1x1 stride-1 layers, then
conv2d_s8_rows_simd (kernels/cortexm_smallcin.py) for cin 1..3.
conv2d_s8_direct_simd: no scratch; SIMD over input channels (cin % 4 == 0), one pixel x `nch` output channels.
conv2d_s8_im2col_simd: cin % 4 != 0 (first layers); the window of two pixels is copied as int16 into scratch, which
is only chosen when the scratch fits under the graph's per-op activation bound.
dwconv_s8_simd: NHWC depthwise, four channels per word, SMLABB/SMLATT per channel.
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
from .cortexm_dw import DW3X3_PLANAR
from .cortexm_dw_small import DW3X3_SMALL
from .cortexm_dwk import DWKXK_PLANAR
from .cortexm_pair import CONV_PAIR, CONV_PAIR_DIRECT, CONV_PAIR_STACK, POINTWISE_PAIR
from .cortexm_pointwise import POINTWISE_SIMD
from .cortexm_smallcin import ROWS_SIMD
from .spec import Binding, Context, KernelSpec, TargetLike, no_scratch


def _bias_values(op: Op, graph: Graph) -> np.ndarray | None:
    return np.asarray(graph.tensor(op.inputs[2]).data) if len(op.inputs) > 2 and op.inputs[2] else None


def _epilogue(q: dict, w: np.ndarray, bias: np.ndarray, rows: np.ndarray) -> tuple[dict, np.ndarray, np.ndarray]:
    """The fast requant record (constant channels found from w), with the pre-shift folded into rows and bias."""
    return prescale(requant_fast(q, acc_bounds(bias, w), constant_channels(q, w, bias)), rows, bias)


def _plain(op: Op, graph: Graph) -> bool:
    x, w = in_tensor(graph, op, 0), in_tensor(graph, op, 1)
    return (
        x.shape[0] == 1
        and x.dtype == "int8"
        and w.dtype == "int8"
        and w.quant is not None
        and not any(w.quant.zero_point)
    )


def _conv_ok(op: Op, graph: Graph, target: TargetLike) -> bool:
    x, w, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), graph.tensor(op.outputs[0])
    return has_dsp(target) and _plain(op, graph) and w.shape[3] == x.shape[3] and y.shape[3] % 2 == 0


def is_direct(op: Op, graph: Graph, target: TargetLike) -> bool:
    return (
        _conv_ok(op, graph, target)
        and in_tensor(graph, op, 0).shape[3] % 4 == 0
        and graph.tensor(op.outputs[0]).shape[3] % 4 == 0
    )


def _conv_common(op: Op, graph: Graph, b: Binding, kpad: int, interleave: bool, nch: int) -> Context:
    g = geometry(op, graph)
    w = np.asarray(in_tensor(graph, op, 1).data).reshape(g["cout"], -1)
    rows = np.zeros((g["cout"], kpad), np.int16)
    rows[:, : w.shape[1]] = w
    bias = folded_bias(_bias_values(op, graph), w, g["in_offset"])
    q, rows, bias = _epilogue(requant_q(op, graph, g["cout"]), w, bias, rows)
    packed = pack_pairs(rows, nch, interleave)
    return dict(
        g=g,
        **g,
        pixels=g["oh"] * g["ow"],
        taps=g["kh"] * g["kw"],
        nch=nch,
        bias=bias.tolist(),
        q=q,
        weights=b.weights.add(f"{op.inputs[1]}#cm{nch}{'i' if interleave else 'n'}p{q.get('prescaled', 0)}", packed),
    )


def direct_context(op: Op, graph: Graph, b: Binding) -> Context:
    g = geometry(op, graph)
    ctx = _conv_common(op, graph, b, g["kh"] * g["kw"] * g["cin"], True, 4)
    pointwise = g["kh"] == g["kw"] == 1 and g["sh"] == g["sw"] == 1 and g["pad_t"] == g["pad_l"] == 0
    zp = -g["in_offset"]
    pad = b.weights.add(f"cm_pad_{zp}_{g['cin']}", pad_row(zp, g["cin"]))
    # the dot over cin is fully unrolled up to 32 words (no loop branch), else two words per iteration
    unroll = g["cin"] // 4 if g["cin"] <= 128 else (2 if g["cin"] % 8 == 0 else 1)
    return dict(ctx, pointwise=pointwise, pad=pad, unroll=unroll)


def _kpad(op: Op, graph: Graph) -> int:
    w = in_tensor(graph, op, 1)
    return (w.shape[1] * w.shape[2] * w.shape[3] + 3) // 4 * 4


def im2col_scratch(op: Op, graph: Graph) -> int:
    return 2 * 2 * _kpad(op, graph)


def is_im2col(op: Op, graph: Graph, target: TargetLike) -> bool:
    return (
        _conv_ok(op, graph, target)
        and in_tensor(graph, op, 0).shape[3] % 4 != 0
        and _kpad(op, graph) <= 252
        and scratch_is_free(op, graph, im2col_scratch(op, graph))
    )


def im2col_context(op: Op, graph: Graph, b: Binding) -> Context:
    ctx = _conv_common(op, graph, b, _kpad(op, graph), False, 2)
    kpad = _kpad(op, graph)
    return dict(ctx, kpad=kpad, zp=-ctx["in_offset"], unroll=2 if kpad % 8 == 0 else 1)


def _dw_ok(op: Op, graph: Graph, target: TargetLike) -> bool:
    x = in_tensor(graph, op, 0)
    return has_dsp(target) and _plain(op, graph) and op.attrs.depth_multiplier == 1 and x.shape[3] % 4 == 0


def _dw_inplace_ok(op: Op, graph: Graph, target: TargetLike) -> bool:
    y = graph.tensor(op.outputs[0])
    return _dw_ok(op, graph, target) and y.nbytes <= in_tensor(graph, op, 0).nbytes


def _inside(n_out: int, n_in: int, stride: int, pad: int, k: int, dil: int) -> tuple[int, int]:
    """[lo, hi): the output positions whose whole window lies inside the input (lo == hi when none)."""
    ok = [o for o in range(n_out) if o * stride - pad >= 0 and o * stride - pad + (k - 1) * dil < n_in]
    return (ok[0], ok[-1] + 1) if ok else (0, 0)


def ring_rows(g: dict) -> int:
    """Output rows an in-place depthwise keeps buffered: row r is written once no later row reads input bytes
    below the end of output row r."""
    row_out, row_in = g["ow"] * g["cout"], g["iw"] * g["cin"]
    delay = 0
    for r in range(g["oh"]):
        while r + delay + 1 < g["oh"] and (r + 1) * row_out > max(0, (r + delay + 1) * g["sh"] - g["pad_t"]) * row_in:
            delay += 1
    return delay + 1


def dw_inplace_scratch(op: Op, graph: Graph) -> int:
    g = geometry(op, graph)
    return ring_rows(g) * g["ow"] * g["cout"]


def dw_context(op: Op, graph: Graph, b: Binding, inplace: bool = False) -> Context:
    g = geometry(op, graph)
    c, taps = g["cout"], g["kh"] * g["kw"]
    w = np.asarray(in_tensor(graph, op, 1).data).reshape(taps, c).T  # channels x taps
    bias = folded_bias(_bias_values(op, graph), w, g["in_offset"])
    q, w, bias = _epilogue(requant_q(op, graph, c), w, bias, w)
    # [c/4][tap][(c0, c2), (c1, c3)] as int16
    packed = w.astype(np.int16).reshape(c // 4, 4, taps)[:, [0, 2, 1, 3], :].transpose(0, 2, 1).reshape(-1)
    zp = -g["in_offset"]
    pad = b.weights.add(f"cm_pad_{zp}_{c}", pad_row(zp, c))
    offs = [(ky * g["dh"] * g["iw"] + kx * g["dw"]) * c for ky in range(g["kh"]) for kx in range(g["kw"])]
    return dict(
        g=g,
        **g,
        pixels=g["oh"] * g["ow"],
        taps=taps,
        bias=bias.tolist(),
        q=q,
        pad=pad,
        offs=offs,
        rows_in=_inside(g["oh"], g["ih"], g["sh"], g["pad_t"], g["kh"], g["dh"]),
        cols_in=_inside(g["ow"], g["iw"], g["sw"], g["pad_l"], g["kw"], g["dw"]),
        inplace=inplace,
        ring=ring_rows(g) if inplace else 0,
        weights=b.weights.add(f"{op.inputs[1]}#cmdwp{q.get('prescaled', 0)}", np.ascontiguousarray(packed)),
    )


def dw_inplace_context(op: Op, graph: Graph, b: Binding) -> Context:
    return dw_context(op, graph, b, inplace=True)


CONV2D_SIMD = (
    *CONV_PAIR,
    *POINTWISE_PAIR,
    *CONV_PAIR_STACK,
    *POINTWISE_SIMD,
    *CONV_PAIR_DIRECT,
    *ROWS_SIMD,
    KernelSpec("conv2d_s8_im2col_simd", is_im2col, im2col_scratch, im2col_context),
    KernelSpec("conv2d_s8_direct_simd", is_direct, no_scratch, direct_context),
)
DEPTHWISE_SIMD = (
    *DW3X3_SMALL,
    *DW3X3_PLANAR,
    *DWKXK_PLANAR,
    KernelSpec("dwconv_s8_simd_inplace", _dw_inplace_ok, dw_inplace_scratch, dw_inplace_context, inplace=True),
    KernelSpec("dwconv_s8_simd", _dw_ok, no_scratch, dw_context),
)
