"""Channel-planar 3x3 depthwise kernel, stride 1 or 2, for Cortex-M cores with the DSP extension.

One channel at a time: its input plane is copied into a scratch plane framed by input-zero-point bytes, then an
assembly core slides over that plane. In the plane, consecutive columns are consecutive bytes, so one word load
gives four columns; SXTB16 turns a word (x0, x1, x2, x3) into the pairs (x0, x2) and (x1, x3), and one SMLAD against
the weight pair (w0, w2) of a kernel row does two taps of one output, the middle tap being one SMLAxy.

Stride 1: blocks of three output rows x two pixels, five input rows each loaded and widened once for every output
row they feed, all weights in registers, the channel's parameters in the core's stack frame (it widens the channel's
int8 weights and reads its compact requantization record itself); where four planes fit, one pass copies the planes
of four channels by 4x4 byte transposes (docs/cortexm_kernels.md). Stride 2: four pixels per step, one plane copied
byte by byte, weights widened per channel in C.
Weights stay int8 in flash (nine bytes per channel, ordered so that two SXTB16 per word give the pairs).

The input offset is folded into the bias (kernels/cortexm.py), so a frame byte (the zero point) contributes nothing,
and the fast exact requantization of requant_fast is used, its pre-shift folded into the widened weights (SADD16
doubles both halves) and the bias. Because a channel's whole input plane is copied before its outputs are written,
and an output byte of channel c only ever lands on an input byte of channel c, the kernel may overwrite its input
(in place) for any stride and padding.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from .common import in_tensor, out_tensor
from .conv import geometry, requant_q
from .cortexm import RQ_BIAS_LIMIT, acc_bounds, fast_epilogue, has_dsp, per_op, requant_words
from .spec import Binding, Context, KernelSpec, TargetLike, no_scratch

MAX_LS = 8  # |w| << ls stays an int16 lane
# two-pixel steps a plane row runs unrolled at most, by stride (more are looped): unrolled, stride 1's three-row
# blocks save the loop's four instructions per 54 MACs, which keeps them under 2.0 instructions per MAC; stride 2
# spends more on its plane copy than a loop costs, so its rows loop and one core stays small (a third of the code)
UNROLL_STEPS = {1: 3, 2: 1}
MIN_PIXELS_S2 = 9  # below this many output pixels per channel, stride 2 runs faster four channels at a time
# byte order of one channel's nine weights (index ky * 3 + kx): SXTB16 of word 0 gives (w00, w02) and, rotated,
# (w10, w12); of word 1 (w20, w22) and, rotated, (w01, w11); the ninth byte is w21
WEIGHT_ORDER = (0, 3, 2, 5, 6, 1, 8, 4, 7)


def _geometry_ok(op: Op, graph: Graph) -> bool:
    """Shapes, types and offsets the kernels take (once per op: every planar spec's predicate asks)."""
    return per_op(graph, ("dw_planar_geometry", op), lambda: _geometry_check(op, graph))


def dw_operands_ok(op: Op, graph: Graph, sizes: tuple[int, ...] = (3,)) -> bool:
    """What every channel-planar and small-plane depthwise kernel takes: batch 1, int8 activations, symmetric int8
    weights, depth multiplier 1 and a square k x k window with k in `sizes`."""
    x, w, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), out_tensor(graph, op)
    return (
        len(x.shape) == len(y.shape) == 4
        and x.shape[0] == y.shape[0] == 1
        and x.dtype == y.dtype == w.dtype == "int8"
        and w.quant is not None
        and not any(w.quant.zero_point)
        and op.attrs.depth_multiplier == 1
        and x.shape[3] == y.shape[3]
        and w.shape[1] == w.shape[2]
        and w.shape[1] in sizes
    )


def _geometry_check(op: Op, graph: Graph) -> bool:
    if not dw_operands_ok(op, graph):
        return False
    g = geometry(op, graph)
    return (
        g["sh"] == g["sw"] in (1, 2)
        and (g["sh"] == 1 or g["oh"] * g["ow"] >= MIN_PIXELS_S2)
        and g["dh"] == g["dw"] == 1
        and g["pad_t"] < 3
        and g["pad_l"] < 3
        and g["oh"] * g["ow"] * g["cout"] < 65536  # MOVW immediates
        and _fits(g)
    )


def _fits(g: dict) -> bool:
    """The block's offsets are immediates: 2 stride + 2 plane rows down, two output rows and a pixel across."""
    o = _orient(g)
    return (2 * g["sh"] + 2) * plane_layout(g)["s"] + 2 <= 4095 and 2 * o["rowstep"] + o["ystep"] <= 4095


def _orient(g: dict, transpose: bool = True) -> dict:
    """How the core walks the output: along plane rows of `along` pixels, `ystep` output bytes apart, the next
    plane row's first pixel `rowstep` bytes after this row's first. A tall narrow plane (oh >= 2 ow) is walked
    transposed (plane rows are input columns), so that each plane row has more four-pixel steps and fewer tails."""
    t = transpose and g["oh"] >= 2 * g["ow"]
    c = g["cout"]
    along, nrows = (g["oh"], g["ow"]) if t else (g["ow"], g["oh"])
    ystep, rowstep = (g["ow"] * c, c) if t else (c, g["ow"] * c)
    return dict(transposed=t, along=along, nrows=nrows, ystep=ystep, rowstep=rowstep)


def dw_epilogue(op: Op, graph: Graph) -> tuple[dict, np.ndarray, np.ndarray]:
    """(fast requant record before any pre-shift, weights channels x kh*kw, folded bias) of a depthwise op (depth
    multiplier 1), computed once per op: every depthwise kernel's predicate and context (3x3 and k x k planar,
    small planes, patch-stage regions) start from it."""
    return per_op(graph, ("dw_epilogue", op), lambda: _epilogue_compute(op, graph))


def _epilogue_compute(op: Op, graph: Graph) -> tuple[dict, np.ndarray, np.ndarray]:
    g = geometry(op, graph)
    c = g["cout"]
    w = np.asarray(in_tensor(graph, op, 1).data).reshape(g["kh"] * g["kw"], c).T.astype(np.int64)
    bias_t = graph.tensor(op.inputs[2]).data if len(op.inputs) > 2 and op.inputs[2] else None
    bias, q = fast_epilogue(requant_q(op, graph, c), w, bias_t, g["in_offset"])
    return q, w, bias


def is_dw3x3_planar(op: Op, graph: Graph, target: TargetLike) -> bool:
    if not (has_dsp(target) and _geometry_ok(op, graph)):
        return False
    q, _, _ = dw_epilogue(op, graph)
    return bool(q["fast"]) and q["ls"] is not None and 1 <= q["ls"] <= MAX_LS


def planar_scratch(op: Op, graph: Graph) -> int:
    """One framed input plane (rows padded to words, plus the word a step reads past a row's end)."""
    g = geometry(op, graph)
    return plane_layout(g, s=_shared_layout(op, graph))["plane_bytes"]


def is_dw3x3_planar4(op: Op, graph: Graph, target: TargetLike) -> bool:
    """With the four-channel copy (plane_layout's group 4)."""
    return is_dw3x3_planar(op, graph, target) and plane_layout(geometry(op, graph))["group"] == 4


def planar4_scratch(op: Op, graph: Graph) -> int:
    return 4 * planar_scratch(op, graph)


def planar4_context(op: Op, graph: Graph, b: Binding) -> Context:
    ctx = planar_context(op, graph, b)
    return dict(ctx, group=4, scratch_words=ctx["scratch_words"] * 4)


def plane_layout(g: dict, transpose: bool = True, s: int | None = None) -> dict:
    """Where the kernel's planes lie: rows of `s` bytes (the framed row, rounded up to words), the copied
    input starting word-aligned `origin` bytes into a plane (`lead` bytes into the first), `cols` input bytes along
    a plane row (`sa` input bytes apart) and `prow` plane rows from the input (`sx` apart), planes `plane_bytes`
    apart; `group` 4 when one pass copies four channels' planes (channels a multiple of four, offsets that fit load
    and store immediates), else 1. s: wider plane rows (a shared core's, _shared_layout)."""
    o = _orient(g, transpose)
    t, c = o["transposed"], g["cin"]
    st = g["sh"]
    s = max(s or 0, ((o["along"] - 1) * st + 3 + 3) // 4 * 4)
    rows = (o["nrows"] - 1) * st + 3
    pad_a, pad_x = (g["pad_t"], g["pad_l"]) if t else (g["pad_l"], g["pad_t"])
    in_a, in_x = (g["ih"], g["iw"]) if t else (g["iw"], g["ih"])
    sa, sx = (g["iw"] * c, c) if t else (c, g["iw"] * c)
    origin = pad_x * s + pad_a
    lead = -origin % 4
    plane_bytes = (lead + rows * s + 4 + 3) // 4 * 4
    cols, prow = min(in_a, (o["along"] - 1) * st + 3 - pad_a), min(in_x, rows - pad_x)
    group = 4 if c % 4 == 0 and 4 * sa <= 4095 and 3 * plane_bytes <= 4095 else 1
    return dict(
        s=s,
        rows=rows,
        origin=origin,
        lead=lead,
        plane_bytes=plane_bytes,
        cols=cols,
        prow=prow,
        sa=sa,
        sx=sx,
        group=group,
    )


def planar_context(op: Op, graph: Graph, b: Binding, transpose: bool = True) -> Context:
    g = geometry(op, graph)
    q, w, _ = dw_epilogue(op, graph)
    o = _orient(g, transpose)
    taps = [(p % 3) * 3 + p // 3 for p in range(9)] if o["transposed"] else list(range(9))
    packed = np.ascontiguousarray(w[:, taps][:, list(WEIGHT_ORDER)].astype(np.int8)).reshape(-1)
    return dict(
        g,
        **o,
        **_core_context(op, graph, g, transpose),
        q=q,
        ls=q["ls"],
        zp=-g["in_offset"],
        weights=b.weights.add(f"{op.inputs[1]}#dwplanar", packed),
    )


def clip_key(q: dict) -> tuple:
    """The clips a fast record applies, as kernel names spell them: the bound, or "n" for none."""
    return (q["lo"] if q["lo_clip"] else "n", q["hi"] if q["hi_clip"] else "n")


def _shared_layout(op: Op, graph: Graph) -> int | None:
    """The plane row bytes of the shared core (templates/common/cortexm_dw.c.j2 dw3_core_rt) op runs on, or None
    when it has a core of its own."""
    return per_op(graph, ("dw_planar_shared", None), lambda: _shared_scan(graph)).get(op.name)


def _shared_scan(graph: Graph) -> dict:
    """Layers whose rows are all looped (UNROLL_STEPS), with the same stride, requantization and last rows' shape
    but different geometries, share one core whose output geometry is a run-time argument: four more instructions
    per block of 54 MACs (its stores take register offsets) for one core less per geometry. The core's plane
    rows are the class's widest; a layer joins only when its wider planes stay within the class's largest scratch
    (and its four-channel copy), so the model's largest depthwise scratch stays as it was."""
    classes: dict[tuple, list] = {}
    for op in graph.ops:
        if op.kind is not OpKind.DEPTHWISE_CONV_2D or not _geometry_ok(op, graph):
            continue
        q = dw_epilogue(op, graph)[0]
        if not (q["fast"] and q["ls"] is not None and 1 <= q["ls"] <= MAX_LS):
            continue
        g = geometry(op, graph)
        o, lay = _orient(g), plane_layout(g)
        if o["along"] // 2 <= UNROLL_STEPS[g["sh"]] or o["nrows"] < 3:
            continue
        key = (g["sh"], q["ls"], clip_key(q), q["zp"], _records(op, graph)[2], o["along"] % 2, o["nrows"] % 3)
        classes.setdefault(key, []).append((op, g, lay))
    shared: dict[str, int] = {}
    for members in classes.values():
        most = max(lay["group"] * lay["plane_bytes"] for _, _, lay in members)
        best: tuple = (1, 0, [])
        for s in sorted({lay["s"] for _, _, lay in members}):
            joined = [op for op, g, lay in members if _joins(g, lay, s, most)]
            geos = {(lay["s"], *_orient(g).values()) for op, g, lay in members if op in joined}
            if len(geos) > best[0]:  # the most cores saved, then the narrowest planes
                best = (len(geos), s, joined)
        shared.update((op.name, best[1]) for op in best[2])
    return shared


def _joins(g: dict, lay: dict, s: int, most: int) -> bool:
    """Whether a layer (layout lay) may run on planes of s-byte rows: no narrower than its own, the same copy
    grouping, no more scratch than `most`, block offsets that stay immediates."""
    if lay["s"] > s or (2 * g["sh"] + 2) * s + 2 > 4095:
        return False
    wide = plane_layout(g, s=s)
    return wide["group"] == lay["group"] and wide["group"] * wide["plane_bytes"] <= most


def _core_context(op: Op, graph: Graph, g: dict, transpose: bool) -> dict:
    q = dw_epilogue(op, graph)[0]
    clip = clip_key(q)
    wide = _shared_layout(op, graph) if transpose else None
    if wide is not None:
        return _shared_core_context(op, graph, g, wide, clip)
    lay = plane_layout(g, transpose)
    o = _orient(g, transpose)
    # the core's code depends only on these numbers: layers that share them share one core (and one copy)
    core = "_".join(
        str(v).replace("-", "m")
        for v in (g["sh"], lay["s"], o["ystep"], o["rowstep"], o["along"], o["nrows"], q["ls"], *clip)
    )
    copy = "_".join(str(v) for v in (lay["cols"], lay["prow"], lay["sa"], lay["sx"], lay["s"]))
    # the core reads either record (a wide one's address comes tagged with bit 0), so the geometry, the clips, the
    # pre-shift and the input zero point (the compact rounding constant) name it; a wide record with a zero shift
    # (no SSAT ... ASR #1) needs its own
    return _core_fields(op, graph, lay, f"dw3_core_{core}_z{q['zp']}", copy, q, g["sh"], geo=None)


def _core_fields(op: Op, graph: Graph, lay: dict, core: str, copy: str, q: dict, stride: int, **more) -> dict:
    """The template fields every planar layer's core context has: plane layout, core and copy names, records."""
    rec, compact, asr1 = _records(op, graph)
    return dict(
        lay,
        group=1,
        scratch_words=lay["plane_bytes"] // 4,
        core=core.replace("-", "m") + ("" if asr1 else "_s0"),
        asr1=asr1,
        copy=f"dw3_copy4_{copy}",
        rec=rec,
        compact=compact,
        rnd_base=2 * q["zp"] + 1,
        unroll=UNROLL_STEPS[stride],
        **more,
    )


def _shared_core_context(op: Op, graph: Graph, g: dict, s: int, clip: tuple) -> dict:
    """_core_context of a layer on a shared core (plane rows s bytes apart): the core's name says only what its
    code depends on; `geo` the layer's run-time geometry (dw3_core_rt)."""
    lay, o, q = plane_layout(g, s=s), _orient(g), dw_epilogue(op, graph)[0]
    st, along, ys, rs = g["sh"], o["along"], o["ystep"], o["rowstep"]
    tail, rest = along % 2, o["nrows"] % 3
    core = "_".join(str(v) for v in (st, s, tail, rest, q["ls"], *clip, f"z{q['zp']}"))
    copy = "_".join(str(v) for v in (lay["cols"], lay["prow"], lay["sa"], lay["sx"], lay["s"]))
    geo = [ys, rs, along // 2 * 2 * ys, o["nrows"] // 3 * 3 * rs]
    geo += [v for nr in (3, rest or 3) for v in (nr * st * s - along * st, nr * rs - along * ys)]
    return _core_fields(op, graph, lay, f"dw3_core_rt_{core}", copy, q, st, geo=geo, tail=tail, rest=rest)


def _records(op: Op, graph: Graph, unfolded: bool = False) -> tuple[list[int], bool, bool]:
    """(records, compact, asr1): the core's per-channel records, the compact requantization of kernels/cortexm.py
    (requant_words: (bias << 8) | (rs - 1) and the multiplier, 8 bytes; the core forms the rounding constant and
    pre-shifts the bias by ls like the weights); else (a bias beyond 24 bits) multiplier, rounding, bias << ls and
    the shift, less one where every shift is at least 1 (asr1: SSAT shifts the last bit, as with compact ones).
    unfolded: the model's bias without the input offset's term (for a kernel that adds the offset to each input
    it reads: kernels/cortexm_dw_small.py); the accumulator it yields is the same."""
    q, w, bias = dw_epilogue(op, graph)
    ls = q["ls"]
    if unfolded:
        bias = np.asarray(bias, np.int64) - geometry(op, graph)["in_offset"] * w.sum(axis=1)
    # a bias beyond 24 bits whose channel outputs one constant is re-encoded (requant_words' spans) with TFLM's
    # multiplier 2^30, which at this kernel's pre-shift ls is 2^(31 - ls): (acc << ls) 2^(31 - ls) = (acc << 1) 2^30
    words = requant_words(q, bias, ls, None if unfolded else acc_bounds(np.zeros(len(w), np.int64), w))
    if words is not None:
        packed, mult = words
        mult = np.where(np.abs(np.asarray(bias, np.int64)) >= RQ_BIAS_LIMIT, 1 << (31 - ls), mult)
        return np.stack([packed, mult], axis=1).reshape(-1).astype(np.int32).tolist(), True, True
    const = np.asarray(q["mult"]) == 0
    b = np.where(const, 0, np.asarray(bias, np.int64) << ls)
    rs = np.asarray(q["rs"], np.int64)
    asr1 = bool(np.all(rs >= 1))
    rec = np.stack([np.asarray(q["mult"], np.int64), np.asarray(q["rnd"], np.int64), b, rs - asr1], axis=1)
    return rec.reshape(-1).astype(np.int32).tolist(), False, asr1


DW3X3_PLANAR = (  # the same C either way: the in-place variant only declares that it may overwrite its input
    KernelSpec("dwconv3x3_s8_planar4_inplace", is_dw3x3_planar4, planar4_scratch, planar4_context, inplace=True),
    KernelSpec("dwconv3x3_s8_planar4", is_dw3x3_planar4, planar4_scratch, planar4_context),
    KernelSpec("dwconv3x3_s8_planar_inplace", is_dw3x3_planar, planar_scratch, planar_context, inplace=True),
    KernelSpec("dwconv3x3_s8_planar", is_dw3x3_planar, planar_scratch, planar_context),
)


REGION_STACK = 512  # bytes of the region kernel's framed tile plane, a local array on the C stack
REGION_STACK4 = 2048  # the four planes of a four-channel group together (the firmware stack is 8 KB)
REGION_COLS = 24  # output columns per tile of the region kernel at most


def region_group(g: dict) -> int:
    """4 when the region kernel copies four channels' tile planes per pass (channels a multiple of four)."""
    return 4 if g["cin"] % 4 == 0 else 1


def region_tile(g: dict) -> tuple[int, int, int, int]:
    """(output rows, output columns, plane row bytes, plane rows) of one tile of the region kernel: its framed
    plane (four of them for a four-channel group) fits in REGION_STACK (REGION_STACK4) bytes."""
    budget = REGION_STACK if region_group(g) == 1 else REGION_STACK4 // 4
    cols = min(g["ow"], REGION_COLS)
    s = (cols - 1) * g["sw"] + 3
    band = max(1, min(g["oh"], ((budget - 4) // s - 3) // g["sh"] + 1))
    return band, cols, s, (band - 1) * g["sh"] + 3


def is_dw3x3_planar_region(op: Op, graph: Graph, target: TargetLike) -> bool:
    """Stride 1 (the template takes stride 2 too, but a patch stage's stride-2 regions are small: VWW's 6 x 6 x 16
    regions run at 4.6 instructions per MAC against the four-channel kernel's 3.8); a block's output bytes (two
    pixels apart) are post-index immediates."""
    a = op.attrs
    return (
        a.stride_h == a.stride_w == 1
        and is_dw3x3_planar(op, graph, target)
        and 2 * out_tensor(graph, op).shape[3] <= 255
    )


def region_context(op: Op, graph: Graph, b: Binding) -> Context:
    g = geometry(op, graph)
    band, cols, s, rows = region_tile(g)
    ctx = dict(planar_context(op, graph, b, transpose=False), band=band, cols=cols, s=s, rows=rows)
    return dict(ctx, group=region_group(g), plane_words=(rows * s + 4 + 3) // 4)


# patch stage: the same core over a region (sizes and padding at run time), tile by tile. A patch stage runs at the
# arena's peak, so the tile's plane is a small array on the stack (REGION_STACK bytes) rather than arena scratch.
DW3X3_PLANAR_REGION = KernelSpec("dwconv3x3_s8_planar_region", is_dw3x3_planar_region, no_scratch, region_context)
