import pytest

from tinyengine_codegen.errors import InternalError
from tinyengine_codegen.planner import Buffer, Plan, check_plan, lower_bound
from tinyengine_codegen.planner.check import live_bytes

BUFS = (Buffer("a", 100, 0, 1), Buffer("b", 50, 1, 2), Buffer("c", 100, 2, 3))


def _plan(offsets, arena, peak_op=1, bound=150, bufs=BUFS):
    return Plan(offsets, arena, peak_op, bound, "hand", tuple(bufs))


def test_accepts_a_correct_hand_plan():
    check_plan(BUFS, _plan({"a": 0, "b": 100, "c": 0}, 150), alignment=2)


def test_names_the_two_overlapping_buffers_and_the_op():
    with pytest.raises(InternalError, match=r"overlap at op 1: 'a' \[0, 100\) conflicts with 'b' \[60, 110\)"):
        check_plan(BUFS, _plan({"a": 0, "b": 60, "c": 0}, 110))


def test_rejects_wrong_arena_size_and_buffers_outside_it():
    with pytest.raises(InternalError, match="outside the 140-byte arena"):
        check_plan(BUFS, _plan({"a": 0, "b": 100, "c": 0}, 140))
    with pytest.raises(InternalError, match="reports 200 arena bytes, but its buffers reach 150"):
        check_plan(BUFS, _plan({"a": 0, "b": 100, "c": 0}, 200))


def test_rejects_misreported_bound_and_peak_op():
    with pytest.raises(InternalError, match="lower bound 100, but it is 150"):
        check_plan(BUFS, _plan({"a": 0, "b": 100, "c": 0}, 150, bound=100))
    with pytest.raises(InternalError, match="peak op 3, but the most bytes are live first at op 1"):
        check_plan(BUFS, _plan({"a": 0, "b": 100, "c": 0}, 150, peak_op=3))


def test_rejects_misalignment_and_missing_buffers():
    with pytest.raises(InternalError, match="misaligned"):
        check_plan(BUFS, _plan({"a": 0, "b": 100, "c": 0}, 150), alignment=8)
    with pytest.raises(InternalError, match="no offset for buffer 'c'"):
        check_plan(BUFS, _plan({"a": 0, "b": 100}, 150))


def test_alias_must_sit_at_its_target_and_may_overlap_it():
    bufs = (Buffer("x", 64, 0, 1), Buffer("y", 32, 1, 2, alias_of="x"), Buffer("z", 32, 2, 2))
    check_plan(bufs, _plan({"x": 0, "y": 0, "z": 32}, 64, peak_op=0, bound=64, bufs=bufs))
    with pytest.raises(InternalError, match="'y' at 32 must share the bytes of 'x' at 0"):
        check_plan(bufs, _plan({"x": 0, "y": 32, "z": 0}, 64, peak_op=0, bound=64, bufs=bufs))


def test_lower_bound_counts_aliases_once_and_scratch_separately():
    assert lower_bound(BUFS) == 150
    bufs = (Buffer("x", 64, 0, 1), Buffer("y", 32, 1, 2, alias_of="x"), Buffer("s", 8, 1, 1), Buffer("z", 40, 2, 2))
    assert live_bytes(bufs) == {0: 64, 1: 72, 2: 72}
    assert lower_bound(bufs) == 72
    assert lower_bound(()) == 0


def test_broken_alias_chain_is_reported():
    with pytest.raises(InternalError, match="alias chain broken"):
        lower_bound((Buffer("y", 4, 0, 0, alias_of="ghost"),))
