#!/usr/bin/env python3
"""Host benchmark of the four MLPerf Tiny models: MACs, weight bytes, C generation, host build and run times.

Prints a table and writes bench/results/host.json. Wall-clock figures of this machine; the run time is the
median of several runs of one inference each (the executable also includes process start-up).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MODELS = {
    "ic": "pretrainedResnet_quant.tflite",
    "vww": "vww_96_int8.tflite",
    "kws": "kws_ref_model.tflite",
    "ad": "ad01_int8.tflite",
}


def bench_model(path: Path, runs: int = 5) -> dict:
    from tinyengine_codegen.build.host import build_host, run_host
    from tinyengine_codegen.compile import write_project
    from tinyengine_codegen.importers.tflite import load_tflite
    from tinyengine_codegen.ir.cost import graph_macs, weight_bytes

    graph = load_tflite(path)
    x = np.random.default_rng(0).integers(-128, 128, graph.tensors[graph.inputs[0]].shape).astype(np.int8)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        project = write_project(graph, Path(tmp) / "model")
        t1 = time.perf_counter()
        exe = build_host(Path(tmp) / "model", Path(tmp) / "model.exe")
        t2 = time.perf_counter()
        times = []
        for _ in range(runs):
            s = time.perf_counter()
            run_host(exe, x)
            times.append(time.perf_counter() - s)
    return {
        "macs": graph_macs(graph),
        "weight_bytes": weight_bytes(graph),
        "arena_bytes": project.arena_bytes,
        "codegen_s": round(t1 - t0, 4),
        "build_s": round(t2 - t1, 4),
        "run_s": round(statistics.median(times), 4),
    }


def main() -> int:
    from rich.console import Console
    from rich.table import Table

    data = REPO.parent / "shared" / "data" / "mlperf_tiny"
    if not data.exists():
        print("the MLPerf Tiny models (../shared/data/mlperf_tiny) are absent; nothing to benchmark")
        return 0
    results = {key: bench_model(data / name) for key, name in MODELS.items()}
    table = Table(title="MLPerf Tiny on the host (generated C, -O2)")
    for col in ("model", "MACs", "weight B", "arena B", "codegen s", "build s", "run s"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for key, r in results.items():
        table.add_row(
            key,
            f"{r['macs']:,}",
            f"{r['weight_bytes']:,}",
            f"{r['arena_bytes']:,}",
            f"{r['codegen_s']:.3f}",
            f"{r['build_s']:.2f}",
            f"{r['run_s']:.3f}",
        )
    Console().print(table)
    out = REPO / "bench" / "results" / "host.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
