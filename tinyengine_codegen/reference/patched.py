"""Execute a Graph with a PatchSchedule in NumPy: the patch stage patch by patch, the rest layer by layer.

Each stage op runs on exactly the regions the schedule names: its operands are cropped from their per-patch
buffers (or from the whole graph input), padded explicitly as TFLite pads (a convolution's input zero point,
-128 for max pooling, the output zero point for PAD), and handed to the ordinary reference kernel with VALID
padding. The result must equal `run_graph` bit for bit; that checks the schedule's regions and pads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from ..errors import InternalError, TinyMLError
from ..ir.graph import Graph, Op
from ..ir.ops import OpKind, PadAttrs, Padding
from ..planner.patches import Patch, PatchOp, PatchSchedule
from .ops import KERNELS
from .run import run_graph_all

_CONV = frozenset({OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D})
_POOL = frozenset({OpKind.MAX_POOL_2D, OpKind.AVERAGE_POOL_2D})


def run_patched(
    graph: Graph, schedule: PatchSchedule, inputs: Sequence[np.ndarray] | Mapping[str, np.ndarray]
) -> list[np.ndarray]:
    """Run `graph` with its first ops patch by patch; return its outputs in graph.outputs order."""
    given = _prologue(graph, schedule, _bind(graph, inputs))
    full = _stage(graph, schedule, given)
    tail_ops = graph.ops[schedule.split_op + 1 :]
    produced = {t for op in tail_ops for t in op.outputs}
    feeds = {schedule.split_tensor: full}
    for op in tail_ops:
        for t in op.inputs:
            if t and t not in produced and not graph.tensor(t).is_const and t not in feeds:
                if t not in given:
                    raise InternalError(
                        f"'{t}' is read after the patch stage but is neither a graph input nor the split output"
                    )
                feeds[t] = given[t]
    tail = Graph(graph.name + ":tail", graph.tensors, tail_ops, tuple(feeds), graph.outputs)
    env = run_graph_all(tail, feeds)
    return [env[name] if name in env else given[name] for name in graph.outputs]


def run_stage(
    graph: Graph, schedule: PatchSchedule, inputs: Sequence[np.ndarray] | Mapping[str, np.ndarray]
) -> np.ndarray:
    """Run only the patch stage; return the split op's whole output, assembled from the patches."""
    return _stage(graph, schedule, _prologue(graph, schedule, _bind(graph, inputs)))


def _prologue(graph: Graph, schedule: PatchSchedule, given: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`given` plus the outputs of the ops before the stage (run whole, layer by layer)."""
    if schedule.start == 0:
        return given
    ops = graph.ops[: schedule.start]
    outs = tuple(t for op in ops for t in op.outputs)
    env = run_graph_all(Graph(graph.name + ":prologue", graph.tensors, ops, graph.inputs, outs), given)
    return {**given, **{t: env[t] for t in outs}}


def _stage(graph: Graph, schedule: PatchSchedule, given: Mapping[str, np.ndarray]) -> np.ndarray:
    split = graph.tensor(schedule.split_tensor)
    full = np.zeros(split.shape, np.dtype(split.dtype))
    written = np.zeros(split.shape[:3], bool)
    for patch in schedule.patches:
        _run_patch(graph, schedule, patch, given, full)
        y0, y1, x0, x1 = patch.region(schedule.split_tensor)
        if written[:, y0:y1, x0:x1].any():
            raise InternalError(f"patch ({patch.row}, {patch.col}) writes split output pixels another patch wrote")
        written[:, y0:y1, x0:x1] = True
    if not written.all():
        raise InternalError(f"the patches leave {int((~written).sum())} pixels of '{split.name}' unwritten")
    return full


def _bind(graph: Graph, inputs) -> dict[str, np.ndarray]:
    if isinstance(inputs, np.ndarray):
        inputs = [inputs]
    if not isinstance(inputs, Mapping):
        if len(inputs) != len(graph.inputs):
            raise TinyMLError(
                f"graph '{graph.name}': {len(inputs)} input arrays given, the graph has "
                f"{len(graph.inputs)} ({list(graph.inputs)})"
            )
        inputs = dict(zip(graph.inputs, inputs))
    out = {}
    for name in graph.inputs:
        t = graph.tensor(name)
        arr = np.asarray(inputs[name])
        if arr.shape != t.shape:
            raise TinyMLError(f"graph '{graph.name}': input '{name}' has shape {arr.shape}, expected {t.shape}")
        out[name] = arr.astype(t.dtype)
    return out


def _run_patch(
    graph: Graph, schedule: PatchSchedule, patch: Patch, given: Mapping[str, np.ndarray], full: np.ndarray
) -> None:
    bufs: dict[str, np.ndarray] = {}
    for po in patch.ops:
        op = graph.ops[po.index]
        crops = [
            _crop(given[t] if t in given else bufs[t], r, origin)
            for t, r, origin in zip(po.inputs, po.in_regions, po.in_origins)
        ]
        y = _run_op(graph, op, po, crops)
        y0, y1, x0, x1 = po.out_region
        if y.shape[1:3] != (y1 - y0, x1 - x0):
            raise InternalError(
                f"patch ({patch.row}, {patch.col}) op {po.index} '{op.name}': computed "
                f"{y.shape[1:3]}, the schedule says {(y1 - y0, x1 - x0)}"
            )
        if op.outputs[0] == schedule.split_tensor:
            full[:, y0:y1, x0:x1, :] = y
        else:
            bufs[op.outputs[0]] = y


def _crop(src: np.ndarray, region: tuple[int, int, int, int], origin: tuple[int, int]) -> np.ndarray:
    y0, y1, x0, x1 = region
    oy, ox = origin
    return src[:, oy : oy + (y1 - y0), ox : ox + (x1 - x0), :]


def _run_op(graph: Graph, op: Op, po: PatchOp, crops: list[np.ndarray]) -> np.ndarray:
    """One stage op on its cropped operands, with the schedule's padding made explicit."""
    top, bottom, left, right = po.pads
    widths = ((0, 0), (top, bottom), (left, right), (0, 0))
    if op.kind is OpKind.PAD:
        return KERNELS[op.kind](replace(op, attrs=PadAttrs(widths)), graph, crops[0])
    if op.kind in _CONV or op.kind in _POOL:
        if op.kind is OpKind.AVERAGE_POOL_2D and any(po.pads):
            raise InternalError(f"'{op.name}': an average pool in a patch stage must not pad")
        value = -128 if op.kind is OpKind.MAX_POOL_2D else graph.tensor(op.inputs[0]).zero_point
        x = np.pad(crops[0], widths, constant_values=value) if any(po.pads) else crops[0]
        valid = {"padding": Padding.VALID} | ({"pads": None} if op.kind in _CONV else {})
        return KERNELS[op.kind](replace(op, attrs=replace(op.attrs, **valid)), graph, x)
    return KERNELS[op.kind](op, graph, *crops)
