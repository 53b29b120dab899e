"""`tinyml search` end to end: search for a board, export the int8 winner, measure it, write the run folder.

The memory constraint is the code generator's own simulation (`tinyengine_codegen.simulate`), with the same
options the generated C will use, so the reported peak SRAM is what the firmware gets. The int8 accuracy is
measured by running the exported .tflite, re-imported, through the bit-exact reference executor.
The run folder is written next to its final place and renamed at the end: nothing half-written on failure.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.ir.graph import Graph
from tinyengine_codegen.options import CompileOptions

from .evolution import Cost, Limits
from .search import SearchConfig, SearchResult, run_search
from .train.loop import device_name


@dataclass(frozen=True)
class BoardBudget:
    """The constraint of a search: a board, its SRAM/flash budget (may be tighter than the board) and options."""

    board_id: str
    sram_bytes: int
    flash_bytes: int
    options: CompileOptions


def board_budget(board_id: str, sram_bytes: int | None = None, flash_bytes: int | None = None) -> BoardBudget:
    from tinyengine_codegen.boards import load_board

    board = load_board(board_id)
    return BoardBudget(
        board.id,
        min(sram_bytes or board.sram_bytes, board.sram_bytes),
        min(flash_bytes or board.flash_bytes, board.flash_bytes),
        CompileOptions(target=board),
    )


class SimulatedCost:
    """Graph -> Cost from the code generator's exact memory plan (in-place and patches as compile uses them).
    Picklable, so candidates can be costed on worker processes."""

    def __init__(self, budget: BoardBudget):
        self.budget = budget
        self._board = None

    def __getstate__(self) -> dict:
        return {"budget": self.budget, "_board": None}

    def __call__(self, graph: Graph) -> Cost:
        from tinyengine_codegen.simulate import simulate

        if self._board is None:
            target = getattr(self.budget.options, "target", None)
            self._board = getattr(target, "board", None)
            if self._board is None:
                from tinyengine_codegen.boards import load_board

                self._board = load_board(self.budget.board_id)
        sim = simulate(graph, self._board, self.budget.options, flash="estimate")  # per candidate: no compile
        return Cost(sim.peak_sram_bytes, sim.flash_bytes, sim.macs)


def cost_function(budget: BoardBudget) -> Callable[[Graph], Cost]:
    """Graph -> Cost from the code generator's exact memory plan (see SimulatedCost)."""
    return SimulatedCost(budget)


def int8_accuracy(
    model_path: Path, images: np.ndarray, labels: np.ndarray, batch_size: int = 100, workers: int | None = None
) -> float:
    """Top-1 of the exported .tflite on uint8 NHWC images (int8 input = pixel - 128), by the reference executor.

    Batches of `batch_size` images run through the executor at once (bit-exact with single-image runs), on
    `workers` threads (default: one per CPU core, at most 16; NumPy releases the GIL inside its array loops).
    """
    from concurrent.futures import ThreadPoolExecutor

    from tinyengine_codegen.importers.tflite import load_tflite

    graph = load_tflite(model_path)
    chunks = [(i, min(i + batch_size, len(labels))) for i in range(0, len(labels), batch_size)]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = max(1, min(workers or min(cores, 16), len(chunks)))
    with ThreadPoolExecutor(workers) as pool:
        correct = sum(pool.map(lambda c: _count_correct(graph, images[c[0] : c[1]], labels[c[0] : c[1]]), chunks))
    return correct / max(len(labels), 1)


def _count_correct(graph: Graph, images: np.ndarray, labels: np.ndarray) -> int:
    from tinyengine_codegen.reference.run import run_graph

    logits = run_graph(graph, [(images.astype(np.int16) - 128).astype(np.int8)])[0]
    return int(np.sum(logits.reshape(len(labels), -1).argmax(axis=1) == labels))


def run_to_folder(
    cfg: SearchConfig,
    budget: BoardBudget,
    out: Path,
    progress: Callable[[dict], None] | None = None,
    *,
    force: bool = False,
) -> dict:
    """Search, export and measure; write model.tflite, report.json, search_log.jsonl and plots into `out`
    (emit.project.atomic_folder: a folder holding other files is refused unless `force`)."""
    from tinyengine_codegen.emit.project import atomic_folder
    from tinyengine_codegen.exporters.tflite import save_tflite
    from tinyengine_codegen.model_io import load_model
    from tinyengine_codegen.simulate import simulate

    log: list[dict] = []

    def note(event: dict) -> None:
        log.append({"t": round(time.time() - t0, 3), **event})
        if progress:
            progress(event)

    t0 = time.time()
    with atomic_folder(out, make_parents=True, command="search", force=force) as tmp:
        limits = Limits(budget.sram_bytes, budget.flash_bytes)
        context = {"board": budget.board_id, "options": budget.options.as_dict()}
        result = run_search(cfg, cost_function(budget), limits, note, context)
        model_path = save_tflite(result.graph, tmp / "model.tflite")
        note({"stage": "measure"})
        q_acc = int8_accuracy(model_path, result.test_images, result.test_labels)
        sim = simulate(load_model(model_path), budget.options.target.board, budget.options)
        notes = _plots(result, budget, tmp)
        report = _report(cfg, budget, result, q_acc, sim, time.time() - t0)
        report["notes"] = notes
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        lines = [*result.earlier_log, *({"run": result.run, **e} for e in log)]  # every run on the state folder
        (tmp / "search_log.jsonl").write_text("".join(json.dumps(e, default=str) + "\n" for e in lines))
    return report


def _report(cfg: SearchConfig, budget: BoardBudget, r: SearchResult, q_acc: float, sim, wall: float) -> dict:
    return {
        "board": budget.board_id,
        "sram_budget_bytes": budget.sram_bytes,
        "flash_budget_bytes": budget.flash_bytes,
        "dataset": cfg.dataset,
        "accuracy": q_acc,
        "float_accuracy": r.float_accuracy,
        "int8_accuracy_method": "exported model.tflite re-imported and run by the bit-exact reference executor",
        "test_images": int(len(r.test_labels)),
        "peak_sram_bytes": sim.peak_sram_bytes,
        "flash_bytes": sim.flash_bytes,
        "fits": bool(sim.fits),
        "macs": r.macs,
        "resolution": r.arch.resolution,
        "labels": list(r.class_names),
        "preprocessing": preprocessing(r),
        "width_multiplier": r.arch.width,
        "architecture": r.arch.describe(),
        "space_choice": {"width": r.space_choice.width, "resolution": r.space_choice.resolution},
        "epochs": training_epochs(cfg),
        "batch_size": cfg.batch_size,
        "epochs_trained": _epochs_trained(r),
        "resume": {"state": r.state or None, "run": r.run, "stages_resumed": list(r.resumed)},
        "epochs_detail": {
            "full": cfg.full_epochs,
            "per_elastic_phase": cfg.phase_epochs,
            "finetune": cfg.finetune_epochs,
        },
        "train_images": r.train_images,
        "epoch_seconds": r.epoch_seconds,
        **{k: r.quality[k] for k in QUALITY_KEYS if k in r.quality},
        "search_quality": {k: v for k, v in r.quality.items() if k not in QUALITY_KEYS},
        "distillation": _distillation(cfg),
        "hardware": device_name(cfg.device),
        "seed": r.seed,
        "timings_s": {k: round(v, 2) for k, v in r.timings.items()},
        "wall_s": round(wall, 2),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
    }


QUALITY_KEYS = ("predictor_spearman", "macs_spearman", "evolution_best", "random_best", "winner")


def _distillation(cfg: SearchConfig) -> str:
    scheme = (
        "elastic phases: sub-networks learn from the labels and a frozen copy of the full network (once-for-all)"
        if cfg.frozen_teacher
        else "elastic phases: in-place, sub-networks learn from the largest network trained in the same step"
    )
    return scheme + ("; fine-tuning distils from the full network" if cfg.finetune_distill else "")


def preprocessing(r: SearchResult) -> dict:
    """How a camera image becomes the model's int8 input (what `tinyml compile` puts in manifest.json)."""
    from .data import INPUT_SCALE, INPUT_ZERO_POINT

    h, w, c = (int(v) for v in r.test_images.shape[1:4])
    return {
        "layout": "NHWC",
        "height": h,
        "width": w,
        "channels": c,
        "resize": "bilinear to height x width",
        "int8": "pixel - 128 (uint8 pixel 0..255)",
        "scale": INPUT_SCALE,
        "zero_point": INPUT_ZERO_POINT,
    }


def _epochs_trained(r: SearchResult) -> dict:
    """Epochs actually trained behind the result, by every run on the state folder, and by this run alone."""
    sn, ft = r.epochs.get("supernet", {}), r.epochs.get("finetune", {})
    return {
        "supernet": sn.get("trained", 0),
        "finetune": ft.get("trained", 0),
        "total": sn.get("trained", 0) + ft.get("trained", 0),
        "this_run": sn.get("this_run", 0) + ft.get("this_run", 0),
    }


def training_epochs(cfg: SearchConfig) -> int:
    """Epochs of training behind the winner's weights: the supernet phases (progressive shrinking) plus fine-tuning."""
    from .search import SPACES, schedule

    return sum(p.epochs for p in schedule(SPACES[cfg.space](), cfg)) + cfg.finetune_epochs


def _plots(r: SearchResult, budget: BoardBudget, folder: Path) -> list[str]:
    """Write the search plots; returns notes (the plots are skipped, with a note, when matplotlib is missing)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return ["plots skipped: matplotlib is not installed"]
    from .viz import plot_pareto, plot_progress, plot_space_cdf

    plot_space_cdf(r.space_choice, folder / "space_cdf.png")
    plot_progress(r.evolution_history, folder / "search_progress.png")
    plot_pareto([(acc, c.peak_sram_bytes) for _, acc, c in r.measured], budget.sram_bytes, folder / "pareto.png")
    return []


def check_budget(budget: BoardBudget) -> None:
    if budget.sram_bytes <= 0 or budget.flash_bytes <= 0:
        raise TinyMLError(f"board '{budget.board_id}': the SRAM and flash budgets must be positive")
