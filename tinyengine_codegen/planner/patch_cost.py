"""Estimated cycles of a patch stage: what running ops 0..split patch by patch costs beyond running them whole.

Each kernel has a measured cost under a cycle model (`kernel_cycles.json`, written by `python
bench/kernel_cycles.py` from QEMU runs): estimated cycles = a x work + b x output pixels, work being MACs, or
output elements for an op without MACs (pools, PAD, ADD, activations), and b the per-pixel overhead (pointers,
requantization, border tests) that makes small layers dearer per MAC. A schedule's extra cycles are, over the
stage ops, the region kernel's cost of the work and pixels the patches really compute (halos included) minus
the layer kernel's cost of the op. So the planner pays for slower region kernels, not only for recomputed
halos. A kernel missing from the table (a new kernel, before the table is measured again) costs what its
counterpart costs (the op's region kernel for a layer kernel, and the other way round), and one cycle per unit
when both are missing: then the budget counts extra work, as a MAC budget would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..ir.cost import op_macs
from ..ir.graph import Graph, Op

TABLE_PATH = Path(__file__).with_name("kernel_cycles.json")
DEFAULT_MODEL = "m4-trm-v1"  # the table used for cores that have no table of their own
CORE_MODEL = {"cortex-m4": "m4-trm-v1", "cortex-m7": "m7-dual-v1"}


def op_work(graph: Graph, op: Op) -> int:
    """The unit a kernel's cost is counted in: MACs, or output elements for an op without MACs."""
    return op_macs(graph, op) or graph.tensor(op.outputs[0]).size


Unit = tuple[float, float]  # estimated cycles per unit of work, per output pixel


@cache
def _tables() -> dict[str, dict[str, Unit]]:
    if not TABLE_PATH.exists():
        return {}
    data = json.loads(TABLE_PATH.read_text())
    return {
        model: {k: (float(v["cycles_per_unit"]), float(v.get("cycles_per_pixel", 0.0))) for k, v in rows.items()}
        for model, rows in data["models"].items()
    }


def kernel_table(target) -> dict[str, Unit]:
    """Estimated cycles per unit of work of each measured kernel for `target`'s core: its cycle model's table,
    else the M4 table on a core with the DSP extension (same kernels), else none (portable kernels)."""
    tables = _tables()
    model = getattr(target, "cycle_model", None) or CORE_MODEL.get(getattr(target, "core", ""))
    if model in tables:
        return tables[model]
    return tables.get(DEFAULT_MODEL, {}) if getattr(target, "dsp", False) else {}


def op_pixels(graph: Graph, op: Op) -> int:
    """Output pixels of an op (output elements over the last axis, channels)."""
    t = graph.tensor(op.outputs[0])
    return max(t.size // max(t.shape[-1], 1), 1)


@dataclass(frozen=True, slots=True)
class StageCost:
    """Per op: estimated cycles with its layer kernel, and its region kernel's cycles per output pixel of work.

    layer[i]: op i run whole; region_pixel[i]: one output pixel of op i computed by its region kernel;
    total: the model's estimated cycles without patches."""

    layer: tuple[float, ...]
    region_pixel: tuple[float, ...]
    total: float

    def floors(self, graph: Graph) -> tuple[float, ...]:
        """Per stage-able op: its extra cycles in a stage without halos (region kernel on exactly its output)."""
        return tuple(
            r * op_pixels(graph, op) - self.layer[i] for i, (op, r) in enumerate(zip(graph.ops, self.region_pixel))
        )

    def extra(self, start: int, pixels) -> float:
        """Estimated extra cycles of a stage of ops start, start + 1, .. whose k-th op computes pixels[k] output
        pixels over all patches."""
        return sum(self.region_pixel[start + k] * n - self.layer[start + k] for k, n in enumerate(pixels))


def stage_cost(graph: Graph, layer_kernels, region_kernels, table: dict[str, Unit]) -> StageCost:
    """StageCost of `graph` whose op i runs `layer_kernels[i]` whole and `region_kernels[i]` in a patch stage
    (region_kernels may be shorter than the graph: only the ops that can be in a stage)."""
    layer, region = [], []
    for i, op in enumerate(graph.ops):
        work, pixels = op_work(graph, op), op_pixels(graph, op)
        r_name = region_kernels[i] if i < len(region_kernels) else None
        # an unmeasured kernel costs what its counterpart costs (region vs layer), else one cycle per unit
        unit, per_pixel = table.get(layer_kernels[i] or "", table.get(r_name or "", (1.0, 0.0)))
        layer.append(unit * work + per_pixel * pixels)
        if i < len(region_kernels):
            r_unit, r_pixel = table.get(r_name or "", (unit, per_pixel))
            region.append(r_unit * work / pixels + r_pixel)
    return StageCost(tuple(layer), tuple(region), sum(layer))
