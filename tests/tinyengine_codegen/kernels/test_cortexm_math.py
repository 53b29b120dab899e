"""Offline pieces of the Cortex-M SIMD kernels: the fast requantization is exact, weight packing order, tables."""

from __future__ import annotations

import numpy as np
import pytest

from tinyengine_codegen import quant
from tinyengine_codegen.kernels.cortexm import (
    constant_channels,
    folded_bias,
    pack_pairs,
    prescale,
    requant_fast,
    requant_table,
    requant_words,
)
from tinyengine_codegen.kernels.cortexm_add import input_table
from tinyengine_codegen.kernels.cortexm_tables import pair_table_compact, quad_table_compact


def fast_requant(acc: np.ndarray, mult: int, ls: int, rs: int, rnd: int) -> np.ndarray:
    """What the C epilogue computes: t = SMMLAR(acc << ls, m, rnd), then (t + (acc >> 31)) >> rs."""
    a = acc.astype(np.int64) << ls
    t = ((a * mult + (1 << 31)) >> 32) + rnd
    return (t + np.where(acc < 0, -1, 0)) >> rs


@pytest.mark.parametrize(
    "mult,shift,zp",
    [(1073741824, -1, 0), (2147483647, -7, -128), (1518500250, -12, 5), (1246474055, -22, 127), (1600000000, -1, -3)],
)
def test_fast_requant_equals_tflm(mult, shift, zp):
    rng = np.random.default_rng(0)
    bound = (1 << 30) >> max(shift, 0)
    q = requant_fast(dict(per_channel=False, mult=mult, shift=shift, zp=zp, lo=-128, hi=127), np.array([bound - 1]))
    assert q["fast"]
    acc = np.concatenate(
        [rng.integers(-bound + 1, bound, 20000), np.arange(-300, 300), [bound - 1, -bound + 1, 0, 1, -1]]
    ).astype(np.int64)
    want = quant.multiply_by_quantized_multiplier(acc, mult, shift) + zp
    got = fast_requant(acc, mult, q["ls"], q["rs"][0], q["rnd"][0])
    np.testing.assert_array_equal(got, want)


def test_zero_weight_channels_become_exact_constants():
    q = dict(per_channel=True, mult=[1 << 30, 1500000000], shift=[-3, -29], zp=-128, lo=-128, hi=127)
    w = np.array([[1, -2, 3], [0, 0, 0]])
    bias = np.array([100, -7000])
    const = constant_channels(q, w, bias)
    want = int(quant.multiply_by_quantized_multiplier(np.int64(-7000), 1500000000, -29)) - 128
    assert const == {1: want}
    r = requant_fast(q, np.array([10_000, 7000]), const)
    assert r["fast"] and r["mult"][1] == 0 and r["rs"][1] == 1  # shift -29 alone would refuse the fast path
    for acc in (-7000, 7000, 0, -1):  # any accumulator sign gives the constant
        assert fast_requant(np.array([acc]), 0, r["ls"], r["rs"][1], r["rnd"][1])[0] == want


@pytest.mark.parametrize("per_channel", [True, False])
def test_constant_channels_equal_the_reference_channel_by_channel(per_channel):
    rng = np.random.default_rng(5)
    n = 64
    w = rng.integers(-3, 4, (n, 8)) * (rng.random(n) < 0.5)[:, None]
    bias = rng.integers(-(1 << 20), 1 << 20, n)
    mult = rng.integers(1 << 30, 1 << 31, n).tolist() if per_channel else 1 << 30
    shift = rng.integers(-12, 2, n).tolist() if per_channel else -5
    q = dict(per_channel=per_channel, mult=mult, shift=shift, zp=3, lo=-100, hi=90)
    want = {}
    for c in range(n):
        if not w[c].any():
            m, s = (mult[c], shift[c]) if per_channel else (mult, shift)
            v = int(quant.multiply_by_quantized_multiplier(np.int64(bias[c]), m, s)) + 3
            want[c] = min(max(v, -100), 90)
    assert want and constant_channels(q, w, bias) == want


def test_prescale_folds_uniform_shift_into_weights():
    q = requant_fast(dict(per_channel=False, mult=1 << 30, shift=-4, zp=3, lo=-128, hi=127), np.array([5000, 5000]))
    q2, rows, bias = prescale(q, np.array([[1, -128], [127, 0]]), np.array([10, -20]))
    assert q["ls"] == 1 and q2["ls"] == 0 and q2["prescaled"] == 1
    assert rows.tolist() == [[2, -256], [254, 0]] and bias.tolist() == [20, -40]
    acc = np.arange(-5000, 5000)
    np.testing.assert_array_equal(
        fast_requant(2 * acc, 1 << 30, 0, q["rs"][0], q["rnd"][0]),
        quant.multiply_by_quantized_multiplier(acc, 1 << 30, -4) + 3,
    )


def test_fast_requant_refused_when_unprovable():
    q = dict(per_channel=False, mult=1 << 30, shift=-3, zp=0, lo=-128, hi=127)
    assert not requant_fast(q, np.array([1 << 30]))["fast"]  # accumulator may reach 2^30
    assert not requant_fast(dict(q, shift=0), np.array([10]))["fast"]  # no right shift
    assert requant_fast(dict(q, lo=-5), np.array([10]))["lo_clip"]


def test_pack_pairs_interleaves_for_sxtb16():
    rows = np.arange(16, dtype=np.int64).reshape(2, 8)  # 2 channels x 8 taps
    packed = pack_pairs(rows, 2)
    # quad 0: ch0 (0, 2, 1, 3), ch1 (8, 10, 9, 11); quad 1: ch0 (4, 6, 5, 7), ch1 (12, 14, 13, 15)
    assert packed.tolist() == [0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15]
    assert pack_pairs(rows, 1, interleave=False).tolist() == list(range(16))


def test_folded_bias_adds_offset_times_row_sum():
    w = np.array([[1, -2, 3], [4, 5, -6]])
    assert folded_bias(np.array([10, -10]), w, 7).tolist() == [10 + 7 * 2, -10 + 7 * 3]
    assert folded_bias(None, w, -1).tolist() == [-2, -3]


def test_add_input_table_matches_tflm_rescaling():
    p = quant.add_params(0.05, 0.11, 0.09)
    table = input_table(3, p.left_shift, p.input1_multiplier, p.input1_shift)
    for byte in (-128, -1, 0, 1, 127):
        want = quant.multiply_by_quantized_multiplier((byte + 3) << p.left_shift, p.input1_multiplier, p.input1_shift)
        assert table[byte & 0xFF] == want


def compact_requant(acc: np.ndarray, word: int, mult: int, ls: int, zp: int) -> np.ndarray:
    """What the compact epilogue computes from one packed word: rnd = (2 zp + 1) << low byte, t = SMMLAR(acc << ls,
    m, rnd), then ((t + (acc >> 31)) >> low byte) >> 1 (the last bit inside SSAT)."""
    e1 = word & 255
    a = acc.astype(np.int64) << ls
    t = ((a * mult + (1 << 31)) >> 32) + ((2 * zp + 1) << e1)
    return ((t + np.where(acc < 0, -1, 0)) >> e1) >> 1


@pytest.mark.parametrize("zp", [-128, -5, 0, 127])
def test_compact_words_equal_tflm_and_keep_constant_channels(zp):
    """Packed (bias << 8 | rs - 1) + multiplier: every live channel requantizes like TFLM on top of its bias, and a
    zero-weight channel yields its constant from the replacement bias alone."""
    rng = np.random.default_rng(zp + 200)
    mult = [1073741824, 2147483647, 1518500250, 1246474055, 1600000000]
    shift = [-1, -7, -12, -22, -3]
    w = rng.integers(-127, 128, (6, 16))
    w[5] = 0
    bias = rng.integers(-(1 << 20), 1 << 20, 6)
    q0 = dict(per_channel=True, mult=mult + [1 << 30], shift=shift + [-5], zp=zp, lo=-128, hi=127)
    q = requant_fast(q0, np.abs(bias) + 128 * np.abs(w).sum(axis=1), constant_channels(q0, w, bias))
    assert q["fast"]
    packed, m = requant_words(q, bias, q["ls"])
    assert np.all(packed >> 8 == np.where(np.arange(6) == 5, packed >> 8, bias))
    x = rng.integers(-128, 128, (4000, 16))
    acc_all = x @ w.T + bias
    for c in range(6):
        acc = acc_all[:, c] if c < 5 else np.full(4, packed[5] >> 8)
        want = quant.multiply_by_quantized_multiplier(acc_all[: len(acc), c], q0["mult"][c], q0["shift"][c]) + zp
        got = compact_requant(acc, int(packed[c]), int(m[c]), q["ls"], zp)
        np.testing.assert_array_equal(np.clip(got, -128, 127), np.clip(want, -128, 127))


def test_compact_table_order_and_wide_fallback():
    """Groups of four: packed words of rows 1, 0, 3, 2 then their multipliers; a bias of 2^23 or more (or a row B
    whose 256-fold accumulator could overflow) keeps the wide table."""
    q = dict(per_channel=True, mult=[11, 12, 13, 14], shift=[-2] * 4, zp=0, lo=-128, hi=127)
    q = requant_fast(q, np.full(4, 1000))
    bias = np.array([1, -2, 3, -4])
    words = requant_words(q, bias, q["ls"])
    packed = [(-2 << 8) | 1, (1 << 8) | 1, (-4 << 8) | 1, (3 << 8) | 1]
    assert requant_table(words, 4, (1, 0, 3, 2)) == packed + [12, 11, 14, 13]
    rows = np.ones((4, 8), np.int64)
    assert quad_table_compact(q, rows, bias) is not None
    # tiny multipliers: a bias of 2^23 saturates that channel, so it takes a 24-bit bias instead
    assert quad_table_compact(q, rows, np.array([1, -2, 1 << 23, -4])) is not None
    wide = requant_fast(dict(q, per_channel=True, mult=[1 << 30] * 4, shift=[-16] * 4), np.full(4, 1 << 24))
    big_rows = np.full((4, 8), 127, np.int64)  # 2^23 / 2^17 = 64 +- 1: the output still varies
    assert quad_table_compact(wide, big_rows, np.array([1, -2, 1 << 23, -4])) is None
    assert requant_words(q, np.array([1, -(1 << 23), 3, 4]), q["ls"]) is None
    assert quad_table_compact(q, np.full((4, 8), 127 * 1024), bias) is None


def test_pair_compact_table_from_a_first_row():
    """Per pair from row `first`: packed words of rows B and A, then their multipliers; uniform keeps the packed
    words only."""
    q = requant_fast(
        dict(per_channel=True, mult=[11, 12, 13, 14], shift=[-2] * 4, zp=0, lo=-128, hi=127), np.full(4, 9)
    )
    rows = np.ones((4, 8), np.int64)
    bias = np.array([1, -2, 3, -4])
    assert pair_table_compact(q, rows, bias, 2) == [(-4 << 8) | 1, (3 << 8) | 1, 14, 13]
    flat = requant_fast(dict(per_channel=False, mult=11, shift=-2, zp=0, lo=-128, hi=127), np.full(4, 9))
    assert pair_table_compact(flat, rows, bias) == [(-2 << 8) | 1, (1 << 8) | 1, (-4 << 8) | 1, (3 << 8) | 1]


def test_a_constant_channel_with_a_wide_bias_keeps_the_compact_words():
    """A bias of 2^23 or more whose channel outputs one constant over its whole accumulator range is re-encoded
    with a 24-bit bias, multiplier 2^30 and a small shift giving the same constant (checked against TFLM on random
    inputs); test_compact_table_order_and_wide_fallback has one whose output still varies."""
    rng = np.random.default_rng(5)
    w = rng.integers(-127, 128, (2, 16))
    spans = 128 * np.abs(w).sum(axis=1)
    q0 = dict(per_channel=True, mult=[1 << 30, 1 << 30], shift=[-10, -20], zp=-128, lo=-128, hi=127)
    bias = np.array([1 << 26, -(1 << 24)])
    q = requant_fast(q0, np.abs(bias) + spans)
    packed, m = requant_words(q, bias, q["ls"], spans)
    assert np.all(np.abs(packed >> 8) < 1 << 23) and list(m) == [1 << 30, 1 << 30]
    x = rng.integers(-128, 128, (3000, 16))
    for c in range(2):
        acc = x @ w[c] + bias[c]
        want = np.clip(quant.multiply_by_quantized_multiplier(acc, q0["mult"][c], q0["shift"][c]) - 128, -128, 127)
        got = compact_requant(x @ w[c] + (packed[c] >> 8), int(packed[c]), int(m[c]), q["ls"], -128)
        np.testing.assert_array_equal(np.clip(got, -128, 127), want)
        assert len(set(want.tolist())) == 1
    assert requant_words(q, bias, q["ls"]) is None  # without the spans nothing is proven: the wide table
