"""The k x k channel-planar depthwise kernel's offline numbers (kernels/cortexm_dwk.py), without QEMU: the block plan
computes every pixel's window exactly once (simulated halfword by halfword), block widths and plane layouts."""

from __future__ import annotations

import numpy as np
import pytest

from tinyengine_codegen.kernels import cortexm_dwk


def _half(reg: dict, name: str, h: str) -> int:
    return reg[name][0 if h == "b" else 1]


def _simulate(k: int, st: int, npx: int, pairs, row: np.ndarray, wrow: np.ndarray) -> list[int]:
    """One kernel row of a block as the core runs it: each word's pairs (x0, x2) and (x1, x3) as SXTB16 gives them,
    each multiply on the halves it names."""
    wr = cortexm_dwk.weight_regs(pairs)
    wpad = np.concatenate([wrow, np.full(8, 99)])  # a weight past the row must never be multiplied
    regs = {r: (int(wpad[e]), int(wpad[e + 2])) for e, r in wr.items()}
    acc = [0] * npx
    for wd in cortexm_dwk.block_plan(k, st, npx, pairs):
        o = wd["off"]
        if wd["byte"]:
            regs["lr"] = (int(row[o]), 0)
        else:
            regs["lr"], regs["r12"] = (int(row[o]), int(row[o + 2])), (int(row[o + 1]), int(row[o + 3]))
        for ins, a, src, w, _first in wd["macs"]:
            j = int(a[1:]) - 1
            if ins == "smlad":
                acc[j] += regs[src][0] * regs[w][0] + regs[src][1] * regs[w][1]
            else:
                acc[j] += _half(regs, src, ins[4]) * _half(regs, w, ins[5])
    return acc


@pytest.mark.parametrize("k,pairs", [(k, p) for k, ps in cortexm_dwk.PAIR_SETS.items() for p in ps])
@pytest.mark.parametrize("st", [1, 2])
@pytest.mark.parametrize("npx", [1, 2, 3, 5, 6, 7, 8])
def test_block_plan_computes_each_window_once(k, pairs, st, npx):
    if npx > cortexm_dwk.npx_max(pairs):
        pytest.skip("more pixels than accumulators")
    rng = np.random.default_rng(k * 100 + st * 10 + npx)
    row = rng.integers(-128, 128, (npx - 1) * st + k + 8)
    wrow = rng.integers(-127, 128, k)
    got = _simulate(k, st, npx, pairs, row, wrow)
    want = [int(np.dot(row[st * j : st * j + k], wrow)) for j in range(npx)]
    assert got == want
    # each accumulator has exactly one first multiply (where the first kernel row may add the bias)
    firsts = [m[1] for wd in cortexm_dwk.block_plan(k, st, npx, pairs) for m in wd["macs"] if m[4]]
    assert sorted(firsts) == sorted(f"r{1 + j}" for j in range(npx))


@pytest.mark.parametrize(
    "ow,k,npx,pairs",
    [
        (48, 5, 8, (0, 1, 2)),
        (12, 5, 6, (0, 1, 2)),
        (13, 5, 7, (0, 1, 2)),
        (6, 7, 6, (0, 1, 2, 3, 4)),
        (24, 7, 6, (0, 1, 2, 3, 4)),
        (7, 7, 7, (0, 1, 3, 4)),  # one block of 7 rather than two of 4
        (28, 7, 7, (0, 1, 3, 4)),
        (3, 7, 3, (0, 1, 2, 3, 4)),
        (1, 5, 1, (0, 1, 2)),
    ],
)
def test_block_width_covers_rows_with_least_overlap(ow, k, npx, pairs):
    assert cortexm_dwk.config(dict(ow=ow, kh=k, sh=1)) == (pairs, npx)


def test_layer_table_advances_reach_the_last_block_and_the_next_row():
    g = dict(kh=5, sh=2, sw=2, ow=13, oh=4, iw=27, ih=8, cin=8, cout=8, pad_t=1, pad_l=1)
    q = dict(lo=-128, hi=127, ls=1, zp=-5)
    t = cortexm_dwk.layer_table(g, q)
    s, lo2, hi2, ladvp, ladvo, rowp, rowo, nb, rnd = (t[i] for i in (0, 1, 2, 6, 7, 8, 9, 10, 12))
    npx = cortexm_dwk.block_npx(g)  # 7: blocks at pixels 0 and 6
    assert (npx, nb) == (7, 2)
    assert (ladvp, ladvo) == (6 * 2, 6 * 8)  # straight to the last block
    assert rowp == 2 * s - 6 * 2 and rowo == npx * 8  # from the last block to the next row's first
    assert (lo2, hi2, rnd, len(t)) == (int(np.int32(np.uint32(0xFF80FF80))), 0x007F007F, -9, 13)
