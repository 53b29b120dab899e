from tinyengine_codegen.planner import check_plan, lifetimes, op_rows, plan_memory

from .test_buffers import chain_graph


def test_rows_of_the_chain_by_hand():
    graph = chain_graph()
    plan = plan_memory(graph, inplace=frozenset({1}), scratch={1: 37})
    check_plan(lifetimes(graph, inplace=frozenset({1}), scratch={1: 37}), plan, alignment=4)
    rows = op_rows(graph, plan)
    # op0: input 256 + t0 512; op1: t0/t1 share 512 + 40 scratch; op2: t1 128 + t2 256; op3: t2 + t3 16;
    # op4: t3/t4 view 16; op5: t4 16 + t5 12
    assert [r.live_bytes for r in rows] == [768, 552, 384, 272, 16, 28]
    assert [r.scratch_bytes for r in rows] == [0, 40, 0, 0, 0, 0]
    assert plan.arena_bytes == plan.lower_bound == 768 and plan.peak_op == 0
    assert rows[0].top_bytes == rows[-1].high_water == 768
    assert all(r.live_bytes <= r.top_bytes <= r.high_water <= plan.arena_bytes for r in rows)
    assert [r.kind for r in rows][:2] == ["CONV_2D", "DEPTHWISE_CONV_2D"] and rows[5].name == "op5_fully_connected"
