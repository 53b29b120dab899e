"""run_graph / run_graph_all: input binding, errors, and multi-op execution against TFLM."""

from __future__ import annotations

import numpy as np
import pytest

from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.ir.graph import Graph, Op
from tinyengine_codegen.ir.ops import ElementwiseAttrs, NoAttrs, OpKind, ReshapeAttrs, SoftmaxAttrs
from tinyengine_codegen.ir.verify import verify
from tinyengine_codegen.reference.run import run_graph, run_graph_all

from .cases import act, const, single_op
from .tflite_writer import run_tflm, to_tflite


def _chain() -> Graph:
    """x -> ADD(x, const) -> HARD_SWISH -> RESHAPE -> SOFTMAX."""
    x = act("x", (1, 2, 3, 4), 0.05, 3)
    c = const("c", np.arange(-12, 12, dtype=np.int8).reshape(1, 2, 3, 4), [0.02])
    c = type(c)(c.name, c.shape, c.dtype, act("c", c.shape, 0.02, -5).quant, c.data)
    s = act("s", (1, 2, 3, 4), 0.07, -1)
    h = act("h", (1, 2, 3, 4), 0.05, -60)
    r = act("r", (1, 24), 0.05, -60)
    y = act("y", (1, 24), 1 / 256, -128)
    ops = (
        Op("add", OpKind.ADD, ("x", "c"), ("s",), ElementwiseAttrs()),
        Op("hswish", OpKind.HARD_SWISH, ("s",), ("h",), NoAttrs()),
        Op("reshape", OpKind.RESHAPE, ("h",), ("r",), ReshapeAttrs((1, 24))),
        Op("softmax", OpKind.SOFTMAX, ("r",), ("y",), SoftmaxAttrs()),
    )
    return verify(Graph("chain", {t.name: t for t in (x, c, s, h, r, y)}, ops, ("x",), ("y",)))


def test_chain_with_constant_operand_matches_tflm():
    graph = _chain()
    x = np.random.default_rng(0).integers(-128, 128, size=(1, 2, 3, 4), dtype=np.int8)
    np.testing.assert_array_equal(run_graph(graph, [x])[0], run_tflm(to_tflite(graph), [x])[0])


def test_run_graph_all_returns_every_activation():
    graph = _chain()
    x = np.zeros((1, 2, 3, 4), np.int8)
    env = run_graph_all(graph, {"x": x})
    assert set(env) == {"x", "s", "h", "r", "y"}
    assert env["r"].shape == (1, 24) and env["y"].dtype == np.int8
    np.testing.assert_array_equal(env["y"], run_graph(graph, [x])[0])


def test_inputs_are_checked():
    graph = _chain()
    with pytest.raises(TinyMLError, match="shape"):
        run_graph(graph, [np.zeros((1, 24), np.int8)])
    with pytest.raises(TinyMLError, match="no value"):
        run_graph(graph, {"other": np.zeros((1, 2, 3, 4), np.int8)})
    with pytest.raises(TinyMLError, match="int8"):
        run_graph(graph, [np.full((1, 2, 3, 4), 300, np.int32)])
    with pytest.raises(TinyMLError, match="2 input arrays"):
        run_graph(graph, [np.zeros((1, 2, 3, 4), np.int8)] * 2)


def test_int_inputs_in_range_are_accepted():
    graph = single_op(OpKind.RELU, NoAttrs(), [act("x", (4,), 0.1, 0)], act("y", (4,), 0.1, 0))
    assert run_graph(graph, [np.array([-3, 0, 2, 5])])[0].tolist() == [0, 0, 2, 5]
