"""Requantization tables of the row-pair kernels (kernels/cortexm_pair.py): the wide layout (int32 bias, multiplier,
rounding constant and shift per row) and the quad core's compact layout (kernels/cortexm.py requant_words: 8 bytes
per row with the bias; docs/cortexm_kernels.md)."""

from __future__ import annotations

import numpy as np

from .cortexm import acc_bounds, requant_table, requant_words

B_LIMIT = 1 << 23  # |row B's dot| below this keeps 256 * dot inside int32


def uniform(q: dict) -> bool:
    """True when every channel shares one (multiplier, rounding, shift): the epilogue takes them as immediates."""
    return len({(m, r, s) for m, r, s in zip(q["mult"], q["rnd"], q["rs"])}) == 1


def pair_table(q: dict, bias: np.ndarray, group: int, first: int = 0) -> np.ndarray:
    """int32 constants per group of `group` pairs from row `first` on: biasA per pair (both accumulators start
    there), then per pair (rsA, rsB, biasB << ls, multA, rndA, multB, rndB), or only biasB << ls when the
    requantization is uniform (its constants are immediates in the code)."""
    b = np.asarray(bias, np.int64)
    flat = uniform(q)
    out = []
    for g in range(first, len(b), 2 * group):
        out += [b[p] for p in range(g, g + 2 * group, 2)]
        for p in range(g, g + 2 * group, 2):
            bb = b[p + 1] << q["ls"]
            if flat:
                out.append(bb)
            else:
                out += [q["rs"][p], q["rs"][p + 1], bb, q["mult"][p], q["rnd"][p], q["mult"][p + 1], q["rnd"][p + 1]]
    return np.asarray(out, np.int64).astype(np.int32)


def quad_table(q: dict, bias: np.ndarray, first: int = 0) -> np.ndarray:
    """int32 constants per group of four rows r..r+3 from row `first` on: biasA of both pairs (b[r], b[r + 2]),
    biasB << ls of both, then (mult, rnd, rs) of each row unless the requantization is uniform."""
    b = np.asarray(bias, np.int64)
    flat = uniform(q)
    out = []
    for r in range(first, len(b) // 4 * 4, 4):
        out += [b[r], b[r + 2], b[r + 1] << q["ls"], b[r + 3] << q["ls"]]
        if not flat:
            for c in range(r, r + 4):
                out += [q["mult"][c], q["rnd"][c], q["rs"][c]]
    return np.asarray(out, np.int64).astype(np.int32)


QUAD_ORDER = (1, 0, 3, 2)  # rows B then A of each pair: one LDM gives the accumulators' registers in order


def _compact_words(q: dict, rows: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """requant_words of q when the row-pair kernels can use them: every bias within 24 bits, 256 x row B's
    accumulator inside int32 and rs - 1 vanishing under the ASR by 8 - ls that extracts row B; else None."""
    spans = acc_bounds(np.zeros(len(rows), np.int64), rows)  # 128 x sum |w| per row
    words = requant_words(q, bias, q["ls"], spans)
    if words is None:
        return None
    bounds = acc_bounds(words[0] >> 8, rows)[1::2]  # constant rows count with their replacement bias
    if np.any(bounds >= B_LIMIT) or np.any((words[0] & 255) >> (8 - q["ls"])):
        return None
    return words


def quad_table_compact(q: dict, rows: np.ndarray, bias: np.ndarray) -> list[int] | None:
    """The quad core's compact table (8 bytes per row, 4 when uniform): per group of four rows the packed words
    (bias << 8) | (rs - 1) of rows r+1, r, r+3, r+2, then their multipliers (kernels/cortexm.py requant_table).
    Both accumulators of a pair start at biasA, the first at biasA + packedB, so their difference is
    256 (row B's dot + biasB) + (rs - 1) and one ASR by 8 - ls drops the low byte. None (the wide table of
    quad_table) when a bias needs more than 24 bits, 256 x row B's accumulator could overflow, or rs - 1 does not
    vanish under that shift."""
    n = len(bias) // 4 * 4
    words = _compact_words(q, rows, bias) if n else None
    if words is None:
        return None
    table = requant_table(words, 4, QUAD_ORDER)
    if uniform(q):
        table = [v for i, v in enumerate(table) if i % 8 < 4]
    return table


def pair_table_compact(q: dict, rows: np.ndarray, bias: np.ndarray, first: int = 0) -> list[int] | None:
    """The pair core's compact table from row `first` on: per pair the packed words of rows B and A, then their
    multipliers (only the packed words when uniform); None under quad_table_compact's conditions."""
    words = _compact_words(q, rows, bias)
    if words is None:
        return None
    table = requant_table((words[0][first:], words[1][first:]), 2, (1, 0))
    if uniform(q):
        table = [v for i, v in enumerate(table) if i % 4 < 2]
    return table


def pair_parts(q: dict, rows: np.ndarray, bias: np.ndarray, first: int = 0) -> tuple[np.ndarray, bool]:
    """(int32 table, compact) of the pair core from row `first` on: the compact table when it applies, else the
    wide pair_table."""
    compact = pair_table_compact(q, rows, bias, first)
    if compact is None:
        return pair_table(q, bias, 1, first), False
    return np.asarray(compact, np.int64).astype(np.int32), True
