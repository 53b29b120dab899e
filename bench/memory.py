"""Peak SRAM of the four MLPerf Tiny models: plain, in-place, patches, in-place + patches, beside the per-operator
lower bound and TFLM's arena (both from ../shared/data/reference/mlperf_tiny.json). Prints a table (rich) and
writes bench/results/memory.json (or --json PATH).

Run from the repository root: python bench/memory.py [--board qemu-m4] [--max-extra-cycles 0.1] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinyengine_codegen.boards import load_board  # noqa: E402
from tinyengine_codegen.importers.tflite import load_tflite  # noqa: E402
from tinyengine_codegen.options import CompileOptions  # noqa: E402
from tinyengine_codegen.simulate import simulate  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
MODELS = {
    "IC": "pretrainedResnet_quant.tflite",
    "VWW": "vww_96_int8.tflite",
    "KWS": "kws_ref_model.tflite",
    "AD": "ad01_int8.tflite",
}
VARIANTS = (
    ("plain", False, "off"),
    ("inplace", True, "off"),
    ("patches", False, "auto"),
    ("inplace+patches", True, "auto"),
)


def measure(key: str, board, ref: dict, max_extra_cycles: float) -> dict:
    graph = load_tflite(DATA / "mlperf_tiny" / MODELS[key])
    row = {
        "model": key,
        "file": MODELS[key],
        "ops": len(graph.ops),
        "per_op_lower_bound": ref.get("per_op_activation_lower_bound_bytes"),
        "tflm_arena_used": ref.get("tflm_arena_used_bytes"),
        "tflm_arena_head": ref.get("tflm_arena_head_bytes"),
    }
    for name, inplace, patches in VARIANTS:
        res = simulate(
            graph, board, CompileOptions(inplace=inplace, patches=patches, max_extra_cycles=max_extra_cycles)
        )
        row[name] = res.peak_sram_bytes
        if res.patches is not None:
            row[f"{name}_schedule"] = {
                "split_op": res.patches.split_op,
                "p": res.patches.patches,
                "extra_macs": res.patches.extra_macs,
                "extra_mac_fraction": round(res.patches.extra_mac_fraction, 4),
                "extra_cycle_fraction": round(res.patches.extra_cycle_fraction, 4),
            }
    best = min(row[name] for name, _, _ in VARIANTS)
    row["best"] = best
    row["tflm_over_best"] = round(row["tflm_arena_used"] / best, 3) if row["tflm_arena_used"] else None
    return row


def _table(rows: list[dict], board_id: str):
    from rich.table import Table

    table = Table(title=f"peak SRAM (bytes) of the MLPerf Tiny models, planned for {board_id}")
    for col in (
        "model",
        "per-op bound",
        "TFLM arena",
        "plain",
        "in-place",
        "patches",
        "in-place+patches",
        "patch schedule",
        "TFLM / best",
    ):
        table.add_column(col, justify="left" if col in ("model", "patch schedule") else "right")
    for r in rows:
        sched = r.get("inplace+patches_schedule")
        text = (
            f"{sched['p']}x{sched['p']} to op {sched['split_op']}, +{sched['extra_mac_fraction']:.1%} MACs, "
            f"+{sched['extra_cycle_fraction']:.1%} est. cycles"
            if sched
            else "none lowers the peak"
        )
        table.add_row(
            r["model"],
            f"{r['per_op_lower_bound']:,}",
            f"{r['tflm_arena_used']:,}",
            f"{r['plain']:,}",
            f"{r['inplace']:,}",
            f"{r['patches']:,}",
            f"{r['inplace+patches']:,}",
            text,
            f"{r['tflm_over_best']:.2f}x",
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--board", default="qemu-m4")
    parser.add_argument("--max-extra-cycles", type=float, default=0.10)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "memory.json")
    args = parser.parse_args()
    ref_path = DATA / "reference" / "mlperf_tiny.json"
    if not ref_path.exists():
        sys.exit(f"{ref_path} not found: the MLPerf Tiny models and reference figures live in ../shared/data")
    ref = json.loads(ref_path.read_text())
    board = load_board(args.board)
    rows = [measure(key, board, ref.get(key, {}), args.max_extra_cycles) for key in MODELS]
    from rich.console import Console

    Console(width=170).print(_table(rows, board.id))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"board": board.id, "max_extra_cycles": args.max_extra_cycles, "models": rows}, indent=2) + "\n"
    )
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
