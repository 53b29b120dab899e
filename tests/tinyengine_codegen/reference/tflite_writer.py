"""Test helper: write an IR Graph as a .tflite flatbuffer (LiteRT schema object API) and run it in TFLM.

Only what the reference tests need: every IR op kind, attributes turned back into the constant operands TFLite
expects (shapes, paddings, axes, permutations, slice bounds, resize size).
"""

from __future__ import annotations

import numpy as np

from tinyengine_codegen.ir.graph import Graph, Op, Tensor
from tinyengine_codegen.ir.ops import Activation, OpKind, Padding

_TYPE = {"float32": 0, "int32": 2, "int64": 4, "int8": 9, "int16": 7, "uint8": 3}
_ACT = {Activation.NONE: 0, Activation.RELU: 1, Activation.RELU_N1_TO_1: 2, Activation.RELU6: 3}
_PAD = {Padding.SAME: 0, Padding.VALID: 1}


class _Writer:
    def __init__(self, graph: Graph) -> None:
        from ai_edge_litert import schema_py_generated as s

        self.s, self.graph = s, graph
        self.tensors: list = []
        self.index: dict[str, int] = {}
        self.buffers = [s.BufferT()]
        self.opcodes: dict[int, int] = {}

    def tensor(self, t: Tensor) -> int:
        if t.name in self.index:
            return self.index[t.name]
        s = self.s
        tt = s.TensorT()
        tt.name = t.name.encode()
        tt.shape = np.array(t.shape, np.int32)
        tt.type = _TYPE[t.dtype]
        tt.buffer = 0
        if t.is_const:
            tt.buffer = self._buffer(np.asarray(t.data, t.dtype))
        if t.quant is not None:
            q = s.QuantizationParametersT()
            q.scale = np.array(t.quant.scale, np.float32)
            q.zeroPoint = np.array(t.quant.zero_point, np.int64)
            q.quantizedDimension = t.quant.axis
            tt.quantization = q
        self.tensors.append(tt)
        self.index[t.name] = len(self.tensors) - 1
        return self.index[t.name]

    def _buffer(self, data: np.ndarray) -> int:
        b = self.s.BufferT()
        b.data = np.frombuffer(np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<")).tobytes(), np.uint8)
        self.buffers.append(b)
        return len(self.buffers) - 1

    def const(self, name: str, values, dtype: str = "int32") -> int:
        arr = np.asarray(values, dtype)
        return self.tensor(Tensor(name, arr.shape, dtype, None, arr))

    def opcode(self, name: str) -> int:
        code = getattr(self.s.BuiltinOperator, name)
        if code not in self.opcodes:
            self.opcodes[code] = len(self.opcodes)
        return self.opcodes[code]

    def model_bytes(self) -> bytes:
        import flatbuffers

        s, g = self.s, self.graph
        sg = s.SubGraphT()
        sg.operators = [self.operator(op) for op in g.ops]
        sg.inputs = np.array([self.tensor(g.tensor(n)) for n in g.inputs], np.int32)
        sg.outputs = np.array([self.tensor(g.tensor(n)) for n in g.outputs], np.int32)
        sg.tensors = self.tensors
        sg.name = b"main"
        model = s.ModelT()
        model.version = 3
        model.description = b"reference test"
        model.subgraphs = [sg]
        model.buffers = self.buffers
        codes = []
        for code, _ in sorted(self.opcodes.items(), key=lambda kv: kv[1]):
            oc = s.OperatorCodeT()
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, 127)
            oc.version = 1
            codes.append(oc)
        model.operatorCodes = codes
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), b"TFL3")
        return bytes(builder.Output())

    def operator(self, op: Op):
        s = self.s
        o = s.OperatorT()
        ins = [self.tensor(self.graph.tensor(n)) if n else -1 for n in op.inputs]
        while ins and ins[-1] == -1:  # TFLM's depthwise conv crashes on an explicit absent bias (-1)
            ins.pop()
        extra, name, opt_type, opts = _options(self, op)
        o.opcodeIndex = self.opcode(name)
        o.inputs = np.array(ins + extra, np.int32)
        o.outputs = np.array([self.tensor(self.graph.tensor(n)) for n in op.outputs], np.int32)
        if opts is not None:
            o.builtinOptionsType = opt_type
            o.builtinOptions = opts
        return o


def _options(w: _Writer, op: Op):
    """(extra constant inputs, builtin operator name, options type, options object) for one op."""
    s, a, k = w.s, op.attrs, op.kind
    bo = s.BuiltinOptions
    if k in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D):
        o = s.Conv2DOptionsT() if k is OpKind.CONV_2D else s.DepthwiseConv2DOptionsT()
        o.padding, o.strideH, o.strideW = _PAD[a.padding], a.stride_h, a.stride_w
        o.dilationHFactor, o.dilationWFactor = a.dilation_h, a.dilation_w
        o.fusedActivationFunction = _ACT[a.activation]
        if k is OpKind.DEPTHWISE_CONV_2D:
            o.depthMultiplier = a.depth_multiplier
            return [], k.value, bo.DepthwiseConv2DOptions, o
        return [], k.value, bo.Conv2DOptions, o
    if k is OpKind.FULLY_CONNECTED:
        o = s.FullyConnectedOptionsT()
        o.fusedActivationFunction, o.keepNumDims = _ACT[a.activation], a.keep_num_dims
        return [], k.value, bo.FullyConnectedOptions, o
    if k in (OpKind.ADD, OpKind.MUL):
        o = s.AddOptionsT() if k is OpKind.ADD else s.MulOptionsT()
        o.fusedActivationFunction = _ACT[a.activation]
        return [], k.value, bo.AddOptions if k is OpKind.ADD else bo.MulOptions, o
    if k in (OpKind.AVERAGE_POOL_2D, OpKind.MAX_POOL_2D):
        o = s.Pool2DOptionsT()
        o.padding, o.strideH, o.strideW = _PAD[a.padding], a.stride_h, a.stride_w
        o.filterHeight, o.filterWidth, o.fusedActivationFunction = a.filter_h, a.filter_w, _ACT[a.activation]
        return [], k.value, bo.Pool2DOptions, o
    if k is OpKind.MEAN:
        o = s.ReducerOptionsT()
        o.keepDims = a.keep_dims
        return [w.const(op.name + "/axes", a.axes)], k.value, bo.ReducerOptions, o
    if k is OpKind.RESHAPE:
        o = s.ReshapeOptionsT()
        o.newShape = np.array(a.new_shape, np.int32)
        return [w.const(op.name + "/shape", a.new_shape)], k.value, bo.ReshapeOptions, o
    if k is OpKind.SOFTMAX:
        o = s.SoftmaxOptionsT()
        o.beta = a.beta
        return [], k.value, bo.SoftmaxOptions, o
    if k is OpKind.PAD:
        return [w.const(op.name + "/paddings", a.paddings)], k.value, bo.PadOptions, s.PadOptionsT()
    if k is OpKind.CONCATENATION:
        o = s.ConcatenationOptionsT()
        o.axis, o.fusedActivationFunction = a.axis, _ACT[a.activation]
        return [], k.value, bo.ConcatenationOptions, o
    if k is OpKind.TRANSPOSE:
        return [w.const(op.name + "/perm", a.perm)], k.value, bo.TransposeOptions, s.TransposeOptionsT()
    if k is OpKind.STRIDED_SLICE:
        return _strided_slice(w, op)
    if k is OpKind.RESIZE_NEAREST_NEIGHBOR:
        o = s.ResizeNearestNeighborOptionsT()
        o.alignCorners, o.halfPixelCenters = a.align_corners, a.half_pixel_centers
        size = w.graph.tensor(op.outputs[0]).shape[1:3]
        return [w.const(op.name + "/size", size)], k.value, bo.ResizeNearestNeighborOptions, o
    if k is OpKind.HARD_SWISH:
        return [], k.value, bo.HardSwishOptions, s.HardSwishOptionsT()
    return [], k.value, None, None


def _strided_slice(w: _Writer, op: Op):
    s, a = w.s, op.attrs
    o = s.StridedSliceOptionsT()
    end_mask = 0
    ends = []
    for d, e in enumerate(a.end):
        if e < 0:  # "one before index 0" with a negative stride: only expressible through end_mask
            end_mask |= 1 << d
            e = 0
        ends.append(e)
    o.endMask = end_mask
    o.shrinkAxisMask = sum(1 << d for d in a.shrink_axis)
    extra = [
        w.const(op.name + "/begin", a.begin),
        w.const(op.name + "/end", ends),
        w.const(op.name + "/strides", a.strides),
    ]
    return extra, "STRIDED_SLICE", s.BuiltinOptions.StridedSliceOptions, o


def to_tflite(graph: Graph) -> bytes:
    """The graph as .tflite bytes (TFL3)."""
    return _Writer(graph).model_bytes()


def run_tflm(model: bytes, inputs: list[np.ndarray], n_outputs: int = 1) -> list[np.ndarray]:
    """Run the model once in TFLM's Python interpreter."""
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(model, arena_size=max(len(model) * 10, 1 << 20))
    for i, x in enumerate(inputs):
        it.set_input(x, i)
    it.invoke()
    return [it.get_output(i) for i in range(n_outputs)]
