"""Planning whole graphs: built MobileNetV2-style networks and the four MLPerf Tiny models."""

import json

import pytest

from tests.conftest import SHARED_DATA, mlperf_path
from tinyengine_codegen.ir.ops import OpKind
from tinyengine_codegen.planner import check_plan, lifetimes, lower_bound, plan_memory, run_strategy
from tinyengine_codegen.planner.buffers import inplace_candidates

from .graphs import eligible_depthwise, mbv2_like

DEPTHWISE = frozenset({OpKind.DEPTHWISE_CONV_2D})


def _planned(graph, inplace=frozenset(), scratch=None):
    bufs = lifetimes(graph, inplace=inplace, scratch=scratch)
    plan = plan_memory(graph, inplace=inplace, scratch=scratch)
    check_plan(bufs, plan, alignment=4)
    assert plan.lower_bound == lower_bound(bufs) <= plan.arena_bytes
    return plan


def test_mbv2_like_reaches_its_lower_bound():
    graph = mbv2_like()
    plain = _planned(graph)
    inplace = _planned(graph, eligible_depthwise(graph))
    # 96x96 input, width 0.35: the first expanded block (48x48x48 in, 24x24x48 out) sets the peak
    assert (plain.arena_bytes, plain.lower_bound) == (138240, 138240)
    assert (inplace.arena_bytes, inplace.lower_bound) == (129024, 129024)
    assert run_strategy("greedy_first_use", plain.buffers).arena_bytes == 156672  # what a simple order loses


def test_mbv2_like_with_scratch_and_every_inplace_op():
    graph = mbv2_like(resolution=64, width=0.5)
    ops = inplace_candidates(graph)
    assert any(graph.ops[i].kind is OpKind.ADD for i in ops)
    scratch = {i: 4 * (i % 7) * 64 for i in range(len(graph.ops))}
    plan = _planned(graph, ops, scratch)
    assert plan.arena_bytes == plan.lower_bound


REF = {"ic": "IC", "vww": "VWW", "kws": "KWS", "ad": "AD"}
PINNED = {"ic": 49152, "vww": 55296, "kws": 16000, "ad": 768}  # with and without in-place depthwise


@pytest.mark.parametrize("key", sorted(REF))
def test_mlperf_tiny_at_or_below_the_per_op_bound(key):
    from tinyengine_codegen.importers.tflite import load_tflite

    graph = load_tflite(mlperf_path(key))
    ref = json.loads((SHARED_DATA / "reference" / "mlperf_tiny.json").read_text())[REF[key]]
    plain = _planned(graph)
    inplace = _planned(graph, inplace_candidates(graph, DEPTHWISE))
    assert plain.arena_bytes == inplace.arena_bytes == PINNED[key] == ref["per_op_activation_lower_bound_bytes"]
    assert plain.arena_bytes <= ref["tflm_arena_head_bytes"]
