"""Seeded mutants of model files: .tflite (byte edits and schema-level field edits through the flatbuffer object
API) and ONNX (node, attribute, initializer and value-info edits, plus byte edits of the protobuf).

`tflite_mutants(seed, count)` and `onnx_mutants(seed, count)` yield Mutant records; the same seed always gives
the same mutants, and a Mutant's `kind` and `detail` say what was changed. `classify` runs the importer on one
mutant and returns "accepted", "refused" (TinyMLError) or a failure ("crash: ExcType: message").
"""

from __future__ import annotations

import copy
import random
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from tinyengine_codegen.errors import TinyMLError

BASES = ("kws", "vww", "ic", "ad")
CONV, DEPTHWISE, FC = 3, 4, 9
ODD_INTS = (0, -1, -7, 3, 1000, 65536, 1 << 24, 2**31 - 1)
ODD_SCALES = (0.0, -0.5, float("nan"), float("inf"), 1e30, 1e-45, 1e-20)
OPTION_EDITS = {  # options field: odd values
    "strideH": (0, -1, 3, 1000, 2**31 - 1),
    "strideW": (0, -1, 3, 1000),
    "padding": (2, 7, 127),
    "fusedActivationFunction": (4, 5, 6, 100),
    "filterHeight": (0, -1, 200, 1000),
    "filterWidth": (0, -1, 200),
    "dilationHFactor": (0, -1, 3, 1000),
    "dilationWFactor": (0, -1, 3),
    "depthMultiplier": (0, -1, 2, 7),
    "beta": (0.0, -1.0, float("nan"), 1e30),
    "axis": (9, -9, 2**31 - 1),
    "keepNumDims": (True,),
    "weightsFormat": (1,),
    "keepDims": (True,),
}


@dataclass(frozen=True)
class Mutant:
    index: int
    base: str
    kind: str
    detail: str
    data: bytes

    @property
    def name(self) -> str:
        return f"{self.index:05d}_{self.base}_{self.kind}"


# --------------------------------------------------------------------------------------------------- running
@contextmanager
def time_limit(seconds: int):
    """Raise TimeoutError when the block runs longer than `seconds` (a hang is a failure, not a wait)."""

    def fire(signum, frame):
        raise TimeoutError(f"no result within {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def classify(load: Callable[[bytes], object], data: bytes, seconds: int = 30) -> tuple[str, object]:
    """("accepted", graph) | ("refused", message) | ("crash: Type: message", None); a refusal must be one line."""
    try:
        with time_limit(seconds):
            graph = load(data)
    except TinyMLError as exc:
        msg = str(exc)
        if "\n" in msg or not msg:
            return f"crash: multi-line or empty error: {msg[:200]!r}", None
        return "refused", msg
    except Exception as exc:
        return f"crash: {type(exc).__name__}: {str(exc)[:200]}", None
    return "accepted", graph


# ---------------------------------------------------------------------------------------------- .tflite
def _schema():
    from tinyengine_codegen.schema import schema

    return schema


def _pack(m) -> bytes:
    import flatbuffers

    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _code(m, op) -> int:
    c = m.operatorCodes[op.opcodeIndex]
    return max(int(c.builtinCode), int(c.deprecatedBuiltinCode))


def _shape(t) -> list[int]:
    return [int(d) for d in t.shape] if t.shape is not None else []


class _Tflite:
    """Schema-level edits of one model tree; each returns a detail string, or None when it does not apply."""

    def __init__(self, m, rng: random.Random) -> None:
        self.m, self.rng = m, rng
        self.sg = m.subgraphs[0]
        bufs = m.buffers
        self.consts = [
            i
            for i, t in enumerate(self.sg.tensors)
            if 0 < t.buffer < len(bufs) and bufs[t.buffer].data is not None and len(bufs[t.buffer].data)
        ]
        self.weights = [
            int(op.inputs[1])
            for op in self.sg.operators
            if _code(m, op) in (CONV, DEPTHWISE, FC) and len(op.inputs) > 1
        ]

    def tensor(self):
        return self.rng.randrange(len(self.sg.tensors))

    def op(self):
        return self.sg.operators[self.rng.randrange(len(self.sg.operators))]

    def shape_dim(self):
        t = self.sg.tensors[self.tensor()]
        shape = _shape(t)
        if not shape:
            return None
        d = self.rng.randrange(len(shape))
        shape[d] = self.rng.choice(ODD_INTS + (shape[d] + 1, max(shape[d] - 1, 0), 2 * shape[d]))
        t.shape = np.array(shape, np.int64).astype(np.int32)
        return f"{t.name}: shape {shape}"

    def shape_rank(self):
        t = self.sg.tensors[self.tensor()]
        shape = _shape(t)
        shape = self.rng.choice([shape[1:], [1, *shape], [], [1] * max(0, 8 - len(shape)) + shape])
        t.shape = np.array(shape, np.int32)
        return f"{t.name}: shape {shape}"

    def buffer_index(self):
        t = self.sg.tensors[self.rng.choice(self.consts)]
        t.buffer = self.rng.choice(
            [len(self.m.buffers), 2**31, 0, self.sg.tensors[self.rng.choice(self.consts)].buffer]
        )
        return f"{t.name}: buffer {t.buffer}"

    def buffer_length(self):
        t = self.sg.tensors[self.rng.choice(self.consts)]
        b = self.m.buffers[t.buffer]
        d = np.asarray(b.data, np.uint8)
        b.data = self.rng.choice([d[:-1], d[: len(d) // 2], np.concatenate([d, np.zeros(4, np.uint8)]), d[:0]])
        return f"{t.name}: {len(b.data)} bytes"

    def scale(self):
        t = self.sg.tensors[self.tensor()]
        q = t.quantization
        if q is None or q.scale is None or not len(q.scale):
            return None
        s = np.array(q.scale, np.float32)
        v = self.rng.choice(ODD_SCALES)
        s[self.rng.randrange(len(s))] = v
        q.scale = s
        return f"{t.name}: scale {v}"

    def zero_point(self):
        t = self.sg.tensors[self.tensor()]
        q = t.quantization
        if q is None or q.zeroPoint is None or not len(q.zeroPoint):
            return None
        z = np.array(q.zeroPoint, np.int64)
        z[self.rng.randrange(len(z))] = v = self.rng.choice([128, -129, 1000, 255, -(2**31)])
        q.zeroPoint = z
        return f"{t.name}: zero point {v}"

    def channel_count(self):
        t = self.sg.tensors[self.rng.choice(self.weights)]
        q = t.quantization
        if q is None or q.scale is None:
            return None
        n = self.rng.choice([max(len(q.scale) - 1, 0), len(q.scale) + 1, 2, 0])
        q.scale = np.resize(np.array(q.scale, np.float32), n)
        if self.rng.random() < 0.5:
            q.zeroPoint = np.zeros(n, np.int64)
        q.quantizedDimension = self.rng.choice([q.quantizedDimension, 1, 3, 5])
        return f"{t.name}: {n} scales, axis {q.quantizedDimension}"

    def no_quant(self):
        t = self.sg.tensors[self.tensor()]
        t.quantization = None
        return f"{t.name}: no quantization"

    def tensor_type(self):
        t = self.sg.tensors[self.tensor()]
        t.type = self.rng.choice([0, 1, 2, 3, 4, 6, 7, 9, 10, 16, 99])
        return f"{t.name}: type {t.type}"

    def opcode(self):
        op = self.op()
        if self.rng.random() < 0.5:
            op.opcodeIndex = self.rng.choice([len(self.m.operatorCodes), 2**31])
            return f"opcode index {op.opcodeIndex}"
        c = self.m.operatorCodes[op.opcodeIndex]
        c.builtinCode = self.rng.choice([0, 1, 2, 3, 4, 9, 14, 17, 22, 25, 40, 114, 117, 210, 1000])
        c.deprecatedBuiltinCode = min(c.builtinCode, 127)
        return f"builtin code {c.builtinCode}"

    def operand(self):
        op, n = self.op(), len(self.sg.tensors)
        later = [int(o.outputs[0]) for o in self.sg.operators]
        field = self.rng.choice(["inputs", "outputs"])
        vals = np.array(getattr(op, field), np.int32)
        if not len(vals):
            return None
        k = self.rng.randrange(len(vals))
        vals[k] = self.rng.choice([n, n + 9, -1, -5, self.rng.choice(later), self.rng.choice(self.consts)])
        setattr(op, field, vals)
        return f"{field}[{k}] = {vals[k]}"

    def operand_count(self):
        op = self.op()
        ins = list(op.inputs)
        ins = ins[: self.rng.randrange(1, len(ins))] if len(ins) > 1 and self.rng.random() < 0.5 else ins + [0, 0]
        op.inputs = np.array(ins, np.int32)
        return f"{len(ins)} inputs"

    def boundary(self):
        field = self.rng.choice(["inputs", "outputs"])
        opts = [[], [len(self.sg.tensors)], [self.rng.choice(self.consts)], [0, 0], [int(self.sg.outputs[0])],
                [int(self.sg.inputs[0])], [int(self.op().outputs[0])], [-1]]  # fmt: skip
        setattr(self.sg, field, np.array(self.rng.choice(opts), np.int32))
        return f"graph {field} {list(getattr(self.sg, field))}"

    def option(self):
        op = self.op()
        opts = op.builtinOptions
        if opts is None or self.rng.random() < 0.1:
            s = _schema()
            op.builtinOptions, op.builtinOptionsType = self.rng.choice(
                [(None, 0), (s.SoftmaxOptionsT(), s.BuiltinOptions.SoftmaxOptions)]
            )
            return f"options {type(op.builtinOptions).__name__}"
        fields = [f for f in OPTION_EDITS if hasattr(opts, f)]
        if not fields:
            return None
        f = self.rng.choice(fields)
        setattr(opts, f, v := self.rng.choice(OPTION_EDITS[f]))
        return f"{type(opts).__name__}.{f} = {v}"

    def op_list(self):
        ops = self.sg.operators
        j = self.rng.randrange(len(ops))
        how = self.rng.choice(["remove", "duplicate", "swap", "empty"])
        if how == "remove":
            del ops[j]
        elif how == "duplicate":
            ops.insert(j, copy.deepcopy(ops[j]))
        elif how == "swap" and j + 1 < len(ops):
            ops[j], ops[j + 1] = ops[j + 1], ops[j]
        elif how == "empty":
            self.sg.operators = []
        return f"{how} op {j}"

    def tensor_flags(self):
        t = self.sg.tensors[self.tensor()]
        how = self.rng.choice(["variable", "sparse", "signature", "offset"])
        if how == "variable":
            t.isVariable = True
        elif how == "sparse":
            t.sparsity = _schema().SparsityParametersT()
        elif how == "signature" and _shape(t):
            t.shapeSignature = np.array([-1] + _shape(t)[1:], np.int32)
        elif how == "offset" and 0 < t.buffer < len(self.m.buffers):
            b = self.m.buffers[t.buffer]
            b.offset, b.size, b.data = 1 << 40, 16, None
        return f"{t.name}: {how}"

    def subgraphs(self):
        if self.rng.random() < 0.5:
            self.m.subgraphs = []
        else:
            self.m.subgraphs.append(copy.deepcopy(self.sg))
        return f"{len(self.m.subgraphs)} subgraphs"

    EDITS = ("shape_dim", "shape_rank", "buffer_index", "buffer_length", "scale", "zero_point", "channel_count",
             "no_quant", "tensor_type", "opcode", "operand", "operand_count", "boundary", "option", "option",
             "op_list", "tensor_flags", "subgraphs")  # fmt: skip


def byte_edit(raw: bytes, rng: random.Random) -> tuple[str, str, bytes]:
    data, n = bytearray(raw), len(raw)
    kind = rng.choice(["flip", "truncate", "int32", "overwrite", "insert", "delete", "append"])
    head = min(n, 4096)  # tables and vectors sit at the front and the back; weights in between
    pick = lambda: rng.randrange(head) if rng.random() < 0.5 else rng.randrange(max(0, n - head), n)  # noqa: E731
    if kind == "flip":
        for _ in range(rng.choice([1, 2, 8])):
            data[pick()] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        data = data[: rng.choice([0, 8, 16, 24, rng.randrange(n), n - 1])]
    elif kind == "int32":
        p = pick() & ~3
        data[p : p + 4] = rng.choice([0, 0xFFFFFFFF, 0x7FFFFFFF, rng.randrange(2**32), n]).to_bytes(4, "little")
    elif kind == "overwrite":
        p = pick()
        data[p : p + 16] = bytes(rng.randrange(256) for _ in range(min(16, n - p)))
    elif kind == "insert":
        p = pick()
        data[p:p] = bytes(rng.randrange(256) for _ in range(rng.choice([1, 4, 7])))
    elif kind == "delete":
        p = pick()
        del data[p : p + rng.choice([1, 4, 7])]
    else:
        data += bytes(rng.randrange(256) for _ in range(rng.choice([1, 100])))
    return "byte_" + kind, f"{n} -> {len(data)} bytes", bytes(data)


def tflite_mutants(seed: int, count: int, bases=BASES) -> Iterator[Mutant]:
    """`count` mutants of the MLPerf Tiny models, two thirds schema-level, one third byte-level."""
    from tests.conftest import mlperf_path

    S = _schema()
    raw = {b: mlperf_path(b).read_bytes() for b in bases}
    trees = {b: S.ModelT.InitFromPackedBuf(r, 0) for b, r in raw.items()}
    rng = random.Random(seed)
    for i in range(count):
        base = bases[i % len(bases)]
        mutant = None
        for _ in range(20 if rng.random() < 2 / 3 else 0):
            m = copy.deepcopy(trees[base])
            kind = rng.choice(_Tflite.EDITS)
            detail = getattr(_Tflite(m, rng), kind)()
            if detail is None:
                continue
            try:
                mutant = Mutant(i, base, kind, detail, _pack(m))
            except Exception:
                continue
            break
        if mutant is None:
            kind, detail, data = byte_edit(raw[base], rng)
            mutant = Mutant(i, base, kind, detail, data)
        yield mutant


# ------------------------------------------------------------------------------------------------------ ONNX
def onnx_base() -> bytes:
    """A small QDQ int8 network as onnxruntime's quantize_static writes one: conv + relu, depthwise conv,
    global average pool, flatten, gemm; float input and output."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    f = lambda n, v: numpy_helper.from_array(np.asarray(v, np.float32), n)  # noqa: E731
    i8 = lambda n, v: numpy_helper.from_array(np.asarray(v, np.int8), n)  # noqa: E731
    i32 = lambda n, v: numpy_helper.from_array(np.asarray(v, np.int32), n)  # noqa: E731
    w = lambda n, shape: i8(n, rng.integers(-127, 128, shape))  # noqa: E731
    inits = [f("s_x", 0.05), i8("z_x", 0), f("s_a", 0.04), i8("z_a", -128), f("s_b", 0.06), i8("z_b", 3),
             f("s_c", 0.03), i8("z_c", -2), f("s_y", 0.1), i8("z_y", 5),
             w("w1", (8, 3, 3, 3)), f("s_w1", rng.uniform(0.002, 0.01, 8)), i8("z_w1", [0] * 8),
             i32("b1", rng.integers(-500, 500, 8)), f("s_b1", 0.05 * 0.005), i32("z_b1", 0),
             w("w2", (8, 1, 3, 3)), f("s_w2", rng.uniform(0.002, 0.01, 8)), i8("z_w2", [0] * 8),
             w("w3", (5, 8)), f("s_w3", 0.01), i8("z_w3", 0)]  # fmt: skip
    nodes = [
        ("QuantizeLinear", ["x", "s_x", "z_x"], ["xq"], {}),
        ("DequantizeLinear", ["xq", "s_x", "z_x"], ["xd"], {}),
        ("DequantizeLinear", ["w1", "s_w1", "z_w1"], ["w1d"], {"axis": 0}),
        ("DequantizeLinear", ["b1", "s_b1", "z_b1"], ["b1d"], {}),
        ("Conv", ["xd", "w1d", "b1d"], ["c1"], {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
        ("Relu", ["c1"], ["r1"], {}),
        ("QuantizeLinear", ["r1", "s_a", "z_a"], ["aq"], {}),
        ("DequantizeLinear", ["aq", "s_a", "z_a"], ["ad"], {}),
        ("DequantizeLinear", ["w2", "s_w2", "z_w2"], ["w2d"], {"axis": 0}),
        ("Conv", ["ad", "w2d"], ["c2"], {"group": 8, "pads": [1, 1, 1, 1]}),
        ("QuantizeLinear", ["c2", "s_b", "z_b"], ["bq"], {}),
        ("DequantizeLinear", ["bq", "s_b", "z_b"], ["bd"], {}),
        ("GlobalAveragePool", ["bd"], ["p"], {}),
        ("QuantizeLinear", ["p", "s_c", "z_c"], ["pq"], {}),
        ("DequantizeLinear", ["pq", "s_c", "z_c"], ["pd"], {}),
        ("Flatten", ["pd"], ["fl"], {}),
        ("QuantizeLinear", ["fl", "s_c", "z_c"], ["flq"], {}),
        ("DequantizeLinear", ["flq", "s_c", "z_c"], ["fld"], {}),
        ("DequantizeLinear", ["w3", "s_w3", "z_w3"], ["w3d"], {}),
        ("Gemm", ["fld", "w3d"], ["g"], {"transB": 1}),
        ("QuantizeLinear", ["g", "s_y", "z_y"], ["yq"], {}),
        ("DequantizeLinear", ["yq", "s_y", "z_y"], ["y"], {}),
    ]
    graph = helper.make_graph(
        [helper.make_node(t, i, o, name=f"n{k}_{t}", **a) for k, (t, i, o, a) in enumerate(nodes)],
        "fuzz_base",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 3, 16, 16))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 5))],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def _onnx_edit(m, rng: random.Random) -> tuple[str, str] | None:
    """One edit of the ONNX model proto `m`: (kind, detail), or None when it does not apply."""
    from onnx import helper

    g = m.graph
    node = g.node[rng.randrange(len(g.node))]
    names = [v for n in g.node for v in n.output] + [i.name for i in g.initializer] + [g.input[0].name]
    kind = rng.choice(["attribute", "attribute", "op_type", "operand", "output", "node_list", "initializer",
                       "initializer_data", "input_shape", "scale"])  # fmt: skip
    if kind == "attribute":
        name = rng.choice(["strides", "pads", "kernel_shape", "dilations", "group", "axis", "transB", "auto_pad"])
        value = rng.choice([[0, 0], [-1, 1], [2**31 - 1, 1], [1, 1, 1], [5], 0, -3, 7, 2**40, "SAME_LOWER", "BOGUS"])
        del node.attribute[:]
        node.attribute.append(helper.make_attribute(name, value))
        return kind, f"{node.name}.{name} = {value}"
    if kind == "op_type":
        node.op_type = rng.choice(["Identity", "Relu", "Conv", "Add", "MaxPool", "Reshape", "Constant", "Sin", "If"])
        return kind, f"{node.name} -> {node.op_type}"
    if kind == "operand":
        if not node.input:
            return None
        k = rng.randrange(len(node.input))
        node.input[k] = rng.choice(["", "missing", *names])
        if rng.random() < 0.3:
            del node.input[k:]
        return kind, f"{node.name}.input[{k}] = {node.input[k] if k < len(node.input) else '(cut)'}"
    if kind == "output":
        node.output[0] = rng.choice([node.input[0] if node.input else "x", *names])
        return kind, f"{node.name}.output = {node.output[0]}"
    if kind == "node_list":
        j = rng.randrange(len(g.node))
        how = rng.choice(["remove", "duplicate", "reverse"])
        if how == "remove":
            del g.node[j]
        elif how == "duplicate":
            g.node.insert(j, copy.deepcopy(g.node[j]))
        else:
            order = list(g.node)[::-1]
            del g.node[:]
            g.node.extend(order)
        return kind, f"{how} node {j}"
    init = g.initializer[rng.randrange(len(g.initializer))]
    if kind == "initializer":
        dims = list(init.dims)
        how = rng.choice(["rank5", "dim0", "huge", "dtype"])
        if how == "dtype":
            init.data_type = rng.choice([1, 2, 3, 6, 7, 10, 16])
        else:
            dims = {"rank5": [1, *dims] if len(dims) < 5 else dims, "dim0": [0, *dims[1:]], "huge": [1 << 30]}[how]
            del init.dims[:]
            init.dims.extend(dims)
        return kind, f"{init.name}: {how}"
    if kind == "initializer_data":
        if init.raw_data:
            init.raw_data = init.raw_data[: rng.randrange(len(init.raw_data))]
        else:
            del init.float_data[:], init.int32_data[:]
        return kind, f"{init.name}: short data"
    if kind == "input_shape":
        dims = g.input[0].type.tensor_type.shape.dim
        d = dims[rng.randrange(len(dims))]
        d.dim_value = rng.choice([0, 100000, 2**31 - 1, 7])
        return kind, f"input dim {d.dim_value}"
    scales = [i for i in g.initializer if i.name.startswith("s_")]
    init = scales[rng.randrange(len(scales))]
    v = rng.choice(ODD_SCALES)
    arr = np.frombuffer(init.raw_data, np.float32).copy() if init.raw_data else np.array(init.float_data, np.float32)
    arr[rng.randrange(arr.size)] = v
    init.raw_data, init.data_type = arr.tobytes(), 1
    del init.float_data[:]
    return kind, f"{init.name} = {v}"


def onnx_mutants(seed: int, count: int) -> Iterator[Mutant]:
    """`count` mutants of onnx_base(): about 85 % graph edits, the rest byte edits of the serialized proto."""
    import onnx

    raw = onnx_base()
    rng = random.Random(seed)
    for i in range(count):
        mutant = None
        for _ in range(20 if rng.random() < 0.85 else 0):
            m = onnx.load_model_from_string(raw)
            edit = _onnx_edit(m, rng)
            if edit is not None:
                mutant = Mutant(i, "onnx", edit[0], edit[1], m.SerializeToString())
                break
        if mutant is None:
            kind, detail, data = byte_edit(raw, rng)
            mutant = Mutant(i, "onnx", kind, detail, data)
        yield mutant
