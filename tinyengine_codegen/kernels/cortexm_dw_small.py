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
from .conv import geometry
from .cortexm import has_dsp, per_op
from .cortexm_dw import MAX_LS, WEIGHT_ORDER, _records, clip_key, dw_epilogue, dw_operands_ok
from .spec import Binding, Context, KernelSpec, TargetLike, no_scratch

MAX_COLS = 3  # output columns at most (one accumulator each)
MAX_IN_COLS = 7  # input columns at most (a row's values fit in four registers: row_plan)
MAX_ROWS = 6  # output rows at most (the code is straight-line: about 40 instructions per output row)
ACCS = ("r1", "r2", "r3")  # one output row's accumulators
ROW_REGS = ("r4", "r5", "r6", "r12")  # input rows' registers: two rows of one or two, or one row of three or four
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
        g["iw"] <= MAX_IN_COLS
        and g["ow"] <= MAX_COLS
        and g["oh"] <= MAX_ROWS
        and g["sh"] == g["sw"] in (1, 2)
        and g["dh"] == g["dw"] == 1
        and g["pad_t"] < 3
        and g["pad_l"] < 3
        and g["iw"] * g["cin"] <= 4096  # a row's LDRSB offsets from r0 (moved on row by row)
        and g["oh"] * g["ow"] * g["cin"] <= 4096  # STRB offsets
    )


def _types_ok(op: Op, graph: Graph) -> bool:
    return dw_operands_ok(op, graph)


def schedule(g: dict) -> tuple[tuple[str, ...], bool] | None:
    """(the MAC, load and store lines of one channel, in-place safe) for geometry g; None when the registers do
    not suffice. Requantization and the frame are the template's; a line "RQ <row>" marks where output row <row>
    is requantized and stored, "W" where the weights are reloaded."""
    if g["ow"] > len(ACCS) or row_plan(g) is None:
        return None
    return _Schedule(g).run()


def row_plan(g: dict) -> list[tuple[int, int | None]] | None:
    """The registers one input row lives in, as (column in the low half, column in the high half or None): the
    pair (f, f + 2) of every output column whose window [f, f + 2] is all inside the row (one SMLAD), and the other
    columns the windows read, two to a register when the pairs and they would need more than two registers; None
    beyond four."""
    windows = [c * g["sw"] - g["pad_l"] for c in range(g["ow"])]
    pairs = sorted({(f, f + 2) for f in windows if f >= 0 and f + 2 < g["iw"]})
    covered = {j for p in pairs for j in p}
    singles = sorted({j for f in windows for j in range(f, f + 3) if 0 <= j < g["iw"]} - covered)
    plan: list[tuple[int, int | None]] = [*pairs, *((j, None) for j in singles)]
    if len(plan) > 2:
        plan = [
            *pairs,
            *((singles[k], singles[k + 1] if k + 1 < len(singles) else None) for k in range(0, len(singles), 2)),
        ]
    return plan if len(plan) <= len(ROW_REGS) else None


class _Schedule:
    def __init__(self, g: dict):
        self.g, self.c = g, g["cin"]
        self.plan = row_plan(g) or []
        n = max(1, len(self.plan))
        self.regs = [ROW_REGS[k * n : (k + 1) * n] for k in range(min(2, len(ROW_REGS) // n))]
        self.slots: list[int | None] = [None] * len(self.regs)  # input row held by each slot
        self.base = 0  # bytes r0 has moved on from the channel's first input byte
        self.at: dict[int, tuple[int, str]] = {}  # column -> (register of the plan, half)
        for k, (lo, hi) in reversed(list(enumerate(self.plan))):
            self.at[lo] = (k, "b")
            if hi is not None:
                self.at[hi] = (k, "t")
        self.lines: list[str] = []
        self.events: list[tuple[str, int]] = []  # ("ld" | "st", pixel index) in program order

    def rows_of(self, r: int) -> list[int]:
        g = self.g
        first = r * g["sh"] - g["pad_t"]
        return [i for i in range(first, first + 3) if 0 <= i < g["ih"]]

    def needed_later(self, row: int, r: int) -> bool:
        return any(row in self.rows_of(q) for q in range(r + 1, self.g["oh"]))

    def load(self, row: int, temp: str | None) -> bool:
        """Load input row `row` into a free slot (temp: a free register for the high halves of pairs)."""
        if None not in self.slots or (temp is None and any(hi is not None for _, hi in self.plan)):
            return False
        k = self.slots.index(None)
        self.slots[k] = row
        iw, c, d = self.g["iw"], self.c, self.g["in_offset"]
        while (row * iw + iw - 1) * c - self.base > 4095:  # LDRSB offsets: move r0 on to the row (rows ascend)
            step = min(row * iw * c - self.base, 4095)
            self.lines.append(f"addw r0, r0, #{step}")
            self.base += step
        self.events += [("ld", row * iw + j) for p in self.plan for j in p if j is not None]
        # per register its bytes back to back (a load after a load pipelines), then the input offset added to each
        # byte read (padding taps are skipped, so the bias is the model's, without the offset's term)
        in_temp = None  # the column temp holds (a pair's high half, still there for a next pair (hi, hi + 2))
        for reg, (lo, hi) in zip(self.regs[k], self.plan):
            chained = hi is not None and lo == in_temp
            loads = [(reg, hi)] if chained else [(reg, lo)] if hi is None else [(reg, lo), (temp, hi)]
            self.lines += [f"ldrsb {x}, [r0, #{(row * iw + j) * c - self.base}]" for x, j in loads]
            if d:
                self.lines += [f"{'add' if d > 0 else 'sub'} {x}, {x}, #{abs(d)}" for x, _ in loads]
            if chained:  # (x2, x4) after (x0, x2): x2 is still in temp
                self.lines.append(f"pkhbt {reg}, {temp}, {reg}, lsl #16")
            elif hi is not None:
                self.lines.append(f"pkhbt {reg}, {reg}, {temp}, lsl #16")
                in_temp = hi
        return True

    def col_at(self, row: int, col: int) -> tuple[str, str]:
        k, half = self.at[col]
        return self.regs[self.slots.index(row)][k], half

    def macs(self, r: int, row: int, started: set[int]) -> None:
        g = self.g
        kr = row - (r * g["sh"] - g["pad_t"])
        for c in range(g["ow"]):
            first = c * g["sw"] - g["pad_l"]
            cols = [j for j in range(first, first + 3) if 0 <= j < g["iw"]]
            acc = ACCS[c]
            full = len(cols) == 3
            for j in ("pair", first + 1) if full else cols:
                addend = "lr" if c not in started else acc
                started.add(c)
                if j == "pair":
                    a = self.regs[self.slots.index(row)][self.plan.index((first, first + 2))]
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
    if not (has_dsp(target) and _shape_ok(op, graph) and row_plan(geometry(op, graph)) is not None):
        return False
    q, _, _ = dw_epilogue(op, graph)
    return bool(q["fast"]) and q["ls"] is not None and 1 <= q["ls"] <= MAX_LS and _schedule(op, graph) is not None


def is_dw3x3_small_inplace(op: Op, graph: Graph, target: TargetLike) -> bool:
    return is_dw3x3_small(op, graph, target) and _schedule(op, graph)[1]


def small_inplace_context(op: Op, graph: Graph, b: Binding) -> Context:
    """In place the outputs are stored through the input pointer (r0): no output pointer to reload per row."""
    return small_context(op, graph, b, inplace=True)


def small_context(op: Op, graph: Graph, b: Binding, inplace: bool = False) -> Context:
    g = geometry(op, graph)
    q, w, _ = dw_epilogue(op, graph)
    rec, compact, asr1 = _records(op, graph, unfolded=True)
    lines, _ = _schedule(op, graph)
    clip = clip_key(q)
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
        out_reg="r0" if inplace and not any(ln.startswith("addw r0") for ln in lines) else "r10",
        weights=b.weights.add(f"{op.inputs[1]}#dwplanar", packed),
    )


DW3X3_SMALL = (  # the same C either way: the in-place variant matches only where the schedule is in-place safe
    KernelSpec("dwconv3x3_s8_small_inplace", is_dw3x3_small_inplace, no_scratch, small_inplace_context, inplace=True),
    KernelSpec("dwconv3x3_s8_small", is_dw3x3_small, no_scratch, small_context),
)
