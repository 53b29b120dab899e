"""The int8 graph IR: frozen tensors, operators and graphs, shared by every importer, pass, planner and emitter.

Tensors are referred to by their stable name (the name in the model file, made unique at import). A graph is
changed by building a new one with `dataclasses.replace`; nothing here is mutated after construction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .ops import OpAttrs, OpKind

DTYPE_BYTES = {"int8": 1, "uint8": 1, "int16": 2, "int32": 4, "int64": 8, "float32": 4, "bool": 1}


@dataclass(frozen=True, slots=True)
class QuantParams:
    """Affine quantization: real = scale * (q - zero_point). Per-channel when len(scale) > 1, along `axis`."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass(frozen=True, slots=True)
class Tensor:
    """A tensor: an activation (data is None) or a constant (data holds its values, read-only)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    quant: QuantParams | None = None
    data: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * DTYPE_BYTES[self.dtype]

    def scale(self, channel: int = 0) -> float:
        assert self.quant is not None, f"tensor '{self.name}' is not quantized"
        return self.quant.scale[channel if self.quant.per_channel else 0]

    @property
    def zero_point(self) -> int:
        assert self.quant is not None, f"tensor '{self.name}' is not quantized"
        return self.quant.zero_point[0]


@dataclass(frozen=True, slots=True)
class Op:
    """One operator. `inputs` may hold "" for an absent optional operand (a conv without bias)."""

    name: str
    kind: OpKind
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: OpAttrs

    def __hash__(self) -> int:
        # equal ops have equal names and outputs; hashing only those keeps per-op memo lookups cheap (the
        # generated hash would walk the attributes on every lookup)
        return hash((self.name, self.outputs))


@dataclass(frozen=True, eq=False)
class Graph:
    """A model: tensors by name, operators in execution order, graph inputs and outputs."""

    name: str
    tensors: Mapping[str, Tensor]
    ops: tuple[Op, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    _producer: Mapping[str, int] = field(init=False, repr=False)
    _consumers: Mapping[str, tuple[int, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tensors", MappingProxyType(dict(self.tensors)))
        producer: dict[str, int] = {}
        consumers: dict[str, list[int]] = {}
        for i, op in enumerate(self.ops):
            for t in op.outputs:
                producer[t] = i
            for t in op.inputs:
                if t:
                    consumers.setdefault(t, []).append(i)
        object.__setattr__(self, "_producer", MappingProxyType(producer))
        object.__setattr__(self, "_consumers", MappingProxyType({k: tuple(v) for k, v in consumers.items()}))

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]

    def producer(self, name: str) -> int | None:
        """Index of the op that writes `name`, or None for graph inputs and constants."""
        return self._producer.get(name)

    def consumers(self, name: str) -> tuple[int, ...]:
        return self._consumers.get(name, ())

    def last_use(self, name: str) -> int:
        """Index of the last op that reads `name`; graph outputs live past the last op (len(ops))."""
        if name in self.outputs:
            return len(self.ops)
        uses = self.consumers(name)
        if uses:
            return uses[-1]
        p = self.producer(name)
        return -1 if p is None else p

    def op_inputs(self, op: Op) -> tuple[Tensor | None, ...]:
        return tuple(self.tensors[t] if t else None for t in op.inputs)

    def activations(self) -> tuple[Tensor, ...]:
        """Non-constant tensors in first-appearance order (graph inputs first)."""
        seen: dict[str, Tensor] = {n: self.tensors[n] for n in self.inputs}
        for op in self.ops:
            for t in op.inputs + op.outputs:
                if t and t not in seen and not self.tensors[t].is_const:
                    seen[t] = self.tensors[t]
        return tuple(seen.values())

    def constants(self) -> tuple[Tensor, ...]:
        seen: dict[str, Tensor] = {}
        for op in self.ops:
            for t in op.inputs:
                if t and t not in seen and self.tensors[t].is_const:
                    seen[t] = self.tensors[t]
        return tuple(seen.values())
