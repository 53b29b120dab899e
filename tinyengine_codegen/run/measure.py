"""Measure a model on a virtual board: exact instructions and estimated cycles per inference and per layer,
flash of the deployable firmware, code size, peak SRAM.

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
    cycles: int | None  # under McuBench.cycle_model


@dataclass(frozen=True, slots=True)
class McuBench:
    """instructions: executed by one inference (QEMU, exact); cycles: estimated under cycle_model (the board
    core's model, docs/cycle_model.md; None for a core without one); ms: cycles at the board's clock;
    ms_at_clock: the same at the clock of every board with this core; flash_bytes: text + data of the deployable
    firmware (no embedded test input, no markers); peak_sram_bytes: static RAM (data + bss, which holds the
    arena); text/data/bss: the measured firmware's sections; output_matches_reference: C output == numpy."""

    model: str
    board: str
    instructions: int
    macs: int
    instructions_per_mac: float
    cycle_model: str | None
    cycles: int | None
    ms: float | None
    ms_at_clock: dict[str, float]
    flash_bytes: int
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


def as_model_input(graph: Graph, name: str, q: np.ndarray) -> np.ndarray:
    """Benchmark bytes as input `name`: int8 as they are; for a float32 input, the float values that the model's
    QUANTIZE of that input maps back onto those bytes (its scale and zero point)."""
    if graph.tensors[name].dtype != "float32":
        return q
    quant = next(
        (
            graph.tensors[graph.ops[i].outputs[0]].quant
            for i in graph.consumers(name)
            if graph.ops[i].kind.value == "QUANTIZE"
        ),
        None,
    )
    scale, zp = (quant.scale[0], quant.zero_point[0]) if quant is not None else (1.0 / 128.0, 0)
    return ((q.astype(np.float64) - zp) * scale).astype(np.float32)


def bench_model(
    graph: Graph, board: str, x: np.ndarray | None = None, *, patches: str = "auto", ignore_fit: bool = False
) -> McuBench:
    """Generate, build and run `graph` on a virtual board once, with instruction counting and cycle models.
    patches: the default of `compile` and `simulate` (CompileOptions), so the figures are the default build's."""
    from ..boards import list_boards
    from ..reference.run import run_graph
    from ..runner import run_model

    ts = [graph.tensors[n] for n in graph.inputs]
    if x is None:  # one LCG stream over every input, input 0 first
        stream = lcg_input(sum(t.size for t in ts))
        bounds = np.cumsum([0] + [t.size for t in ts])
        xs = [
            as_model_input(graph, t.name, stream[a:b].reshape(t.shape)) for a, b, t in zip(bounds[:-1], bounds[1:], ts)
        ]
    else:
        xs = list(x) if isinstance(x, (list, tuple)) else [np.asarray(x).reshape(ts[0].shape)]
    options = CompileOptions(target=board, patches=patches)
    res = run_model(graph, xs, options, count=True, flash=True, ignore_fit=ignore_fit)
    refs = run_graph(graph, xs)
    outs = res.outputs or (res.output,)
    spec = options.target
    model = spec.cycle_model
    cycles = res.cycles.get(model) if model else None
    per_layer = res.layer_cycles.get(model, ()) if model else ()
    layers = tuple(
        LayerCount(i, op.name, op.kind.value, k, n, op_macs(graph, op), per_layer[i] if per_layer else None)
        for i, (op, k, n) in enumerate(zip(graph.ops, res.kernels, res.layer_instructions))
    )
    macs = sum(layer.macs for layer in layers)
    clocks = {b.id: b.clock_mhz for b in list_boards() if b.core == spec.core}
    return McuBench(
        graph.name,
        board,
        int(res.instructions),
        macs,
        res.instructions / max(macs, 1),
        model,
        cycles,
        cycles / (spec.clock_mhz * 1e3) if cycles is not None else None,
        {b: cycles / (mhz * 1e3) for b, mhz in sorted(clocks.items())} if cycles is not None else {},
        int(res.flash_bytes),
        res.text_bytes,
        res.data_bytes,
        res.bss_bytes,
        res.arena_bytes,
        res.data_bytes + res.bss_bytes,
        len(refs) == len(outs) and all(np.array_equal(r, y) for r, y in zip(refs, outs)),
        layers,
    )
