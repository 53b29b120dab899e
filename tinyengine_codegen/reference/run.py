"""Execute a Graph with the NumPy reference kernels: the bit-exact oracle (TFLM int8 semantics) for every C test."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..errors import InternalError, TinyMLError
from ..ir.graph import Graph
from ..ir.ops import OpKind
from .ops import KERNELS

# kernels that read their weights and bias from the graph; only the activation is passed
_WEIGHTED = frozenset({OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.FULLY_CONNECTED})


def _bind_inputs(graph: Graph, inputs) -> dict[str, np.ndarray]:
    """Match the given arrays to graph.inputs (a sequence in order, or a mapping by name) and check them."""
    if isinstance(inputs, np.ndarray):
        inputs = [inputs]
    if isinstance(inputs, Mapping):
        missing = [n for n in graph.inputs if n not in inputs]
        if missing:
            raise TinyMLError(f"graph '{graph.name}': no value given for input(s) {missing}; "
                              f"expected {list(graph.inputs)}")
        given = [inputs[n] for n in graph.inputs]
    else:
        given = list(inputs)
        if len(given) != len(graph.inputs):
            raise TinyMLError(f"graph '{graph.name}': {len(given)} input arrays given, the graph has "
                              f"{len(graph.inputs)} ({list(graph.inputs)})")
    env: dict[str, np.ndarray] = {}
    for name, value in zip(graph.inputs, given):
        t = graph.tensor(name)
        arr = np.asarray(value)
        if arr.shape != t.shape:
            raise TinyMLError(f"graph '{graph.name}': input '{name}' has shape {arr.shape}, expected {t.shape}")
        if arr.dtype != np.dtype(t.dtype):
            if not np.can_cast(arr.dtype, t.dtype, casting="same_kind") or (
                    np.issubdtype(arr.dtype, np.integer) and not _fits(arr, t.dtype)):
                raise TinyMLError(f"graph '{graph.name}': input '{name}' is {arr.dtype}, expected {t.dtype}")
            arr = arr.astype(t.dtype)
        env[name] = arr
    return env


def _fits(arr: np.ndarray, dtype: str) -> bool:
    info = np.iinfo(dtype)
    return arr.size == 0 or (int(arr.min()) >= info.min and int(arr.max()) <= info.max)


def run_graph_all(graph: Graph, inputs: Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run every op in order; return every activation (graph inputs included) by tensor name."""
    env = _bind_inputs(graph, inputs)
    for op in graph.ops:
        names = op.inputs[:1] if op.kind in _WEIGHTED else [n for n in op.inputs if n]
        args = [graph.tensor(n).data if graph.tensor(n).is_const else env[n] for n in names]
        result = KERNELS[op.kind](op, graph, *args)
        out_t = graph.tensor(op.outputs[0])
        if result.shape != out_t.shape or result.dtype != np.dtype(out_t.dtype):
            raise InternalError(f"{op.name} ({op.kind.value}): reference produced {result.dtype}{result.shape}, "
                                f"tensor '{out_t.name}' is {out_t.dtype}{out_t.shape}")
        env[op.outputs[0]] = result
    return env


def run_graph(graph: Graph, inputs: Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Run the graph; return its outputs in graph.outputs order."""
    env = run_graph_all(graph, inputs)
    return [env[name] for name in graph.outputs]
