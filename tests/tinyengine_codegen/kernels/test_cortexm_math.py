"""Offline pieces of the Cortex-M SIMD kernels: the fast requantization is exact, weight packing order, tables."""
from __future__ import annotations

import numpy as np
import pytest

from tinyengine_codegen import quant
from tinyengine_codegen.kernels.cortexm import folded_bias, pack_pairs, requant_fast
from tinyengine_codegen.kernels.cortexm_add import input_table


def fast_requant(acc: np.ndarray, mult: int, ls: int, rs: int, rnd: int) -> np.ndarray:
    """What the C epilogue computes: SMMULR(acc << ls, m), then (x + rnd + (x >> 31)) >> rs."""
    a = acc.astype(np.int64) << ls
    x = (a * mult + (1 << 31)) >> 32
    return (x + rnd + np.where(x < 0, -1, 0)) >> rs


@pytest.mark.parametrize("mult,shift,zp", [(1073741824, -1, 0), (2147483647, -7, -128), (1518500250, -12, 5),
                                           (1246474055, -22, 127), (1600000000, -1, -3)])
def test_fast_requant_equals_tflm(mult, shift, zp):
    rng = np.random.default_rng(0)
    bound = (1 << 30) >> max(shift, 0)
    q = requant_fast(dict(per_channel=False, mult=mult, shift=shift, zp=zp, lo=-128, hi=127),
                     np.array([bound - 1]))
    assert q["fast"]
    acc = np.concatenate([rng.integers(-bound + 1, bound, 20000), np.arange(-300, 300),
                          [bound - 1, -bound + 1, 0, 1, -1]]).astype(np.int64)
    want = quant.multiply_by_quantized_multiplier(acc, mult, shift) + zp
    got = fast_requant(acc, mult, q["ls"], q["rs"][0], q["rnd"][0])
    np.testing.assert_array_equal(got, want)


def test_fast_requant_refused_when_unprovable():
    q = dict(per_channel=False, mult=1 << 30, shift=-3, zp=0, lo=-128, hi=127)
    assert not requant_fast(q, np.array([1 << 30]))["fast"]                       # accumulator may reach 2^30
    assert not requant_fast(dict(q, shift=0), np.array([10]))["fast"]             # no right shift
    assert requant_fast(dict(q, lo=-5), np.array([10]))["lo_clip"]


def test_pack_pairs_interleaves_for_sxtb16():
    rows = np.arange(16, dtype=np.int64).reshape(2, 8)             # 2 channels x 8 taps
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
        want = quant.multiply_by_quantized_multiplier((byte + 3) << p.left_shift, p.input1_multiplier,
                                                      p.input1_shift)
        assert table[byte & 0xFF] == want
