"""Step lists -> the project IR (int8, NHWC, TFLite conventions).

`build_graph` turns a step list plus per-layer constants and per-tensor quantization into a `Graph`:
conv steps become CONV_2D (OHWI filters), dw steps DEPTHWISE_CONV_2D (1HWC filters), residuals ADD, the global pool
AVERAGE_POOL_2D + RESHAPE, the classifier FULLY_CONNECTED, and optionally a final SOFTMAX. ReLU6 (or ReLU) is fused
as the op's activation. `arch_to_graph` builds the same graph with placeholder weights for the memory constraint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tinyengine_codegen.ir.graph import Graph, Op, QuantParams, Tensor
from tinyengine_codegen.ir.ops import (
    Activation,
    Conv2DAttrs,
    DepthwiseConv2DAttrs,
    ElementwiseAttrs,
    FullyConnectedAttrs,
    OpKind,
    Padding,
    Pool2DAttrs,
    ReshapeAttrs,
    SoftmaxAttrs,
)

from .data import INPUT_SCALE, INPUT_ZERO_POINT
from .space import Arch, SearchSpace, Step, arch_steps

SOFTMAX_QUANT = QuantParams((1.0 / 256.0,), (-128,))


@dataclass(frozen=True, slots=True)
class LayerConsts:
    """int8 weights in IR layout with their quantization, and the int32 bias (scale s_in * s_w)."""

    weight: np.ndarray
    weight_quant: QuantParams
    bias: np.ndarray
    bias_quant: QuantParams


def _const(name: str, data: np.ndarray, quant: QuantParams) -> Tensor:
    data.flags.writeable = False
    return Tensor(name, tuple(data.shape), str(data.dtype), quant, data)


def _out_shape(st: Step) -> tuple[int, ...]:
    if st.kind == "pool":
        return (1, 1, 1, st.cout)
    if st.kind == "fc":
        return (1, st.cout)
    oh, ow = st.out_hw
    return (1, oh, ow, st.cout)


def activation(st: Step) -> Activation:
    if not st.act:
        return Activation.NONE
    return Activation.RELU6 if st.relu6 else Activation.RELU


def _op(st: Step, inputs: tuple[str, ...]) -> Op:
    act = activation(st)
    if st.kind == "conv":
        attrs = Conv2DAttrs(st.stride, st.stride, 1, 1, Padding.SAME, act)
        return Op(st.name, OpKind.CONV_2D, inputs, (st.name,), attrs)
    if st.kind == "dw":
        attrs = DepthwiseConv2DAttrs(st.stride, st.stride, 1, 1, Padding.SAME, 1, act)
        return Op(st.name, OpKind.DEPTHWISE_CONV_2D, inputs, (st.name,), attrs)
    if st.kind == "add":
        return Op(st.name, OpKind.ADD, inputs, (st.name,), ElementwiseAttrs(act))
    if st.kind == "pool":
        attrs = Pool2DAttrs(st.height, st.width, st.stride, st.stride, Padding.VALID)
        return Op(st.name, OpKind.AVERAGE_POOL_2D, inputs, (st.name,), attrs)
    return Op(st.name, OpKind.FULLY_CONNECTED, inputs, (st.name,), FullyConnectedAttrs())


def build_graph(
    name: str,
    steps: tuple[Step, ...],
    consts: Callable[[Step], LayerConsts],
    act_quant: Callable[[Step], QuantParams],
    softmax: bool = False,
) -> Graph:
    """The int8 graph of a step list. `consts` gives conv/dw/fc constants, `act_quant` each step's output quant."""
    first = steps[0]
    tensors = {
        "input": Tensor(
            "input", (1, first.height, first.width, first.cin), "int8", QuantParams((INPUT_SCALE,), (INPUT_ZERO_POINT,))
        )
    }
    ops = []
    for st in steps:
        src = st.inputs
        if st.kind == "fc":  # flatten the pooled [1,1,1,C] to [1,C] first
            flat = f"{st.inputs[0]}.flat"
            tensors[flat] = Tensor(flat, (1, st.cin), "int8", tensors[st.inputs[0]].quant)
            ops.append(Op(flat, OpKind.RESHAPE, st.inputs, (flat,), ReshapeAttrs((1, st.cin))))
            src = (flat,)
        if st.kind in ("conv", "dw", "fc"):
            c = consts(st)
            tensors[f"{st.name}.weight"] = _const(f"{st.name}.weight", c.weight, c.weight_quant)
            tensors[f"{st.name}.bias"] = _const(f"{st.name}.bias", c.bias, c.bias_quant)
            src = src + (f"{st.name}.weight", f"{st.name}.bias")
        quant = tensors[st.inputs[0]].quant if st.kind == "pool" else act_quant(st)
        tensors[st.name] = Tensor(st.name, _out_shape(st), "int8", quant)
        ops.append(_op(st, src))
    out = steps[-1].name
    if softmax:
        tensors["softmax"] = Tensor("softmax", tensors[out].shape, "int8", SOFTMAX_QUANT)
        ops.append(Op("softmax", OpKind.SOFTMAX, (out,), ("softmax",), SoftmaxAttrs()))
        out = "softmax"
    return Graph(name, tensors, tuple(ops), ("input",), (out,))


def weight_shape(st: Step) -> tuple[int, ...]:
    if st.kind == "conv":
        return (st.cout, st.kernel, st.kernel, st.cin)
    if st.kind == "dw":
        return (1, st.kernel, st.kernel, st.cout)
    return (st.cout, st.cin)


def _placeholder(st: Step) -> LayerConsts:
    per_channel = st.kind != "fc"
    n = st.cout if per_channel else 1
    wq = QuantParams((1.0,) * n, (0,) * n, 3 if st.kind == "dw" else 0)
    return LayerConsts(
        np.zeros(weight_shape(st), np.int8), wq, np.zeros(st.cout, np.int32), QuantParams((1.0,) * n, (0,) * n, 0)
    )


_RELU_Q, _PLAIN_Q = QuantParams((6.0 / 255.0,), (-128,)), QuantParams((1.0 / 16.0,), (0,))


def arch_to_graph(arch: Arch, space: SearchSpace, softmax: bool = False) -> Graph:
    """The int8 graph of `arch` with zero weights and placeholder scales: exact shapes, sizes and op sequence."""
    steps = arch_steps(arch, space)
    return build_graph("tinynas_arch", steps, _placeholder, lambda st: _RELU_Q if st.act else _PLAIN_Q, softmax)
