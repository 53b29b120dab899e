"""Small IR graphs built directly from the IR dataclasses, for planner tests and the planner benchmark."""

from __future__ import annotations

import numpy as np

from tinyengine_codegen.ir.graph import Graph, Op, QuantParams, Tensor
from tinyengine_codegen.ir.ops import (
    Conv2DAttrs,
    DepthwiseConv2DAttrs,
    ElementwiseAttrs,
    FullyConnectedAttrs,
    MeanAttrs,
    OpKind,
    Padding,
    ReshapeAttrs,
)
from tinyengine_codegen.ir.shapes import conv_out_pad

Q = QuantParams((0.05,), (0,))


class GraphBuilder:
    """Append ops in execution order; every method returns the name of the new activation tensor."""

    def __init__(self, name: str, input_shape: tuple[int, ...]):
        self.name, self.tensors, self.ops = name, {}, []
        self.input = self._act("input", input_shape)

    def _act(self, name: str, shape: tuple[int, ...]) -> str:
        self.tensors[name] = Tensor(name, tuple(shape), "int8", Q)
        return name

    def _const(self, name: str, shape: tuple[int, ...], dtype: str) -> str:
        self.tensors[name] = Tensor(name, tuple(shape), dtype, Q, np.zeros(shape, dtype=dtype))
        return name

    def _op(self, kind: OpKind, inputs: tuple[str, ...], shape: tuple[int, ...], attrs) -> str:
        i = len(self.ops)
        out = self._act(f"t{i}", shape)
        self.ops.append(Op(f"op{i}_{kind.value.lower()}", kind, inputs, (out,), attrs))
        return out

    def shape(self, t: str) -> tuple[int, ...]:
        return self.tensors[t].shape

    def conv(self, x: str, cout: int, k: int = 1, stride: int = 1) -> str:
        n, h, w, cin = self.shape(x)
        i = len(self.ops)
        wt = self._const(f"w{i}", (cout, k, k, cin), "int8")
        b = self._const(f"b{i}", (cout,), "int32")
        oh, _ = conv_out_pad(h, k, stride, 1, Padding.SAME)
        ow, _ = conv_out_pad(w, k, stride, 1, Padding.SAME)
        return self._op(OpKind.CONV_2D, (x, wt, b), (n, oh, ow, cout), Conv2DAttrs(stride, stride))

    def dw(self, x: str, k: int = 3, stride: int = 1) -> str:
        n, h, w, c = self.shape(x)
        i = len(self.ops)
        wt = self._const(f"w{i}", (1, k, k, c), "int8")
        b = self._const(f"b{i}", (c,), "int32")
        oh, _ = conv_out_pad(h, k, stride, 1, Padding.SAME)
        ow, _ = conv_out_pad(w, k, stride, 1, Padding.SAME)
        return self._op(OpKind.DEPTHWISE_CONV_2D, (x, wt, b), (n, oh, ow, c), DepthwiseConv2DAttrs(stride, stride))

    def add(self, a: str, b: str) -> str:
        return self._op(OpKind.ADD, (a, b), self.shape(a), ElementwiseAttrs())

    def mean(self, x: str) -> str:
        n, _, _, c = self.shape(x)
        return self._op(OpKind.MEAN, (x,), (n, 1, 1, c), MeanAttrs((1, 2), True))

    def reshape(self, x: str, shape: tuple[int, ...]) -> str:
        return self._op(OpKind.RESHAPE, (x,), shape, ReshapeAttrs(tuple(shape)))

    def fc(self, x: str, units: int) -> str:
        i = len(self.ops)
        wt = self._const(f"w{i}", (units, self.shape(x)[-1]), "int8")
        b = self._const(f"b{i}", (units,), "int32")
        return self._op(OpKind.FULLY_CONNECTED, (x, wt, b), (1, units), FullyConnectedAttrs())

    def graph(self, *outputs: str) -> Graph:
        return Graph(self.name, self.tensors, tuple(self.ops), (self.input,), tuple(outputs))


def inverted_residual(g: GraphBuilder, x: str, cout: int, expand: int, stride: int, k: int = 3) -> str:
    cin = g.shape(x)[3]
    y = g.conv(x, cin * expand) if expand != 1 else x
    y = g.conv(g.dw(y, k, stride), cout)
    return g.add(x, y) if stride == 1 and cin == cout else y


MBV2_STAGES = (
    (16, 1, 1, 1),
    (24, 6, 2, 2),
    (32, 6, 3, 2),
    (64, 6, 4, 2),
    (96, 6, 3, 1),
    (160, 6, 3, 2),
    (320, 6, 1, 1),
)


def mbv2_like(resolution: int = 96, width: float = 0.35, classes: int = 2) -> Graph:
    """A MobileNetV2-style network: stem, 17 inverted-residual blocks (10 with a residual ADD), head, classifier."""

    def ch(c: float) -> int:
        return max(8, int(c * width + 4) // 8 * 8)

    g = GraphBuilder(f"mbv2_{resolution}_{width}", (1, resolution, resolution, 3))
    x = g.conv(g.input, ch(32), 3, 2)
    for c, t, n, s in MBV2_STAGES:
        for i in range(n):
            x = inverted_residual(g, x, ch(c), t, s if i == 0 else 1)
    x = g.mean(g.conv(x, 1280 if width > 1 else 1280 // 4))
    out = g.fc(g.reshape(x, (1, g.shape(x)[3])), classes)
    return g.graph(out)


def depthwise_ops(graph: Graph) -> frozenset[int]:
    return frozenset(i for i, op in enumerate(graph.ops) if op.kind is OpKind.DEPTHWISE_CONV_2D)


def eligible_depthwise(graph: Graph) -> frozenset[int]:
    """Depthwise ops whose input nothing reads afterwards (the ones a pass would mark in place)."""
    return frozenset(i for i in depthwise_ops(graph) if graph.last_use(graph.ops[i].inputs[0]) == i)
