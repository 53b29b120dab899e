"""Per-operator translation of quantized ONNX nodes (see onnx_build.QNode) into IR ops in TFLite layout.

Constant weights are transposed (Conv OIHW → OHWI, depthwise → 1HW(C*M), Gemm/MatMul → (out, in)) and axes
are rewritten for NHWC instead of inserting ops. The only ops added are the ones the IR needs to mean the same
thing: a PAD before a window whose ONNX padding is not TFLite SAME, a TRANSPOSE around a RESHAPE that changes
the rank of an NCHW tensor, and a QUANTIZE where an IR op needs other output quantization than the model's.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir.graph import QuantParams, Tensor
from ..ir.ops import (
    Activation,
    ConcatAttrs,
    Conv2DAttrs,
    DepthwiseConv2DAttrs,
    ElementwiseAttrs,
    FullyConnectedAttrs,
    MeanAttrs,
    NoAttrs,
    OpKind,
    PadAttrs,
    Padding,
    Pool2DAttrs,
    SoftmaxAttrs,
)
from ..ir.shapes import conv_out_pad
from ..ir.structure import MAX_WINDOW
from .onnx_build import TO_NHWC, Builder, ModelError, QNode, clip_activation, ir_axis, opt_input, real_const, text
from .onnx_movement import _pad, _rank4, _reshape, _resize, _slice, _transpose

_FIXED_01 = QuantParams((1 / 256,), (-128,))  # TFLite's int8 output quantization of SOFTMAX and LOGISTIC


def _weight(b: Builder, name: str) -> tuple[np.ndarray, np.ndarray, int]:
    data = b.const(name)
    if name not in b.cquant:
        raise ModelError(f"weight '{name}' is {data.dtype} without quantization; quantize the model to int8 first")
    scales, zps, axis = b.cquant[name]
    if data.dtype != np.int8:
        raise ModelError(f"weight '{name}' is {data.dtype}; only int8 weights are supported")
    if np.any(zps != 0):
        raise ModelError(
            f"weight '{name}' has non-zero zero points; quantize weights symmetrically (weight_type=QInt8)"
        )
    return data, scales.astype(np.float64), axis


def _check_per_channel(name: str, scales: np.ndarray, axis: int, expected_axis: int, channels: int) -> None:
    if scales.size != 1 and (scales.size != channels or axis != expected_axis):
        raise ModelError(
            f"weight '{name}' has {scales.size} scales on axis {axis}; per-channel quantization "
            f"must run along the {channels} output channels (axis {expected_axis})"
        )


def _bias(b: Builder, name: str, s_in: float, w_scales: np.ndarray, cout: int) -> str:
    """The bias as int32 with scale s_in * s_w; "" when there is none."""
    if not name:
        return ""
    target = s_in * np.broadcast_to(w_scales, (cout,)) if w_scales.size > 1 else s_in * w_scales
    data = b.const(name).reshape(-1)
    if data.size == 1 and cout > 1:
        data = np.broadcast_to(data, (cout,))
    if data.size != cout:
        raise ModelError(f"bias '{name}' has {data.size} values for {cout} output channels")
    scales = b.cquant.get(name, (None, None, 0))[0]
    if (
        data.dtype == np.int32
        and scales is not None
        and np.all(b.cquant[name][1] == 0)
        and np.allclose(np.broadcast_to(scales, (cout,)), np.broadcast_to(target, (cout,)), rtol=1e-5)
    ):
        q = data.astype(np.int64)
    else:
        q = np.round(real_const(b, name).reshape(-1) / target)
    q = np.clip(q, -(2**31), 2**31 - 1)
    quant = QuantParams(tuple(float(s) for s in target), (0,) * target.size)
    return b.add_const(name, q, "int32", quant).name


def _window(b: Builder, n: QNode, x: Tensor, kernel, strides, dilations, pad_op_ok: bool):
    """TFLite padding for a conv/pool window: SAME, VALID, or (when allowed) a PAD op followed by VALID."""
    auto = text(n.attrs.get("auto_pad", "NOTSET"))
    if auto in ("SAME_UPPER", "VALID"):
        return x, Padding.SAME if auto == "SAME_UPPER" else Padding.VALID
    size = x.shape[1:3]
    same = []
    for L, k, s, d in zip(size, kernel, strides, dilations):
        out, before = conv_out_pad(L, k, s, d, Padding.SAME)
        total = max((out - 1) * s + (k - 1) * d + 1 - L, 0)
        same.append((before, total - before))
    if auto == "SAME_LOWER":
        pads = [same[0][1], same[1][1], same[0][0], same[1][0]]
    else:
        pads = [int(p) for p in n.attrs.get("pads", (0, 0, 0, 0))]
    if len(pads) != 4 or min(pads) < 0:
        raise ModelError(f"pads {pads} are not 4 non-negative values (top, left, bottom, right)")
    if not any(pads):
        return x, Padding.VALID
    if [(pads[0], pads[2]), (pads[1], pads[3])] == same:
        return x, Padding.SAME
    if not pad_op_ok:
        raise ModelError(
            f"pads {pads} (top, left, bottom, right) differ from TFLite SAME padding "
            f"{[same[0][0], same[1][0], same[0][1], same[1][1]]} and cannot be expressed; "
            "pad with TFLite SAME placement (extra row/column at the end) or use no padding"
        )
    paddings = ((0, 0), (pads[0], pads[2]), (pads[1], pads[3]), (0, 0))
    shape = tuple(d + p + q for d, (p, q) in zip(x.shape, paddings))
    padded = b.temp(f"{x.name}_pad", shape, x.quant)
    b.emit(n, OpKind.PAD, (x.name,), (padded.name,), PadAttrs(paddings))
    return padded, Padding.VALID


def _hw(n: QNode, attr: str, default: int) -> tuple[int, int]:
    v = tuple(int(a) for a in n.attrs.get(attr, (default, default)))
    if len(v) != 2:
        raise ModelError(f"{attr} {v} is not 2-D")
    if not all(1 <= a <= MAX_WINDOW for a in v):
        raise ModelError(f"{attr} {v} is outside 1..{MAX_WINDOW}")
    return v


def _conv(b: Builder, n: QNode) -> None:
    N, C, _, _ = _rank4(b, n.inputs[0])
    x = b.act(n.inputs[0])
    if len(n.inputs) < 2 or not n.inputs[1]:
        raise ModelError("has no weight input")
    w, scales, axis = _weight(b, n.inputs[1])
    if w.ndim != 4:
        raise ModelError(f"weight '{n.inputs[1]}' has shape {w.shape}; a 2-D convolution needs rank 4 (OIHW)")
    cout, _, kh, kw = w.shape
    group = int(n.attrs.get("group", 1))
    _check_per_channel(n.inputs[1], scales, axis, 0, cout)
    strides, dil = _hw(n, "strides", 1), _hw(n, "dilations", 1)
    xin, padding = _window(b, n, x, (kh, kw), strides, dil, pad_op_ok=True)
    oh, _ = conv_out_pad(xin.shape[1], kh, strides[0], dil[0], padding)
    ow, _ = conv_out_pad(xin.shape[2], kw, strides[1], dil[1], padding)
    zeros = (0,) * scales.size
    bias = _bias(b, n.inputs[2] if len(n.inputs) > 2 else "", x.scale(), scales, cout)
    if group == 1:
        wt = b.add_const(n.inputs[1], w.transpose(0, 2, 3, 1), "int8", QuantParams(tuple(scales), zeros, 0))
        attrs = Conv2DAttrs(*strides, *dil, padding, n.activation)
        kind = OpKind.CONV_2D
    elif group == C and cout % C == 0:
        wt = b.add_const(n.inputs[1], w.transpose(1, 2, 3, 0), "int8", QuantParams(tuple(scales), zeros, 3))
        attrs = DepthwiseConv2DAttrs(*strides, *dil, padding, cout // C, n.activation)
        kind = OpKind.DEPTHWISE_CONV_2D
    else:
        raise ModelError(
            f"grouped convolution (group={group}, {C} input channels) is not supported; only "
            "group=1 and depthwise (group = input channels)"
        )
    b.finish(n, kind, (xin.name, wt.name, bias), attrs, (N, cout, oh, ow))


def _pool(kind: OpKind):
    def convert(b: Builder, n: QNode) -> None:
        N, C, H, W = _rank4(b, n.inputs[0])
        x = b.act(n.inputs[0])
        k, s = _hw(n, "kernel_shape", 1), _hw(n, "strides", 1)
        if _hw(n, "dilations", 1) != (1, 1) or int(n.attrs.get("storage_order", 0)) or len(n.outputs) > 1:
            raise ModelError("pool dilations, storage_order and the Indices output are not supported")
        if kind is OpKind.AVERAGE_POOL_2D:  # TFLite never counts padding; a PAD op would count it
            pad_ok = False
            if int(n.attrs.get("count_include_pad", 0)) and any(int(p) for p in n.attrs.get("pads", ())):
                raise ModelError("AveragePool with count_include_pad=1 and padding is not supported")
        else:  # padding with the zero point is exact for max pooling when it is the int8 minimum
            pad_ok = x.zero_point == -128
        pads = [int(p) for p in n.attrs.get("pads", (0, 0, 0, 0))]
        if int(n.attrs.get("ceil_mode", 0)) and any(
            (L + pads[a] + pads[a + 2] - kk) % ss for a, (L, kk, ss) in enumerate(zip((H, W), k, s))
        ):
            raise ModelError("ceil_mode=1 changes the output size here; TFLite pools round down")
        xin, padding = _window(b, n, x, k, s, (1, 1), pad_ok)
        oh, _ = conv_out_pad(xin.shape[1], k[0], s[0], 1, padding)
        ow, _ = conv_out_pad(xin.shape[2], k[1], s[1], 1, padding)
        attrs = Pool2DAttrs(k[0], k[1], s[0], s[1], padding, n.activation)
        b.finish(n, kind, (xin.name,), attrs, (N, C, oh, ow), x.quant)

    return convert


def _fully_connected(b: Builder, n: QNode) -> None:
    xs = b.shape(n.inputs[0])
    x = b.act(n.inputs[0])
    w, scales, axis = _weight(b, n.inputs[1])
    if n.op_type == "Gemm":
        if int(n.attrs.get("transA", 0)) or float(n.attrs.get("alpha", 1.0)) != 1.0 or len(xs) != 2:
            raise ModelError("only Gemm with a rank-2 input, transA=0 and alpha=1 is supported")
        if len(n.inputs) > 2 and n.inputs[2] and float(n.attrs.get("beta", 1.0)) != 1.0:
            raise ModelError("only Gemm with beta=1 is supported")
        transposed = bool(int(n.attrs.get("transB", 0)))
    else:
        if len(xs) not in (2, 3) or w.ndim != 2:
            raise ModelError(
                f"MatMul of a rank-{len(xs)} input by a rank-{w.ndim} constant is not supported; "
                "only (M, K) or (B, M, K) inputs times a (K, N) constant"
            )
        transposed = False
    if not transposed:
        w = w.T
    axis = axis % 2
    _check_per_channel(n.inputs[1], scales, axis if transposed else 1 - axis, 0, w.shape[0])
    wt = b.add_const(n.inputs[1], w, "int8", QuantParams(tuple(scales), (0,) * scales.size, 0))
    bias = _bias(b, n.inputs[2] if len(n.inputs) > 2 else "", x.scale(), scales, w.shape[0])
    attrs = FullyConnectedAttrs(n.activation, keep_num_dims=len(xs) > 2)
    b.finish(n, OpKind.FULLY_CONNECTED, (x.name, wt.name, bias), attrs, tuple(xs[:-1]) + (w.shape[0],))


def _operand(b: Builder, name: str, rank: int) -> Tensor:
    """An elementwise operand in IR layout; constants are broadcast to `rank` and transposed, never ops."""
    if name not in b.consts:
        if len(b.shape(name)) != rank and rank == 4 and math.prod(b.shape(name)) > 1:
            raise ModelError(
                f"broadcasting the rank-{len(b.shape(name))} activation '{name}' against a "
                "rank-4 NCHW tensor is not supported"
            )
        return b.act(name)
    data = b.const(name)
    if name not in b.cquant or data.dtype != np.int8 or b.cquant[name][0].size != 1:
        raise ModelError(f"constant operand '{name}' must be int8 with one scale")
    scales, zps, _ = b.cquant[name]
    data = data.reshape((1,) * (rank - data.ndim) + data.shape)
    quant = QuantParams((float(scales.reshape(-1)[0]),), (int(zps.reshape(-1)[0]),))
    return b.add_const(name, data.transpose(TO_NHWC) if rank == 4 else data, "int8", quant)


def _elementwise(kind: OpKind):
    def convert(b: Builder, n: QNode) -> None:
        try:
            shape = tuple(np.broadcast_shapes(*(b.shape(t) for t in n.inputs[:2])))
        except ValueError:
            raise ModelError(f"operand shapes {[b.shape(t) for t in n.inputs[:2]]} do not broadcast") from None
        a, c = (_operand(b, t, len(shape)) for t in n.inputs[:2])
        b.finish(n, kind, (a.name, c.name), ElementwiseAttrs(n.activation), shape)

    return convert


def _mean(b: Builder, n: QNode) -> None:
    xs = b.shape(n.inputs[0])
    rank = len(xs)
    if n.op_type == "GlobalAveragePool":
        axes, keep = tuple(range(2, rank)), True
    else:
        raw = opt_input(b, n, 1, "axes", None)
        axes = tuple(range(rank)) if raw is None or np.size(raw) == 0 else tuple(int(a) for a in np.ravel(raw))
        axes, keep = tuple(sorted({a % rank for a in axes})), bool(int(n.attrs.get("keepdims", 1)))
    kept = [d for d in range(rank) if d not in axes]
    if rank == 4 and not keep and kept != [d for d in TO_NHWC if d not in axes]:
        raise ModelError(
            f"ReduceMean over axes {axes} without keepdims would change the NCHW order of "
            "the remaining axes; use keepdims=1"
        )
    out = tuple(1 if d in axes else xs[d] for d in range(rank)) if keep else tuple(xs[d] for d in kept)
    ir_axes = tuple(sorted(ir_axis(a, rank) for a in axes))
    b.finish(n, OpKind.MEAN, (b.act(n.inputs[0]).name,), MeanAttrs(ir_axes, keep), out)


def _softmax(b: Builder, n: QNode) -> None:
    xs = b.shape(n.inputs[0])
    rank = len(xs)
    axis = int(n.attrs.get("axis", -1 if n.attrs.get("_opset", 13) >= 13 else 1)) % rank
    whole = n.attrs.get("_opset", 13) < 13 and any(d != 1 for d in xs[axis + 1 :])
    if ir_axis(axis, rank) != rank - 1 or whole:
        raise ModelError(
            f"Softmax over axis {axis} of {xs} is not the channel/last axis in NHWC; TFLite "
            "SOFTMAX runs over the last axis"
        )
    b.finish(n, OpKind.SOFTMAX, (b.act(n.inputs[0]).name,), SoftmaxAttrs(1.0), xs, _FIXED_01)


def _unary(kind: OpKind, out_quant: QuantParams | None = None):
    def convert(b: Builder, n: QNode) -> None:
        b.finish(n, kind, (b.act(n.inputs[0]).name,), NoAttrs(), b.shape(n.inputs[0]), out_quant)

    return convert


def _clip(b: Builder, n: QNode) -> None:
    act = clip_activation(b, n)
    if act not in (Activation.RELU, Activation.RELU6):
        raise ModelError("only Clip(0, 6) and Clip(0, inf) have an IR operator (RELU6, RELU)")
    _unary(OpKind.RELU if act is Activation.RELU else OpKind.RELU6)(b, n)


def _concat(b: Builder, n: QNode) -> None:
    shapes = [b.shape(t) for t in n.inputs]
    rank = len(shapes[0])
    axis = int(n.attrs["axis"]) % rank
    out = shapes[0][:axis] + (sum(s[axis] for s in shapes),) + shapes[0][axis + 1 :]
    quant = b.aquant[n.outputs[0]]
    ins = tuple(b.requantize(n, _operand(b, t, rank), quant).name for t in n.inputs)
    b.finish(n, OpKind.CONCATENATION, ins, ConcatAttrs(ir_axis(axis, rank), n.activation), out)


def _requantize(b: Builder, n: QNode) -> None:
    b.finish(n, OpKind.QUANTIZE, (b.act(n.inputs[0]).name,), NoAttrs(), b.shape(n.inputs[0]))


CONVERTERS = {
    "Conv": _conv,
    "Gemm": _fully_connected,
    "MatMul": _fully_connected,
    "Add": _elementwise(OpKind.ADD),
    "Mul": _elementwise(OpKind.MUL),
    "AveragePool": _pool(OpKind.AVERAGE_POOL_2D),
    "MaxPool": _pool(OpKind.MAX_POOL_2D),
    "GlobalAveragePool": _mean,
    "ReduceMean": _mean,
    "Reshape": _reshape,
    "Flatten": _reshape,
    "Squeeze": _reshape,
    "Unsqueeze": _reshape,
    "Softmax": _softmax,
    "Sigmoid": _unary(OpKind.LOGISTIC, _FIXED_01),
    "HardSwish": _unary(OpKind.HARD_SWISH),
    "Relu": _unary(OpKind.RELU),
    "Clip": _clip,
    "Pad": _pad,
    "Concat": _concat,
    "Transpose": _transpose,
    "Slice": _slice,
    "Resize": _resize,
    "QuantizeLinear": _requantize,
}
# Ops whose int8 output may simply keep the input's quantization when the model does not quantize it.
TRANSPARENT = frozenset(
    {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "MaxPool", "Slice", "Pad", "Resize"}
)
# Ops with a fused-activation field that a following Relu/Clip can fold into.
FUSABLE = frozenset({"Conv", "Gemm", "MatMul", "Add", "Mul", "AveragePool", "MaxPool", "Concat"})
