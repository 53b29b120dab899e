"""Kernel spec types: what every kernel family module builds on. Imports no kernel family.

A KernelSpec names its template (templates/kernels/<name>.c.j2), states its precondition (`matches`), declares the
scratch bytes the planner must reserve, and builds the template context: every number the template prints.
Families of specs live in the family modules (conv.py, depthwise.py, cortexm_*.py, ...); the table that orders
them and picks one per op is kernels/registry.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InternalError
from ..ir.graph import Graph, Op
from ..ir.ops import INPLACE_ELEMENTWISE_KINDS, StridedSliceAttrs
from ..target import HOST as HOST
from ..target import Target

# Kernel predicates take the compilation target (target.Target); the name stays for the kernel modules.
TargetLike = Target


@dataclass
class WeightTable:
    """Constant arrays of one generated model, collected while kernels are bound (one table per generate call)."""

    prefix: str
    entries: list[tuple[str, str, np.ndarray]] = field(default_factory=list)  # (symbol, C type, values)
    _by_key: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, values: np.ndarray) -> str:
        """The C symbol of `values` (stored once per key); int8 data becomes a string literal in weights.c."""
        if key in self._by_key:
            return self._by_key[key]
        ctype = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t", "float32": "float"}.get(
            str(values.dtype)
        )
        if ctype is None:
            raise InternalError(f"constant '{key}' has dtype {values.dtype}, which has no C array type here")
        symbol = f"{self.prefix}_w{len(self.entries)}"
        self.entries.append((symbol, ctype, np.ascontiguousarray(values).reshape(-1)))
        self._by_key[key] = symbol
        return symbol


@dataclass(frozen=True)
class Binding:
    """Where one op's operands live: C parameter names of its activations, symbols of its constants, offsets."""

    index: int
    fn: str
    graph: Graph
    weights: WeightTable
    offsets: Mapping[str, int]  # arena offset of every activation operand of this op
    scratch_offset: int | None = None

    def operand(self, op: Op, j: int) -> str:
        """C expression for input j of `op`: a parameter `in<k>` for activations, a weights symbol for constants."""
        name = op.inputs[j]
        t = self.graph.tensor(name)
        if t.is_const:
            return self.weights.add(name, np.asarray(t.data))
        return f"in{activation_inputs(self.graph, op).index(name)}"

    def const(self, name: str) -> str:
        return self.weights.add(name, np.asarray(self.graph.tensor(name).data))


def activation_inputs(graph: Graph, op: Op) -> list[str]:
    """The distinct non-constant inputs of `op`, in operand order: the layer function's `in<k>` parameters."""
    out: list[str] = []
    for name in op.inputs:
        if name and not graph.tensor(name).is_const and name not in out:
            out.append(name)
    return out


Context = dict[str, Any]


@dataclass(frozen=True)
class KernelSpec:
    """One C kernel variant. `inplace=True` marks a variant written to overwrite its input with its output
    (the layer gets the same arena offset for both); such a variant is chosen only for ops the memory plan
    makes in place, never by `select`."""

    name: str  # template: templates/kernels/<name>.c.j2
    matches: Callable[[Op, Graph, TargetLike], bool]
    scratch_bytes: Callable[[Op, Graph], int]
    context: Callable[[Op, Graph, Binding], Context]
    inplace: bool = False


def always(op: Op, graph: Graph, target: TargetLike) -> bool:
    return True


def no_scratch(op: Op, graph: Graph) -> int:
    return 0


def may_run_in_place(spec: KernelSpec, op: Op) -> bool:
    """True when `spec` stays correct with its output at its (overwritten) input's offset."""
    if isinstance(op.attrs, StridedSliceAttrs):  # the gather reads element f(i) >= i before writing element i
        return min(op.attrs.strides) > 0
    return spec.inplace or op.kind in INPLACE_ELEMENTWISE_KINDS
