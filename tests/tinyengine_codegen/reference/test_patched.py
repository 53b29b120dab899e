"""The patch-by-patch executor equals the layer-by-layer reference bit for bit (split map and model outputs)."""

import numpy as np
import pytest

from tests.conftest import mlperf_path
from tests.tinyengine_codegen.planner.stacks import Stack, random_stack
from tinyengine_codegen.errors import InternalError
from tinyengine_codegen.planner.patch_search import choose_patches
from tinyengine_codegen.planner.patches import build_schedule, split_points
from tinyengine_codegen.reference.patched import run_patched, run_stage
from tinyengine_codegen.reference.run import run_graph_all


def _input(graph, rng):
    return rng.integers(-128, 128, graph.tensor(graph.inputs[0]).shape).astype(np.int8)


def _assert_same(graph, sched, x, env):
    split = run_stage(graph, sched, [x])
    want = env[sched.split_tensor]
    if not np.array_equal(split, want):
        where = np.argwhere(split != want)[:5].tolist()
        raise AssertionError(
            f"split op {sched.split_op}, {sched.p}x{sched.p}: {int((split != want).sum())} values "
            f"differ, first at {where}"
        )
    for got, name in zip(run_patched(graph, sched, [x]), graph.outputs):
        assert np.array_equal(got, env[name])


@pytest.mark.parametrize("k", [3, 5, 7])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv_stack_every_split_and_grid(k, stride):
    rng = np.random.default_rng(100 * k + stride)
    g = Stack(rng, (1, 15, 13, 3))
    a = g.conv(g.input, 4, k, stride)
    b = g.dw(a, k, 1)
    c = g.conv(b, 5, 3, stride)
    graph = g.graph(g.conv(c, 3, 1))
    x = _input(graph, rng)
    env = run_graph_all(graph, [x])
    assert np.std(env[graph.outputs[0]]) > 5  # not a saturated, constant result
    for s in split_points(graph):
        _, h, w, _ = graph.tensor(graph.ops[s].outputs[0]).shape
        for p in range(1, min(h, w, 6) + 1):
            _assert_same(graph, build_schedule(graph, s, p), x, env)


@pytest.mark.parametrize("seed", range(12))
def test_random_stacks(seed):
    """Odd sizes, kernels 3/5/7, strides 1/2, SAME and VALID, depth multipliers, PAD, max pools, residual ADDs."""
    rng = np.random.default_rng(seed)
    graph = random_stack(rng, depth=int(rng.integers(3, 7)))
    x = _input(graph, rng)
    env = run_graph_all(graph, [x])
    for s in split_points(graph):
        _, h, w, _ = graph.tensor(graph.ops[s].outputs[0]).shape
        for p in sorted({min(h, w, 2), min(h, w, 3), min(h, w)}):
            _assert_same(graph, build_schedule(graph, s, p), x, env)


def test_stage_checks_coverage():
    graph = random_stack(np.random.default_rng(1), depth=2)
    sched = build_schedule(graph, 0, 2)
    broken = type(sched)(
        sched.split_op,
        sched.p,
        sched.split_tensor,
        sched.full_tensors,
        sched.buffer_bytes,
        sched.patches[:-1],
        sched.stage_macs,
        sched.patched_macs,
        sched.model_macs,
    )
    with pytest.raises(InternalError, match="unwritten"):
        run_stage(graph, broken, [_input(graph, np.random.default_rng(0))])


@pytest.mark.parametrize("key,cases", [("vww", [(3, 8), (7, 3), (12, 5)]), ("ic", [(3, 3), (7, 4), (3, 8)])])
def test_mlperf_models(key, cases):
    from tinyengine_codegen.importers.tflite import load_tflite

    graph = load_tflite(mlperf_path(key))
    rng = np.random.default_rng(0)
    x = _input(graph, rng)
    env = run_graph_all(graph, [x])
    for s, p in cases:
        _assert_same(graph, build_schedule(graph, s, p), x, env)
    chosen = choose_patches(graph)
    assert (chosen.split_op, chosen.p) == cases[0]
