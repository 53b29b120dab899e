"""live_split: the live bytes of each op split by role, worked by hand on a chain with a view and in-place op."""

from tinyengine_codegen.planner import op_rows, plan_memory
from tinyengine_codegen.planner.report import live_split

from .test_buffers import chain_graph


def test_live_split_by_hand():
    graph = chain_graph()
    plan = plan_memory(graph, inplace=frozenset({1}), scratch={1: 37})
    split = live_split(graph, plan)
    rows = op_rows(graph, plan)
    assert [(s.inputs, s.outputs, s.kept, s.scratch) for s in split] == [
        (256, 512, 0, 0),
        (0, 512, 0, 40),
        (128, 256, 0, 0),
        (256, 16, 0, 0),
        (0, 16, 0, 0),
        (16, 12, 0, 0),
    ]
    assert [s.inputs + s.outputs + s.kept + s.scratch for s in split] == [r.live_bytes for r in rows]
    assert rows[0].output_shape == graph.tensor(graph.ops[0].outputs[0]).shape
