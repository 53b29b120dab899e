""".tflite → Graph, through the maintained TFLite flatbuffer schema (see schema.py).

The importer translates, it does not optimise: one IR op per model op, except that shape arithmetic on
constants (SHAPE, PACK, STRIDED_SLICE, CONCATENATION ... feeding a RESHAPE) is evaluated and dropped, and the
constant operands that only carry shapes or axes become attributes (see ir/ops.py).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import TinyMLError
from ..ir.graph import Graph, Op, Tensor
from ..ir.ops import OpKind
from ..ir.verify import verify
from . import tflite_ops
from .source import read_source
from .tflite_lstm import STATE_INPUTS
from .tflite_ops import BUILTIN, SUPPORTED, ModelError
from .unsupported import unsupported_details

_DTYPES = {0: "float32", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16", 9: "int8"}
_FOLDABLE = {
    "SHAPE",
    "PACK",
    "STRIDED_SLICE",
    "CONCATENATION",
    "RESHAPE",
    "CAST",
    "GATHER",
    "SQUEEZE",
    "EXPAND_DIMS",
    "MUL",
    "ADD",
}


def load_tflite(src: str | Path | bytes, name: str | None = None) -> Graph:
    """Read a .tflite file (a path or its bytes) into a verified Graph; TinyMLError for anything unusable."""
    buf, label = read_source(src, name)
    model = _parse(buf, label)
    graph = _Importer(model, label).graph()
    verify(graph)
    return graph


def _parse(buf: bytes, label: str):
    from ..schema import schema

    if len(buf) < 16:
        raise TinyMLError(f"'{label}': {len(buf)} bytes is too short to be a .tflite model")
    if buf[4:8] != b"TFL3":
        raise TinyMLError(f"'{label}': not a TFLite flatbuffer (file identifier {buf[4:8]!r}, expected b'TFL3')")
    try:
        model = schema.ModelT.InitFromPackedBuf(buf, 0)
    except Exception as exc:  # a corrupt flatbuffer can fail in many ways inside the generated code
        raise TinyMLError(
            f"'{label}': corrupt or truncated .tflite file ({type(exc).__name__}); re-export the model"
        ) from None
    if not model.subgraphs:
        raise TinyMLError(f"'{label}': the model has no subgraph")
    return model


class _Importer:
    """Walks subgraph 0 once: tensors, constant folding of shape arithmetic, then one IR op per model op."""

    def __init__(self, model, label: str) -> None:
        self.model, self.label = model, label
        self.sg = model.subgraphs[0]
        if len(model.subgraphs) > 1:
            loop = any(self._opcode(i, op) == "WHILE" for i, op in enumerate(self.sg.operators or []))
            raise TinyMLError(
                f"'{label}': {len(model.subgraphs)} subgraphs (control flow) are not supported; "
                + (
                    "a Keras 3 LSTM layer converts to such a WHILE loop: convert it with Keras 2 (tf_keras, "
                    "TF_USE_LEGACY_KERAS=1) to get one UNIDIRECTIONAL_SEQUENCE_LSTM operator"
                    if loop
                    else "export a model with a single subgraph"
                )
            )
        self.names = self._unique_names()
        self.consts: dict[int, np.ndarray] = {}
        self.tensors: dict[str, Tensor] = {}

    def _unique_names(self) -> list[str]:
        seen: dict[str, int] = {}
        out = []
        for i, t in enumerate(self.sg.tensors or []):
            base = _decode(t.name) or f"tensor_{i}"
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.append(base if n == 0 else f"{base}_{n}")
        return out

    def _opcode(self, i: int, op) -> str:
        codes = self.model.operatorCodes or []
        if not 0 <= op.opcodeIndex < len(codes):
            raise TinyMLError(
                f"'{self.label}': operator #{i} uses operator code {op.opcodeIndex}, but the model has "
                f"{len(codes)}; the file is corrupt"
            )
        code = codes[op.opcodeIndex]
        value = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        if value == 32:
            return "CUSTOM:" + _decode(code.customCode)
        return BUILTIN.get(value, f"BUILTIN_{value}")

    def _const_data(self, index: int) -> np.ndarray | None:
        if index in self.consts:
            return self.consts[index]
        t = self.sg.tensors[index]
        buffers = self.model.buffers or []
        if t.buffer >= len(buffers) or t.buffer < 0:
            raise TinyMLError(
                f"'{self.label}': tensor '{self.names[index]}' uses buffer {t.buffer}, but the model has "
                f"{len(buffers)}; the file is corrupt"
            )
        if t.buffer > 0 and (getattr(buffers[t.buffer], "offset", 0) or 0) > 1:
            raise TinyMLError(
                f"'{self.label}': tensor '{self.names[index]}' keeps its data outside the flatbuffer "
                "(buffer offset); this is not supported, re-export the model as one flatbuffer below 2 GB"
            )
        if t.buffer == 0 or buffers[t.buffer].data is None:
            return None
        raw = np.asarray(buffers[t.buffer].data, dtype=np.uint8)
        if len(raw) == 0:
            return None
        dtype = _dtype(t, self.label, self.names[index])
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
        itemsize = np.dtype(dtype).itemsize
        need = math.prod(shape)
        if len(raw) != need * itemsize:
            raise TinyMLError(
                f"'{self.label}': constant tensor '{self.names[index]}' holds {len(raw)} bytes but its shape "
                f"{shape} of {dtype} needs {need * itemsize}; the file is corrupt"
            )
        arr = np.frombuffer(raw.tobytes(), dtype=np.dtype(dtype).newbyteorder("<"))
        arr = arr.astype(dtype).reshape(shape)
        arr.setflags(write=False)
        self.consts[index] = arr
        return arr

    def _state_tensor(self, index: int) -> Tensor:
        """A variable (state) operand, read for its shape and quantization only; it is not a graph tensor."""
        t = self.sg.tensors[index]
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
        name = self.names[index]
        return Tensor(name, shape, _dtype(t, self.label, name), _quant(t))

    def _tensor(self, index: int) -> Tensor:
        name = self.names[index]
        if name not in self.tensors:
            t = self.sg.tensors[index]
            shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
            if any(d < 1 for d in shape):
                raise TinyMLError(
                    f"'{self.label}': tensor '{name}' has shape {shape}; every dimension must be at least 1 "
                    "(export the model with a fixed input shape)"
                )
            if t.isVariable:
                raise TinyMLError(
                    f"'{self.label}': tensor '{name}' is a variable (state) tensor; stateful models are not supported"
                )
            if t.sparsity is not None:
                raise TinyMLError(
                    f"'{self.label}': tensor '{name}' is stored sparse; sparse tensors are not supported, "
                    "export the model without sparsification"
                )
            self.tensors[name] = Tensor(name, shape, _dtype(t, self.label, name), _quant(t), self._const_data(index))
        return self.tensors[name]

    def graph(self) -> Graph:
        ops: list[Op] = []
        unsupported: dict[str, int] = {}
        layers: list[tuple[int, str, list[str]]] = []
        for i, op in enumerate(self.sg.operators or []):
            kind = self._opcode(i, op)
            ins = self._indices(f"operator #{i} {kind} input", op.inputs, optional=True)
            outs = self._indices(f"operator #{i} {kind} output", op.outputs)
            if not outs:
                raise TinyMLError(f"'{self.label}': operator #{i} {kind} has no output; the file is corrupt")
            if kind in _FOLDABLE and self._fold(kind, op, ins, outs):
                continue
            if kind not in SUPPORTED:
                unsupported[kind] = unsupported.get(kind, 0) + 1
                layers.append((i, kind, [self.names[t] for t in outs]))
                continue
            ops.append(self._convert(i, kind, op, ins, outs))
        if unsupported:
            raise TinyMLError(unsupported_message(self.label, unsupported), details=unsupported_details(layers))
        inputs = tuple(self._tensor(i).name for i in self._indices("graph input", self.sg.inputs))
        outputs = tuple(self._tensor(i).name for i in self._indices("graph output", self.sg.outputs))
        for name in inputs:
            if self.tensors[name].is_const:
                raise TinyMLError(f"'{self.label}': graph input '{name}' is a constant")
        return Graph(self.label, dict(self.tensors), tuple(ops), inputs, outputs)

    def _indices(self, what: str, raw, optional: bool = False) -> list[int]:
        """Tensor indices of an operator or the subgraph, each checked against the tensor table (-1 = absent)."""
        n = len(self.sg.tensors or [])
        out = [int(x) for x in (raw if raw is not None else ())]
        for x in out:
            if not (0 <= x < n or (optional and x == -1)):
                raise TinyMLError(
                    f"'{self.label}': {what} is tensor {x}, but the subgraph has {n} tensors; the file is corrupt"
                )
        return out

    def _fold(self, kind: str, op, ins: list[int], outs: list[int]) -> bool:
        """Evaluate shape arithmetic whose operands are all known at import; True when the op was folded."""
        values = []
        for j, t in enumerate(ins):
            if t < 0:
                return False  # an absent operand: the converter reports it
            data = self._const_data(t)
            if data is None and kind == "SHAPE" and j == 0:
                data = np.zeros(self._tensor(t).shape, np.int8)  # only the shape is read
            if data is None:
                return False
            values.append(data)
        if kind != "SHAPE" and any(v is not None and v.dtype not in (np.int32, np.int64) for v in values):
            return False
        result = tflite_ops.fold_constant(kind, op, values)
        if result is None:
            return False
        out_t = self.sg.tensors[outs[0]]
        dtype = _dtype(out_t, self.label, self.names[outs[0]])
        result = np.asarray(result).astype(dtype)
        result.setflags(write=False)
        self.consts[outs[0]] = result
        return True

    def _convert(self, i: int, kind: str, op, ins: list[int], outs: list[int]) -> Op:
        opname = f"op{i}_{kind.lower()}"
        where = f"'{self.label}': operator #{i} {kind}"
        state = STATE_INPUTS if kind == "UNIDIRECTIONAL_SEQUENCE_LSTM" else ()
        tensors = [
            None if t < 0 else self._state_tensor(t) if j in state else self._tensor(t) for j, t in enumerate(ins)
        ]
        out_tensors = [self._tensor(t) for t in outs]
        try:
            op_kind, attrs, keep = tflite_ops.convert(kind, op, tensors, out_tensors)
        except ModelError as exc:
            raise TinyMLError(f"{where} ({opname}): {exc}") from None
        inputs = tuple(self.names[ins[j]] if ins[j] >= 0 else "" for j in keep if j < len(ins))
        return Op(opname, OpKind(op_kind), inputs, tuple(self.names[t] for t in outs), attrs)


def unsupported_message(label: str, counts: dict[str, int], limit: int = 200) -> str:
    """One line naming every unsupported operator with its count (most frequent first), at most `limit` chars."""
    total = len(counts)
    items = [f"{k} \u00d7{n}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    head = f"'{label}' uses {total} unsupported operator{'s' if total > 1 else ''}: "
    tail = " (see tinyml inspect --ops)"
    if len(head + ", ".join(items) + tail) <= limit:
        return head + ", ".join(items) + tail
    shown = list(items)
    while shown and len(head + ", ".join(shown) + f", and {total - len(shown)} more" + tail) > limit:
        shown.pop()
    return head + ", ".join(shown) + f", and {total - len(shown)} more" + tail


def operator_census(src: str | Path | bytes, name: str | None = None) -> list[tuple[str, int, bool]]:
    """(operator, count, supported) of every builtin in subgraph 0, without converting anything."""
    buf, label = read_source(src, name)
    model = _parse(buf, label)
    imp = _Importer.__new__(_Importer)
    imp.model, imp.label = model, label
    counts: dict[str, int] = {}
    for i, op in enumerate(model.subgraphs[0].operators or []):
        kind = imp._opcode(i, op)
        counts[kind] = counts.get(kind, 0) + 1
    return [(k, n, k in SUPPORTED) for k, n in sorted(counts.items())]


def _decode(raw) -> str:
    if raw is None:
        return ""
    return raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else str(raw)


def _dtype(t, label: str, name: str) -> str:
    if t.type not in _DTYPES:
        raise TinyMLError(
            f"'{label}': tensor '{name}' has unsupported element type {t.type}; "
            f"supported: {', '.join(sorted(set(_DTYPES.values())))}"
        )
    return _DTYPES[t.type]


def _quant(t):
    from ..ir.graph import QuantParams

    q = t.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    zp = q.zeroPoint if q.zeroPoint is not None and len(q.zeroPoint) else [0] * len(q.scale)
    return QuantParams(tuple(float(s) for s in q.scale), tuple(int(z) for z in zp), int(q.quantizedDimension))
