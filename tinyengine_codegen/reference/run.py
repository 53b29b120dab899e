"""Execute a Graph with the NumPy reference kernels: the bit-exact oracle (TFLM int8 semantics) for every C test.

Inputs may carry a batch: N items stacked on axis 0 where the graph's input has a leading 1. Graphs whose ops keep
items apart (every activation has a leading 1 and no op reads across axis 0) run the whole batch in each kernel
call; any other graph runs the items one by one. Either way item i of each output equals a single-item run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import InternalError, TinyMLError
from ..ir.graph import Graph
from ..ir.ops import OpKind
from .lstm import unidirectional_sequence_lstm
from .more import KERNELS as MORE_KERNELS
from .ops import KERNELS

KERNELS = {**KERNELS, **MORE_KERNELS, OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM: unidirectional_sequence_lstm}
# kernels that read their weights and bias from the graph; only the activation is passed
WEIGHTED_KINDS = frozenset(
    {
        OpKind.CONV_2D,
        OpKind.DEPTHWISE_CONV_2D,
        OpKind.FULLY_CONNECTED,
        OpKind.TRANSPOSE_CONV,
        OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM,
    }
)
_AXIS_KINDS = frozenset({OpKind.ARG_MAX, OpKind.PACK, OpKind.UNPACK})


def _bind_inputs(graph: Graph, inputs) -> tuple[dict[str, np.ndarray], int]:
    """Match the given arrays to graph.inputs (a sequence in order, or a mapping by name) and check them;
    returns them with the batch size (1 when every shape is the tensor's own)."""
    if isinstance(inputs, np.ndarray):
        inputs = [inputs]
    if isinstance(inputs, Mapping):
        missing = [n for n in graph.inputs if n not in inputs]
        if missing:
            raise TinyMLError(
                f"graph '{graph.name}': no value given for input(s) {missing}; expected {list(graph.inputs)}"
            )
        given = [inputs[n] for n in graph.inputs]
    else:
        given = list(inputs)
        if len(given) != len(graph.inputs):
            raise TinyMLError(
                f"graph '{graph.name}': {len(given)} input arrays given, the graph has "
                f"{len(graph.inputs)} ({list(graph.inputs)})"
            )
    env: dict[str, np.ndarray] = {}
    batches = set()
    for name, value in zip(graph.inputs, given):
        t = graph.tensor(name)
        arr = np.asarray(value)
        batched = len(t.shape) > 0 and t.shape[0] == 1 and arr.shape[1:] == t.shape[1:] and arr.ndim == len(t.shape)
        if arr.shape != t.shape and not (batched and arr.shape[0] > 0):
            raise TinyMLError(
                f"graph '{graph.name}': input '{name}' has shape {arr.shape}, expected {t.shape} "
                f"(or a batch of shape (N, {', '.join(map(str, t.shape[1:]))}))"
            )
        batches.add(arr.shape[0] if arr.shape != t.shape else 1)
        if arr.dtype != np.dtype(t.dtype):
            if not np.can_cast(arr.dtype, t.dtype, casting="same_kind") or (
                np.issubdtype(arr.dtype, np.integer) and not _fits(arr, t.dtype)
            ):
                raise TinyMLError(f"graph '{graph.name}': input '{name}' is {arr.dtype}, expected {t.dtype}")
            arr = arr.astype(t.dtype)
        env[name] = arr
    if len(batches) > 1:
        raise TinyMLError(f"graph '{graph.name}': the inputs have different batch sizes {sorted(batches)}")
    return env, batches.pop() if batches else 1


def _fits(arr: np.ndarray, dtype: str) -> bool:
    info = np.iinfo(dtype)
    return arr.size == 0 or (int(arr.min()) >= info.min and int(arr.max()) <= info.max)


def batchable(graph: Graph) -> bool:
    """Whether every kernel call can take a whole batch: each activation has rank >= 2 and a leading 1, and no op
    reads or moves across axis 0."""
    if any(len(t.shape) < 2 or t.shape[0] != 1 for t in graph.activations()):
        return False
    return not any(_crosses_axis0(graph, op) for op in graph.ops)


def _crosses_axis0(graph: Graph, op) -> bool:
    a, rank = op.attrs, len(graph.tensor(op.outputs[0]).shape)
    if op.kind in _AXIS_KINDS:
        return a.axis == 0
    if op.kind in (OpKind.SPLIT, OpKind.SPLIT_V):
        return a.axis == 0
    if op.kind in (OpKind.MEAN, OpKind.SUM, OpKind.REDUCE_MAX):
        return any(ax % len(graph.tensor(op.inputs[0]).shape) == 0 for ax in a.axes)
    if op.kind is OpKind.CONCATENATION:
        return a.axis % rank == 0
    if op.kind is OpKind.TRANSPOSE:
        return a.perm[0] != 0
    if op.kind is OpKind.PAD:
        return tuple(a.paddings[0]) != (0, 0)
    if op.kind is OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM:
        return a.time_major  # axis 0 is time: each step reads the state the previous one left
    if op.kind is OpKind.STRIDED_SLICE:
        return (a.begin[0], a.end[0], a.strides[0]) != (0, 1, 1) or 0 in a.shrink_axis
    return False


def run_graph_all(graph: Graph, inputs: Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run every op in order; return every activation (graph inputs included) by tensor name. With a batch of N
    items every activation is returned as (N, *shape[1:])."""
    env, n = _bind_inputs(graph, inputs)
    if n > 1 and not batchable(graph):
        runs = [run_graph_all(graph, {k: v[i : i + 1] for k, v in env.items()}) for i in range(n)]
        return {k: np.concatenate([r[k] for r in runs]) for k in runs[0]}
    for op in graph.ops:
        names = op.inputs[:1] if op.kind in WEIGHTED_KINDS else [n for n in op.inputs if n]
        args = [graph.tensor(n).data if graph.tensor(n).is_const else env[n] for n in names]
        results = KERNELS[op.kind](op, graph, *args)
        for name, result in zip(op.outputs, results if isinstance(results, tuple) else (results,)):
            env[name] = _checked(op, graph.tensor(name), result, n)
    return env


def _checked(op, out_t, result: np.ndarray, n: int) -> np.ndarray:
    want = out_t.shape if n == 1 else (n,) + out_t.shape[1:]
    if result.shape != want or result.dtype != np.dtype(out_t.dtype):
        raise InternalError(
            f"{op.name} ({op.kind.value}): reference produced {result.dtype}{result.shape}, "
            f"tensor '{out_t.name}' is {out_t.dtype}{want}"
        )
    return result


def run_graph(graph: Graph, inputs: Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Run the graph (on one item, or a batch stacked on axis 0); return its outputs in graph.outputs order."""
    env = run_graph_all(graph, inputs)
    return [env[name] for name in graph.outputs]
