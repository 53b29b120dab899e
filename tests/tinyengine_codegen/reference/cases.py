"""Builders of single-operator IR graphs with seeded random data, and the TFLM comparison used by the op tests."""

from __future__ import annotations

import numpy as np

from tinyengine_codegen.ir.graph import Graph, Op, QuantParams, Tensor
from tinyengine_codegen.ir.ops import OpKind
from tinyengine_codegen.ir.verify import verify
from tinyengine_codegen.reference.run import run_graph

from .tflite_writer import run_tflm, to_tflite


def act(name: str, shape, scale: float, zp: int, dtype: str = "int8") -> Tensor:
    """An activation tensor with per-tensor quantization."""
    return Tensor(name, tuple(shape), dtype, QuantParams((float(scale),), (int(zp),)))


def const(name: str, data: np.ndarray, scales=None, axis: int = 0) -> Tensor:
    """A constant tensor; quantized (zero points 0) when scales are given."""
    q = None if scales is None else QuantParams(tuple(float(s) for s in scales), (0,) * len(scales), axis)
    arr = np.asarray(data)
    arr.setflags(write=False)
    return Tensor(name, arr.shape, str(arr.dtype), q, arr)


def single_op(kind: OpKind, attrs, inputs: list[Tensor | None], output: Tensor) -> Graph:
    """A verified graph holding one op; the non-constant inputs become the graph inputs."""
    tensors = {t.name: t for t in inputs if t is not None}
    tensors[output.name] = output
    op = Op(
        f"op_{kind.value.lower()}", kind, tuple(t.name if t is not None else "" for t in inputs), (output.name,), attrs
    )
    graph_inputs = tuple(t.name for t in inputs if t is not None and not t.is_const)
    return verify(Graph(kind.value.lower(), tensors, (op,), graph_inputs, (output.name,)))


def random_inputs(graph: Graph, rng: np.random.Generator, n: int = 1) -> list[list[np.ndarray]]:
    """n sets of int8 inputs spanning the whole int8 range (float32 inputs: normal values)."""
    sets = []
    for _ in range(n):
        xs = []
        for name in graph.inputs:
            t = graph.tensor(name)
            if t.dtype == "float32":
                xs.append((rng.normal(size=t.shape) * 4).astype(np.float32))
            else:
                xs.append(rng.integers(-128, 128, size=t.shape, dtype=np.int8))
        sets.append(xs)
    return sets


def assert_matches_tflm(graph: Graph, inputs: list[np.ndarray]) -> np.ndarray:
    """Run the graph in TFLM and in the reference; fail with the differing positions when they differ."""
    expected = run_tflm(to_tflite(graph), inputs)[0]
    got = run_graph(graph, inputs)[0]
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    expected = expected.reshape(got.shape)
    if got.dtype == np.float32:
        bad = got.view(np.int32) != expected.view(np.int32)
    else:
        bad = got != expected
    if bad.any():
        where = np.argwhere(bad)[:5]
        raise AssertionError(
            f"{graph.name}: {int(bad.sum())} of {bad.size} values differ from TFLM, first at "
            f"{where.tolist()}: reference {got[bad][:5].tolist()} vs TFLM "
            f"{expected[bad][:5].tolist()}"
        )
    return got


def check_random(graph: Graph, seed: int, n: int = 2) -> None:
    rng = np.random.default_rng(seed)
    for xs in random_inputs(graph, rng, n):
        assert_matches_tflm(graph, xs)


def weights(rng: np.random.Generator, shape, low: int = -127, high: int = 128) -> np.ndarray:
    return rng.integers(low, high, size=shape, dtype=np.int8)
