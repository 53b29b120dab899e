"""run_graph on a batch (N items on axis 0) equals N single-item runs, whether the kernels take the whole batch or
the executor falls back to one item at a time."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import mlperf_path
from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.importers.tflite import load_tflite
from tinyengine_codegen.ir.graph import Graph, Op
from tinyengine_codegen.ir.ops import (
    ConcatAttrs,
    MeanAttrs,
    NoAttrs,
    OpKind,
    PadAttrs,
    ReshapeAttrs,
    StridedSliceAttrs,
    TransposeAttrs,
)
from tinyengine_codegen.ir.verify import verify
from tinyengine_codegen.reference.run import batchable, run_graph, run_graph_all

from .cases import act


def _singles(graph: Graph, x: np.ndarray) -> np.ndarray:
    return np.concatenate([run_graph(graph, [x[i : i + 1]])[0] for i in range(len(x))])


def _batch(rng, graph: Graph, n: int) -> np.ndarray:
    shape = graph.tensor(graph.inputs[0]).shape
    return rng.integers(-128, 128, size=(n,) + shape[1:]).astype(np.int8)


@pytest.mark.parametrize("key", ["ic", "kws", "ad"])
def test_mlperf_batch_equals_single_runs(key):
    graph = load_tflite(mlperf_path(key))
    assert batchable(graph)
    x = _batch(np.random.default_rng(1), graph, 5)
    y = run_graph(graph, [x])[0]
    assert y.shape == (5,) + graph.tensor(graph.outputs[0]).shape[1:]
    np.testing.assert_array_equal(y, _singles(graph, x))
    assert len({bytes(r) for r in y.view(np.uint8)}) > 1  # the items really differ


def _layout_chain() -> Graph:
    """PAD -> TRANSPOSE (keeps axis 0) -> STRIDED_SLICE -> MEAN over H, W -> RESHAPE -> CONCATENATION -> RELU6."""
    t = {
        n: act(n, s, 0.05, 3)
        for n, s in (
            ("x", (1, 4, 5, 3)),
            ("p", (1, 6, 5, 3)),
            ("tr", (1, 5, 6, 3)),
            ("s", (1, 5, 3, 2)),
            ("m", (1, 1, 1, 2)),
            ("r", (1, 2)),
            ("c", (1, 4)),
            ("y", (1, 4)),
        )
    }
    ops = (
        Op("pad", OpKind.PAD, ("x",), ("p",), PadAttrs(((0, 0), (1, 1), (0, 0), (0, 0)))),
        Op("transpose", OpKind.TRANSPOSE, ("p",), ("tr",), TransposeAttrs((0, 2, 1, 3))),
        Op("slice", OpKind.STRIDED_SLICE, ("tr",), ("s",), StridedSliceAttrs((0, 0, 0, 1), (1, 5, 6, 3), (1, 1, 2, 1))),
        Op("mean", OpKind.MEAN, ("s",), ("m",), MeanAttrs((1, 2), True)),
        Op("reshape", OpKind.RESHAPE, ("m",), ("r",), ReshapeAttrs((1, 2))),
        Op("concat", OpKind.CONCATENATION, ("r", "r"), ("c",), ConcatAttrs(1)),
        Op("relu6", OpKind.RELU6, ("c",), ("y",), NoAttrs()),
    )
    return verify(Graph("layout", t, ops, ("x",), ("y",)))


def test_layout_ops_take_a_batch():
    graph = _layout_chain()
    assert batchable(graph)
    x = _batch(np.random.default_rng(2), graph, 7)
    np.testing.assert_array_equal(run_graph(graph, [x])[0], _singles(graph, x))


def test_graph_mixing_axis0_falls_back_to_single_runs():
    """MEAN over axis 0 would mix the items of a batch: the executor runs them one at a time instead."""
    t = {"x": act("x", (1, 3, 4), 0.1, 0), "m": act("m", (1, 3, 4), 0.1, 0)}
    graph = verify(Graph("mix", t, (Op("mean", OpKind.MEAN, ("x",), ("m",), MeanAttrs((0,), True)),), ("x",), ("m",)))
    assert not batchable(graph)
    x = _batch(np.random.default_rng(3), graph, 4)
    env = run_graph_all(graph, [x])
    np.testing.assert_array_equal(env["m"], _singles(graph, x))
    assert env["x"].shape == (4, 3, 4)


def test_batch_shape_errors_name_the_input():
    graph = _layout_chain()
    with pytest.raises(TinyMLError, match="batch of shape"):
        run_graph(graph, [np.zeros((3, 4, 4, 3), np.int8)])
