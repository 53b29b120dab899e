"""Mutation fuzzing of the importers, the code generator and the oracle comparison (see campaign.py).

Default run: 300 .tflite and 150 ONNX mutants of one seed, 12 accepted .tflite mutants compared with TFLM, 4 of
them run as sanitized C. `-m slow`: 5,000 .tflite and 1,500 ONNX mutants over five seeds, 150 compared with TFLM,
all of those run as sanitized C. TINYML_FUZZ_SEED=N replaces the first seed (a failure message names the seed
and the mutant index, which rebuild the mutant: `tflite_mutants(seed, index + 1)`).
"""

from __future__ import annotations

import os
import random

import pytest

from .campaign import Campaign, compare_with_tflm, run_campaign
from .mutants import onnx_mutants, tflite_mutants

SEED = int(os.environ.get("TINYML_FUZZ_SEED", "20261203"))


def _report(camp: Campaign) -> str:
    return "; ".join(f"{k} {v}" for k, v in sorted(camp.counts.items())) + "\n" + "\n".join(camp.failures[:20])


def test_mutants_are_reproducible():
    a = [(m.kind, m.detail, m.data) for m in tflite_mutants(5, 12)]
    assert a == [(m.kind, m.detail, m.data) for m in tflite_mutants(5, 12)]
    assert [m.data for m in onnx_mutants(5, 6)] == [m.data for m in onnx_mutants(5, 6)]
    kinds = {m.kind for m in tflite_mutants(5, 200)}
    assert {"shape_dim", "scale", "option", "operand", "byte_flip"} <= kinds, kinds


def test_default_campaign(tmp_path):
    camp = run_campaign([SEED], 300, 150, tmp_path, compare=0)
    assert not camp.failures, _report(camp)
    assert camp.counts["tflite refused"] > 50 and camp.counts["tflite accepted"] > 20, _report(camp)
    assert camp.counts["onnx refused"] > 30 and camp.counts["onnx accepted"] > 10, _report(camp)
    compare_with_tflm(camp, tmp_path, 12, sanitize=False, rng=random.Random(SEED))
    assert not camp.failures, _report(camp)
    assert camp.counts["tflite reference bit-exact with TFLM"] >= 4, _report(camp)


def test_sanitized_c_of_accepted_mutants(tmp_path):
    camp = run_campaign([SEED + 1], 60, 0, tmp_path, compare=4, sanitize=True)
    assert not camp.failures, _report(camp)
    assert camp.counts["sanitized C clean and bit-exact with TFLM"] >= 2, _report(camp)


@pytest.mark.slow
def test_long_campaign(tmp_path):
    seeds = [SEED + k for k in range(5)]
    camp = run_campaign(seeds, 1000, 300, tmp_path, compare=150, sanitize=True)
    assert not camp.failures, _report(camp)
    assert camp.counts["tflite mutants"] == 5000 and camp.counts["onnx mutants"] == 1500
