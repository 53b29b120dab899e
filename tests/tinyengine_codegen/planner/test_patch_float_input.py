"""A float input quantized by op 0 runs whole before the patch stage: the float tensor is dead during the stage,
the stage reads the int8 tensor whole, and the C (host) and the patched NumPy executor match the reference."""

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from tinyengine_codegen.ir.graph import Graph, Op, Tensor
from tinyengine_codegen.ir.ops import NoAttrs, OpKind
from tinyengine_codegen.ir.verify import verify
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.passes import plan_model
from tinyengine_codegen.planner import lifetimes
from tinyengine_codegen.planner.patches import build_schedule, patched_buffers, split_points, stage_start
from tinyengine_codegen.reference.patched import run_patched
from tinyengine_codegen.reference.run import run_graph

from .stacks import Stack


def float_input_graph() -> Graph:
    """float32 input 20x20x3 -> QUANTIZE -> conv 3x3 (32) -> depthwise 3x3 stride 2 -> conv 1x1 (8)."""
    g = Stack(np.random.default_rng(5), (1, 20, 20, 3))
    x = g.conv(g.input, 32, 3, 1)
    y = g.conv(g.dw(x, 3, 2), 8, 1)
    stack = g.graph(y)
    f = Tensor("x_float", (1, 20, 20, 3), "float32")
    quant = Op("op_quantize", OpKind.QUANTIZE, ("x_float",), (stack.inputs[0],), NoAttrs())
    tensors = {**stack.tensors, "x_float": f}
    return verify(Graph("float_in", tensors, (quant, *stack.ops), ("x_float",), stack.outputs))


def test_the_stage_starts_after_the_quantize():
    graph = float_input_graph()
    assert stage_start(graph) == 1 and split_points(graph)[0] == 1
    sched = build_schedule(graph, 3, 2)
    assert sched.start == 1 and list(sched.stage) == [1, 2, 3] and len(sched.pixels) == 3
    q = graph.ops[0].outputs[0]
    assert sched.full_tensors == (q, graph.ops[3].outputs[0])  # the int8 input, whole, and the split output
    bufs = {b.name: b for b in patched_buffers(graph, sched)}
    assert (bufs["x_float"].first, bufs["x_float"].last) == (0, 0)  # dead once quantized
    assert bufs[q].last >= sched.split_op  # every patch reads it
    plain = {b.name: b for b in lifetimes(graph)}
    assert bufs["x_float"].size == plain["x_float"].size == 20 * 20 * 3 * 4


def test_patched_runs_match_the_reference():
    graph = float_input_graph()
    x = np.random.default_rng(1).uniform(-3, 3, (1, 20, 20, 3)).astype(np.float32)
    want = run_graph(graph, [x])[0]
    sched = build_schedule(graph, 3, 3)
    assert np.array_equal(run_patched(graph, sched, [x])[0], want)

    from tinyengine_codegen.build.host import build_host, run_host
    from tinyengine_codegen.compile import write_project

    opts = CompileOptions(patches="3", max_extra_cycles=10.0)
    mp = plan_model(graph, opts)
    assert mp.patches is not None and mp.patches.start == 1
    # without patches the 20x20x32 map is whole; with them the float input (4,800 B) is gone before the stage
    assert mp.plan.arena_bytes < mp.plain.arena_bytes
    with tempfile.TemporaryDirectory() as tmp:
        write_project(graph, Path(tmp) / "m", replace(opts, debug_canaries=True))
        y = run_host(build_host(Path(tmp) / "m", Path(tmp) / "m.exe"), x)
    assert np.array_equal(np.asarray(y).reshape(want.shape), want)
