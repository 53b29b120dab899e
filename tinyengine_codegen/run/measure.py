"""Measure a model on a virtual board: exact instructions per inference and per layer, code size, peak SRAM.

Used by `tinyml bench` and bench/mcu.py; returns data, prints nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..ir.cost import op_macs
from ..ir.graph import Graph
from ..options import CompileOptions


@dataclass(frozen=True, slots=True)
class LayerCount:
    index: int
    name: str
    op: str
    kernel: str
    instructions: int
    macs: int


@dataclass(frozen=True, slots=True)
class McuBench:
    """instructions: executed by one inference (QEMU, exact); peak_sram_bytes: static RAM (data + bss, which
    holds the arena); text/data/bss: the firmware's sections; output_matches_reference: C output == numpy."""

    model: str
    board: str
    instructions: int
    macs: int
    instructions_per_mac: float
    text_bytes: int
    data_bytes: int
    bss_bytes: int
    arena_bytes: int
    peak_sram_bytes: int
    output_matches_reference: bool
    layers: tuple[LayerCount, ...]

    def to_json(self) -> dict:
        return asdict(self)


def lcg_input(size: int, seed: int = 12345) -> np.ndarray:
    """The MLPerf-baseline test input: byte i = (int8)(x_i >> 24), x_i = x_{i-1} * 1664525 + 1013904223."""
    x, out = seed, np.empty(size, np.int8)
    for i in range(size):
        x = (x * 1664525 + 1013904223) & 0xFFFFFFFF
        out[i] = np.uint8(x >> 24).view(np.int8)
    return out


def bench_model(graph: Graph, board: str, x: np.ndarray | None = None, *, patches: str = "off") -> McuBench:
    """Generate, build and run `graph` on a virtual board once, with instruction counting."""
    from ..reference.run import run_graph
    from ..runner import run_model

    t = graph.tensors[graph.inputs[0]]
    x = lcg_input(t.size).reshape(t.shape) if x is None else np.asarray(x).reshape(t.shape)
    res = run_model(graph, x, CompileOptions(target=board, patches=patches), count=True)
    ref = run_graph(graph, [x])[0]
    layers = tuple(
        LayerCount(i, op.name, op.kind.value, k, n, op_macs(graph, op))
        for i, (op, k, n) in enumerate(zip(graph.ops, res.kernels, res.layer_instructions))
    )
    macs = sum(layer.macs for layer in layers)
    return McuBench(
        graph.name,
        board,
        int(res.instructions),
        macs,
        res.instructions / max(macs, 1),
        res.text_bytes,
        res.data_bytes,
        res.bss_bytes,
        res.arena_bytes,
        res.data_bytes + res.bss_bytes,
        bool(np.array_equal(ref, res.output)),
        layers,
    )
