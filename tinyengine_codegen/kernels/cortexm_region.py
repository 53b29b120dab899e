"""Patch-stage (region) kernel specs for Cortex-M cores with the DSP extension (SXTB16 + SMLAD).

Same interface as the portable region kernels of kernels/region.py (operands plus a `const tinyml_region_t *r`),
same arithmetic as the whole-tensor SIMD kernels of kernels/cortexm_conv.py, whose context builders they reuse:
int16 weight pairs, the input offset folded into the bias (a padded tap reads a row of input-zero-point bytes,
whose contribution cancels) and the fast exact requantization epilogue. Only the addressing differs: tap pointers
come from the region's row stride and padding at run time.

conv2d_s8_pair_region: any cin (first layers included) whose two columns fit on the stack, weights that fit the
    row-pair format (kernels/cortexm_pair.py): two pixels' windows sign-extended into stack columns, then the quad
    core (two pixels x two row pairs per pass, int8 weights); a 1x1 stride-1 layer runs the whole-tensor 1x1
    driver on the region instead (one run of pixels when its rows lie back to back in both buffers, else one run
    per row). The two kernels below are its fallbacks.
conv2d_s8_simd_region: cin % 4 == 0 and cout % 4 == 0; one pixel x four output channels (pointwise included).
conv2d_s8_im2col_simd_region: cin % 4 != 0 (first layers); two pixels' windows as int16 columns in scratch
    (2 x 2 x kpad bytes, independent of the region), then the 2 x 2 SIMD GEMM.
dwconv3x3_s8_planar_region: the channel-planar kernel of kernels/cortexm_dw.py, tile by tile over the region (stride
    1), four channels' tile planes copied in assembly (templates/common/cortexm_dw_region.c.j2).
dwconv_s8_simd2_region: depth multiplier 1, channels % 4 == 0, the left shift folded into the weights; two pixels x
    four channels per pass in assembly (a row's odd pixel one), a window across the region's edge gathered.
dwconv_s8_simd_region: its fallback; an interior pixel reads each kernel row from one pointer (taps at fixed offsets
    from it), a border pixel reads the zero-point row for taps in the padding.
add_s8_lut_region: the ADD lookup-table kernel on each row of the region.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from .common import in_tensor, out_tensor
from .conv import geometry
from .cortexm import pad_row
from .cortexm_add import add_lut_context, is_add_lut
from .cortexm_conv import _conv_common, _conv_ok, _dw_ok, _kpad, dw_context, im2col_scratch, is_direct
from .cortexm_dw import clip_key, dw_epilogue, is_dw3x3_planar_region, region_context
from .cortexm_pair import STACK_COLUMNS, _kp, pair_weights_fit, quad_conv_context
from .spec import Binding, Context, KernelSpec, TargetLike, no_scratch

MAX_KPAD = 252  # the im2col columns of the whole-tensor kernel have the same limit
PRESCALE_MAX = 8  # kernels/cortexm.py prescale folds a uniform left shift up to 8 into the int16 weights
SIMD2_STACK = 2048  # stack bytes of dwconv_s8_simd2_region's window and zero-point row (the firmware stack is 8 KB)


def _nhwc(op: Op, graph: Graph) -> bool:
    x, y = in_tensor(graph, op), out_tensor(graph, op)
    return len(x.shape) == len(y.shape) == 4 and y.shape[0] == 1 and y.dtype == "int8"


def is_direct_region(op: Op, graph: Graph, target: TargetLike) -> bool:
    return _nhwc(op, graph) and is_direct(op, graph, target)


def is_im2col_region(op: Op, graph: Graph, target: TargetLike) -> bool:
    return (
        _nhwc(op, graph)
        and _conv_ok(op, graph, target)
        and in_tensor(graph, op).shape[3] % 4 != 0
        and _kpad(op, graph) <= MAX_KPAD
    )


def is_pair_region(op: Op, graph: Graph, target: TargetLike) -> bool:
    w = in_tensor(graph, op, 1)
    if not (
        _nhwc(op, graph)
        and _conv_ok(op, graph, target)
        and w.dtype == "int8"
        and w.quant is not None
        and not any(w.quant.zero_point)
        and 4 * _kp(op, graph) <= STACK_COLUMNS
    ):
        return False
    return pair_weights_fit(op, graph)


def pair_region_context(op: Op, graph: Graph, b: Binding) -> Context:
    return quad_conv_context(op, graph, b, columns=True)


def is_dw_region(op: Op, graph: Graph, target: TargetLike) -> bool:
    return _nhwc(op, graph) and _dw_ok(op, graph, target)


def is_add_region(op: Op, graph: Graph, target: TargetLike) -> bool:
    return _nhwc(op, graph) and is_add_lut(op, graph, target)


def _dot_unroll(cin: int) -> int:
    """Words of the dot over cin per loop iteration: all of them up to 32 words, else two (or one)."""
    return cin // 4 if cin <= 128 else (2 if cin % 8 == 0 else 1)


def direct_region_context(op: Op, graph: Graph, b: Binding) -> Context:
    g = geometry(op, graph)
    ctx = _conv_common(op, graph, b, g["kh"] * g["kw"] * g["cin"], True, 4)
    zp = -g["in_offset"]
    return dict(
        ctx,
        pointwise=g["kh"] == g["kw"] == 1 and g["sh"] == g["sw"] == 1,
        pad=b.weights.add(f"cm_pad_{zp}_{g['cin']}", pad_row(zp, g["cin"])),
        unroll=_dot_unroll(g["cin"]),
    )


def im2col_region_context(op: Op, graph: Graph, b: Binding) -> Context:
    kpad = _kpad(op, graph)
    ctx = _conv_common(op, graph, b, kpad, False, 2)
    g = ctx["g"]
    # (column index, kernel row, byte offset from that row's first tap) of every window value, in column order
    col_taps = [
        ((ky * g["kw"] + kx) * g["cin"] + ci, ky, kx * g["dw"] * g["cin"] + ci)
        for ky in range(g["kh"])
        for kx in range(g["kw"])
        for ci in range(g["cin"])
    ]
    return dict(ctx, kpad=kpad, zp=-ctx["in_offset"], unroll=2 if kpad % 8 == 0 else 1, col_taps=col_taps)


def dw_region_context(op: Op, graph: Graph, b: Binding) -> Context:
    ctx = dw_context(op, graph, b)
    # interior taps: kernel row ky reads from its own pointer x<ky>, tap (ky, kx) at kx * dw * c bytes from it
    taps = [(ky, kx) for ky in range(ctx["kh"]) for kx in range(ctx["kw"])]
    return dict(
        ctx, row_bases=[f"x{ky}" for ky, _ in taps], row_offsets=[kx * ctx["dw"] * ctx["cin"] for _, kx in taps]
    )


def dw_planar_region_context(op: Op, graph: Graph, b: Binding) -> Context:
    """The channel-planar region kernel's context (kernels/cortexm_dw.py) and the name of its tile copy, shared
    by the layers whose channels (word stride) and planes (their distance) are the same."""
    ctx = region_context(op, graph, b)
    return dict(ctx, copy4=f"dwr_copy4_{ctx['cin']}_{4 * ctx['plane_words']}")


def is_dw_simd2_region(op: Op, graph: Graph, target: TargetLike) -> bool:
    """The two-pixel NHWC kernel: the requantization's left shift folded into the int16 weights (one shift for
    every channel, at most 8), every tap of two pixels within a load's immediate reach, its stack buffers within
    SIMD2_STACK bytes."""
    if not is_dw_region(op, graph, target):
        return False
    g = geometry(op, graph)
    q = dw_fast_q(op, graph)
    reach = (g["sw"] + (g["kw"] - 1) * g["dw"]) * g["cin"]
    return (
        bool(q["fast"])
        and q["ls"] is not None
        and q["ls"] <= PRESCALE_MAX
        and reach <= 4095
        and g["kh"] <= 5
        and g["kh"] * g["kw"] <= 25
        and _simd2_stack(g) <= SIMD2_STACK
    )


def _simd2_stack(g: dict) -> int:
    """Bytes of the kernel's stack buffers: a gathered window (kh rows of its span) and a zero-point row."""
    span = ((g["kw"] - 1) * g["dw"] + 1) * g["cin"]
    return g["kh"] * span + (g["sw"] + (g["kw"] - 1) * g["dw"] + 1) * g["cin"]


def dw_fast_q(op: Op, graph: Graph) -> dict:
    """The fast requantization record of a depthwise op before any pre-shift is folded (cortexm_dw.dw_epilogue,
    shared with the layer kernels' predicates), once per op."""
    return dw_epilogue(op, graph)[0]


def _columns(npx: int, kw: int, sw: int, dw: int) -> list[tuple[int, list[tuple[int, int]]]]:
    """(input column, [(pixel, kernel column) it feeds]) of `npx` pixels' windows, columns in order."""
    uses: dict[int, list[tuple[int, int]]] = {}
    for p in range(npx):
        for kx in range(kw):
            uses.setdefault(p * sw + kx * dw, []).append((p, kx))
    return sorted(uses.items())


def dw_simd2_context(op: Op, graph: Graph, b: Binding) -> Context:
    ctx = dw_context(op, graph, b)
    q, c = ctx["q"], ctx["cin"]
    kh, kw, sw, dw = ctx["kh"], ctx["kw"], ctx["sw"], ctx["dw"]
    # per four channels: their biases, then (multiplier, rounding, right shift) of each
    quads = np.asarray(ctx["bias"], np.int64).reshape(-1, 4)
    rq = np.stack([q["mult"], q["rnd"], q["rs"]], axis=1).astype(np.int64).reshape(-1, 12)
    rec = np.concatenate([quads, rq], axis=1).reshape(-1)
    zp = -ctx["in_offset"]
    reach = (sw + (kw - 1) * dw + 1) * c  # bytes a padded row of a two-pixel window spans (plus a word)
    clip = clip_key(q)
    # the cores depend only on these numbers: layers that share them share the cores
    name = "_".join(str(v).replace("-", "m") for v in (kh, kw, sw, dw, c, *clip))
    return dict(
        ctx,
        rec=rec.astype(np.int32).tolist(),
        zp=zp,
        reach=reach,
        span=((kw - 1) * dw + 1) * c,
        cols1=_columns(1, kw, sw, dw),
        cols2=_columns(2, kw, sw, dw),
        core1=f"dws1_core_{name}",
        core2=f"dws2_core_{name}",
    )


def add_region_context(op: Op, graph: Graph, b: Binding) -> Context:
    return dict(
        add_lut_context(op, graph, b),
        inner="add_s8_lut",
        n_in=2,
        c=out_tensor(graph, op).shape[3],
        row_params="const int8_t *in0, const int8_t *in1, int8_t *out0, int n",
    )


REGION_SIMD = {  # placed first in their patch-stage families (kernels/region.py)
    OpKind.CONV_2D: (
        KernelSpec("conv2d_s8_pair_region", is_pair_region, no_scratch, pair_region_context),
        KernelSpec("conv2d_s8_im2col_simd_region", is_im2col_region, im2col_scratch, im2col_region_context),
        KernelSpec("conv2d_s8_simd_region", is_direct_region, no_scratch, direct_region_context),
    ),
    OpKind.DEPTHWISE_CONV_2D: (
        KernelSpec("dwconv3x3_s8_planar_region", is_dw3x3_planar_region, no_scratch, dw_planar_region_context),
        KernelSpec("dwconv_s8_simd2_region", is_dw_simd2_region, no_scratch, dw_simd2_context),
        KernelSpec("dwconv_s8_simd_region", is_dw_region, no_scratch, dw_region_context),
    ),
    OpKind.ADD: (KernelSpec("add_s8_lut_region", is_add_region, no_scratch, add_region_context),),
}
