"""Batched integer simulation of the int8 graphs that tinynas builds, for measuring int8 accuracy.

Accumulation is exact (integer values held in float64); requantization uses a float multiplier with round-half-even
instead of TFLite's fixed-point multiplier, so outputs can differ from TFLite kernels by one step in rare ties.
Only the operators tinynas emits are supported: CONV_2D, DEPTHWISE_CONV_2D, ADD, AVERAGE_POOL_2D, RESHAPE,
FULLY_CONNECTED, SOFTMAX.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tinyengine_codegen.errors import InternalError
from tinyengine_codegen.ir.graph import Graph, Op, Tensor
from tinyengine_codegen.ir.ops import Activation, OpKind

from .data import to_int8_input
from .supernet.elastic import same_pad


def _clamp_range(t: Tensor, act: Activation) -> tuple[float, float]:
    lo, hi = -128.0, 127.0
    if act in (Activation.RELU, Activation.RELU6):
        lo = max(lo, t.zero_point)
    if act is Activation.RELU6:
        hi = min(hi, t.zero_point + round(6.0 / t.scale()))
    return lo, hi


def _requant(acc: torch.Tensor, mult: torch.Tensor, out: Tensor, act: Activation) -> torch.Tensor:
    lo, hi = _clamp_range(out, act)
    return (torch.round(acc * mult) + out.zero_point).clamp(lo, hi)


def _conv(g: Graph, op: Op, x: torch.Tensor) -> torch.Tensor:
    xt, w, b = g.op_inputs(op)
    out, a = g.tensor(op.outputs[0]), op.attrs
    wd = torch.from_numpy(w.data.astype(np.float64))
    if op.kind is OpKind.DEPTHWISE_CONV_2D:
        wd, groups = wd.permute(3, 0, 1, 2), x.shape[1]  # 1HWC -> C1HW
    else:
        wd, groups = wd.permute(0, 3, 1, 2), 1  # OHWI -> OIHW
    xs = same_pad(x - xt.zero_point, wd.shape[-1], a.stride_h)  # padding holds the real value 0
    acc = F.conv2d(xs, wd, torch.from_numpy(b.data.astype(np.float64)), a.stride_h, 0, 1, groups)
    mult = torch.tensor(w.quant.scale, dtype=torch.float64) * xt.scale() / out.scale()
    return _requant(acc, mult[None, :, None, None], out, a.activation)


def _fc(g: Graph, op: Op, x: torch.Tensor) -> torch.Tensor:
    xt, w, b = g.op_inputs(op)
    out = g.tensor(op.outputs[0])
    acc = (x - xt.zero_point) @ torch.from_numpy(w.data.astype(np.float64)).T + torch.from_numpy(
        b.data.astype(np.float64)
    )
    mult = torch.tensor(w.quant.scale, dtype=torch.float64) * xt.scale() / out.scale()
    return _requant(acc, mult, out, op.attrs.activation)


def _add(g: Graph, op: Op, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    ta, tb = g.op_inputs(op)
    out = g.tensor(op.outputs[0])
    real = ta.scale() * (a - ta.zero_point) + tb.scale() * (b - tb.zero_point)
    return _requant(real, torch.tensor(1.0 / out.scale(), dtype=torch.float64), out, op.attrs.activation)


def _nchw(a: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(a.astype(np.float64))
    return t.permute(0, 3, 1, 2) if t.ndim == 4 else t


def run_int8(graph: Graph, x: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
    """Run `graph` on an int8 NHWC batch (N, H, W, C), or a dict of batches by input name; returns the int8
    output batch (N, ...)."""
    vals = {k: _nchw(v) for k, v in (x if isinstance(x, dict) else {graph.inputs[0]: x}).items()}  # NCHW inside
    for op in graph.ops:
        ins = [vals[t] for t in op.inputs if t and not graph.tensors[t].is_const]
        if op.kind in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D):
            y = _conv(graph, op, ins[0])
        elif op.kind is OpKind.FULLY_CONNECTED:
            y = _fc(graph, op, ins[0])
        elif op.kind is OpKind.ADD:
            y = _add(graph, op, ins[0], ins[1])
        elif op.kind is OpKind.AVERAGE_POOL_2D:
            y = torch.round(ins[0].mean(dim=(2, 3), keepdim=True))
        elif op.kind is OpKind.RESHAPE:
            y = ins[0].reshape(ins[0].shape[0], -1)
        elif op.kind is OpKind.SOFTMAX:
            src = graph.tensor(op.inputs[0])
            p = torch.softmax(src.scale() * (ins[0] - src.zero_point), dim=-1)
            y = (torch.round(p * 256.0) - 128).clamp(-128, 127)
        else:
            raise InternalError(f"{op.name}: qsim does not handle {op.kind.value}")
        vals[op.outputs[0]] = y
    y = vals[graph.outputs[0]]
    if y.ndim == 4:
        y = y.permute(0, 2, 3, 1)
    return y.numpy().astype(np.int8)


def dequantize(graph: Graph, q: np.ndarray) -> np.ndarray:
    t = graph.tensor(graph.outputs[0])
    return (q.astype(np.float64) - t.zero_point) * t.scale()


def int8_accuracy(graph: Graph, images_uint8: np.ndarray, labels: np.ndarray, batch_size: int = 256) -> float:
    """Top-1 accuracy of the int8 graph on uint8 NHWC images at the graph's input resolution."""
    correct = 0
    for i in range(0, len(labels), batch_size):
        x = to_int8_input(images_uint8[i : i + batch_size])
        correct += int((run_int8(graph, x).argmax(axis=1) == labels[i : i + batch_size]).sum())
    return correct / max(1, len(labels))
