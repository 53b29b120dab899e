"""Per-operator MACs and weight bytes, counted as the MLPerf Tiny reference figures count them."""

from __future__ import annotations

from .graph import Graph, Op
from .ops import OpKind


def op_macs(graph: Graph, op: Op) -> int:
    """Multiply-accumulates of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and the LSTM's gate products (four
    gates x (input + state) per output element); other operators count 0."""
    out = graph.tensors[op.outputs[0]]
    if op.kind is OpKind.CONV_2D:
        w = graph.tensors[op.inputs[1]]
        return out.size * w.shape[1] * w.shape[2] * w.shape[3]
    if op.kind is OpKind.DEPTHWISE_CONV_2D:
        w = graph.tensors[op.inputs[1]]
        return out.size * w.shape[1] * w.shape[2]
    if op.kind is OpKind.FULLY_CONNECTED:
        return out.size * graph.tensors[op.inputs[1]].shape[-1]
    if op.kind is OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM:
        w = graph.tensors[op.inputs[1]]
        return out.size * 4 * (w.shape[1] + w.shape[0])
    return 0


def graph_macs(graph: Graph) -> int:
    return sum(op_macs(graph, op) for op in graph.ops)


def op_weight_bytes(graph: Graph, op: Op) -> int:
    return sum(graph.tensors[t].nbytes for t in op.inputs if t and graph.tensors[t].is_const)


def weight_bytes(graph: Graph) -> int:
    """Bytes of all distinct constant tensors the operators read."""
    return sum(t.nbytes for t in graph.constants())
