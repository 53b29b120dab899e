"""The IR side of the ONNX importer: quantized nodes, the graph builder and the NCHW → NHWC layout rules.

Every rank-4 ONNX activation is stored in the IR as the ONNX tensor transposed by (0, 2, 3, 1) (NCHW → NHWC);
tensors of any other rank keep the ONNX element order. Converters work on `QNode`s, which describe the float
operator an int8 group computes whatever the encoding (QDQ or QOperator) was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir.graph import Graph, Op, QuantParams, Tensor
from ..ir.ops import Activation, NoAttrs, OpAttrs, OpKind, TransposeAttrs

TO_NHWC = (0, 2, 3, 1)  # ir = onnx.transpose(TO_NHWC)
TO_NCHW = (0, 3, 1, 2)  # onnx = ir.transpose(TO_NCHW)
IR_AXIS = (0, 3, 1, 2)  # IR_AXIS[onnx_axis] is where that axis of a rank-4 tensor lives in the IR


class ModelError(Exception):
    """Raised by a converter; the importer adds the node index, name and type."""


@dataclass(frozen=True, slots=True)
class QNode:
    """The float operator an int8 node group computes. `inputs` are value names: int8 activations or constants."""

    index: int
    name: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    activation: Activation = Activation.NONE


def nhwc_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[p] for p in TO_NHWC) if len(shape) == 4 else tuple(shape)


def layout_free(shape: tuple[int, ...]) -> bool:
    """True when NCHW and NHWC hold a rank-4 tensor's elements in the same order (C == 1 or H * W == 1)."""
    return len(shape) != 4 or shape[1] == 1 or shape[2] * shape[3] == 1


def to_ir_array(a: np.ndarray) -> np.ndarray:
    """An ONNX-layout array in IR layout (rank 4: NCHW → NHWC; other ranks unchanged)."""
    return np.ascontiguousarray(a.transpose(TO_NHWC)) if a.ndim == 4 else a


def from_ir_array(a: np.ndarray) -> np.ndarray:
    """An IR-layout array in ONNX layout (rank 4: NHWC → NCHW; other ranks unchanged)."""
    return np.ascontiguousarray(a.transpose(TO_NCHW)) if a.ndim == 4 else a


def ir_axis(axis: int, rank: int) -> int:
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        raise ModelError(f"axis {axis} is out of range for a rank-{rank} tensor")
    return IR_AXIS[axis] if rank == 4 else axis


def same_quant(a: QuantParams | None, b: QuantParams | None) -> bool:
    if a is None or b is None:
        return a is b
    return (
        a.zero_point == b.zero_point
        and len(a.scale) == len(b.scale)
        and all(abs(x - y) <= 1e-6 * max(abs(x), abs(y)) for x, y in zip(a.scale, b.scale))
    )


class Builder:
    """Collects IR tensors and ops; the importer fills in the ONNX-layout facts (shapes, quantization, constants)."""

    def __init__(self) -> None:
        self.shapes: dict[str, tuple[int, ...]] = {}  # ONNX shapes of activations
        self.aquant: dict[str, QuantParams] = {}  # quantization of int8 activations
        self.consts: dict[str, np.ndarray] = {}  # constants in ONNX layout
        self.cquant: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}  # constant: (scales, zero points, axis)
        self.tensors: dict[str, Tensor] = {}
        self.ops: list[Op] = []
        self._op_names: set[str] = set()

    # -- values -------------------------------------------------------------------------------------------
    def shape(self, name: str) -> tuple[int, ...]:
        if name in self.consts:
            return tuple(self.consts[name].shape)
        return self.shapes[name]

    def act(self, name: str) -> Tensor:
        """The IR tensor of an int8 activation (graph inputs are created on first use)."""
        if name not in self.tensors:
            if name in self.consts:
                raise ModelError(f"'{name}' is a constant where an activation is expected")
            self.tensors[name] = Tensor(name, nhwc_shape(self.shapes[name]), "int8", self.aquant[name])
        return self.tensors[name]

    def const(self, name: str) -> np.ndarray:
        if name not in self.consts:
            raise ModelError(f"'{name}' must be a constant")
        return self.consts[name]

    def output(self, name: str, onnx_shape: tuple[int, ...]) -> Tensor:
        """Create the IR tensor an op writes for the ONNX value `name` (quantization from the model)."""
        self.shapes[name] = tuple(int(d) for d in onnx_shape)
        return self.act(name)

    def temp(self, base: str, ir_shape: tuple[int, ...], quant: QuantParams) -> Tensor:
        name = self._unique(base, self.tensors)
        self.tensors[name] = Tensor(name, tuple(ir_shape), "int8", quant)
        return self.tensors[name]

    def add_const(self, base: str, data: np.ndarray, dtype: str, quant: QuantParams | None) -> Tensor:
        name = self._unique(base, self.tensors)
        arr = np.ascontiguousarray(data).astype(dtype)
        arr.setflags(write=False)
        self.tensors[name] = Tensor(name, tuple(arr.shape), dtype, quant, arr)
        return self.tensors[name]

    @staticmethod
    def _unique(base: str, taken) -> str:
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        return name

    # -- ops ----------------------------------------------------------------------------------------------
    def emit(
        self, n: QNode, kind: OpKind, inputs: tuple[str, ...], outputs: tuple[str, ...], attrs: OpAttrs = NoAttrs()
    ) -> None:
        name = self._unique(f"op{n.index}_{kind.value.lower()}", self._op_names)
        self._op_names.add(name)
        self.ops.append(Op(name, kind, tuple(inputs), tuple(outputs), attrs))

    def transpose(self, n: QNode, x: Tensor, perm: tuple[int, ...]) -> Tensor:
        """Emit a TRANSPOSE of x into a new tensor with x's quantization."""
        out = self.temp(f"{x.name}_t", tuple(x.shape[p] for p in perm), x.quant)
        self.emit(n, OpKind.TRANSPOSE, (x.name,), (out.name,), TransposeAttrs(tuple(perm)))
        return out

    def finish(
        self,
        n: QNode,
        kind: OpKind,
        inputs: tuple[str, ...],
        attrs: OpAttrs,
        onnx_shape: tuple[int, ...],
        out_quant: QuantParams | None = None,
    ) -> Tensor:
        """Emit the op that writes n's output. When the IR op needs `out_quant` (pools, reshapes, softmax ...)
        and the model's output quantization differs, the op writes a temporary and a QUANTIZE requantizes it."""
        out = self.output(n.outputs[0], onnx_shape)
        if out_quant is None or same_quant(out_quant, out.quant):
            self.emit(n, kind, inputs, (out.name,), attrs)
            return out
        mid = self.temp(f"{out.name}_requant", out.shape, out_quant)
        self.emit(n, kind, inputs, (mid.name,), attrs)
        self.emit(n, OpKind.QUANTIZE, (mid.name,), (out.name,))
        return out

    def requantize(self, n: QNode, x: Tensor, quant: QuantParams) -> Tensor:
        """x itself when it already has `quant`, else a QUANTIZE of x into a new tensor."""
        if same_quant(x.quant, quant):
            return x
        out = self.temp(f"{x.name}_requant", x.shape, quant)
        self.emit(n, OpKind.QUANTIZE, (x.name,), (out.name,))
        return out

    def graph(self, name: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> Graph:
        return Graph(name, dict(self.tensors), tuple(self.ops), inputs, outputs)


def text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def real_const(b: Builder, name: str) -> np.ndarray:
    """A constant's real value (dequantized when it is a quantized constant)."""
    data = b.const(name)
    if name in b.cquant:
        scales, zps, axis = b.cquant[name]
        shape = [1] * data.ndim
        if data.ndim and scales.size > 1:
            shape[axis] = scales.size
        return (data.astype(np.float64) - zps.reshape(shape)) * scales.reshape(shape)
    return data.astype(np.float64)


def opt_input(b: Builder, n: QNode, i: int, attr: str | None = None, default=None):
    """Operand i as a real array (opset >= 10 style), else attribute `attr`, else default."""
    if len(n.inputs) > i and n.inputs[i]:
        return real_const(b, n.inputs[i])
    if attr is not None and attr in n.attrs:
        return np.asarray(n.attrs[attr])
    return default


def clip_activation(b: Builder, n: QNode) -> Activation | None:
    """The fused activation a Relu or Clip node stands for, or None when it is no TFLite activation."""
    if n.op_type == "Relu":
        return Activation.RELU
    lo = opt_input(b, n, 1, "min", np.array(-np.inf))
    hi = opt_input(b, n, 2, "max", np.array(np.inf))
    bounds = (float(np.asarray(lo).reshape(-1)[0]), float(np.asarray(hi).reshape(-1)[0]))
    return {(0.0, math.inf): Activation.RELU, (0.0, 6.0): Activation.RELU6, (-1.0, 1.0): Activation.RELU_N1_TO_1}.get(
        bounds
    )
