#!/usr/bin/env python3
"""Build time of the generated weights file: string literals (what the code generator writes) against the same
arrays as number lists, each compiled as C99 (gcc) and as C++17 (g++), for the MLPerf Tiny models and a
synthetic 1 MiB weight table.

Prints a table and writes bench/results/build_time.json. Wall-clock seconds of this machine (the median of three
compiles at -O2); they show the ratio between the two forms, not a figure for another machine.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MODELS = {"ic": "pretrainedResnet_quant.tflite", "vww": "vww_96_int8.tflite", "kws": "kws_ref_model.tflite"}
COMPILERS = (("gcc", ["-x", "c", "-std=c99"]), ("g++", ["-x", "c++", "-std=c++17"]))


def _compile_seconds(cc: str, lang: list[str], src: Path, inc: Path, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([cc, *lang, "-O2", "-Wall", "-Wextra", "-Werror", f"-I{inc}", "-c", str(src), "-o",
                        str(src.with_suffix(".o"))], check=True)  # fmt: skip
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _as_numbers(text: str) -> str:
    """The same weights file with every string literal body replaced by a number list."""
    import re

    def numbers(m: re.Match) -> str:
        body = "".join(re.findall(r'"((?:\\x[0-9a-f]{2})*)"', m.group(2)))
        values = [str(int(h, 16) - 256 if int(h, 16) > 127 else int(h, 16)) for h in re.findall(r"\\x(..)", body)]
        return m.group(1) + "{" + ", ".join(values or ["0"]) + "};"

    return re.sub(r'(=\n)((?:\s*"[^"]*"\n?)+);', numbers, text)


def bench_folder(name: str, folder: Path, prefix: str) -> dict:
    src = folder / f"{prefix}_weights.c"
    nums = folder / f"{prefix}_weights_numbers.c"
    nums.write_text(_as_numbers(src.read_text()))
    row = {"model": name, "weights_c_bytes": src.stat().st_size}
    for cc, lang in COMPILERS:
        if shutil.which(cc) is None:
            continue
        row[f"{cc}_strings_s"] = round(_compile_seconds(cc, lang, src, folder), 3)
        row[f"{cc}_numbers_s"] = round(_compile_seconds(cc, lang, nums, folder), 3)
    return row


def synthetic(folder: Path, nbytes: int = 1 << 20) -> None:
    from tinyengine_codegen.emit.weights import render_weights
    from tinyengine_codegen.kernels.spec import WeightTable

    table = WeightTable("syn")
    rng = np.random.default_rng(0)
    for k in range(16):
        table.add(f"w{k}", rng.integers(-128, 128, nbytes // 16).astype(np.int8))
    for name, text in render_weights(table, "syn", "a synthetic 1 MiB weight table").items():
        (folder / name).write_text(text)
    (folder / "syn.h").write_text("#define SYN_WEIGHTS_SECTION\n")
    shutil.copy(REPO / "templates" / "runtime" / "tinyml_runtime.h", folder / "tinyml_runtime.h")


def main() -> None:
    from tinyengine_codegen.compile import write_project
    from tinyengine_codegen.importers.tflite import load_tflite

    data = REPO.parent / "shared" / "data" / "mlperf_tiny"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key, fname in MODELS.items():
            if (data / fname).exists():
                write_project(load_tflite(data / fname), Path(tmp) / key, prefix=key)
                rows.append(bench_folder(key, Path(tmp) / key, key))
        (Path(tmp) / "syn").mkdir()
        synthetic(Path(tmp) / "syn")
        rows.append(bench_folder("synthetic 1 MiB", Path(tmp) / "syn", "syn"))
    print(f"{'model':<16} {'weights.c B':>12} " + " ".join(f"{c + ' ' + f:>16}" for c, _ in COMPILERS
                                                             for f in ("strings s", "numbers s")))  # fmt: skip
    for r in rows:
        cols = [r.get(f"{c}_{f}_s", float("nan")) for c, _ in COMPILERS for f in ("strings", "numbers")]
        print(f"{r['model']:<16} {r['weights_c_bytes']:>12,} " + " ".join(f"{v:>16.3f}" for v in cols))
    out = REPO / "bench" / "results" / "build_time.json"
    out.write_text(json.dumps({"rows": rows}, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
