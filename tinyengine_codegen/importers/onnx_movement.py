"""ONNX data-movement nodes (Reshape and friends, Pad, Transpose, Slice, Resize) as IR ops in TFLite layout.

Axes and paddings are rewritten for NHWC; a RESHAPE that changes the rank of an NCHW tensor gets TRANSPOSEs
around it so that element order stays ONNX's.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir.ops import OpKind, PadAttrs, ReshapeAttrs, ResizeNearestAttrs, StridedSliceAttrs, TransposeAttrs
from .onnx_build import TO_NCHW, TO_NHWC, Builder, ModelError, QNode, layout_free, nhwc_shape, opt_input, text


def _rank4(b: Builder, name: str) -> tuple[int, ...]:
    shape = b.shape(name)
    if len(shape) != 4:
        raise ModelError(f"input '{name}' has shape {shape}; only 2-D (NCHW, rank-4) windows are supported")
    return shape


def _reshape_shape(b: Builder, n: QNode) -> tuple[int, ...]:
    """The ONNX output shape of Reshape, Flatten, Squeeze and Unsqueeze."""
    xs = b.shape(n.inputs[0])
    if n.op_type == "Flatten":
        axis = int(n.attrs.get("axis", 1)) % (len(xs) + 1)
        return (math.prod(xs[:axis]), math.prod(xs[axis:]))
    if n.op_type == "Reshape":
        target = [int(d) for d in b.const(n.inputs[1]).reshape(-1)]
        if not int(n.attrs.get("allowzero", 0)):
            target = [xs[i] if d == 0 else d for i, d in enumerate(target)]
        if -1 in target:
            known = math.prod(d for d in target if d != -1)
            target[target.index(-1)] = math.prod(xs) // max(known, 1)
        return tuple(target)
    raw = opt_input(b, n, 1, "axes", None)
    axes = [] if raw is None else [int(a) for a in np.ravel(raw)]
    if n.op_type == "Squeeze":
        axes = [a % len(xs) for a in axes] or [d for d, s in enumerate(xs) if s == 1]
        return tuple(s for d, s in enumerate(xs) if d not in axes)
    out = list(xs)
    rank = len(xs) + len(axes)
    for a in sorted(a % rank for a in axes):
        out.insert(a, 1)
    return tuple(out)


def _reshape(b: Builder, n: QNode) -> None:
    """A RESHAPE, with TRANSPOSEs around it when a rank-4 side would otherwise read NHWC element order."""
    xs, out_shape = b.shape(n.inputs[0]), _reshape_shape(b, n)
    if math.prod(xs) != math.prod(out_shape):
        raise ModelError(f"reshape of {xs} into {out_shape} changes the element count")
    x = src = b.act(n.inputs[0])
    if len(xs) == 4 and not layout_free(xs):
        src = b.transpose(n, x, TO_NCHW)
    if len(out_shape) == 4 and not layout_free(out_shape):
        mid = b.temp(f"{n.outputs[0]}_nchw", out_shape, x.quant)
        b.emit(n, OpKind.RESHAPE, (src.name,), (mid.name,), ReshapeAttrs(tuple(out_shape)))
        b.finish(n, OpKind.TRANSPOSE, (mid.name,), TransposeAttrs(TO_NHWC), out_shape, x.quant)
    else:
        b.finish(n, OpKind.RESHAPE, (src.name,), ReshapeAttrs(nhwc_shape(out_shape)), out_shape, x.quant)


def _pad(b: Builder, n: QNode) -> None:
    xs = b.shape(n.inputs[0])
    rank = len(xs)
    if text(n.attrs.get("mode", "constant")) != "constant" or (len(n.inputs) > 3 and n.inputs[3]):
        raise ModelError("only constant-mode Pad over all axes is supported")
    pads = [int(p) for p in np.ravel(opt_input(b, n, 1, "pads", np.zeros(2 * rank)))]
    x = b.act(n.inputs[0])
    value = float(np.ravel(opt_input(b, n, 2, "value", np.zeros(1)))[0])
    raw = b.consts.get(n.inputs[2]) if len(n.inputs) > 2 and n.inputs[2] else None
    if raw is not None and raw.dtype in (np.int8, np.uint8) and n.inputs[2] not in b.cquant:  # QOperator
        value = (value - (128 if raw.dtype == np.uint8 else 0) - x.zero_point) * x.scale()
    if value != 0.0 or min(pads) < 0:
        raise ModelError(f"Pad value {value} with pads {pads}: only non-negative padding with 0 is supported")
    pairs = [(pads[d], pads[d + rank]) for d in range(rank)]
    out = tuple(s + p + q for s, (p, q) in zip(xs, pairs))
    ir_pairs = tuple(pairs[d] for d in TO_NHWC) if rank == 4 else tuple(pairs)
    b.finish(n, OpKind.PAD, (x.name,), PadAttrs(ir_pairs), out, x.quant)


def _transpose(b: Builder, n: QNode) -> None:
    xs = b.shape(n.inputs[0])
    perm = tuple(int(p) for p in n.attrs.get("perm", range(len(xs) - 1, -1, -1)))
    out = tuple(xs[p] for p in perm)
    ir_perm = tuple(TO_NCHW[perm[TO_NHWC[i]]] for i in range(4)) if len(xs) == 4 else perm
    x = b.act(n.inputs[0])
    b.finish(n, OpKind.TRANSPOSE, (x.name,), TransposeAttrs(ir_perm), out, x.quant)


def _slice(b: Builder, n: QNode) -> None:
    xs = b.shape(n.inputs[0])
    rank = len(xs)
    starts = np.ravel(opt_input(b, n, 1, "starts")).astype(np.int64)
    ends = np.ravel(opt_input(b, n, 2, "ends")).astype(np.int64)
    axes = np.ravel(opt_input(b, n, 3, "axes", np.arange(len(starts)))).astype(np.int64)
    steps = np.ravel(opt_input(b, n, 4, None, np.ones(len(starts)))).astype(np.int64)
    begin, end, stride = [0] * rank, list(xs), [1] * rank
    for s, e, a, st in zip(starts, ends, axes, steps):
        a, dim = int(a) % rank, xs[int(a) % rank]
        if st == 0:
            raise ModelError(f"Slice step 0 on axis {a}")
        s, e = int(s) + (dim if s < 0 else 0), int(e) + (dim if e < 0 else 0)
        lo, hi = (0, dim) if st > 0 else (-1, dim - 1)
        begin[a], end[a], stride[a] = min(max(s, 0), hi), min(max(e, lo), hi), int(st)
    out = tuple(max(0, -(-(e - s) // st)) for s, e, st in zip(begin, end, stride))
    order = TO_NHWC if rank == 4 else tuple(range(rank))
    attrs = StridedSliceAttrs(*(tuple(v[d] for d in order) for v in (begin, end, stride)))
    x = b.act(n.inputs[0])
    b.finish(n, OpKind.STRIDED_SLICE, (x.name,), attrs, out, x.quant)


def _resize(b: Builder, n: QNode) -> None:
    N, C, H, W = _rank4(b, n.inputs[0])
    mode, ctm = text(n.attrs.get("mode", "nearest")), text(n.attrs.get("coordinate_transformation_mode", "half_pixel"))
    nearest = text(n.attrs.get("nearest_mode", "round_prefer_floor"))
    scales_at = 1 if n.attrs.get("_opset", 13) < 11 else 2
    sizes = opt_input(b, n, 3, None, None)
    if sizes is not None and np.size(sizes):
        out = tuple(int(v) for v in np.ravel(sizes))
    else:
        out = tuple(int(math.floor(d * s)) for d, s in zip((N, C, H, W), np.ravel(opt_input(b, n, scales_at))))
    if mode != "nearest" or out[:2] != (N, C):
        raise ModelError(f"Resize mode '{mode}' to {out}: only nearest-neighbour resizing of H and W is supported")
    if ctm == "asymmetric" and nearest == "floor":
        attrs = ResizeNearestAttrs(False, False)
    elif (
        ctm in ("half_pixel", "pytorch_half_pixel")
        and nearest.startswith("round_")
        and out[2] % H == 0
        and out[3] % W == 0
    ):
        attrs = ResizeNearestAttrs(False, True)
    else:
        raise ModelError(
            f"Resize coordinate mode '{ctm}' with nearest_mode '{nearest}' has no TFLite equivalent; "
            "use asymmetric/floor, or half_pixel with an integer upscale"
        )
    x = b.act(n.inputs[0])
    b.finish(n, OpKind.RESIZE_NEAREST_NEIGHBOR, (x.name,), attrs, out, x.quant)
