"""Patch-based inference: regions and pads worked by hand, exact extra MACs, the never-worse rule, VWW's target."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SHARED_DATA, mlperf_path
from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.ir.ops import OpKind, Padding
from tinyengine_codegen.planner import check_plan, lifetimes, plan_memory
from tinyengine_codegen.planner.patch_search import choose_patches, work_cost
from tinyengine_codegen.planner.patches import (
    build_schedule,
    patched_buffers,
    plan_patched,
    split_points,
    stage_refusal,
)

from .stacks import Stack, random_stack


def two_convs():
    """8x8x1 input → conv 3x3 stride 1 SAME (2 ch) → conv 3x3 stride 2 SAME (3 ch, 4x4 out)."""
    g = Stack(np.random.default_rng(0), (1, 8, 8, 1))
    t0 = g.conv(g.input, 2, 3, 1)
    return g.graph(g.conv(t0, 3, 3, 2)), t0


def test_regions_and_pads_by_hand():
    graph, t0 = two_convs()
    sched = build_schedule(graph, 1, 2)
    first, last = sched.patches[0], sched.patches[3]
    # op1 (k3 s2, SAME on 8 rows: 1 row of padding, all after): out rows [0, 2) read rows [0, 5), no pad;
    # out rows [2, 4) read rows 4..8 (4 real rows + 1 padded row after)
    assert first.ops[1].out_region == (0, 2, 0, 2)
    assert first.ops[1].in_regions == ((0, 5, 0, 5),) and first.ops[1].pads == (0, 0, 0, 0)
    assert last.ops[1].in_regions == ((4, 8, 4, 8),) and last.ops[1].pads == (0, 1, 0, 1)
    # op0 (k3 s1, SAME: 1 padded row before and after): out rows [0, 5) read rows -1..5, clipped to [0, 6)
    assert first.ops[0].out_region == (0, 5, 0, 5)
    assert first.ops[0].in_regions == ((0, 6, 0, 6),) and first.ops[0].pads == (1, 0, 1, 0)
    assert last.ops[0].out_region == (4, 8, 4, 8)
    assert last.ops[0].in_regions == ((3, 8, 3, 8),) and last.ops[0].pads == (0, 1, 0, 1)
    # the graph input is stored whole, so the read region starts at its own corner; t0's buffer is the region
    assert last.ops[0].in_origins == ((3, 3),) and last.ops[1].in_origins == ((0, 0),)
    assert sched.full_tensors == (graph.inputs[0], graph.ops[1].outputs[0])
    assert dict(sched.buffer_bytes) == {t0: 5 * 5 * 2}  # the largest t0 region, 2 channels
    assert last.region(graph.ops[1].outputs[0]) == (2, 4, 2, 4)


def test_extra_macs_by_hand():
    graph, _ = two_convs()
    sched = build_schedule(graph, 1, 2)
    # op0: 18 MACs per output pixel (2 ch x 3x3 x 1), op1: 54 (3 ch x 3x3 x 2)
    # op0 computes 5x5 + 5x4 + 4x5 + 4x4 = 81 pixels instead of 64; op1 exactly its 16 pixels
    assert sched.stage_macs == 64 * 18 + 16 * 54
    assert sched.patched_macs == 81 * 18 + 16 * 54
    assert sched.extra_macs == 17 * 18 == 306
    assert sched.extra_mac_fraction == pytest.approx(306 / (64 * 18 + 16 * 54))


def test_one_patch_is_the_plain_stage():
    graph, _ = two_convs()
    sched = build_schedule(graph, 1, 1)
    assert sched.extra_macs == 0 and len(sched.patches) == 1
    assert sched.patches[0].ops[0].pads == (1, 1, 1, 1)


def test_patched_lifetimes_by_hand():
    graph, t0 = two_convs()
    sched = build_schedule(graph, 1, 2)
    bufs = {b.name: b for b in patched_buffers(graph, sched)}
    x, y = graph.inputs[0], graph.ops[1].outputs[0]
    assert (bufs[x].size, bufs[x].first, bufs[x].last) == (64, 0, 1)  # whole input, live through the stage
    assert (bufs[t0].size, bufs[t0].first, bufs[t0].last) == (52, 0, 1)  # 50 B per-patch buffer, aligned to 4
    assert (bufs[y].size, bufs[y].first, bufs[y].last) == (48, 0, 1)  # the full split output, from op 0 on
    assert plan_patched(graph, sched).arena_bytes == 64 + 52 + 48
    assert plan_memory(graph).arena_bytes == 64 + 128  # input + whole t0 at op 0


def test_residual_add_reads_a_subregion_of_the_union():
    g = Stack(np.random.default_rng(1), (1, 9, 9, 2))
    x = g.conv(g.input, 4, 3)
    y = g.conv(g.dw(x, 5), 4, 1)
    graph = g.graph(g.conv(g.add(x, y), 3, 1))
    sched = build_schedule(graph, 3, 3)
    centre = sched.patches[4]
    add = centre.ops[3]
    assert add.out_region == (3, 6, 3, 6) and add.in_regions == ((3, 6, 3, 6), (3, 6, 3, 6))
    assert centre.region(x) == (1, 8, 1, 8)  # the 5x5 depthwise halo around (3..6)
    assert add.in_origins == ((2, 2), (0, 0))


def test_split_points_and_refusals():
    g = Stack(np.random.default_rng(2), (1, 9, 9, 2))
    a = g.conv(g.input, 4, 3)
    b = g.pool(a, OpKind.AVERAGE_POOL_2D, 3, 1, Padding.SAME)
    graph = g.graph(g.conv(b, 2, 1))
    assert "AVERAGE_POOL_2D pads" in stage_refusal(graph, 1)
    assert split_points(graph) == (0,)
    with pytest.raises(TinyMLError, match="AVERAGE_POOL_2D pads"):
        build_schedule(graph, 2, 2)
    with pytest.raises(TinyMLError, match="do not fit"):
        build_schedule(graph, 0, 10)
    g = Stack(np.random.default_rng(3), (1, 9, 9, 2))
    a = g.conv(g.input, 4, 3)
    b = g.conv(a, 4, 3)
    graph = g.graph(g.add(a, g.conv(b, 4, 1)))
    assert split_points(graph) == (0, 3)  # a is read by the ADD: no split at 1 or 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.sampled_from([0.0, 0.05, 0.3]))
def test_never_worse_and_within_the_budget(seed, limit):
    graph = random_stack(np.random.default_rng(seed), depth=4)
    plain = plan_memory(graph).arena_bytes
    sched = choose_patches(graph, max_extra=limit)
    if sched is None:
        return
    bufs = patched_buffers(graph, sched)
    plan = plan_patched(graph, sched)
    check_plan(bufs, plan, alignment=4)
    assert plan.arena_bytes < plain
    cost = work_cost(graph)
    assert sched.est_extra_cycles == pytest.approx(cost.extra(sched.start, sched.pixels))
    assert sched.est_extra_cycles <= limit * cost.total and sched.est_model_cycles == cost.total
    assert 2 <= sched.p <= 8 and sched.split_op in split_points(graph)


def test_forced_patch_count():
    graph = random_stack(np.random.default_rng(7), depth=3)
    with pytest.raises(TinyMLError, match="2 or more"):
        choose_patches(graph, forced=1)
    sched = choose_patches(graph, forced=2, max_extra=10.0)
    assert sched is None or sched.p == 2


def _vww():
    from tinyengine_codegen.importers.tflite import load_tflite

    return load_tflite(mlperf_path("vww"))


def test_vww_reaches_twice_below_tflm():
    graph = _vww()
    ref = json.loads((SHARED_DATA / "reference" / "mlperf_tiny.json").read_text())["VWW"]
    sched = choose_patches(graph)
    plan = plan_patched(graph, sched)
    check_plan(patched_buffers(graph, sched), plan, alignment=4)
    assert plan.arena_bytes * 2 <= ref["tflm_arena_used_bytes"] == 103680
    # pinned: 8x8 patches over ops 0..3; input 27,648 + split output 9,216 + per-patch buffers
    assert (sched.split_op, sched.p, plan.arena_bytes) == (3, 8, 38040)
    assert sched.extra_macs == 674912 and sched.extra_mac_fraction <= 0.10
    assert plan_memory(graph).arena_bytes == 55296


def test_vww_budget_trades_memory():
    graph = _vww()
    tight = choose_patches(graph, max_extra=0.04)
    assert tight.extra_cycle_fraction <= 0.04
    assert plan_patched(graph, tight).arena_bytes > 38040
    assert choose_patches(graph, max_extra=0.0) is None  # every split of VWW recomputes some halo


def test_lifetimes_untouched_outside_the_stage():
    graph = _vww()
    sched = build_schedule(graph, 3, 4)
    plain = {b.name: b for b in lifetimes(graph)}
    for b in patched_buffers(graph, sched):
        if graph.producer(b.name) is not None and graph.producer(b.name) > 3:
            assert b == plain[b.name]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_live_peak_equals_the_checkers_lower_bound(seed):
    from tinyengine_codegen.planner.buffers import inplace_candidates
    from tinyengine_codegen.planner.check import lower_bound
    from tinyengine_codegen.planner.patch_search import live_peak

    graph = random_stack(np.random.default_rng(seed), depth=4)
    inplace = inplace_candidates(graph)
    for s in split_points(graph)[:2]:
        sched = build_schedule(graph, s, 2)
        bufs = patched_buffers(graph, sched, inplace=inplace, scratch={0: 12})
        assert live_peak(bufs) == lower_bound(bufs)
    bufs = lifetimes(graph, inplace=inplace)
    assert live_peak(bufs) == lower_bound(bufs)
