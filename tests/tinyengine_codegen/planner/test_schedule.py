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


def _reference_order(graph, scratch):
    """The dynamic program with every step's bytes summed tensor by tensor (no shared per-state sum)."""
    from tinyengine_codegen.planner.schedule import _masks, _step_bytes

    n = len(graph.ops)
    deps, tensors = _masks(graph)
    layer = {0: (0, ())}
    for _ in range(n):
        nxt = {}
        for s, (peak, order) in layer.items():
            for v in range(n):
                if not (s >> v) & 1 and (deps[v] & s) == deps[v]:
                    cand = (max(peak, _step_bytes(s, v, tensors, scratch)), order + (v,))
                    key = s | (1 << v)
                    if key not in nxt or cand < nxt[key]:
                        nxt[key] = cand
        layer = nxt
    return layer[(1 << n) - 1][1]


@pytest.mark.parametrize("seed", range(12))
def test_best_order_equals_the_step_by_step_dynamic_program(seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    g = GraphBuilder("dag", (1, 8, 8, 4))
    outs = [g.input]
    for _ in range(7):  # each op reads one or two earlier tensors: branches that join
        a = outs[int(rng.integers(len(outs)))]
        x = g.conv(a, int(rng.choice([4, 8, 16, 32])))
        if rng.random() < 0.4 and len(outs) > 1:
            b = outs[int(rng.integers(len(outs)))]
            x = g.add(x, g.conv(b, g.shape(x)[3]))
        outs.append(x)
    graph = verify(g.graph(g.add(outs[-1], g.conv(outs[1], g.shape(outs[-1])[3]))))
    scratch = {i: int(rng.integers(0, 600)) for i in range(0, len(graph.ops), 3)}
    assert best_order(graph, scratch=scratch) == _reference_order(graph, scratch)


def test_best_order_on_mbv2_like_graphs_equals_the_reference():
    graph = mbv2_like(96, 0.35)
    assert best_order(graph) == _reference_order(graph, {})
