"""Instructions per inference of the four MLPerf Tiny models on qemu-m4 and qemu-m7 beside TFLM + CMSIS-NN.

Run from the repository root: python bench/mcu.py [--models ic vww kws ad] [--boards qemu-m4 qemu-m7] [--top 5]
Prints a rich table (and the slowest layers of each model) and writes bench/results/mcu.json.
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
    path = DATA / "reference" / "tflm_cmsisnn_qemu.json"
    return json.loads(path.read_text())["results"]["tflm_cmsisnn"] if path.is_file() else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--boards", nargs="+", default=list(CORE), choices=list(CORE))
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "mcu.json")
    args = ap.parse_args()
    tflm, console, rows = baseline(), Console(stderr=True), []
    table = Table(
        "model",
        "board",
        "instructions",
        "instr/MAC",
        "TFLM+CMSIS-NN",
        "ratio",
        "peak SRAM",
        "text",
        "data",
        "bss",
        "exact",
        title="generated C vs TFLM + CMSIS-NN (QEMU instruction counts)",
    )
    for m in args.models:
        graph = load_model(DATA / "mlperf_tiny" / f"{MODELS[m]}.tflite")
        for board in args.boards:
            r = bench_model(graph, board)
            ref = tflm.get(CORE[board], {}).get(m, {})
            base = ref.get("instructions_per_inference")
            rows.append(
                dict(
                    r.to_json(),
                    key=m,
                    tflm_cmsisnn=ref
                    and {
                        k: ref[k]
                        for k in (
                            "instructions_per_inference",
                            "text_bytes",
                            "data_bytes",
                            "bss_bytes",
                            "arena_used_bytes",
                        )
                    },
                    ratio=r.instructions / base if base else None,
                )
            )
            table.add_row(
                m,
                board,
                f"{r.instructions:,}",
                f"{r.instructions_per_mac:.2f}",
                f"{base:,}" if base else "-",
                f"{r.instructions / base:.3f}" if base else "-",
                f"{r.peak_sram_bytes:,}",
                f"{r.text_bytes:,}",
                f"{r.data_bytes:,}",
                f"{r.bss_bytes:,}",
                "yes" if r.output_matches_reference else "NO",
            )
            slow = Table("#", "op", "kernel", "instructions", "instr/MAC", title=f"{m} on {board}: slowest layers")
            for layer in sorted(r.layers, key=lambda row: -row.instructions)[: args.top]:
                slow.add_row(
                    str(layer.index),
                    layer.op,
                    layer.kernel,
                    f"{layer.instructions:,}",
                    f"{layer.instructions / layer.macs:.2f}" if layer.macs else "-",
                )
            console.print(slow)
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
