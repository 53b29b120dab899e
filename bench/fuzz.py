"""A long mutation-fuzz campaign (tests/fuzz/campaign.py): .tflite and ONNX mutants over several seeds, a sample
of accepted .tflite mutants compared with TFLM, and their generated C run under AddressSanitizer and
UndefinedBehaviorSanitizer with a heap arena of exactly the planned size. Prints the counts and writes
bench/results/fuzz.json (or --json PATH); exits 1 when any mutant breaks the contract.

Run from the repository root: python bench/fuzz.py [--seeds 1 2 3 4 5] [--tflite 1000] [--onnx 300]
    [--compare 150] [--no-sanitize] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuzz.campaign import run_campaign  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--tflite", type=int, default=1000, help=".tflite mutants per seed")
    ap.add_argument("--onnx", type=int, default=300, help="ONNX mutants per seed")
    ap.add_argument("--compare", type=int, default=150, help="accepted .tflite mutants compared with TFLM")
    ap.add_argument("--no-sanitize", action="store_true", help="skip the sanitized C runs")
    ap.add_argument("--targets", nargs="*", default=["host", "qemu-m4"], help="targets accepted mutants generate for")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "fuzz.json")
    args = ap.parse_args()
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="tinyml-fuzz-") as tmp:
        camp = run_campaign(
            args.seeds, args.tflite, args.onnx, Path(tmp), args.compare, not args.no_sanitize, tuple(args.targets)
        )
    result = {
        "seeds": args.seeds,
        "tflite_per_seed": args.tflite,
        "onnx_per_seed": args.onnx,
        "targets": args.targets,
        "compared_with_tflm": args.compare,
        "sanitized_c": not args.no_sanitize,
        "counts": dict(sorted(camp.counts.items())),
        "failures": camp.failures,
        "wall_s": round(time.time() - t0, 1),
        "host": platform.platform(),
    }
    width = max(len(k) for k in result["counts"])
    for k, v in result["counts"].items():
        print(f"{k:<{width}}  {v:>6}")
    for f in camp.failures[:40]:
        print("FAIL", f)
    print(f"{len(camp.failures)} failures; {result['wall_s']:.0f} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 1 if camp.failures else 0


if __name__ == "__main__":
    sys.exit(main())
