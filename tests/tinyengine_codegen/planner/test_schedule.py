import pytest

from tinyengine_codegen.errors import InternalError
from tinyengine_codegen.ir.verify import verify
from tinyengine_codegen.planner import lifetimes, lower_bound, plan_memory
from tinyengine_codegen.planner.schedule import best_order, order_peak, reorder

from .graphs import GraphBuilder, mbv2_like


def two_branches():
    """x → (a1 wide → a2 narrow) and (b1 wide → b2 narrow), ops interleaved a1 b1 a2 b2, then add(a2, b2)."""
    g = GraphBuilder("branches", (1, 8, 8, 4))  # input 256 B
    a1, b1 = g.conv(g.input, 32), g.conv(g.input, 32)  # 2048 B each
    a2, b2 = g.conv(a1, 4), g.conv(b1, 4)  # 256 B each
    return verify(g.graph(g.add(a2, b2)))


def test_branches_run_one_after_the_other():
    graph = two_branches()
    # given order: while op 1 runs, input + a1 + b1 = 256 + 2048 + 2048 are live (and a1 + b1 + a2 at op 2)
    assert order_peak(graph, (0, 1, 2, 3, 4)) == 4352
    order = best_order(graph)
    assert order == (0, 2, 1, 3, 4)
    # by hand: at ops 2, 1 and 3 of the new order: input + a1 + a2, input + a2 + b1, a2 + b1 + b2 = 2560
    assert order_peak(graph, order) == 2560
    new = verify(reorder(graph, order))
    assert [op.name for op in new.ops] == ["op0_conv_2d", "op2_conv_2d", "op1_conv_2d", "op3_conv_2d", "op4_add"]
    plan = plan_memory(new)
    assert plan.arena_bytes == lower_bound(lifetimes(new)) == 2560


def test_chains_keep_their_order():
    graph = mbv2_like()
    assert best_order(graph) == tuple(range(len(graph.ops)))


def test_scratch_counts_and_bad_orders_are_refused():
    graph = two_branches()
    assert order_peak(graph, (0, 2, 1, 3, 4), scratch={1: 1000}) == 3560
    with pytest.raises(InternalError, match="not a permutation"):
        reorder(graph, (0, 1, 2))
