"""3x3 depthwise kernel for small planes (at most three input and output columns), for Cortex-M cores with DSP.

On a plane this small the channel-planar kernel (kernels/cortexm_dw.py) spends more on its per-channel copy, frame
and set-up than on its MACs, and most of its window taps fall on padding (VWW's 3 x 3 x 256 layer: 49 of 81 taps
are real). This kernel reads a channel's input bytes straight from the NHWC tensor (LDRSB, no copy, no scratch)
and runs one straight-line schedule per channel, computed here at generation time, with only the real taps: an
input row of three columns lives in two registers, the pair (x0, x2) (PKHBT) and x1, so a full row of the window
is one SMLAD against the kernel row's weight pair and one SMLAxy; an edge pixel's two taps are two SMLAxy that
pick the halves. The weights (widened once per channel, pre-shifted by ls) and the compact or wide requantization
record are the planar core's (its frame macro in templates/common/cortexm_dw.c.j2 and `_records`).

The schedule runs output row by output row: it loads the input rows that row needs into two row slots (a row no
later output row needs frees its slot for the next one), accumulates the row's outputs (at most three
accumulators, the bias the first addend), requantizes and stores them. In place (output over input at the same
address), an output pixel overwrites the same channel's byte of the input pixel with its index; `schedule` replays
the loads and stores and the in-place spec matches only when no input byte is read after it was overwritten (rows
still needed stay in their registers across the stores).
"""

from __future__ import annotations

from ..ir.graph import Graph, Op
from .common import in_tensor, out_tensor
from .conv import geometry
from .cortexm import has_dsp, per_op
from .cortexm_dw import MAX_LS, WEIGHT_ORDER, _epilogue, _records
from .spec import Binding, Context, KernelSpec, TargetLike, no_scratch

MAX_COLS = 3  # input and output columns at most: a row is the pair (x0, x2) and x1 in two registers
MAX_ROWS = 6  # output rows at most (the code is straight-line: about 40 instructions per output row)
ACCS = ("r1", "r2", "r3")  # one output row's accumulators
SLOTS = (("r4", "r5"), ("r6", "r12"))  # two input rows' registers
# where weight (kernel row, kernel column) lies in the registers ldm sp, {r7-r11} fills (WEIGHT_ORDER): the kernel
# rows' pairs (w0, w2) in r7-r9, (w01, w11) in r10, w21 in r11's top half (its low byte is the shift)
WEIGHT_AT = {(k, 0): (f"r{7 + k}", "b") for k in range(3)}
WEIGHT_AT |= {(k, 2): (f"r{7 + k}", "t") for k in range(3)}
WEIGHT_AT |= {(0, 1): ("r10", "b"), (1, 1): ("r10", "t"), (2, 1): ("r11", "t")}


def _shape_ok(op: Op, graph: Graph) -> bool:
    if not _types_ok(op, graph):
        return False
    g = geometry(op, graph)
    return (
        g["iw"] <= MAX_COLS
        and g["ow"] <= MAX_COLS
        and g["oh"] <= MAX_ROWS
        and g["sh"] == g["sw"] in (1, 2)
        and g["dh"] == g["dw"] == 1
        and g["pad_t"] < 3
        and g["pad_l"] < 3
        and max(g["ih"] * g["iw"], g["oh"] * g["ow"]) * g["cin"] <= 4096  # LDRSB / STRB immediate offsets
    )


def _types_ok(op: Op, graph: Graph) -> bool:
    x, w, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), out_tensor(graph, op)
    return (
        len(x.shape) == len(y.shape) == 4
        and x.shape[0] == y.shape[0] == 1
        and x.dtype == y.dtype == w.dtype == "int8"
        and w.quant is not None
        and not any(w.quant.zero_point)
        and op.attrs.depth_multiplier == 1
        and x.shape[3] == y.shape[3]
        and w.shape[1] == w.shape[2] == 3
    )


def schedule(g: dict) -> tuple[tuple[str, ...], bool] | None:
    """(the MAC, load and store lines of one channel, in-place safe) for geometry g; None when the registers do
    not suffice. Requantization and the frame are the template's; a line "RQ <row>" marks where output row <row>
    is requantized and stored, "W" where the weights are reloaded."""
    return _Schedule(g).run()


class _Schedule:
    def __init__(self, g: dict):
        self.g, self.c = g, g["cin"]
        self.slots: list[int | None] = [None, None]  # input row held by each slot
        self.lines: list[str] = []
        self.events: list[tuple[str, int]] = []  # ("ld" | "st", pixel index) in program order

    def rows_of(self, r: int) -> list[int]:
        g = self.g
        first = r * g["sh"] - g["pad_t"]
        return [i for i in range(first, first + 3) if 0 <= i < g["ih"]]

    def needed_later(self, row: int, r: int) -> bool:
        return any(row in self.rows_of(q) for q in range(r + 1, self.g["oh"]))

    def load(self, row: int, temp: str | None) -> bool:
        """Load input row `row` into a free slot (temp: a free register for a three-column row's x2)."""
        if None not in self.slots:
            return False
        k = self.slots.index(None)
        self.slots[k] = row
        a, b = SLOTS[k]
        iw, c = self.g["iw"], self.c
        off = [(row * iw + j) * c for j in range(iw)]
        self.events += [("ld", row * iw + j) for j in range(iw)]
        regs = (a, b, temp) if iw == 3 else (a, b)[:iw]
        if None in regs:
            return False
        # the loads back to back (a load after a load pipelines), then the input offset added to each byte read
        # (padding taps are skipped, so the bias is the model's, without the offset's term)
        self.lines += [f"ldrsb {reg}, [r0, #{o}]" for reg, o in zip(regs, off)]
        d = self.g["in_offset"]
        if d:
            self.lines += [f"{'add' if d > 0 else 'sub'} {reg}, {reg}, #{abs(d)}" for reg in regs]
        if iw == 3:
            self.lines.append(f"pkhbt {a}, {a}, {temp}, lsl #16")
        return True

    def col_at(self, row: int, col: int) -> tuple[str, str]:
        a, b = SLOTS[self.slots.index(row)]
        if self.g["iw"] == 3:
            return {0: (a, "b"), 1: (b, "b"), 2: (a, "t")}[col]
        return ((a, b)[col], "b")

    def macs(self, r: int, row: int, started: set[int]) -> None:
        g = self.g
        kr = row - (r * g["sh"] - g["pad_t"])
        for c in range(g["ow"]):
            first = c * g["sw"] - g["pad_l"]
            cols = [j for j in range(first, first + 3) if 0 <= j < g["iw"]]
            acc = ACCS[c]
            for j in cols if not (len(cols) == 3 and g["iw"] == 3) else ("pair", 1):
                addend = "lr" if c not in started else acc
                started.add(c)
                if j == "pair":
                    a, _ = self.col_at(row, 0)
                    self.lines.append(f"smlad {acc}, {a}, r{7 + kr}, {addend}")
                    continue
                xr, xh = self.col_at(row, j)
                wr, wh = WEIGHT_AT[(kr, j - first)]
                self.lines.append(f"smla{xh}{wh} {acc}, {xr}, {wr}, {addend}")

    def run(self) -> tuple[tuple[str, ...], bool] | None:
        g = self.g
        for r in range(g["oh"]):
            rows = self.rows_of(r)
            if not rows:
                return None
            # rows this output row needs and no slot holds yet: load what fits before the bias takes lr
            for row in rows:
                if row not in self.slots and None in self.slots and not self.load(row, "lr"):
                    return None
            self.lines.append("ldr lr, [sp, #28]")
            started: set[int] = set()
            for row in rows:
                if row not in self.slots:
                    free = [a for k, a in enumerate(ACCS) if k >= g["ow"]]
                    temp = "lr" if len(started) == g["ow"] else (free[0] if free else None)
                    if not self.load(row, temp):
                        return None
                self.macs(r, row, started)
                if not self.needed_later(row, r):
                    self.slots[self.slots.index(row)] = None
            if len(started) != g["ow"]:
                return None
            self.lines.append(f"RQ {r}")
            self.events += [("st", r * g["ow"] + c) for c in range(g["ow"])]
            if r + 1 < g["oh"]:
                self.lines.append("W")
        stored: set[int] = set()
        safe = True
        for kind, p in self.events:
            if kind == "st":
                stored.add(p)
            elif p in stored:
                safe = False
        return tuple(self.lines), safe


def _schedule(op: Op, graph: Graph):
    return per_op(graph, ("dw_small_schedule", op), lambda: schedule(geometry(op, graph)))


def is_dw3x3_small(op: Op, graph: Graph, target: TargetLike) -> bool:
    if not (has_dsp(target) and _shape_ok(op, graph)):
        return False
    q, _, _ = _epilogue(op, graph)
    return bool(q["fast"]) and q["ls"] is not None and 1 <= q["ls"] <= MAX_LS and _schedule(op, graph) is not None


def is_dw3x3_small_inplace(op: Op, graph: Graph, target: TargetLike) -> bool:
    return is_dw3x3_small(op, graph, target) and _schedule(op, graph)[1]


def small_inplace_context(op: Op, graph: Graph, b: Binding) -> Context:
    """In place the outputs are stored through the input pointer (r0): no output pointer to reload per row."""
    return small_context(op, graph, b, inplace=True)


def small_context(op: Op, graph: Graph, b: Binding, inplace: bool = False) -> Context:
    g = geometry(op, graph)
    q, w, _ = _epilogue(op, graph)
    rec, compact, asr1 = _records(op, graph, unfolded=True)
    lines, _ = _schedule(op, graph)
    clip = (q["lo"] if q["lo_clip"] else "n", q["hi"] if q["hi_clip"] else "n")
    name = "_".join(
        str(v) for v in (g["sh"], g["ih"], g["iw"], g["oh"], g["ow"], g["pad_t"], g["pad_l"], g["cin"], q["ls"], *clip)
    )
    packed = w[:, list(WEIGHT_ORDER)].astype("int8").reshape(-1)
    ow = g["ow"]
    steps = []
    for line in lines:
        if line.startswith("RQ "):
            r = int(line[3:])
            steps.append(("rq", [(ACCS[c], (r * ow + c) * g["cin"]) for c in range(ow)]))
        elif line == "W":
            steps.append(("w", None))
        else:
            steps.append(("asm", line))
    # clips: (the bound in every byte, lower?) for SSUB8 / SEL on an output row packed in one word
    clips = [
        ((v % 256) * 0x01010101, lower)
        for v, on, lower in ((q["lo"], q["lo_clip"], True), (q["hi"], q["hi_clip"], False))
        if on
    ]
    return dict(
        g,
        q=q,
        ls=q["ls"],
        clips=clips,
        steps=steps,
        rec=rec,
        compact=compact,
        asr1=asr1,
        rnd_base=2 * q["zp"] + 1,
        core=(
            f"dw3_small_{name}_z{q['zp']}"
            + ("_c" if compact else "_w")
            + ("" if asr1 else "_s0")
            + ("_ip" if inplace else "")
        ).replace("-", "m"),
        out_reg="r0" if inplace else "r10",
        weights=b.weights.add(f"{op.inputs[1]}#dwplanar", packed),
    )


DW3X3_SMALL = (  # the same C either way: the in-place variant matches only where the schedule is in-place safe
    KernelSpec("dwconv3x3_s8_small_inplace", is_dw3x3_small_inplace, no_scratch, small_inplace_context, inplace=True),
    KernelSpec("dwconv3x3_s8_small", is_dw3x3_small, no_scratch, small_context),
)
