"""Single-op int8 test graphs (conv and depthwise) with random weights and realistic scales."""

from __future__ import annotations

import numpy as np

from tinyengine_codegen.ir.graph import Graph, Op, QuantParams, Tensor
from tinyengine_codegen.ir.ops import Activation, Conv2DAttrs, DepthwiseConv2DAttrs, OpKind, Padding
from tinyengine_codegen.ir.shapes import conv_out_pad


def conv_graph(
    rng: np.random.Generator,
    *,
    h: int,
    w: int,
    cin: int,
    cout: int,
    k: int,
    stride: int = 1,
    dilation: int = 1,
    padding: Padding = Padding.SAME,
    depthwise: bool = False,
    mult: int = 1,
    activation: Activation = Activation.NONE,
    name: str = "conv",
) -> Graph:
    """x[1,h,w,cin] → CONV_2D (OHWI filter) or DEPTHWISE_CONV_2D (1,k,k,cin*mult) with per-channel scales."""
    cout = cin * mult if depthwise else cout
    oh, _ = conv_out_pad(h, k, stride, dilation, padding)
    ow, _ = conv_out_pad(w, k, stride, dilation, padding)
    wshape = (1, k, k, cout) if depthwise else (cout, k, k, cin)
    wdata = rng.integers(-127, 128, wshape).astype(np.int8)
    s_in, s_w = 0.05, rng.uniform(0.002, 0.02, cout)
    depth = k * k * (1 if depthwise else cin)
    s_out = float(s_in * np.mean(s_w) * 40 * np.sqrt(depth))
    t = {
        "x": Tensor("x", (1, h, w, cin), "int8", QuantParams((s_in,), (int(rng.integers(-20, 20)),))),
        "w": Tensor("w", wshape, "int8", QuantParams(tuple(s_w), (0,) * cout, 3 if depthwise else 0), wdata),
        "b": Tensor(
            "b",
            (cout,),
            "int32",
            QuantParams(tuple(s_in * s_w), (0,) * cout),
            rng.integers(-2000, 2000, cout).astype(np.int32),
        ),
        "y": Tensor("y", (1, oh, ow, cout), "int8", QuantParams((s_out,), (int(rng.integers(-10, 10)),))),
    }
    if depthwise:
        op = Op(
            name,
            OpKind.DEPTHWISE_CONV_2D,
            ("x", "w", "b"),
            ("y",),
            DepthwiseConv2DAttrs(stride, stride, dilation, dilation, padding, mult, activation),
        )
    else:
        op = Op(
            name,
            OpKind.CONV_2D,
            ("x", "w", "b"),
            ("y",),
            Conv2DAttrs(stride, stride, dilation, dilation, padding, activation),
        )
    return Graph(name, t, (op,), ("x",), ("y",))
