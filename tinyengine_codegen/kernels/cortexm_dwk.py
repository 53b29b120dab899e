"""Channel-planar k x k depthwise kernel (k = 5 or 7, stride 1 or 2) for Cortex-M cores with the DSP extension.

One channel at a time, as the 3x3 kernel of cortexm_dw.py: its input plane is copied into scratch framed by
input-zero-point bytes (four channels' planes per pass by the shared 4x4-transpose copy where the channel count is a
multiple of four), then an assembly core computes the channel's whole output plane from it. The core works on
blocks of `npx` output pixels of one row: for each kernel row it loads that row's weight pairs (w_t, w_t+2), every t,
from its stack frame, then the plane words at multiples of four bytes from the block's start, each once: LDR,
SXTB16 and SXTB16 ROR #8 give its pairs (x0, x2) and (x1, x3), and a pair that falls on taps t and t + 2 of a
pixel's window is one SMLAD with (w_t, w_t+2), any other tap one SMLAxy on a halfword (block_plan). Weights stay
int8 in flash (k x k bytes per channel, in the model's row order); the core widens them per channel into its frame,
doubled (the requantization's pre-shift, SADD16). Requantization is the exact fast path of cortexm.py from the
shared compact 8-byte record (requant_words); each activation clip is one SSUB16/SEL pair over two outputs. One
core per (k, stride, block width, clips applied): plane and output geometry, clips and output zero point are
run-time numbers (a per-layer table of 13 words), so layers share the core's code.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Op
from .conv import geometry
from .cortexm import acc_bounds, has_dsp, per_op, requant_words
from .cortexm_dw import dw_epilogue, dw_operands_ok
from .spec import Binding, Context, KernelSpec, TargetLike

KERNEL_SIZES = (5, 7)
# the weight pairs (w_t, w_t+2) of one kernel row the core may keep in registers while it runs that row: every t, so
# that whichever byte of a word a pixel's window starts at, the word's pairs (x0, x2) and (x1, x3) meet a weight pair;
# for k = 7 also all but (w2, w4), which leaves room for a seventh pixel (0.98 against 0.95 data instructions per MAC
# in a block row, but rows of 7, 14, 28 pixels without overlap): config picks per layer
PAIR_SETS = {5: ((0, 1, 2),), 7: ((0, 1, 2, 3, 4), (0, 1, 3, 4))}


def npx_max(pairs: tuple[int, ...]) -> int:
    """Output pixels per block at most: accumulators r1..r<npx> beside the weight registers (r<12 - len(pairs)>..r11),
    the plane pointer r0 and two temporaries."""
    return 11 - len(pairs)


def weight_regs(pairs: tuple[int, ...]) -> dict[int, str]:
    """t -> the register holding (w_t, w_t+2)."""
    return {t: f"r{12 - len(pairs) + i}" for i, t in enumerate(pairs)}


def _geometry_ok(op: Op, graph: Graph) -> bool:
    return per_op(graph, ("dwk_planar_geometry", op), lambda: _geometry_check(op, graph))


def _geometry_check(op: Op, graph: Graph) -> bool:
    if not dw_operands_ok(op, graph, KERNEL_SIZES):
        return False
    g = geometry(op, graph)
    k = g["kh"]
    lay = plane_layout(g)
    return (
        g["sh"] == g["sw"] in (1, 2)
        and g["dh"] == g["dw"] == 1
        and 0 <= g["pad_t"] < k
        and 0 <= g["pad_l"] < k
        and lay["cols"] > 0
        and lay["prow"] > 0
        and (block_npx(g) - 1) * g["sh"] + 8 <= 4095  # a block's plane offsets are load immediates
    )


def block_npx(g: dict) -> int:
    return config(g)[1]


def config(g: dict) -> tuple[tuple[int, ...], int]:
    """(weight pairs, pixels per block) of a layer: per pair set, the fewest blocks of at most npx_max pixels that
    cover a row, as even as they can be (the last block of a row overlaps the one before when the row is no multiple:
    it recomputes a few pixels); of those the one with the fewest estimated instructions per output row."""

    def cost(pairs: tuple[int, ...]) -> tuple[float, tuple[int, ...], int]:
        nb = -(-g["ow"] // npx_max(pairs))
        npx = -(-g["ow"] // nb)
        plan = block_plan(g["kh"], g["sh"], npx, pairs)
        row = sum(1 + (0 if w["byte"] else w["p"] + w["q"]) + len(w["macs"]) for w in plan) + 3
        return nb * (g["kh"] * row + 8 * npx + 25), pairs, npx

    _, pairs, npx = min(cost(p) for p in PAIR_SETS[g["kh"]])
    return pairs, npx


def plane_layout(g: dict) -> dict:
    """Where the planes lie: rows of `s` bytes (the framed row rounded up to words), the copied input starting
    word-aligned `origin` bytes into a plane (`lead` bytes into the first), `cols` input bytes along a plane row
    (`sa` apart) and `prow` plane rows from the input (`sx` apart), planes `plane_bytes` apart (plus the word a
    block reads past a row's end); `group` 4 when one pass copies four channels' planes, else 1."""
    k, st, c = g["kh"], g["sh"], g["cin"]
    width, rows = (g["ow"] - 1) * st + k, (g["oh"] - 1) * st + k
    s = (width + 3) // 4 * 4
    origin = g["pad_t"] * s + g["pad_l"]
    lead = -origin % 4
    plane_bytes = (lead + rows * s + 4 + 3) // 4 * 4
    cols, prow = min(g["iw"], width - g["pad_l"]), min(g["ih"], rows - g["pad_t"])
    sa, sx = c, g["iw"] * c
    # the four-channel copy takes its strides as immediates (LDR/ADDW 12 bits, MOVW 16)
    group = 4 if c % 4 == 0 and 4 * sa <= 4095 and sx <= 65535 and s - cols <= 4095 and prow <= 65535 else 1
    return dict(s=s, rows=rows, origin=origin, lead=lead, plane_bytes=plane_bytes, cols=cols, prow=prow, sa=sa, sx=sx,
                group=group)  # fmt: skip


def _words(op: Op, graph: Graph):
    """The compact records (requant_words) of op, or None (a bias beyond 24 bits: the kernel does not apply)."""

    def compute():
        q, w, bias = dw_epilogue(op, graph)
        return requant_words(q, bias, q["ls"], acc_bounds(np.zeros(len(w), np.int64), w))

    return per_op(graph, ("dwk_planar_words", op), compute)


def is_dwk_planar(op: Op, graph: Graph, target: TargetLike) -> bool:
    if not (has_dsp(target) and _geometry_ok(op, graph)):
        return False
    q, _, _ = dw_epilogue(op, graph)
    # the fast requantization shifts right by at least one bit, so its pre-shift is the doubling alone (ls 1)
    return bool(q["fast"]) and q["ls"] == 1 and _words(op, graph) is not None


def is_dwk_planar4(op: Op, graph: Graph, target: TargetLike) -> bool:
    return is_dwk_planar(op, graph, target) and plane_layout(geometry(op, graph))["group"] == 4


def planar_scratch(op: Op, graph: Graph) -> int:
    return plane_layout(geometry(op, graph))["plane_bytes"]


def planar4_scratch(op: Op, graph: Graph) -> int:
    return 4 * planar_scratch(op, graph)


def block_plan(k: int, st: int, npx: int, pairs: tuple[int, ...] | None = None) -> list[dict]:
    """The loads and multiplies of one kernel row of a block of npx pixels (pixel j's window starts at plane byte
    st * j): per plane word (at a multiple of four from the block's start) its offset, whether it is one
    sign-extended byte (LDRSB), which of its pairs it needs (P = (x0, x2) in lr, Q = (x1, x3) in r12) and its
    multiplies (instruction, accumulator, input, weight register, whether it is the accumulator's first). A pair of
    bytes two apart that falls on two taps of a pixel's window is one SMLAD with the weight pair (w_t, w_t+2); every
    other tap one SMLAxy on a halfword."""
    wr = weight_regs(pairs or PAIR_SETS[k][0])
    words: dict[int, dict] = {}

    def use(b: int, mac: tuple) -> None:
        wd = words.setdefault(b - b % 4, dict(off=b - b % 4, byte=False, p=False, q=False, macs=[]))
        wd["p" if b % 2 == 0 else "q"] = True
        wd["macs"].append(mac)

    for j in range(npx):
        acc, covered = f"r{1 + j}", set()
        for t in range(k - 2):  # smallest taps first: a greedy cover of taps by pairs (t, t + 2) is maximal
            b = st * j + t
            if b % 4 < 2 and t in wr and not covered & {t, t + 2}:
                use(b, ("smlad", acc, "lr" if b % 2 == 0 else "r12", wr[t]))
                covered |= {t, t + 2}
        for t in range(k):
            if t not in covered:
                b = st * j + t
                reg, wh = (wr[t], "b") if t in wr else (wr[t - 2], "t")
                use(b, (f"smla{'t' if b % 4 >= 2 else 'b'}{wh}", acc, "lr" if b % 2 == 0 else "r12", reg))
    out = [words[o] for o in sorted(words)]
    seen: set[str] = set()
    for wd in out:  # each accumulator's first multiply in the row: the first kernel row's may add the bias to it
        wd["macs"] = [(*m, m[1] not in seen and not seen.add(m[1])) for m in wd["macs"]]
    for wd in out:
        if len(wd["macs"]) == 1 and wd["macs"][0][0] != "smlad":  # one byte: a byte load is one instruction
            ins, acc, _, reg, first = wd["macs"][0]
            b = wd["off"] + (2 if ins[4] == "t" else 0) + (1 if wd["q"] else 0)
            wd.update(off=b, byte=True, p=False, q=False, macs=[(f"smlab{ins[5]}", acc, "lr", reg, first)])
    return out


def widen_loads(pairs: tuple[int, ...]) -> list[tuple[int, int | None, int | None]]:
    """How the core widens a kernel row: (byte offset in the row, slot of SXTB16's pair, of SXTB16 ROR 8's pair; None
    where the pair is not kept): the word at t gives (w_t, w_t+2) and (w_t+1, w_t+3)."""
    slot = {t: i for i, t in enumerate(pairs)}
    return [(t, slot.get(t), slot.get(t + 1)) for t in range(0, max(pairs) + 1, 2) if t in slot or t + 1 in slot]


def layer_table(g: dict, q: dict) -> list[int]:
    """The core's per-layer numbers: plane row bytes, the two clips as halfword pairs, the output pixel bytes, the
    plane and output advances to the next block, to a row's last block and to the next row's first, blocks per
    row, output rows and 2 zp + 1 (the compact records' rounding constant)."""
    st, c, ow, npx = g["sh"], g["cout"], g["ow"], block_npx(g)
    s = plane_layout(g)["s"]
    nb = -(-ow // npx)
    last = ow - npx  # the last block's first pixel
    ladv = last - (nb - 2) * npx if nb >= 2 else 0

    def pair(v: int) -> int:
        return int(np.int32(np.uint32(((v & 0xFFFF) << 16) | (v & 0xFFFF))))

    return [
        s, pair(q["lo"]), pair(q["hi"]), c,
        npx * st, npx * c, ladv * st, ladv * c, st * s - last * st, npx * c,
        nb, g["oh"], 2 * q["zp"] + 1,
    ]  # fmt: skip


def planar_context(op: Op, graph: Graph, b: Binding) -> Context:
    g = geometry(op, graph)
    q, w, _ = dw_epilogue(op, graph)
    k, st = g["kh"], g["sh"]
    pairs, npx = config(g)
    packed, mult = _words(op, graph)
    rec = np.stack([packed, mult], axis=1).reshape(-1).astype(np.int32).tolist()
    # k x k int8 weights per channel in row order, then three bytes a row's last word load may read past the end
    wbytes = np.concatenate([w.astype(np.int8).reshape(-1), np.zeros(3, np.int8)])
    lay = plane_layout(g)
    nw = len(pairs)
    copy = "_".join(str(v) for v in (lay["cols"], lay["prow"], lay["sa"], lay["sx"], lay["s"]))
    # the clips beyond the int8 range the core applies ("" when none: no clipping code)
    clip = ("lo" if q["lo_clip"] else "") + ("hi" if q["hi_clip"] else "")
    return dict(
        g,
        **lay,
        k=k,
        npx=npx,
        wregs=[weight_regs(pairs)[t] for t in pairs],
        widen=widen_loads(pairs),
        row_bytes=4 * (nw + 1),
        wb=4 * (nw + 1) * k,
        frame=(4 * (nw + 1) * k + 76 + 4 * npx + 7) // 8 * 8,
        plan=block_plan(k, st, npx, pairs),
        # a register the block leaves free holds the bias, which the first kernel row's multiplies add (no copies)
        breg=f"r{npx + 1}" if npx < npx_max(pairs) else None,
        core=f"dwk_core_k{k}_s{st}_n{npx}_p{''.join(map(str, pairs))}" + (f"_{clip}" if clip else ""),
        clip=clip,
        copy=f"dw3_copy4_{copy}",
        rec=rec,
        geo=layer_table(g, q),
        zp=-g["in_offset"],
        scratch_words=lay["plane_bytes"] // 4,
        weights=b.weights.add(f"{op.inputs[1]}#dwkplanar", wbytes),
    )


def planar4_context(op: Op, graph: Graph, b: Binding) -> Context:
    ctx = planar_context(op, graph, b)
    return dict(ctx, scratch_words=4 * ctx["scratch_words"])


def _planar1_context(op: Op, graph: Graph, b: Binding) -> Context:
    return dict(planar_context(op, graph, b), group=1)


DWKXK_PLANAR = (  # the same C either way: the in-place variant only declares that it may overwrite its input
    KernelSpec("dwconvkxk_s8_planar4_inplace", is_dwk_planar4, planar4_scratch, planar4_context, inplace=True),
    KernelSpec("dwconvkxk_s8_planar4", is_dwk_planar4, planar4_scratch, planar4_context),
    KernelSpec("dwconvkxk_s8_planar_inplace", is_dwk_planar, planar_scratch, _planar1_context, inplace=True),
    KernelSpec("dwconvkxk_s8_planar", is_dwk_planar, planar_scratch, _planar1_context),
)
