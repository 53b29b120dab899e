"""fold_constants: evaluate ops whose every input is a constant, so their outputs become constants."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..options import CompileOptions
from ..planner.model_plan import ModelPlan
from ..reference.ops import KERNELS
from ..reference.run import WEIGHTED_KINDS


def fold_constants(mp: ModelPlan, options: CompileOptions) -> ModelPlan:
    """Replace every op whose inputs are all constants (and whose output is not a graph output) by the constant
    it computes, with the NumPy reference kernel of the op (bit-exact with TFLite)."""
    graph = mp.graph
    tensors = dict(graph.tensors)
    kept = []
    for op in graph.ops:
        names = [n for n in op.inputs if n]
        foldable = (
            names
            and all(tensors[n].is_const for n in names)
            and not set(op.outputs) & set(graph.outputs)
            and len(op.outputs) == 1
        )
        if not foldable:
            kept.append(op)
            continue
        args = [tensors[n].data for n in (op.inputs[:1] if op.kind in WEIGHTED_KINDS else names)]
        value = np.asarray(KERNELS[op.kind](op, replace(graph, tensors=tensors), *args))
        value.setflags(write=False)
        tensors[op.outputs[0]] = replace(tensors[op.outputs[0]], data=value)
    if len(kept) == len(graph.ops):
        return mp
    return replace(mp, graph=replace(graph, tensors=tensors, ops=tuple(kept)))
