"""ONNX int8 models (QDQ or QOperator encoding) → Graph in the IR's TFLite conventions.

QDQ: float operators between DequantizeLinear and QuantizeLinear nodes, as
`onnxruntime.quantization.quantize_static(..., quant_format=QuantFormat.QDQ)` writes them; each
DequantizeLinear → op → QuantizeLinear group becomes one int8 IR op, and a Relu/Clip(0, 6) right after an op
with a fused-activation field is folded into it. QOperator: QLinearConv, QLinearMatMul, QLinearAdd, ... with the
data-movement ops (MaxPool, Reshape, Transpose ...) acting on int8 tensors directly.

Layout: ONNX activations are NCHW, the IR's are NHWC. Every rank-4 activation, the graph inputs and outputs
included, is stored as the ONNX tensor transposed by (0, 2, 3, 1): an ONNX input (1, 3, 32, 32) is the IR input
(1, 32, 32, 3); `to_ir_array`/`from_ir_array` convert arrays. Weights are transposed and axes rewritten; no ops
are inserted except where onnx_ops.py says.
Boundaries are int8: the QuantizeLinear after a float graph input and the DequantizeLinear before a float graph
output are absorbed (the tensors keep the ONNX input/output names), so `graph.tensors[name].quant` says how
to quantize an input and read an output. uint8 tensors become int8 exactly (values and zero point - 128).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import TinyMLError
from ..ir.graph import Graph, Op, QuantParams
from ..ir.ops import Activation
from ..ir.verify import verify
from .onnx_build import Builder, ModelError, QNode, clip_activation, from_ir_array, to_ir_array
from .onnx_checks import check_writers, load_external_data, node_problem, topological
from .onnx_ops import CONVERTERS, FUSABLE, TRANSPARENT
from .source import read_source

__all__ = ["SUPPORTED", "from_ir_array", "load_onnx", "to_ir_array"]

# QOperator node: (float op, (value, scale, zero point) input positions, output (scale, zp) positions, extras)
_QLINEAR = {
    "QLinearConv": ("Conv", ((0, 1, 2), (3, 4, 5)), (6, 7), (8,)),
    "QLinearMatMul": ("MatMul", ((0, 1, 2), (3, 4, 5)), (6, 7), ()),
    "QGemm": ("Gemm", ((0, 1, 2), (3, 4, 5)), (7, 8), (6,)),
    "QLinearAdd": ("Add", ((0, 1, 2), (3, 4, 5)), (6, 7), ()),
    "QLinearMul": ("Mul", ((0, 1, 2), (3, 4, 5)), (6, 7), ()),
    "QLinearAveragePool": ("AveragePool", ((0, 1, 2),), (3, 4), ()),
    "QLinearGlobalAveragePool": ("GlobalAveragePool", ((0, 1, 2),), (3, 4), ()),
    "QLinearReduceMean": ("ReduceMean", ((0, 1, 2),), (3, 4), ()),
    "QLinearSigmoid": ("Sigmoid", ((0, 1, 2),), (3, 4), ()),
    "QLinearSoftmax": ("Softmax", ((0, 1, 2),), (3, 4), ()),
    "QLinearConcat": ("Concat", (), (0, 1), ()),  # then (value, scale, zero point) triples
}
_STRUCTURAL = {"QuantizeLinear", "DequantizeLinear", "Constant", "Identity", "Shape"}
SUPPORTED = tuple(sorted(set(CONVERTERS) | set(_QLINEAR) | _STRUCTURAL))
_FLOAT_HINT = (
    "quantize it to int8 first, e.g. onnxruntime.quantization.quantize_static(..., "
    "quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)"
)
_CONSTANT_VALUES = ("value_float", "value_floats", "value_int", "value_ints")
_QTYPES = {np.dtype(np.int8): 0, np.dtype(np.uint8): 128, np.dtype(np.int32): 0}


def load_onnx(src: str | Path | bytes, name: str | None = None) -> Graph:
    """Read an int8 ONNX model (a path or its bytes) into a verified NHWC Graph; TinyMLError when unusable."""
    buf, label = read_source(src, name)
    model = _parse(buf, label)
    load_external_data(model, None if isinstance(src, (bytes, bytearray, memoryview)) else Path(src).parent, label)
    return verify(_Importer(model, label).graph())


def _parse(buf: bytes, label: str):
    import onnx

    try:
        model = onnx.load_model_from_string(buf)
    except Exception as exc:  # protobuf reports corrupt input with several exception types
        raise TinyMLError(
            f"'{label}': corrupt or truncated ONNX file ({type(exc).__name__}); re-export the model"
        ) from None
    if not model.graph.node:
        raise TinyMLError(f"'{label}': not an ONNX model or an empty graph ({len(buf)} bytes, no nodes)")
    if any(n.op_type in ("If", "Loop", "Scan") for n in model.graph.node):
        raise TinyMLError(f"'{label}': control flow (If/Loop/Scan) is not supported; export a static graph")
    check_writers(model.graph, label)
    return model


def _quant_arrays(b: Builder, scale: str, zp: str, out_dtype=np.int8):
    """(scales, zero points shifted to int8, whether the values are uint8) of a (scale, zero point) pair."""
    scales = b.const(scale).astype(np.float64).reshape(-1)
    if scales.size == 0 or not np.all(np.isfinite(scales) & (scales > 0)):
        raise ModelError(f"scale '{scale}' {scales.tolist()[:4]} is not finite and positive")
    zps = b.const(zp) if zp else np.zeros(1, out_dtype)
    if zps.dtype not in _QTYPES:
        raise ModelError(f"quantization to {zps.dtype} is not supported; only int8 and uint8 (int32 biases)")
    shift = _QTYPES[zps.dtype]
    zps = zps.astype(np.int64).reshape(-1)
    if zps.size not in (1, scales.size):
        raise ModelError(f"{scales.size} scales but {zps.size} zero points ('{scale}', '{zp}')")
    return scales, np.broadcast_to(zps, scales.shape) - shift, shift == 128


class _Importer:
    """Walks the nodes once in their (topological) order; int8 groups are converted as soon as they close."""

    def __init__(self, model, label: str) -> None:
        from onnx import numpy_helper

        self.g, self.label = model.graph, label
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
        self.b = Builder()
        for init in self.g.initializer:
            try:
                self.b.consts[init.name] = numpy_helper.to_array(init)
            except Exception as exc:  # onnx reports short or mistyped data with several exception types
                raise TinyMLError(
                    f"'{label}': initializer '{init.name}' cannot be read ({type(exc).__name__}: {exc}); "
                    "the file is corrupt"
                ) from None
        self.alias: dict[str, str] = {}
        self.pending: dict[str, QNode] = {}  # float output of a QDQ op → the op, until its QuantizeLinear
        self.int8: set[str] = set()  # int8 activations of the ONNX graph
        self.float_in: dict[str, tuple[int, ...]] = {}
        self.inputs: list[str] = []
        self.rename: dict[str, str] = {}
        self.uses: dict[str, int] = {}
        for node in self.g.node:
            for x in node.input:
                self.uses[x] = self.uses.get(x, 0) + 1
        self._graph_inputs()

    def _where(self, i: int) -> str:
        node = self.g.node[i]
        return f"'{self.label}': node #{i} '{node.name}' ({node.op_type})"

    def _graph_inputs(self) -> None:
        from onnx import TensorProto

        for vi in self.g.input:
            if vi.name in self.b.consts:
                continue
            tt = vi.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim]
            if -1 in dims[1:]:
                raise TinyMLError(
                    f"'{self.label}': input '{vi.name}' has a dynamic shape {dims} (ONNX NCHW); "
                    "export it with fixed sizes (only the batch may be dynamic; it becomes 1)"
                )
            shape = tuple(1 if d == -1 else d for d in dims)
            if tt.elem_type == TensorProto.FLOAT:
                self.float_in[vi.name] = shape
            elif tt.elem_type in (TensorProto.INT8, TensorProto.UINT8):
                self.b.shapes[vi.name] = shape
                self.int8.add(vi.name)
                self.inputs.append(vi.name)
            else:
                kind = TensorProto.DataType.Name(tt.elem_type)
                raise TinyMLError(
                    f"'{self.label}': input '{vi.name}' is {kind}; "
                    "only float32 (before a QuantizeLinear) and int8/uint8 inputs are supported"
                )

    def _id(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def graph(self) -> Graph:
        kinds = {n.op_type for n in self.g.node}
        if not kinds & ({"QuantizeLinear", "DequantizeLinear"} | set(_QLINEAR)):
            raise TinyMLError(
                f"'{self.label}': the model is float (no QuantizeLinear, DequantizeLinear or "
                f"QLinear* nodes); {_FLOAT_HINT}"
            )
        for i, node in topological(self.g, set(self.b.consts) | set(self.float_in) | set(self.inputs), self.label):
            supported = node.op_type in SUPPORTED and node.domain in ("", "ai.onnx", "com.microsoft")
            if not supported and not self._foldable(node):
                raise TinyMLError(
                    f"{self._where(i)} is not supported (inputs {list(node.input)}); supported "
                    f"operators: {', '.join(SUPPORTED)}"
                )
            problem = node_problem(node)
            if problem:
                raise TinyMLError(f"{self._where(i)} {problem}")
            try:
                self._node(i, node)
            except ModelError as exc:
                raise TinyMLError(f"{self._where(i)}: {exc}") from None
        outputs = []
        for vo in self.g.output:
            try:
                name = self._value(self._id(vo.name))
            except ModelError as exc:
                raise TinyMLError(f"'{self.label}': graph output '{vo.name}': {exc}") from None
            outputs.append(name)
            self.rename.setdefault(name, vo.name)
        for name in self.inputs:
            self.b.act(name)
        return _renamed(self.b.graph(self.label, tuple(self.inputs), tuple(outputs)), self.rename)

    def _foldable(self, node) -> bool:
        ins = [self._id(x) for x in node.input if x]
        return bool(ins) and all(x in self.b.consts for x in ins) and node.op_type not in _QLINEAR

    def _node(self, i: int, node) -> None:
        from onnx import helper, numpy_helper

        t, out = node.op_type, node.output[0]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if t == "Constant":
            value = attrs.get("value")
            if value is not None:
                self.b.consts[out] = numpy_helper.to_array(value)
            elif len(attrs) == 1 and next(iter(attrs)) in _CONSTANT_VALUES:
                self.b.consts[out] = np.asarray(next(iter(attrs.values())))
            else:
                raise ModelError(f"needs exactly one value attribute ({', '.join(('value',) + _CONSTANT_VALUES)})")
        elif t == "Identity":
            self.alias[out] = node.input[0]
        elif t == "QuantizeLinear":
            self._quantize(i, node, attrs)
        elif t == "DequantizeLinear":
            self._dequantize(node, attrs)
        elif t == "Shape":
            src = self._id(node.input[0])
            shape = self.float_in[src] if src in self.float_in else self.b.shape(self._value(src))
            self.b.consts[out] = np.array(shape, np.int64)
        elif self._foldable(node):
            self._fold(node)
        elif t in _QLINEAR:
            self._qlinear(i, node, attrs)
        else:
            self._float_op(i, node, attrs)

    def _fold(self, node) -> None:
        from onnx.reference import ReferenceEvaluator

        feeds = {x: self.b.consts[self._id(x)] for x in node.input if x}
        try:
            results = ReferenceEvaluator(node, opsets={"": self.opset}).run(None, feeds)
        except Exception as exc:  # the reference evaluator raises many types for bad constant inputs
            first = (str(exc).splitlines() or [""])[0][:160]
            raise ModelError(f"cannot evaluate the constant expression ({type(exc).__name__}: {first})") from None
        for name, value in zip(node.output, results):
            self.b.consts[name] = np.asarray(value)

    def _act_quant(self, scale: str, zp: str, attrs) -> QuantParams:
        out_dtype = np.uint8 if int(attrs.get("output_dtype", 0) or 0) in (0, 2) else np.int8
        scales, zps, _ = _quant_arrays(self.b, scale, zp, out_dtype)
        if scales.size != 1 or int(attrs.get("block_size", 0) or 0):
            raise ModelError("per-channel or blocked quantization of an activation is not supported")
        return QuantParams((float(scales[0]),), (int(zps[0]),))

    def _quantize(self, i: int, node, attrs) -> None:
        src, out = self._id(node.input[0]), node.output[0]
        quant = self._act_quant(node.input[1], node.input[2] if len(node.input) > 2 else "", attrs)
        if src in self.pending:
            self._finish(src, out, quant)
        elif src in self.float_in:
            self.b.shapes[out], self.b.aquant[out] = self.float_in[src], quant
            self.int8.add(out)
            self.inputs.append(out)
            self.rename[out], self.alias[src] = src, out
        elif src in self.b.consts:  # a float constant the quantizer left to be quantized at run time
            q = np.round(self.b.consts[src].astype(np.float64) / quant.scale[0]) + quant.zero_point[0]
            self.b.consts[out] = np.clip(q, -128, 127).astype(np.int8)
            self.b.cquant[out] = (np.array(quant.scale), np.array(quant.zero_point), 0)
        elif src in self.int8:
            if quant == self.b.aquant[src]:
                self.alias[out] = src
            else:
                self.b.aquant[out] = quant
                self.int8.add(out)
                self._convert(QNode(i, node.name, "QuantizeLinear", (src,), (out,)))
        else:
            raise ModelError(f"input '{node.input[0]}' is not produced by a supported node")

    def _dequantize(self, node, attrs) -> None:
        src, out = self._id(node.input[0]), node.output[0]
        zp = node.input[2] if len(node.input) > 2 else ""
        if src in self.b.consts:
            self._attach_const(src, node.input[1], zp, int(attrs.get("axis", 1)))
        elif src not in self.int8:
            raise ModelError(f"input '{node.input[0]}' is not an int8 tensor of the model")
        elif self._act_quant(node.input[1], zp, {"output_dtype": 3}) != self.b.aquant[src]:
            raise ModelError(f"dequantizes '{src}' with other parameters than it was quantized with")
        self.alias[out] = src

    def _attach_const(self, name: str, scale: str, zp: str, axis: int) -> None:
        """Record the quantization of a constant (weights, biases); uint8 values are shifted to int8."""
        data = self.b.consts[name]
        scales, zps, shifted = _quant_arrays(self.b, scale, zp, data.dtype.type)
        if data.dtype not in _QTYPES:
            raise ModelError(f"constant '{name}' is {data.dtype}; only int8, uint8 and int32 are supported")
        axis %= max(data.ndim, 1)
        if scales.size > 1 and (data.ndim == 0 or data.shape[axis] != scales.size):
            raise ModelError(f"constant '{name}' {data.shape} has {scales.size} scales along axis {axis}")
        if shifted:
            self.b.consts[name] = (data.astype(np.int16) - 128).astype(np.int8)
        self.b.cquant[name] = (scales, zps, axis % max(data.ndim, 1))

    def _finish(self, key: str, out: str, quant: QuantParams) -> None:
        node = self.pending.pop(key)
        self.b.aquant[out] = quant
        self.int8.add(out)
        if key != out:
            self.alias[key] = out
        self._convert(replace(node, outputs=(out,)))

    def _convert(self, n: QNode) -> None:
        try:
            CONVERTERS[n.op_type](self.b, n)
        except ModelError as exc:
            raise TinyMLError(f"{self._where(n.index)}: {exc}") from None

    def _value(self, name: str) -> str:
        """An operand name that is an int8 activation or a constant; closes a pending data-movement op."""
        if not name or name in self.b.consts or name in self.int8:
            return name
        p = self.pending.get(name)
        if p is not None and p.op_type in TRANSPARENT:
            self._finish(name, name, self.b.aquant[p.inputs[0]])
            return name
        if p is not None:
            raise ModelError(
                f"'{name}' is the float output of node #{p.index} ({p.op_type}) and no "
                f"QuantizeLinear follows it: the model is only partly quantized; {_FLOAT_HINT}"
            )
        if name in self.float_in:
            raise ModelError(f"reads the float input '{name}' without a QuantizeLinear; {_FLOAT_HINT}")
        raise ModelError(f"'{name}' is not produced by any supported node")

    def _float_op(self, i: int, node, attrs) -> None:
        t = node.op_type
        ins = [self._id(x) if x else "" for x in node.input]
        n = QNode(i, node.name, t, tuple(ins), (node.output[0],), {**attrs, "_opset": self.opset})
        p = self.pending.get(ins[0])
        if t in ("Relu", "Clip") and p is not None and self.uses.get(node.input[0]) == 1:
            act = clip_activation(self.b, n)
            if p.op_type in FUSABLE and p.activation is Activation.NONE and act is not None:
                del self.pending[ins[0]]
                self.pending[node.output[0]] = replace(p, activation=act)
                return
        n = replace(n, inputs=tuple(self._value(x) for x in ins))
        if node.input[0] in self.int8:  # QOperator style: a data-movement op on the int8 tensor itself
            if t not in TRANSPARENT:
                raise ModelError(
                    f"reads the int8 tensor '{node.input[0]}' directly; only {', '.join(sorted(TRANSPARENT))} can"
                )
            self.b.aquant[node.output[0]] = self.b.aquant[n.inputs[0]]
            self.int8.add(node.output[0])
            self._convert(n)
        else:
            self.pending[node.output[0]] = n

    def _qlinear(self, i: int, node, attrs) -> None:
        t = node.op_type
        ins = [self._id(x) if x else "" for x in node.input]
        float_op, triples, (ys, yz), extras = _QLINEAR[t]
        if t == "QLinearConcat":
            triples = tuple((k, k + 1, k + 2) for k in range(2, len(ins), 3))
        if int(attrs.get("channels_last", 0)):
            raise ModelError("channels_last=1 is not supported; the importer expects NCHW")
        if len(ins) <= yz:
            raise ModelError("a float output (no output scale) is not supported")
        values = [self._qoperand(t, attrs, ins[v], ins[s], ins[z] if z < len(ins) else "") for v, s, z in triples]
        for e in extras:
            if e < len(ins) and ins[e]:
                x_scale, w_scales = self.b.aquant[values[0]].scale[0], self.b.cquant[values[1]][0]
                self.b.cquant[ins[e]] = (x_scale * w_scales, np.zeros(w_scales.size, np.int64), 0)
            values.append(ins[e] if e < len(ins) else "")
        out = node.output[0]
        self.b.aquant[out] = self._act_quant(ins[ys], ins[yz], {"output_dtype": 3})
        self.int8.add(out)
        opset = int(attrs.get("opset", self.opset))  # QLinearSoftmax states the Softmax semantics it follows
        self._convert(QNode(i, node.name, float_op, tuple(values), (out,), {**attrs, "_opset": opset}))

    def _qoperand(self, t: str, attrs, name: str, scale: str, zp: str) -> str:
        if name in self.b.consts:
            rank = self.b.consts[name].ndim
            axis = 0 if t == "QLinearConv" or (t == "QGemm" and int(attrs.get("transB", 0))) else rank - 1
            self._attach_const(name, scale, zp, axis)
            return name
        name = self._value(name)
        quant = self._act_quant(scale, zp, {"output_dtype": 3})
        if self.b.aquant.setdefault(name, quant) != quant:
            raise ModelError(f"reads '{name}' with other quantization than it was written with")
        return name


def _renamed(graph: Graph, rename: dict[str, str]) -> Graph:
    """The graph with boundary tensors renamed to the ONNX input/output names."""
    rename = {k: v for k, v in rename.items() if k != v and v not in graph.tensors}
    if not rename:
        return graph
    r = lambda name: rename.get(name, name)  # noqa: E731
    tensors = {r(k): replace(t, name=r(k)) for k, t in graph.tensors.items()}
    ops = tuple(Op(op.name, op.kind, tuple(map(r, op.inputs)), tuple(map(r, op.outputs)), op.attrs) for op in graph.ops)
    return Graph(graph.name, tensors, ops, tuple(map(r, graph.inputs)), tuple(map(r, graph.outputs)))
