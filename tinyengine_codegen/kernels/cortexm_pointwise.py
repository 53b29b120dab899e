"""1x1 CONV_2D (stride 1, no padding) for Cortex-M cores with the DSP extension: conv2d_1x1_s8_simd.

One output pixel at a time; each group of four output channels is one asm block with fixed registers that reads a
single int32 stream (bias, weights, requant constants) with LDM, so the bias costs one load per four channels and
the accumulators start from it. The dot over cin is fully unrolled (LDR of an input word, SXTB16 twice,
2 LDM + 8 SMLAD).
Requantization is the fast exact path of kernels/cortexm.py with the pre-shift folded into the weights:
SMMLAR, then SSAT with the per-channel right shift as an immediate when the groups are unrolled (small layers), or
ASR by a streamed shift inside a loop over groups (large layers). The sign correction `+ (acc >> 31)` is dropped
when the lower clamp is at or above the output zero point: a negative rounded product then clamps to `lo` with or
without it. A last group of fewer than four channels computes four (zero weights) and stores only its own.
conv2d_1x1_s8_simd_narrow (cin 4 or 8) keeps the pixel's sign-extended input in registers and loops over channels.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Op
from .common import in_tensor
from .cortexm import gemm_facts, has_dsp, pack_pairs, per_op, prescale
from .spec import Binding, Context, KernelSpec, TargetLike, no_scratch

UNROLL_MACS = 2048  # cin * cout up to which every channel group gets its own code (immediate shifts)
MAX_CIN = 512  # the dot is fully unrolled: its code grows with cin


def _bias_values(op: Op, graph: Graph) -> np.ndarray | None:
    return np.asarray(graph.tensor(op.inputs[2]).data) if len(op.inputs) > 2 and op.inputs[2] else None


def _epilogue(op: Op, graph: Graph) -> tuple[dict, np.ndarray, np.ndarray, dict]:
    return per_op(graph, ("pointwise_epilogue", op), lambda: _epilogue_compute(op, graph))


def _epilogue_compute(op: Op, graph: Graph) -> tuple[dict, np.ndarray, np.ndarray, dict]:
    g, w, bias, q = gemm_facts(op, graph)
    q, rows, bias = prescale(q, w, bias)
    return q, rows, bias, g


def is_pointwise_simd(op: Op, graph: Graph, target: TargetLike) -> bool:
    x, w = in_tensor(graph, op, 0), in_tensor(graph, op, 1)
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
        and x.shape[3] <= MAX_CIN
        and w.shape[3] == x.shape[3]
    ):
        return False
    q = _epilogue(op, graph)[0]
    return q["fast"] and q["ls"] == 0 and not q["lo_clip"] and not q["hi_clip"]


def pointwise_stream(q: dict, rows: np.ndarray, bias: np.ndarray, with_shifts: bool) -> np.ndarray:
    """int32 words, per group of four channels: 4 biases, cin/4 steps of 8 weight words (the cm_dot4 order),
    (mult, rnd) for the four channels, then their right shifts when `with_shifts`. Missing channels are zero."""
    cout, cin = rows.shape
    n = (cout + 3) // 4 * 4
    pad = n - cout
    r = np.zeros((n, cin), np.int64)
    r[:cout] = rows
    b = np.concatenate([np.asarray(bias, np.int64), np.zeros(pad, np.int64)])
    mult = np.concatenate([q["mult"], np.zeros(pad, np.int64)])
    rnd = np.concatenate([q["rnd"], np.zeros(pad, np.int64)])
    rs = np.concatenate([q["rs"], np.ones(pad, np.int64)])
    w = pack_pairs(r, 4).astype(np.int16).view(np.int32).astype(np.int64).reshape(n // 4, -1)
    parts = [b.reshape(-1, 4), w, np.stack([mult, rnd], 1).reshape(-1, 8)]
    if with_shifts:
        parts.append(rs.reshape(-1, 4))
    return np.concatenate(parts, axis=1).reshape(-1).astype(np.int32)


def pointwise_context(op: Op, graph: Graph, b: Binding) -> Context:
    q, rows, bias, g = _epilogue(op, graph)
    cin, cout = g["cin"], g["cout"]
    unrolled = cin * cout <= UNROLL_MACS
    stream = pointwise_stream(q, rows, bias, not unrolled)
    groups = [dict(base=4 * i, n=min(4, cout - 4 * i), rs=q["rs"][4 * i : 4 * i + 4]) for i in range((cout + 3) // 4)]
    words = cin // 4
    return dict(
        pixels=g["oh"] * g["ow"],
        cin=cin,
        cout=cout,
        words=words,
        sign=q["lo"] < q["zp"],
        unrolled=unrolled,
        groups=groups,
        full=cout // 4,
        tail=groups[-1] if cout % 4 else None,
        weights=b.weights.add(f"{op.inputs[1]}#cm1x1{'u' if unrolled else 'l'}", stream),
    )


def is_narrow_simd(op: Op, graph: Graph, target: TargetLike) -> bool:
    return (
        in_tensor(graph, op, 0).shape[3] <= 8
        and graph.tensor(op.outputs[0]).shape[3] <= 256
        and is_pointwise_simd(op, graph, target)
    )


def narrow_context(op: Op, graph: Graph, b: Binding) -> Context:
    """cin 4 or 8: the pixel's input stays sign-extended in registers; per channel one LDM of (bias, cin/2 weight
    words, mult, rnd), cin/2 SMLAD, SMMLAR, SSAT with its immediate shift, STRB."""
    q, rows, bias, g = _epilogue(op, graph)
    w = pack_pairs(rows, 1).astype(np.int16).view(np.int32).astype(np.int64).reshape(g["cout"], -1)
    stream = (
        np.concatenate(
            [
                np.asarray(bias, np.int64)[:, None],
                w,
                np.asarray(q["mult"], np.int64)[:, None],
                np.asarray(q["rnd"], np.int64)[:, None],
            ],
            axis=1,
        )
        .reshape(-1)
        .astype(np.int32)
    )
    return dict(
        pixels=g["oh"] * g["ow"],
        cin=g["cin"],
        cout=g["cout"],
        words=g["cin"] // 4,
        rs=q["rs"],
        sign=q["lo"] < q["zp"],
        weights=b.weights.add(f"{op.inputs[1]}#cm1x1n", stream),
    )


POINTWISE_SIMD = (
    KernelSpec("conv2d_1x1_s8_simd_narrow", is_narrow_simd, no_scratch, narrow_context),
    KernelSpec("conv2d_1x1_s8_simd", is_pointwise_simd, no_scratch, pointwise_context),
)
