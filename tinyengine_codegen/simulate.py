"""Simulate a model on a board without running it: the exact arena of the plan the code generator uses, the
exact flash of the firmware, whether both fit, and per-layer memory rows.

peak SRAM is exact: it is `arena_bytes` of `plan_model`'s plan (in-place ops, kernel scratch, patch stage).
flash is exact (flash="exact", the default, with the Arm toolchain installed): the C generated from that same
plan, compiled and linked with the firmware runtime for the board (build/flash_size.py, the figure `tinyml bench`
reports as flash_bytes). flash="estimate" (or no toolchain) gives the fast estimate instead: weights (every
constant tensor) + requantization tables + a conservative per-layer code size for each operator kind.
plan_seconds is the CPU time of the planning itself (`plan_model` on an imported model, in the calling thread:
module loading and time the OS gives other processes are not in it); plan_wall_seconds is the wall-clock time of
the same call.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

from .build.flash_size import FlashSize
from .ir.cost import graph_macs, op_macs, weight_bytes
from .ir.graph import Graph
from .ir.ops import OpKind
from .kernels import registry  # noqa: F401  (loaded here: module loading is not part of plan_seconds)
from .options import CompileOptions
from .passes import ModelPlan, plan_model
from .planner.report import op_rows
from .target import HOST

# Conservative Thumb-2 (-Os) bytes of one specialised layer function and its call, by operator kind.
CODE_BYTES_PER_LAYER = {
    OpKind.CONV_2D: 1400,
    OpKind.DEPTHWISE_CONV_2D: 1200,
    OpKind.FULLY_CONNECTED: 700,
    OpKind.ADD: 500,
    OpKind.MUL: 500,
    OpKind.AVERAGE_POOL_2D: 600,
    OpKind.MAX_POOL_2D: 600,
    OpKind.MEAN: 700,
    OpKind.SOFTMAX: 1500,
    OpKind.LOGISTIC: 1000,
    OpKind.HARD_SWISH: 900,
    OpKind.RELU: 300,
    OpKind.RELU6: 300,
    OpKind.PAD: 500,
    OpKind.RESHAPE: 200,
    OpKind.CONCATENATION: 500,
    OpKind.TRANSPOSE: 600,
    OpKind.STRIDED_SLICE: 600,
    OpKind.RESIZE_NEAREST_NEIGHBOR: 600,
    OpKind.QUANTIZE: 500,
    OpKind.DEQUANTIZE: 500,
}
RUNTIME_CODE_BYTES = 2048  # init/invoke, the I/O API, the requantization helpers
PATCH_LOOP_CODE_BYTES = 1024  # the patch loop of a patch stage
REGION_ROW_BYTES = 40  # one tinyml_region_t: a stage op's geometry in one patch
_CHANNEL_TABLES = frozenset({OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.FULLY_CONNECTED})


@dataclass(frozen=True, slots=True)
class LayerRow:
    index: int
    name: str
    op: str
    output_shape: tuple[int, ...]
    kernel: str | None
    macs: int
    live_bytes: int
    high_water: int
    scratch_bytes: int
    in_patch_stage: bool


@dataclass(frozen=True, slots=True)
class PatchSummary:
    split_op: int
    split_layer: str
    patches: int  # p: the stage runs on p x p patches
    stage_ops: int
    extra_macs: int
    extra_mac_fraction: float
    patch_buffer_bytes: int  # bytes of all per-patch buffers together
    peak_without_patches: int
    extra_cycle_fraction: float  # the planner's estimate (planner/patch_cost.py), of the model's estimated cycles


@dataclass(frozen=True, slots=True)
class FlashEstimate:
    weight_bytes: int
    table_bytes: int
    code_bytes_estimate: int

    @property
    def total(self) -> int:
        return self.weight_bytes + self.table_bytes + self.code_bytes_estimate


@dataclass(frozen=True)
class SimulationResult:
    model: str
    board: str
    sram_limit: int
    flash_limit: int
    peak_sram_bytes: int
    lower_bound: int
    peak_layer: str
    flash: FlashEstimate
    macs: int
    layers: tuple[LayerRow, ...]
    patches: PatchSummary | None
    notes: tuple[str, ...]
    model_plan: ModelPlan = field(compare=False, repr=False)
    options: CompileOptions = field(default=CompileOptions(), compare=False, repr=False)
    target: object = field(default=None, compare=False, repr=False)
    flash_exact: FlashSize | None = None  # the linked firmware's text + data; None: only the estimate
    plan_seconds: float = field(default=0.0, compare=False)  # CPU seconds of plan_model in this thread
    plan_wall_seconds: float = field(default=0.0, compare=False)

    @property
    def arena_bytes(self) -> int:
        return self.model_plan.plan.arena_bytes

    @property
    def flash_bytes(self) -> int:
        return self.flash_exact.total if self.flash_exact is not None else self.flash.total

    @property
    def sram_margin_bytes(self) -> int:
        return self.sram_limit - self.peak_sram_bytes

    @property
    def flash_margin_bytes(self) -> int:
        return self.flash_limit - self.flash_bytes

    @property
    def fits(self) -> bool:
        return self.sram_margin_bytes >= 0 and self.flash_margin_bytes >= 0

    def to_dict(self) -> dict:
        """Plain JSON-ready data (the CLI's --json)."""
        return {
            "model": self.model,
            "board": self.board,
            "peak_sram_bytes": self.peak_sram_bytes,
            "arena_bytes": self.arena_bytes,
            "lower_bound_bytes": self.lower_bound,
            "peak_layer": self.peak_layer,
            "sram_limit_bytes": self.sram_limit,
            "sram_margin_bytes": self.sram_margin_bytes,
            "flash_bytes": self.flash_bytes,
            "flash_is_estimate": self.flash_exact is None,
            "flash": {**asdict(self.flash), "total": self.flash.total},
            "flash_exact": None
            if self.flash_exact is None
            else {**asdict(self.flash_exact), "total": self.flash_bytes},
            "plan_seconds": self.plan_seconds,
            "plan_wall_seconds": self.plan_wall_seconds,
            "flash_limit_bytes": self.flash_limit,
            "flash_margin_bytes": self.flash_margin_bytes,
            "fits": self.fits,
            "macs": self.macs,
            "inplace_ops": sorted(self.model_plan.inplace),
            "patches": asdict(self.patches) if self.patches else None,
            "layers": [dict(asdict(r), output_shape=list(r.output_shape)) for r in self.layers],
            "notes": list(self.notes),
        }


def flash_estimate(graph: Graph, mp: ModelPlan) -> FlashEstimate:
    """Weights and tables exactly, code by the conservative per-layer table above."""
    tables = sum(8 * graph.tensor(op.outputs[0]).shape[-1] for op in graph.ops if op.kind in _CHANNEL_TABLES)
    code = RUNTIME_CODE_BYTES + sum(CODE_BYTES_PER_LAYER.get(op.kind, 800) for op in graph.ops)
    if mp.patches is not None:
        code += PATCH_LOOP_CODE_BYTES + REGION_ROW_BYTES * len(mp.patches.patches) * len(mp.patches.stage)
    return FlashEstimate(weight_bytes(graph), tables, code)


def exact_flash(mp: ModelPlan, board, options: CompileOptions) -> FlashSize | None:
    """Text + data of the firmware generated from `mp` for `board`; None when it cannot be built here (no Arm
    toolchain, or a board object without a memory map)."""
    import tempfile
    from pathlib import Path

    from .build.flash_size import deployable_size, toolchain_available
    from .compile import compile_model
    from .emit.project import write_folder

    if not toolchain_available() or not hasattr(board, "memory"):
        return None
    project = compile_model(mp.graph, options, plan=mp)
    with tempfile.TemporaryDirectory(prefix="tinyml-simflash-") as tmp:
        write_folder(project.files, Path(tmp) / "model")
        return deployable_size(Path(tmp) / "model", board)


def simulate(
    graph: Graph, board, options: CompileOptions = CompileOptions(), *, flash: str = "exact"
) -> SimulationResult:
    """Plan `graph` for `board` (anything with id, sram_bytes, flash_bytes and dsp) and report the fit.
    flash: "exact" (build the generated C for the board when the toolchain is here) or "estimate" (fast)."""
    if options.target.name != board.id:
        options = replace(options, target=board)  # the board simulated is the target planned for
    t0, c0 = time.perf_counter(), time.thread_time()
    mp = plan_model(graph, options)
    plan_seconds, plan_wall = time.thread_time() - c0, time.perf_counter() - t0
    g, plan = mp.graph, mp.plan
    stage = set(mp.patches.stage) if mp.patches else set()
    layers = tuple(
        LayerRow(
            r.index,
            r.name,
            r.kind,
            tuple(r.output_shape),
            mp.kernel_names[r.index],
            op_macs(g, g.ops[r.index]),
            r.live_bytes,
            r.high_water,
            r.scratch_bytes,
            r.index in stage,
        )
        for r in op_rows(g, plan)
    )
    patches = None
    if mp.patches is not None:
        s = mp.patches
        patches = PatchSummary(
            s.split_op,
            g.ops[s.split_op].name,
            s.p,
            len(s.stage),
            s.extra_macs,
            s.extra_mac_fraction,
            sum(s.buffer_bytes.values()),
            mp.plain.arena_bytes,
            s.extra_cycle_fraction,
        )
    exact = exact_flash(mp, board, options) if flash == "exact" else None
    notes = mp.notes
    if exact is None:
        notes += ("flash code size is an estimate (per-layer table); weights and tables are exact",)
    macs = graph_macs(g) + (mp.patches.extra_macs if mp.patches else 0)
    peak = next((r.name for r in layers if r.high_water == plan.arena_bytes), "")
    return SimulationResult(
        g.name,
        board.id,
        board.sram_bytes,
        board.flash_bytes,
        plan.arena_bytes,
        plan.lower_bound,
        peak,
        flash_estimate(g, mp),
        macs,
        layers,
        patches,
        notes,
        mp,
        options,
        board,
        exact,
        plan_seconds,
        plan_wall,
    )


@dataclass(frozen=True, slots=True)
class RunCheck:
    """`simulate --run`: the generated C built for the host and run on one seeded random input, against the
    NumPy reference executor; with a patch stage also the NumPy patch-by-patch executor against it."""

    seed: int
    c_plan: str  # which plan the C was generated with
    c_arena_bytes: int
    c_mismatches: int  # output elements where the C differs from the reference
    patched_reference_mismatches: int | None

    @property
    def ok(self) -> bool:
        return self.c_mismatches == 0 and not self.patched_reference_mismatches


def _portable(mp: ModelPlan) -> bool:
    """True when every kernel of the plan is portable C (it also matches the host target)."""
    return all(k is not None and k.spec.matches(op, mp.graph, HOST) for op, k in zip(mp.graph.ops, mp.kernels))


def check_run(result: SimulationResult, seed: int = 0, alignment: int = 4) -> RunCheck:
    """Generate, build and run the C of the simulated plan (patch stage included) on the host and compare it
    with the reference executor; with a patch stage also the NumPy patch-by-patch executor against it.
    The C is generated from the simulated ModelPlan itself (same op order, kernels, in-place ops, patch schedule
    and arena bytes). For a board with the DSP extension, whose SIMD kernels do not build for the host, the model
    is planned again with the same options for portable kernels (c_plan and c_arena_bytes say so)."""
    import tempfile
    from pathlib import Path

    import numpy as np

    from .build.host import build_host, run_host
    from .compile import compile_model
    from .emit.project import write_folder
    from .errors import InternalError
    from .reference.patched import run_patched
    from .reference.run import run_graph

    mp = result.model_plan
    g = mp.graph
    rng = np.random.default_rng(seed)
    xs = []
    for name in g.inputs:
        x_t = g.tensor(name)
        if x_t.dtype == "float32":
            xs.append(rng.normal(size=x_t.shape).astype(np.float32))
        else:
            info = np.iinfo(x_t.dtype)
            xs.append(rng.integers(info.min, info.max + 1, size=x_t.shape).astype(x_t.dtype))
    refs = run_graph(g, xs)
    patched_bad = None
    if mp.patches is not None:
        patched_bad = sum(int(np.sum(a != b)) for a, b in zip(run_patched(g, mp.patches, xs), refs))
    label = "model plan"
    if not _portable(mp):  # Cortex-M SIMD kernels do not build for the host: the same options, host kernels
        mp = plan_model(g, replace(result.options, target=HOST))
        label = "plan with portable kernels"
    label += f" ({mp.patches.p}x{mp.patches.p} patches)" if mp.patches is not None else ""
    project = compile_model(g, CompileOptions(alignment=alignment), plan=mp)
    if project.arena_bytes != mp.arena.arena_bytes or tuple(project.kernels) != mp.kernel_names:
        raise InternalError(
            f"the C uses {project.arena_bytes} arena bytes and kernels {project.kernels}; the plan "
            f"says {mp.arena.arena_bytes} and {mp.kernel_names}"
        )
    with tempfile.TemporaryDirectory(prefix="tinyml-simulate-") as tmp:
        write_folder(project.files, Path(tmp) / "model")
        ys = run_host(build_host(Path(tmp) / "model", Path(tmp) / "model.exe"), xs)
    bad = sum(int(np.sum(np.asarray(y).reshape(r.shape) != r)) for y, r in zip(ys, refs))
    return RunCheck(seed, label, project.arena_bytes, bad, patched_bad)
