"""The separable figures used by the patch search equal those of the full p x p region walk."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import mlperf_path
from tinyengine_codegen.ir.cost import op_macs
from tinyengine_codegen.planner import patches as P
from tinyengine_codegen.planner.patch_fast import stage_figures

from .stacks import random_stack


@pytest.mark.parametrize("key", ["vww", "ic", "kws"])
def test_fast_figures_equal_full_schedules(key):
    from tinyengine_codegen.importers.tflite import load_tflite

    g = load_tflite(mlperf_path(key))
    checked = 0
    for s in P.split_points(g):
        geos = P._geometry(g, s)
        for p in range(2, min(8, *g.tensor(g.ops[s].outputs[0]).shape[1:3]) + 1):
            full = P._schedule(g, geos, p)
            fast = stage_figures(g, geos, p, P.stage_inputs(g, 0, s), P._span, lambda op: op_macs(g, op))
            assert fast is not None
            assert (fast.patched_macs, fast.stage_macs) == (full.patched_macs, full.stage_macs), (s, p)
            assert dict(fast.buffer_bytes) == dict(full.buffer_bytes), (s, p)
            assert fast.pixels == full.pixels and fast.full_tensors == full.full_tensors, (s, p)
            checked += 1
    assert checked > 0


def _both_walks_agree(g):
    n = 0
    for s in P.split_points(g):
        geos = P._geometry(g, s)
        for p in range(1, min(8, *g.tensor(g.ops[s].outputs[0]).shape[1:3]) + 1):
            assert P._schedule(g, geos, p) == P._schedule(g, geos, p, separable=False), (s, p)
            n += 1
    return n


@pytest.mark.parametrize("key", ["vww", "ic", "kws"])
def test_separable_schedule_equals_the_patch_walk(key):
    from tinyengine_codegen.importers.tflite import load_tflite

    assert _both_walks_agree(load_tflite(mlperf_path(key))) > 0


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_separable_schedule_equals_the_patch_walk_on_random_stacks(seed):
    _both_walks_agree(random_stack(np.random.default_rng(seed), depth=5))
