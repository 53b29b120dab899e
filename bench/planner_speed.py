"""Time plan_memory on MobileNetV2-style graphs (about 66 ops) and print a table; writes JSON with --json PATH.

Run from the repository root: python bench/planner_speed.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.tinyengine_codegen.planner.graphs import mbv2_like
from tinyengine_codegen.planner import lifetimes, plan_memory
from tinyengine_codegen.planner.buffers import inplace_candidates


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
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
