import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyengine_codegen.errors import InternalError
from tinyengine_codegen.planner import STRATEGIES, Buffer, check_plan, lower_bound, plan_arena, run_strategy

intervals = st.lists(st.tuples(st.integers(1, 4096), st.integers(0, 40), st.integers(0, 6)), min_size=1, max_size=40)


def _buffers(raw):
    return [Buffer(f"t{i}", size, first, first + span) for i, (size, first, span) in enumerate(raw)]


@st.composite
def aliased(draw):
    """Random intervals where some buffers share the bytes of an earlier one (in-place outputs, views)."""
    bufs = _buffers(draw(intervals))
    out = []
    for i, b in enumerate(bufs):
        target = draw(st.one_of(st.none(), st.integers(0, i - 1))) if i else None
        out.append(Buffer(b.name, b.size, b.first, b.last, None if target is None else f"t{target}"))
    return out


@settings(max_examples=60, deadline=None)
@given(intervals)
def test_every_strategy_is_safe_and_bounded(raw):
    bufs = _buffers(raw)
    for name in STRATEGIES:
        plan = run_strategy(name, bufs)
        check_plan(bufs, plan)
        assert lower_bound(bufs) <= plan.arena_bytes <= sum(b.size for b in bufs), name


@settings(max_examples=60, deadline=None)
@given(aliased())
def test_aliased_buffers_share_exactly_their_declared_bytes(bufs):
    for name in STRATEGIES:
        plan = run_strategy(name, bufs)
        check_plan(bufs, plan)  # also checks that every alias sits at its target's offset
        for b in bufs:
            if b.alias_of is not None:
                assert plan.offsets[b.name] == plan.offsets[b.alias_of]
        assert plan.lower_bound <= plan.arena_bytes


@settings(max_examples=60, deadline=None)
@given(intervals)
def test_plan_arena_is_no_worse_than_any_strategy(raw):
    bufs = _buffers(raw)
    best = plan_arena(bufs)
    check_plan(bufs, best)
    assert best.arena_bytes <= min(run_strategy(n, bufs).arena_bytes for n in STRATEGIES if n != "local_search")


def test_chain_reaches_lower_bound():
    bufs = [Buffer("a", 100, 0, 1), Buffer("b", 50, 1, 2), Buffer("c", 100, 2, 3)]
    plan = plan_arena(bufs)
    assert plan.arena_bytes == 150  # by hand: a and c can share bytes
    assert plan.offsets["a"] == plan.offsets["c"]


def test_chain_where_largest_first_fragments():
    # The first layers of VWW (96x96x3 input, then 48x48x8, 48x48x8, 48x48x16): largest-first leaves a hole.
    bufs = [Buffer("in", 27648, 0, 0), Buffer("c0", 18432, 0, 1), Buffer("d1", 18432, 1, 2), Buffer("c2", 36864, 2, 3)]
    assert run_strategy("greedy_size", bufs).arena_bytes == 64512
    plan = plan_arena(bufs)
    assert plan.arena_bytes == 55296 == plan.lower_bound
    assert plan.peak_op == 2
    check_plan(bufs, plan)


def test_two_ended_is_optimal_on_a_chain_where_greedy_is_not():
    sizes = [60, 80, 60, 40, 90, 50, 40, 20]
    bufs = [Buffer(f"t{i}", s, i, i + 1) for i, s in enumerate(sizes)]
    plan = run_strategy("two_ended", bufs)
    check_plan(bufs, plan)
    assert plan.arena_bytes == max(a + b for a, b in itertools.pairwise(sizes)) == 140  # 80 + 60 (and 90 + 50)
    assert run_strategy("greedy_size", bufs).arena_bytes == 180
    assert run_strategy("greedy_first_use", bufs).arena_bytes == 190
    assert plan_arena(bufs).arena_bytes == 140


def test_branch_and_bound_finds_optimum_that_every_greedy_misses():
    # By hand: at op 4, b, e and f are live (210 B). Every greedy order puts the two 90s (b, c) at 0 first, so a
    # sits at 90 and e, f must stack above a and b: 270. Optimum: e [0, 60), f [60, 120), b and a at 120, c at 0.
    bufs = [
        Buffer("a", 60, 1, 3),
        Buffer("b", 90, 4, 4),
        Buffer("c", 90, 2, 2),
        Buffer("d", 10, 5, 6),
        Buffer("e", 60, 3, 4),
        Buffer("f", 60, 3, 4),
    ]
    assert all(run_strategy(n, bufs).arena_bytes == 270 for n in STRATEGIES if n.startswith("greedy"))
    plan = run_strategy("branch_and_bound", bufs)
    check_plan(bufs, plan)
    assert plan.arena_bytes == plan.lower_bound == 210
    assert plan_arena(bufs).arena_bytes == 210
    assert plan.peak_op == 4


def test_inplace_pair_keeps_one_base_and_frees_the_tail():
    # x is overwritten by y (a stride-2 depthwise: y is smaller); s is the op's temporary; z reads y.
    bufs = [Buffer("x", 400, 0, 1), Buffer("y", 100, 1, 2, alias_of="x"), Buffer("s", 16, 1, 1), Buffer("z", 300, 2, 3)]
    plan = plan_arena(bufs)
    check_plan(bufs, plan)
    assert plan.offsets["y"] == plan.offsets["x"]
    assert plan.lower_bound == 416 and plan.arena_bytes == 416  # z fits in x's freed tail [100, 400) plus above


def test_empty_and_zero_sized():
    assert plan_arena([]).arena_bytes == 0
    bufs = [Buffer("a", 0, 0, 3), Buffer("b", 8, 0, 3)]
    plan = plan_arena(bufs)
    check_plan(bufs, plan)
    assert plan.arena_bytes == 8


def test_same_buffers_same_plan():
    bufs = _buffers([(100 + 37 * i % 500, i % 9, i % 4) for i in range(30)])
    assert dict(plan_arena(bufs).offsets) == dict(plan_arena(list(bufs)).offsets)


def test_unknown_strategy_is_an_internal_error():
    with pytest.raises(InternalError, match="unknown planner strategy 'nope'"):
        plan_arena([Buffer("a", 4, 0, 0)], strategies=("nope",))
