"""The best-first patch search returns what planning every candidate's arena would (the slow path)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SHARED_DATA, mlperf_path
from tinyengine_codegen.boards import load_board
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.passes import PIPELINE, run_pipeline
from tinyengine_codegen.passes.patches import region_kernels
from tinyengine_codegen.planner import lifetimes
from tinyengine_codegen.planner.arena import plan_arena
from tinyengine_codegen.planner.buffers import inplace_candidates
from tinyengine_codegen.planner.patch_cost import kernel_table, stage_cost
from tinyengine_codegen.planner.patch_memory import _with_stage
from tinyengine_codegen.planner.patch_search import (
    best_candidate,
    choose_patches,
    live_profile,
    patch_candidates,
    work_cost,
)

from .stacks import random_stack


def exhaustive(graph, cands, inplace, scratch):
    """The least (arena, extra, p, whole, split) with every candidate's arena planned."""
    best = None
    for c in cands:
        kept = frozenset(i for i in inplace if i > c.split)
        bufs = _with_stage(graph, lifetimes(graph, scratch=scratch, inplace=kept), c.figures, 4)
        key = (plan_arena(bufs).arena_bytes, c.extra, c.p, c.whole, c.split)
        best = key if best is None or key < best else best
    return best


def check_search(graph, cost, max_extra, inplace=frozenset(), scratch=None):
    plain = plan_arena(lifetimes(graph, scratch=scratch, inplace=inplace)).arena_bytes
    cands = patch_candidates(graph, cost, max_extra, None, plain)
    slow = exhaustive(graph, cands, inplace, scratch)
    fast = best_candidate(graph, cands, inplace=inplace, scratch=scratch)
    if slow is None:
        assert fast is None
        return 0
    arena, c = fast
    assert (arena, c.extra, c.p, c.whole, c.split) == slow
    sched = choose_patches(graph, cost=cost, max_extra=max_extra, inplace=inplace, scratch=scratch)
    if slow[0] < plain:
        assert (sched.split_op, sched.p) == (slow[4], slow[2])
    else:
        assert sched is None
    return len(cands)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.sampled_from([0.05, 0.3, 2.0]))
def test_best_first_equals_exhaustive_on_random_stacks(seed, limit):
    graph = random_stack(np.random.default_rng(seed), depth=5)
    check_search(graph, work_cost(graph), limit, inplace_candidates(graph), {0: 20})


@pytest.mark.parametrize("key", ["vww", "ic", "kws"])
@pytest.mark.parametrize("board", ["qemu-m4", "nucleo-f746zg"])
def test_best_first_equals_exhaustive_on_mlperf(key, board):
    from tinyengine_codegen.importers.tflite import load_tflite

    target = load_board(board)
    mp = run_pipeline(load_tflite(mlperf_path(key)), CompileOptions(target=target), passes=PIPELINE[:-1])
    g = mp.graph
    cost = stage_cost(g, mp.kernel_names, region_kernels(g, target), kernel_table(target))
    n = 0
    for limit in (0.05, 0.10, 0.5):
        n += check_search(g, cost, limit, mp.inplace, dict(mp.scratch))
    assert n > 0 or key == "kws"


def test_best_first_equals_exhaustive_on_mobilenetv2():
    from tinyengine_codegen.importers.tflite import load_tflite

    path = SHARED_DATA / "models" / "mobilenetv2_035_96.tflite"
    if not path.exists():
        pytest.skip("mobilenetv2_035_96.tflite is absent")
    target = load_board("nucleo-f746zg")
    mp = run_pipeline(load_tflite(path), CompileOptions(target=target), passes=PIPELINE[:-1])
    g = mp.graph
    cost = stage_cost(g, mp.kernel_names, region_kernels(g, target), kernel_table(target))
    assert check_search(g, cost, 0.10, mp.inplace, dict(mp.scratch)) > 10


def tails_agree(graph, inplace, scratch=None):
    """After a stage ending at s, the bytes live at each op are the same with the in-place ops inside the stage
    as without them (what the search's bound assumes)."""
    from tinyengine_codegen.planner.patches import split_points

    full = lifetimes(graph, inplace=inplace, scratch=scratch)
    n = 0
    for s in split_points(graph):
        kept = lifetimes(graph, inplace=frozenset(i for i in inplace if i > s), scratch=scratch)
        hi = max(b.last for b in full)
        assert live_profile(kept, lo=s + 1, hi=hi) == live_profile(full, lo=s + 1, hi=hi), s
        n += 1
    return n


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_tail_bytes_do_not_depend_on_stage_inplace_ops(seed):
    graph = random_stack(np.random.default_rng(seed), depth=6)
    tails_agree(graph, inplace_candidates(graph), {2: 16})


@pytest.mark.parametrize("key", ["vww", "ic", "kws", "ad"])
def test_tail_bytes_on_mlperf(key):
    from tinyengine_codegen.importers.tflite import load_tflite

    mp = run_pipeline(load_tflite(mlperf_path(key)), CompileOptions(target=load_board("qemu-m4")), passes=PIPELINE[:-1])
    tails_agree(mp.graph, inplace_candidates(mp.graph), dict(mp.scratch))


@pytest.mark.parametrize(
    "limit, want",
    # recorded with the search that planned every candidate's arena (before the best-first search)
    [
        (0.02, (5, 2, 69168, 191936)),
        (0.05, (5, 3, 49200, 392960)),
        (0.10, (5, 6, 36912, 1050560)),
        (0.3, (5, 8, 36864, 1534400)),
    ],
)
def test_mobilenetv2_patch_choice_is_the_recorded_one(limit, want):
    from tinyengine_codegen.importers.tflite import load_tflite
    from tinyengine_codegen.planner.patches import plan_patched

    path = SHARED_DATA / "models" / "mobilenetv2_035_96.tflite"
    if not path.exists():
        pytest.skip("mobilenetv2_035_96.tflite is absent")
    g = load_tflite(path)
    inplace = inplace_candidates(g)
    s = choose_patches(g, max_extra=limit, inplace=inplace)
    assert (s.split_op, s.p, plan_patched(g, s, inplace=inplace).arena_bytes, s.extra_macs) == want
    assert plan_arena(lifetimes(g, inplace=inplace)).arena_bytes == 129024
