"""check_structure(graph): the graph-wide rules every model must meet before any shape or kernel is looked at.

One writer per tensor, never a graph input or a constant; unique, non-constant graph boundaries; every shape
positive and bounded (a tensor above MAX_TENSOR_BYTES, or activations and weights above MAX_MODEL_BYTES together,
are refused before anything is allocated); quantization parameters finite, positive and consistent (per-channel
counts equal the channel count, zero points in the type's range); strides, dilations and window sizes in range.
Each error names the operator, its type and the field, or the tensor.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import TinyMLError
from .graph import DTYPE_BYTES, Graph, Op, Tensor
from .ops import OpKind, SoftmaxAttrs

MAX_RANK = 6
MAX_DIM = 1 << 24
MAX_TENSOR_BYTES = 1 << 28  # 256 MiB: far above any microcontroller, low enough that C indices never overflow int
MAX_MODEL_BYTES = 1 << 30  # all activations and constants together
MAX_WINDOW = 1 << 12  # strides, dilations and pooling windows
MIN_SCALE, MAX_SCALE = 1e-30, 1e30
_ZP_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}
# filter/bias slot -> the axis a per-channel quantization must use (TFLite's layouts, see ops.py)
_CHANNEL_AXIS = {
    OpKind.CONV_2D: {1: 0, 2: 0},
    OpKind.DEPTHWISE_CONV_2D: {1: 3, 2: 0},
    OpKind.FULLY_CONNECTED: {1: 0, 2: 0},
}


def check_structure(graph: Graph) -> None:
    """Raise TinyMLError at the first broken graph-wide rule."""
    g = f"graph '{graph.name}'"
    _boundaries(graph, g)
    total = 0
    for t in graph.tensors.values():
        total += _check_tensor(t)
    if total > MAX_MODEL_BYTES:
        raise TinyMLError(
            f"{g}: tensors need {total:,} bytes together, above the limit of {MAX_MODEL_BYTES:,}; "
            "reduce the input resolution or the model size"
        )
    writer: dict[str, str] = {}
    for op in graph.ops:
        if not op.outputs or not all(op.outputs):
            raise _fail(op, "has no output tensor")
        for name in op.outputs:
            if name in writer:
                raise _fail(op, f"writes '{name}', which '{writer[name]}' already writes; a tensor has one writer")
            if name in graph.inputs:
                raise _fail(op, f"writes the graph input '{name}'")
            written = graph.tensors.get(name)
            if written is not None and written.is_const:
                raise _fail(op, f"writes the constant tensor '{name}'")
            writer[name] = op.name
        for name in op.inputs:
            if name and name in op.outputs:
                raise _fail(op, f"reads its own output '{name}'")
        _check_attrs(op)
        _check_operand_quant(graph, op)
        _check_accumulator(graph, op)
        _check_requantization(graph, op)


def _fail(op: Op, msg: str) -> TinyMLError:
    return TinyMLError(f"{op.name} ({op.kind.value}): {msg}")


def _boundaries(graph: Graph, g: str) -> None:
    for what, names in (("input", graph.inputs), ("output", graph.outputs)):
        if not names:
            raise TinyMLError(f"{g}: the model has no {what}s")
        if len(set(names)) != len(names):
            raise TinyMLError(f"{g}: a tensor is listed twice among the graph {what}s {list(names)}")
        for name in names:
            t = graph.tensors.get(name)
            if t is None:
                raise TinyMLError(f"{g}: graph {what} '{name}' does not exist")
            if t.is_const:
                raise TinyMLError(f"{g}: graph {what} '{name}' is a constant tensor")
    for name in graph.outputs:
        if name in graph.inputs:
            raise TinyMLError(f"{g}: '{name}' is both a graph input and a graph output; no operator computes it")


def _check_tensor(t: Tensor) -> int:
    where = f"tensor '{t.name}'"
    if len(t.shape) > MAX_RANK:
        raise TinyMLError(f"{where}: rank {len(t.shape)} is above the supported {MAX_RANK}")
    for d in t.shape:
        if d < 1 or d > MAX_DIM:
            raise TinyMLError(f"{where}: shape {t.shape} has a dimension outside 1..{MAX_DIM:,}")
    nbytes = math.prod(t.shape) * DTYPE_BYTES[t.dtype]
    if nbytes > MAX_TENSOR_BYTES:
        raise TinyMLError(
            f"{where}: shape {t.shape} needs {nbytes:,} bytes, above the limit of {MAX_TENSOR_BYTES:,} per tensor; "
            "reduce the input resolution"
        )
    q = t.quant
    if q is not None:
        if not q.scale or len(q.zero_point) != len(q.scale):
            raise TinyMLError(f"{where}: {len(q.scale)} quantization scales but {len(q.zero_point)} zero points")
        for s in q.scale:
            if not (math.isfinite(s) and MIN_SCALE <= s <= MAX_SCALE):
                raise TinyMLError(
                    f"{where}: quantization scale {s:g} is outside {MIN_SCALE:g}..{MAX_SCALE:g} (finite, positive)"
                )
        lo, hi = _ZP_RANGE.get(t.dtype, (-(1 << 31), (1 << 31) - 1))
        for z in q.zero_point:
            if not lo <= z <= hi:
                raise TinyMLError(f"{where}: zero point {z} is outside the {t.dtype} range {lo}..{hi}")
        if q.per_channel:
            if not t.is_const:
                raise TinyMLError(f"{where}: per-channel quantization of an activation is not supported")
            if not 0 <= q.axis < len(t.shape) or t.shape[q.axis] != len(q.scale):
                raise TinyMLError(
                    f"{where}: {len(q.scale)} per-channel scales along axis {q.axis} of shape {t.shape}; "
                    "one scale per channel is needed"
                )
    return nbytes


def _check_attrs(op: Op) -> None:
    a = op.attrs
    for field in ("stride_h", "stride_w", "dilation_h", "dilation_w", "filter_h", "filter_w", "depth_multiplier"):
        v = getattr(a, field, None)
        if v is not None and not 1 <= v <= MAX_WINDOW:
            raise _fail(op, f"{field} {v} is outside 1..{MAX_WINDOW}")
    if isinstance(a, SoftmaxAttrs) and not (math.isfinite(a.beta) and 0 < a.beta <= 1e6):
        raise _fail(op, f"beta {a.beta:g} is not a finite positive number")


def _check_requantization(graph: Graph, op: Op) -> None:
    """The real multiplier from an int8 operand (times the filter scale) to the int8 output stays below 2^30:
    a larger one needs a left shift of 31 or more bits, which C and TFLM's kernels leave undefined."""
    out = graph.tensors[op.outputs[0]]
    if out.dtype != "int8" or out.quant is None:
        return
    w_scale = 1.0
    w_quant = graph.tensors[op.inputs[1]].quant if op.kind in _CHANNEL_AXIS and len(op.inputs) > 1 else None
    if w_quant is not None:
        w_scale = max(w_quant.scale)
    for name in op.inputs[:2] if op.kind not in _CHANNEL_AXIS else op.inputs[:1]:
        t = graph.tensors[name] if name else None
        if t is None or t.dtype != "int8" or t.quant is None or t.is_const:
            continue
        real = max(t.quant.scale) * w_scale / min(out.quant.scale)
        if real >= 2.0**30:
            raise _fail(
                op,
                f"requantizing '{name}' into '{out.name}' needs a multiplier of {real:.3g} (at most 2^30); "
                "the output scale is too small for its inputs",
            )


def _check_accumulator(graph: Graph, op: Op) -> None:
    """The int32 accumulator of every output channel stays in range for any int8 input: |bias| + 255 * sum|w|."""
    if op.kind not in _CHANNEL_AXIS or len(op.inputs) < 2 or graph.tensors[op.inputs[1]].data is None:
        return
    w = np.abs(np.asarray(graph.tensors[op.inputs[1]].data, np.int64))
    if w.ndim < 2:
        return  # verify names the filter's rank
    per = (
        w.reshape(-1, w.shape[-1]).sum(axis=0) if op.kind is OpKind.DEPTHWISE_CONV_2D else w.reshape(len(w), -1).sum(1)
    )
    bias = np.zeros_like(per)
    if len(op.inputs) > 2 and op.inputs[2] and graph.tensors[op.inputs[2]].data is not None:
        b = np.abs(np.asarray(graph.tensors[op.inputs[2]].data, np.int64)).reshape(-1)
        if b.size != per.size:
            return  # verify names the bias count
        bias = b
    worst = bias + 255 * per
    if worst.max() >= 1 << 31:
        c = int(worst.argmax())
        raise _fail(
            op,
            f"output channel {c} can overflow the int32 accumulator (|bias| {int(bias[c])} + 255 x sum|w| "
            f"{int(per[c])}); the bias or the weights are out of range",
        )


def _check_operand_quant(graph: Graph, op: Op) -> None:
    """Filters are symmetric (zero point 0) and quantized along their output-channel axis; biases likewise."""
    axes = _CHANNEL_AXIS.get(op.kind)
    if axes is None:
        return
    for slot, axis in axes.items():
        if slot >= len(op.inputs) or not op.inputs[slot]:
            continue
        t = graph.tensors[op.inputs[slot]]
        what = "filter" if slot == 1 else "bias"
        if t.quant is None:
            if slot == 1:
                raise _fail(op, f"filter '{t.name}' has no quantization parameters")
            continue
        if any(z != 0 for z in t.quant.zero_point):
            raise _fail(op, f"{what} '{t.name}' has a non-zero zero point; only symmetric int8 {what}s are supported")
        if t.quant.per_channel and t.quant.axis != axis:
            raise _fail(
                op, f"{what} '{t.name}' is quantized per channel along axis {t.quant.axis}; axis {axis} is expected"
            )
