"""live_profile / live_peak (planner/live.py) against the O(ops x buffers) oracle in check.py."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyengine_codegen.planner import lifetimes
from tinyengine_codegen.planner.buffers import inplace_candidates
from tinyengine_codegen.planner.check import live_bytes, lower_bound
from tinyengine_codegen.planner.live import live_peak, live_profile

from .stacks import random_stack


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 6), st.integers(0, 6))
def test_windowed_live_peak_is_the_lower_bound_of_those_ops(seed, a, b):
    graph = random_stack(np.random.default_rng(seed), depth=4)
    bufs = lifetimes(graph, inplace=inplace_candidates(graph), scratch={1: 40})
    lo, hi = min(a, b), max(a, b)
    live = live_bytes(bufs)
    assert live_peak(bufs, lo=lo, hi=hi) == max((v for t, v in live.items() if lo <= t <= hi), default=0)
    assert live_peak(bufs) == lower_bound(bufs)
    assert live_profile(bufs) == [live.get(t, 0) for t in range(max(live) + 1)]
