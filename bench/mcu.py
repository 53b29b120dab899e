"""Estimated cycles and exact instructions per inference of the four MLPerf Tiny models on qemu-m4 and qemu-m7
beside TFLM + CMSIS-NN.

Run from the repository root: python bench/mcu.py [--models ic vww kws ad] [--boards qemu-m4 qemu-m7] [--top 5]
For each model and board (default options, as `tinyml compile` builds it): instructions (exact, QEMU), estimated
cycles (the core's cycle model, docs/cycle_model.md), ms at 120 MHz and at each real board's clock, deployable
flash and peak SRAM, beside TFLM + CMSIS-NN's figures (../shared/data/reference/: instructions and flash on both
cores, estimated cycles under m4-trm-v1 on the M4), and the slowest layers. Writes bench/results/mcu.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from tinyengine_codegen.model_io import load_model  # noqa: E402
from tinyengine_codegen.run.measure import bench_model  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
MODELS = {"ic": "pretrainedResnet_quant", "vww": "vww_96_int8", "kws": "kws_ref_model", "ad": "ad01_int8"}
CORE = {"qemu-m4": "m4", "qemu-m7": "m7"}


def baseline() -> dict:
    """TFLM + CMSIS-NN per core and model: instructions, flash (text + data), arena, and M4 estimated cycles."""
    out: dict = {}
    qemu, cyc = DATA / "reference" / "tflm_cmsisnn_qemu.json", DATA / "reference" / "tflm_cmsisnn_cycles.json"
    runs = json.loads(qemu.read_text())["results"]["tflm_cmsisnn"] if qemu.is_file() else {}
    cycles = json.loads(cyc.read_text()) if cyc.is_file() else {}
    for core, models in runs.items():
        for m, r in models.items():
            out.setdefault(core, {})[m] = {
                "instructions": r["instructions_per_inference"],
                "flash_bytes": r["text_bytes"] + r["data_bytes"],
                "arena_bytes": r["arena_used_bytes"],
                "cycles": cycles.get(core, {}).get(m, {}).get("cycles_m4_trm_v1"),
            }
    return out


def _num(v, fmt: str = ",") -> str:
    return "-" if v is None else format(v, fmt)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--boards", nargs="+", default=list(CORE), choices=list(CORE))
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "mcu.json")
    args = ap.parse_args()
    tflm, console, rows = baseline(), Console(stderr=True), []
    table = Table(
        *("model", "board", "est. cycles", "TFLM cycles", "ratio", "ms @120MHz", "ms @board clocks"),
        *("instructions", "TFLM instr.", "flash B", "TFLM flash B", "peak SRAM B", "TFLM arena B", "exact"),
        title="generated C vs TFLM + CMSIS-NN (QEMU; estimated cycles, docs/cycle_model.md)",
    )
    for m in args.models:
        graph = load_model(DATA / "mlperf_tiny" / f"{MODELS[m]}.tflite")
        for board in args.boards:
            r = bench_model(graph, board)
            ref = tflm.get(CORE[board], {}).get(m, {})
            ratio = r.cycles / ref["cycles"] if r.cycles and ref.get("cycles") else None
            ms120 = r.cycles / 120e3 if r.cycles else None
            rows.append(dict(r.to_json(), key=m, ms_at_120mhz=ms120, tflm_cmsisnn=ref, cycle_ratio=ratio))
            clocks = ", ".join(f"{b} {ms:.1f}" for b, ms in r.ms_at_clock.items())
            table.add_row(
                *(m, board, _num(r.cycles), _num(ref.get("cycles")), _num(ratio, ".3f"), _num(ms120, ".1f"), clocks),
                *(f"{r.instructions:,}", _num(ref.get("instructions")), f"{r.flash_bytes:,}"),
                *(_num(ref.get("flash_bytes")), f"{r.peak_sram_bytes:,}", _num(ref.get("arena_bytes"))),
                "yes" if r.output_matches_reference else "NO",
            )
            slow = Table("#", "op", "kernel", "est. cycles", "cyc/MAC", "instr/MAC", title=f"{m} on {board}: slowest")
            for layer in sorted(r.layers, key=lambda row: -(row.cycles or row.instructions))[: args.top]:
                slow.add_row(
                    str(layer.index),
                    layer.op,
                    layer.kernel,
                    _num(layer.cycles),
                    f"{layer.cycles / layer.macs:.2f}" if layer.macs and layer.cycles is not None else "-",
                    f"{layer.instructions / layer.macs:.2f}" if layer.macs else "-",
                )
            console.print(slow)
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
