"""Graph → .tflite flatbuffer (schema version 3), through the object API of LiteRT's schema module.

One model operator per IR op, in IR order, in a single subgraph. Every constant gets its own buffer (16-byte
aligned); buffer 0 is the empty sentinel that activations point to. The per-operator rules live in tflite_ops.py.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import flatbuffers
import numpy as np

from ..errors import InternalError, TinyMLError
from ..ir.graph import Graph, Op, Tensor
from ..schema import schema
from .tflite_common import VariableInput
from .tflite_ops import ConstInput, lower

_TENSOR_TYPES = {
    "float32": schema.TensorType.FLOAT32,
    "int32": schema.TensorType.INT32,
    "uint8": schema.TensorType.UINT8,
    "int64": schema.TensorType.INT64,
    "bool": schema.TensorType.BOOL,
    "int16": schema.TensorType.INT16,
    "int8": schema.TensorType.INT8,
}
_BUFFER_ALIGNMENT = 16
SCHEMA_VERSION = 3


def export_tflite(graph: Graph, description: str = "tinyengine_codegen") -> bytes:
    """Serialise `graph` as .tflite bytes that TFLM and LiteRT load and run."""
    model = _ModelWriter(graph).model(description)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def save_tflite(graph: Graph, path: str | Path) -> Path:
    """Write `graph` to `path` atomically (a temporary sibling file, then a rename); returns the path."""
    path = Path(path)
    data = export_tflite(graph)
    if not path.parent.is_dir():
        raise TinyMLError(f"cannot write '{path}': folder '{path.parent}' does not exist; create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class _AlignedBufferT(schema.BufferT):
    """A BufferT whose data vector starts on a 16-byte boundary, as the TFLite converter writes it."""

    def Pack(self, builder):
        data = None
        if self.data is not None:
            payload = self.data.tobytes()
            builder.StartVector(1, len(payload), _BUFFER_ALIGNMENT)  # also sets the element count
            builder.head = builder.head - len(payload)
            builder.Bytes[builder.head : builder.head + len(payload)] = payload
            data = builder.EndVector()
        schema.BufferStart(builder)
        if data is not None:
            schema.BufferAddData(builder, data)
        return schema.BufferEnd(builder)


class _ModelWriter:
    """Collects tensors, buffers and operator codes while it walks the graph once."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.tensors: list = []
        self.index: dict[str, int] = {}
        self.buffers: list = [schema.BufferT()]  # buffer 0: the empty sentinel
        self.opcodes: dict[tuple[int, int], int] = {}
        self.codes: list = []
        # names the new constants must avoid: every tensor the ops or the boundaries use (unused entries of
        # graph.tensors, such as the shape operands an importer folded, may be reused so re-exports are identical)
        self.used_names: set[str] = {t for op in graph.ops for t in op.inputs + op.outputs if t}
        self.used_names.update(graph.inputs + graph.outputs)

    def model(self, description: str):
        sg = schema.SubGraphT()
        sg.inputs = [self._tensor(self.graph.tensors[n]) for n in self.graph.inputs]
        sg.operators = [self._operator(op) for op in self.graph.ops]
        sg.outputs = [self._ref(n) for n in self.graph.outputs]
        sg.tensors = self.tensors
        sg.name = "main"
        model = schema.ModelT()
        model.version = SCHEMA_VERSION
        model.description = description
        model.operatorCodes = self.codes
        model.subgraphs = [sg]
        model.buffers = self.buffers
        return model

    def _ref(self, name: str) -> int:
        if not name:
            return -1
        if name not in self.index:
            if name not in self.graph.tensors:
                raise InternalError(f"graph '{self.graph.name}': tensor '{name}' is used but not defined")
            self._tensor(self.graph.tensors[name])
        return self.index[name]

    def _new_name(self, base: str) -> str:
        name, n = base, 1
        while name in self.used_names:
            name, n = f"{base}_{n}", n + 1
        self.used_names.add(name)
        return name

    def _variable(self, op: Op, var: VariableInput) -> int:
        index = self._tensor(Tensor(self._new_name(f"{op.name}/{var.label}"), var.shape, var.dtype, var.quant))
        self.tensors[index].isVariable = True
        return index

    def _input(self, op: Op, x) -> int:
        if isinstance(x, ConstInput):
            return self._const(op, x)
        if isinstance(x, VariableInput):
            return self._variable(op, x)
        return self._ref(x)

    def _tensor(self, t: Tensor) -> int:
        if t.name in self.index:
            return self.index[t.name]
        if t.dtype not in _TENSOR_TYPES:
            raise TinyMLError(
                f"tensor '{t.name}': element type {t.dtype} cannot be written to .tflite; "
                f"supported: {', '.join(sorted(_TENSOR_TYPES))}"
            )
        tt = schema.TensorT()
        tt.name = t.name
        tt.shape = [int(d) for d in t.shape]
        tt.type = _TENSOR_TYPES[t.dtype]
        tt.hasRank = True
        tt.quantization = _quantization(t)
        tt.buffer = self._buffer(t) if t.is_const else 0
        self.tensors.append(tt)
        self.index[t.name] = len(self.tensors) - 1
        return self.index[t.name]

    def _buffer(self, t: Tensor) -> int:
        data = np.ascontiguousarray(t.data, dtype=np.dtype(t.dtype).newbyteorder("<"))
        if data.size != t.size:
            raise InternalError(f"constant '{t.name}': data shape {data.shape} does not match tensor shape {t.shape}")
        buf = _AlignedBufferT()
        buf.data = np.frombuffer(data.tobytes(), dtype=np.uint8)
        self.buffers.append(buf)
        return len(self.buffers) - 1

    def _const(self, op: Op, const: ConstInput) -> int:
        name = self._new_name(f"{op.name}/{const.label}")
        return self._tensor(Tensor(name, tuple(const.data.shape), str(const.data.dtype), const.quant, const.data))

    def _operator(self, op: Op):
        low = lower(self.graph, op)
        o = schema.OperatorT()
        o.opcodeIndex = self._opcode(low.builtin, low.version)
        o.inputs = [self._input(op, x) for x in low.inputs]
        o.outputs = [self._ref(n) for n in op.outputs]
        if low.intermediates:
            o.intermediates = [
                self._tensor(Tensor(self._new_name(f"{op.name}/{v.label}"), v.shape, v.dtype, v.quant))
                for v in low.intermediates
            ]
        o.builtinOptionsType = low.options_type
        o.builtinOptions = low.options
        return o

    def _opcode(self, builtin: int, version: int) -> int:
        key = (builtin, version)
        if key not in self.opcodes:
            code = schema.OperatorCodeT()
            code.builtinCode = builtin
            code.deprecatedBuiltinCode = min(builtin, schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
            code.version = version
            self.codes.append(code)
            self.opcodes[key] = len(self.codes) - 1
        return self.opcodes[key]


def _quantization(t: Tensor):
    if t.quant is None:
        return None
    q = schema.QuantizationParametersT()
    q.scale = [float(s) for s in t.quant.scale]
    q.zeroPoint = [int(z) for z in t.quant.zero_point]
    q.quantizedDimension = int(t.quant.axis)
    return q
