"""Time the planner: plan_memory on MobileNetV2-style graphs (about 66 ops), and the whole plan_model (order,
kernels, in-place ops, cycle-priced patch search, arena) on a real 65-op MobileNetV2 for a Cortex-M7 board: its CPU
time is the figure `tinyml simulate --json` reports as plan_seconds (plan_wall_seconds: the wall-clock time).
Prints a table; writes JSON with --json PATH.

Run from the repository root: python bench/planner_speed.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.tinyengine_codegen.planner.graphs import mbv2_like
from tinyengine_codegen.boards import load_board
from tinyengine_codegen.kernels import registry  # noqa: F401  (module loading is not planning time)
from tinyengine_codegen.model_io import load_model
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.passes import plan_model
from tinyengine_codegen.planner import lifetimes, plan_memory
from tinyengine_codegen.planner.buffers import inplace_candidates

MBV2 = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "models" / "mobilenetv2_035_96.tflite"


def measure(graph, inplace, repeats: int = 20) -> dict:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        plan = plan_memory(graph, inplace=inplace)
        times.append(time.perf_counter() - t0)
    return {
        "graph": graph.name,
        "ops": len(graph.ops),
        "buffers": len(lifetimes(graph, inplace=inplace)),
        "inplace_ops": len(inplace),
        "arena_bytes": plan.arena_bytes,
        "lower_bound": plan.lower_bound,
        "strategy": plan.strategy,
        "best_ms": 1000 * min(times),
        "median_ms": 1000 * sorted(times)[len(times) // 2],
    }


def measure_model_plan(path: Path, board_id: str = "nucleo-f746zg", repeats: int = 15) -> dict:
    """plan_model with the default options (patches auto) on a freshly imported graph each time (per-graph memos
    start empty, as in `tinyml simulate`): wall and CPU (this thread) milliseconds, the first call included."""
    board = load_board(board_id)
    wall, cpu = [], []
    for _ in range(repeats):
        graph = load_model(path)
        t0, c0 = time.perf_counter(), time.thread_time()
        mp = plan_model(graph, CompileOptions(target=board))
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    s = mp.patches
    return {
        "graph": graph.name,
        "ops": len(graph.ops),
        "board": board.id,
        "arena_bytes": mp.plan.arena_bytes,
        "patches": None if s is None else f"{s.p}x{s.p} to op {s.split_op}, +{s.extra_cycle_fraction:.1%} est. cycles",
        "first_ms": 1000 * wall[0],
        "first_cpu_ms": 1000 * cpu[0],
        "median_ms": 1000 * statistics.median(wall),
        "median_cpu_ms": 1000 * statistics.median(cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for res, width in ((96, 0.35), (144, 0.5), (224, 1.0)):
        graph = mbv2_like(res, width)
        for inplace in (frozenset(), inplace_candidates(graph)):
            rows.append(measure(graph, inplace))
    print(
        f"{'graph':<16}{'ops':>5}{'bufs':>6}{'inplace':>8}{'arena B':>10}{'bound B':>10}{'best ms':>9}"
        f"{'median ms':>11}  strategy"
    )
    for r in rows:
        print(
            f"{r['graph']:<16}{r['ops']:>5}{r['buffers']:>6}{r['inplace_ops']:>8}{r['arena_bytes']:>10}"
            f"{r['lower_bound']:>10}{r['best_ms']:>9.2f}{r['median_ms']:>11.2f}  {r['strategy']}"
        )
    full = measure_model_plan(MBV2) if MBV2.is_file() else None
    if full:
        print(
            f"plan_model {full['graph']} ({full['ops']} ops, {full['board']}): median {full['median_ms']:.1f} ms "
            f"(CPU {full['median_cpu_ms']:.1f} ms; first call {full['first_ms']:.1f} ms, "
            f"CPU {full['first_cpu_ms']:.1f} ms), arena {full['arena_bytes']:,}"
            f" B, patches {full['patches']}"
        )
    if args.json:
        args.json.write_text(json.dumps({"plan_memory": rows, "plan_model": full}, indent=1))


if __name__ == "__main__":
    main()
