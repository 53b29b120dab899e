import pytest

from tinyengine_codegen.errors import InternalError
from tinyengine_codegen.ir.verify import verify
from tinyengine_codegen.planner import Buffer, lifetimes, scratch_name
from tinyengine_codegen.planner.buffers import inplace_candidates

from .graphs import GraphBuilder


def chain_graph():
    """input 8x8x4 → conv 1x1 (8 ch) → depthwise stride 2 → conv 1x1 (16 ch) → mean → reshape → fc 10."""
    g = GraphBuilder("chain", (1, 8, 8, 4))
    x = g.fc(g.reshape(g.mean(g.conv(g.dw(g.conv(g.input, 8), 3, 2), 16)), (1, 16)), 10)
    return verify(g.graph(x))


def residual_graph(view: bool = False):
    """input 4x4x8 → conv → [reshape] → depthwise → add(conv output, depthwise output)."""
    g = GraphBuilder("residual", (1, 4, 4, 8))
    t0 = g.conv(g.input, 8)
    src = g.reshape(t0, (1, 4, 4, 8)) if view else t0
    return verify(g.graph(g.add(t0, g.dw(src))))


def _by_name(bufs):
    return {b.name: b for b in bufs}


def test_chain_intervals_sizes_and_reshape_view():
    bufs = lifetimes(chain_graph())
    assert [(b.name, b.size, b.first, b.last, b.alias_of) for b in bufs] == [
        ("input", 256, 0, 0, None),
        ("t0", 512, 0, 1, None),
        ("t1", 128, 1, 2, None),
        ("t2", 256, 2, 3, None),
        ("t3", 16, 3, 4, None),
        ("t4", 16, 4, 5, "t3"),
        ("t5", 12, 5, 5, None),
    ]  # t5: 10 bytes rounded up to 4


def test_alignment_rounds_every_size():
    sizes = {b.name: b.size for b in lifetimes(chain_graph(), alignment=16)}
    assert sizes["t5"] == 16 and sizes["t3"] == 16 and sizes["input"] == 256
    assert {b.name: b.size for b in lifetimes(chain_graph(), alignment=1)}["t5"] == 10


def test_inplace_depthwise_and_scratch():
    graph = chain_graph()
    bufs = _by_name(lifetimes(graph, inplace=frozenset({1}), scratch={1: 37, 3: 0}))
    assert bufs["t1"].alias_of == "t0"
    s = bufs[scratch_name(graph.ops[1])]
    assert (s.name, s.size, s.first, s.last, s.scratch) == ("op1_depthwise_conv_2d:scratch", 40, 1, 1, True)
    assert scratch_name(graph.ops[3]) not in bufs  # zero bytes: no buffer


def test_inplace_residual_add_overwrites_its_first_dead_input():
    bufs = _by_name(lifetimes(residual_graph(), inplace=frozenset({2})))
    assert bufs["t2"].alias_of == "t0"
    assert (bufs["t2"].first, bufs["t2"].last) == (2, 2)  # the graph output lives to the last op


def test_inplace_refusals_name_the_op_and_the_reason():
    with pytest.raises(InternalError, match=r"op 1 'op1_depthwise_conv_2d' .* 't0' .* still read after this op"):
        lifetimes(residual_graph(), inplace=frozenset({1}))
    with pytest.raises(InternalError, match=r"op 2 .* input 't1' \(or a view of it\) is still read"):
        lifetimes(residual_graph(view=True), inplace=frozenset({2}))
    g = GraphBuilder("kxk", (1, 4, 4, 8))
    kxk = verify(g.graph(g.conv(g.input, 8, k=3)))
    with pytest.raises(InternalError, match="only depthwise convs, pointwise convs, positive-stride slices and"):
        lifetimes(kxk, inplace=frozenset({0}))
    with pytest.raises(InternalError, match="out of range"):
        lifetimes(residual_graph(), inplace=frozenset({9}))


def test_a_graph_output_is_never_overwritten():
    g = GraphBuilder("two_outputs", (1, 4, 4, 8))
    t0 = g.conv(g.input, 8)
    graph = g.graph(t0, g.dw(t0))
    with pytest.raises(InternalError, match="still read after this op"):
        lifetimes(graph, inplace=frozenset({1}))
    assert _by_name(lifetimes(graph))["t0"].last == 1


def test_inplace_candidates_are_exactly_the_legal_ops():
    assert inplace_candidates(residual_graph()) == frozenset({2})
    assert inplace_candidates(residual_graph(view=True)) == frozenset({3})
    assert inplace_candidates(chain_graph()) == frozenset({1})


def test_unread_graph_input_lives_from_the_start():
    g = GraphBuilder("late", (1, 4, 4, 8))
    t0 = g.conv(g.input, 8)
    t1 = g.add(t0, g.input)
    bufs = _by_name(lifetimes(g.graph(t1)))
    assert (bufs["input"].first, bufs["input"].last) == (0, 1)


def test_bad_records_are_internal_errors():
    with pytest.raises(InternalError, match="bad record"):
        Buffer("x", 4, 3, 2)
    with pytest.raises(InternalError, match="op index 7"):
        lifetimes(chain_graph(), scratch={7: 4})


def test_a_pointwise_conv_may_write_a_larger_output_over_its_input():
    g = GraphBuilder("expand", (1, 4, 4, 8))
    graph = verify(g.graph(g.conv(g.dw(g.input), 16)))  # the 1x1 conv's input (128 B) dies there; output 256 B
    bufs = _by_name(lifetimes(graph, inplace=frozenset({1})))
    assert bufs["t1"].alias_of == "t0" and (bufs["t0"].size, bufs["t1"].size) == (128, 256)
