"""The small-plane depthwise kernel's generated schedule (kernels/cortexm_dw_small.py), run by a small interpreter
of its instructions against numpy on every plane it takes: each real tap exactly once with its weight, the input
offset added, padding skipped, and, in place, no input byte read after an output overwrote it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tinyengine_codegen.kernels.cortexm_dw import WEIGHT_ORDER
from tinyengine_codegen.kernels.cortexm_dw_small import ACCS, MAX_COLS, MAX_IN_COLS, MAX_ROWS, row_plan, schedule

SENTINEL = 1 << 20  # what an output store leaves in the input (in place): a later read of it spoils the result


def _half(v: int, h: str) -> int:
    x = (v >> 16) if h == "t" else v
    x &= 0xFFFF
    return x - 0x10000 if x & 0x8000 else x


def _run(lines, x, w, bias, c, ow, clobber=True):
    """Interpret one channel's schedule over the input pixels x, which its output stores overwrite (clobber: in
    place).
    Returns the accumulators per output (row, column) and whether an overwritten byte was read."""
    # the registers ldm sp, {r7-r11} fills, as the frame builds them from the nine bytes in WEIGHT_ORDER: SXTB16
    # of the first word and of it rotated, the same for the second word, the ninth byte over the shift (3)
    b = [int(v) & 0xFFFF for v in np.asarray(w).reshape(9)[list(WEIGHT_ORDER)]]
    reg = {"r7": b[0] | b[2] << 16, "r8": b[1] | b[3] << 16, "r9": b[4] | b[6] << 16, "r10": b[5] | b[7] << 16}
    reg["r11"] = 3 | b[8] << 16
    out, stale, base = {}, False, 0
    for line in lines:
        op, _, rest = line.partition(" ")
        a = [t.strip("[]#, ") for t in rest.split(",")]
        if op == "ldrsb":
            p = (base + int(a[2])) // c
            assert (base + int(a[2])) % c == 0 and a[1] == "r0"
            stale |= x[p] == SENTINEL
            reg[a[0]] = int(x[p])
        elif op == "addw":
            assert a[:2] == ["r0", "r0"]
            base += int(a[2])
        elif op in ("add", "sub"):
            reg[a[0]] = reg[a[1]] + (1 if op == "add" else -1) * int(a[2])
        elif op == "pkhbt":
            assert a[3] == "lsl #16"
            reg[a[0]] = (reg[a[1]] & 0xFFFF) | ((reg[a[2]] & 0xFFFF) << 16)
        elif op == "ldr":
            assert a[1:] == ["sp", "28"]
            reg[a[0]] = bias
        elif op == "smlad":
            reg[a[0]] = sum(_half(reg[a[1]], h) * _half(reg[a[2]], h) for h in "bt") + reg[a[3]]
        elif op.startswith("smla"):
            reg[a[0]] = _half(reg[a[1]], op[4]) * _half(reg[a[2]], op[5]) + reg[a[3]]
        elif op == "RQ":
            row = int(a[0])
            for k in range(ow):
                out[(row, k)] = reg.pop(ACCS[k])
                if clobber:
                    x[row * ow + k] = SENTINEL
        else:
            assert op == "W", line
    return out, stale


def _pads(n, stride, same):
    if not same:
        return (n - 3) // stride + 1, 0
    o = (n + stride - 1) // stride
    return o, max((o - 1) * stride + 3 - n, 0) // 2


GEOMETRIES = [
    (ih, iw, s, same)
    for ih, iw, s, same in itertools.product(range(1, 14), range(1, MAX_IN_COLS + 1), (1, 2), (True, False))
    if same or min(ih, iw) >= 3
]


@pytest.mark.parametrize("c", [5, 450])  # 450 channels: offsets beyond LDRSB's 4095, r0 moved on row by row
@pytest.mark.parametrize("ih,iw,stride,same", GEOMETRIES)
def test_schedule_computes_every_real_tap_once(ih, iw, stride, same, c):
    (oh, pt), (ow, pl) = _pads(ih, stride, same), _pads(iw, stride, same)
    off = -37
    g = dict(ih=ih, iw=iw, oh=oh, ow=ow, sh=stride, sw=stride, pad_t=pt, pad_l=pl, cin=c, in_offset=off)
    res = schedule(g)
    if oh > MAX_ROWS or ow > MAX_COLS or row_plan(g) is None or oh * ow * c > 4096:  # the predicate refuses these
        return
    if res is None:  # stride 1 rows of three or four registers: one row slot, rows needed again do not fit
        assert stride == 1 and len(row_plan(g)) > 2
        return
    lines, safe = res
    rng = np.random.default_rng(ih * 100 + iw * 10 + stride)
    xin = rng.integers(-128, 128, ih * iw)
    w = rng.integers(-127, 128, (3, 3))
    bias = int(rng.integers(-5000, 5000))
    assert all(int(ln.split("#")[1].rstrip("]")) <= 4095 for ln in lines if ln.startswith("ldrsb"))
    got, stale = _run(lines, xin.copy(), w, bias, c, ow)
    assert safe == (not stale)
    if not safe:  # out of place only: the outputs go elsewhere
        got, _ = _run(lines, xin.copy(), w, bias, c, ow, clobber=False)
    xp = np.zeros((oh * stride + 3, ow * stride + 3), np.int64)
    xp[pt : pt + ih, pl : pl + iw] = xin.reshape(ih, iw) + off
    for r, q in itertools.product(range(oh), range(ow)):
        win = xp[r * stride : r * stride + 3, q * stride : q * stride + 3]
        assert got[(r, q)] == bias + int((win * w).sum()), (r, q)
