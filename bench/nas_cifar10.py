"""TinyNAS on CIFAR-10 against the MLPerf Tiny ResNet-8 trained with the same recipe: one JSON and one table.

Reads two run folders (`tinyml search ... --out SEARCH` and `tinyml baseline resnet8 ... --out BASELINE`: each has
report.json and model.tflite), re-measures peak SRAM and flash of both models with the code generator's simulation
(the options of `tinyml simulate`), counts instructions per inference in QEMU when the Cortex-M toolchain is there,
copies the models to bench/results/nas_searched.tflite and bench/results/resnet8.tflite and writes
bench/results/nas_cifar10.json. Prints a markdown table for the README on stdout.

Run from the repository root: python bench/nas_cifar10.py SEARCH_DIR BASELINE_DIR [--board qemu-m4] [--gpu NAME]
[--no-qemu] [--results DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinyengine_codegen.boards import load_board  # noqa: E402
from tinyengine_codegen.errors import TinyMLError  # noqa: E402
from tinyengine_codegen.ir.cost import graph_macs  # noqa: E402
from tinyengine_codegen.model_io import load_model  # noqa: E402
from tinyengine_codegen.options import CompileOptions  # noqa: E402
from tinyengine_codegen.simulate import simulate  # noqa: E402

RESULTS = ROOT / "bench" / "results"
MODELS = {"searched": "nas_searched.tflite", "resnet8": "resnet8.tflite"}
FROM_REPORT = ("accuracy", "float_accuracy", "epochs", "train_images", "test_images")


def entry(run: Path, model: Path, board: str, qemu: bool) -> dict:
    """One model's row: the run's own accuracy numbers, SRAM/flash/MACs re-measured on the copied .tflite."""
    report = json.loads((run / "report.json").read_text())
    graph = load_model(model)
    sim = simulate(graph, load_board(board), CompileOptions())
    row = {k: report.get(k) for k in FROM_REPORT}
    row.update(
        peak_sram_bytes=sim.peak_sram_bytes,
        flash_bytes=sim.flash_bytes,
        macs=graph_macs(graph),
        board=board,
        wall_s=report.get("wall_s"),
        instructions=None,
    )
    if qemu:
        row.update(qemu_instructions(graph, board))
        row["estimated_ms"] = estimated_ms(graph)
    return row


LATENCY_BOARDS = {"qemu-m7": "nucleo-f746zg", "qemu-m4": "nucleo-l4r5zi"}  # core simulated -> board of that core


def estimated_ms(graph) -> dict:
    """Estimated ms of one inference on an STM32F746 (Cortex-M7, 216 MHz) and an STM32L4R5 (Cortex-M4, 120 MHz):
    instructions counted in QEMU, cycles from the core's cycle model (docs/cycle_model.md), at the board's clock;
    patch-based inference as `simulate` plans it."""
    from tinyengine_codegen.run.measure import bench_model

    out = {}
    for virtual, board in LATENCY_BOARDS.items():
        try:
            r = bench_model(graph, virtual, patches="auto")
        except (TinyMLError, OSError) as exc:
            out[board] = f"not measured: {exc}"
            continue
        out[board] = round(r.ms_at_clock[board], 2) if r.ms_at_clock.get(board) is not None else None
        out[f"{board}_cycle_model"] = r.cycle_model
    return out


def qemu_instructions(graph, board: str) -> dict:
    """Instructions of one inference in QEMU, or the reason they could not be counted."""
    from tinyengine_codegen.run.measure import bench_model

    try:
        r = bench_model(graph, board)
    except (TinyMLError, OSError) as exc:
        return {"instructions": None, "instructions_note": f"not measured: {exc}"}
    return {
        "instructions": r.instructions,
        "instructions_per_mac": round(r.instructions_per_mac, 3),
        "output_matches_reference": r.output_matches_reference,
    }


def table(result: dict) -> str:
    rows = [("", "searched (TinyNAS)", "ResNet-8 (MLPerf Tiny)")]
    fmt = {
        "accuracy": "{:.2%}",
        "float_accuracy": "{:.2%}",
        "peak_sram_bytes": "{:,}",
        "flash_bytes": "{:,}",
        "macs": "{:,}",
        "instructions": "{:,}",
        "epochs": "{}",
        "train_images": "{:,}",
    }
    for key, f in fmt.items():
        vals = [result[m].get(key) for m in MODELS]
        rows.append((key.replace("_", " "), *("-" if v is None else f.format(v) for v in vals)))
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|---|---:|---:|")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("search_dir", type=Path)
    ap.add_argument("baseline_dir", type=Path)
    ap.add_argument("--board", default="qemu-m4", help="board of the re-measured peak SRAM (the check uses qemu-m4)")
    ap.add_argument("--gpu", default=None, help="the GPU the runs trained on (default: from the search report)")
    ap.add_argument("--no-qemu", action="store_true", help="skip the QEMU instruction counts")
    ap.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON and the model copies")
    args = ap.parse_args()
    runs = {"searched": args.search_dir, "resnet8": args.baseline_dir}
    args.results.mkdir(parents=True, exist_ok=True)
    result: dict = {}
    for key, run in runs.items():
        if not (run / "report.json").is_file() or not (run / "model.tflite").is_file():
            sys.exit(f"{run}: needs report.json and model.tflite (a `tinyml search` / `tinyml baseline` run folder)")
        model = args.results / MODELS[key]
        shutil.copyfile(run / "model.tflite", model)
        result[key] = entry(run, model, args.board, not args.no_qemu)
        result[key]["model"] = model.name
    search = json.loads((args.search_dir / "report.json").read_text())
    result["search_wall_s"] = search.get("wall_s")
    result["gpu"] = args.gpu or search.get("hardware") or search.get("config", {}).get("device")
    for key in ("epoch_seconds", "predictor_spearman", "macs_spearman", "evolution_best", "random_best", "winner"):
        result[key] = search.get(key)
    result["search_quality"] = search.get("search_quality")
    result["distillation"] = search.get("distillation")
    result["sram_ratio"] = round(
        result["resnet8"]["peak_sram_bytes"] / max(1, result["searched"]["peak_sram_bytes"]), 3
    )
    out = args.results / "nas_cifar10.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
