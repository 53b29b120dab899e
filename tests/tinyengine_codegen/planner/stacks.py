"""Random quantized NHWC stacks with real weights (convs, depthwise, pools, PAD, residual ADD) for the patch tests."""

from __future__ import annotations

import math

import numpy as np

from tinyengine_codegen.ir.graph import Graph, Op, QuantParams, Tensor
from tinyengine_codegen.ir.ops import (
    Activation,
    Conv2DAttrs,
    DepthwiseConv2DAttrs,
    ElementwiseAttrs,
    OpKind,
    PadAttrs,
    Padding,
    Pool2DAttrs,
)
from tinyengine_codegen.ir.shapes import conv_out_pad
from tinyengine_codegen.ir.verify import verify


class Stack:
    """Append layers in order; each method returns the new activation's name. Weights and scales come from rng."""

    def __init__(self, rng: np.random.Generator, shape: tuple[int, int, int, int], name: str = "stack"):
        self.rng, self.name, self.tensors, self.ops = rng, name, {}, []
        self.input = self._act(shape, 0.05)

    def _act(self, shape, scale: float, zp: int | None = None) -> str:
        name = f"t{len(self.tensors)}"
        zp = int(self.rng.integers(-20, 21)) if zp is None else zp
        self.tensors[name] = Tensor(name, tuple(shape), "int8", QuantParams((float(scale),), (zp,)))
        return name

    def _const(self, data: np.ndarray, scales=None, axis: int = 0) -> str:
        name = f"c{len(self.tensors)}"
        q = None if scales is None else QuantParams(tuple(float(s) for s in scales), (0,) * len(scales), axis)
        data.setflags(write=False)
        self.tensors[name] = Tensor(name, data.shape, str(data.dtype), q, data)
        return name

    def _op(self, kind: OpKind, inputs, shape, attrs, scale: float) -> str:
        out = self._act(shape, scale)
        self.ops.append(Op(f"op{len(self.ops)}_{kind.value.lower()}", kind, tuple(inputs), (out,), attrs))
        return out

    def shape(self, t: str) -> tuple[int, ...]:
        return self.tensors[t].shape

    def _weighted(self, kind, x, w_shape, cout, taps, attrs, k, s, d, padding) -> str:
        n, h, w, _ = self.shape(x)
        sx = self.tensors[x].scale()
        w_scales = self.rng.uniform(0.002, 0.01, cout)
        wt = self._const(
            self.rng.integers(-127, 128, w_shape).astype(np.int8), w_scales, axis=0 if kind is OpKind.CONV_2D else 3
        )
        b = self._const(self.rng.integers(-2000, 2000, cout).astype(np.int32), sx * w_scales)
        oh, _ = conv_out_pad(h, k, s, d, padding)
        ow, _ = conv_out_pad(w, k, s, d, padding)
        out_scale = sx * float(np.mean(w_scales)) * 45 * 73 * math.sqrt(taps) / 45
        return self._op(kind, (x, wt, b), (n, oh, ow, cout), attrs, out_scale)

    def conv(self, x: str, cout: int, k: int, s: int = 1, d: int = 1, padding=Padding.SAME) -> str:
        cin = self.shape(x)[3]
        attrs = Conv2DAttrs(s, s, d, d, padding, Activation.RELU if self.rng.random() < 0.3 else Activation.NONE)
        return self._weighted(OpKind.CONV_2D, x, (cout, k, k, cin), cout, k * k * cin, attrs, k, s, d, padding)

    def dw(self, x: str, k: int, s: int = 1, mult: int = 1, padding=Padding.SAME) -> str:
        c = self.shape(x)[3] * mult
        attrs = DepthwiseConv2DAttrs(s, s, 1, 1, padding, mult)
        return self._weighted(OpKind.DEPTHWISE_CONV_2D, x, (1, k, k, c), c, k * k, attrs, k, s, 1, padding)

    def pool(self, x: str, kind: OpKind, k: int, s: int, padding=Padding.VALID) -> str:
        n, h, w, c = self.shape(x)
        oh, _ = conv_out_pad(h, k, s, 1, padding)
        ow, _ = conv_out_pad(w, k, s, 1, padding)
        t = self.tensors[x]
        out = self._act((n, oh, ow, c), t.scale(), t.zero_point)
        self.ops.append(
            Op(f"op{len(self.ops)}_{kind.value.lower()}", kind, (x,), (out,), Pool2DAttrs(k, k, s, s, padding))
        )
        return out

    def pad(self, x: str, top: int, bottom: int, left: int, right: int) -> str:
        n, h, w, c = self.shape(x)
        widths = ((0, 0), (top, bottom), (left, right), (0, 0))
        t = self.tensors[x]
        out = self._act((n, h + top + bottom, w + left + right, c), t.scale(), t.zero_point)
        self.ops.append(Op(f"op{len(self.ops)}_pad", OpKind.PAD, (x,), (out,), PadAttrs(widths)))
        return out

    def add(self, a: str, b: str) -> str:
        scale = max(self.tensors[a].scale(), self.tensors[b].scale()) * 1.5
        return self._op(OpKind.ADD, (a, b), self.shape(a), ElementwiseAttrs(), scale)

    def graph(self, *outputs: str) -> Graph:
        return verify(Graph(self.name, self.tensors, tuple(self.ops), (self.input,), tuple(outputs)))


def random_stack(rng: np.random.Generator, depth: int = 4) -> Graph:
    """A stack of `depth` random layers on an odd-sized input, ending with a 1x1 conv (a full map)."""
    g = Stack(rng, (1, int(rng.choice([9, 11, 13, 15, 17])), int(rng.choice([7, 11, 13, 19])), int(rng.integers(1, 4))))
    x = g.input
    for _ in range(depth):
        h, w = g.shape(x)[1:3]
        kind = rng.choice(["conv", "conv", "dw", "pool", "pad", "res"])
        k = int(rng.choice([3, 5, 7]))
        s = int(rng.choice([1, 2]))
        if kind == "conv" or min(h, w) < 8:
            pad = Padding.VALID if min(h, w) > k + 2 and rng.random() < 0.3 else Padding.SAME
            x = g.conv(x, int(rng.integers(2, 7)), k if min(h, w) >= k else 1, s, 1, pad)
        elif kind == "dw":
            x = g.dw(x, k, s, int(rng.choice([1, 2])))
        elif kind == "pool":
            x = g.pool(x, OpKind.MAX_POOL_2D, int(rng.choice([2, 3])), s, Padding.SAME)
        elif kind == "pad":
            x = g.pad(x, *(int(v) for v in rng.integers(0, 3, 4)))
        else:
            y = g.conv(g.dw(x, 3), g.shape(x)[3], 1)
            x = g.add(x, y)
    return g.graph(g.conv(x, int(rng.integers(2, 5)), 1))
