"""LSTM kernels on qemu-m4: the SMLAD kernel against the portable one, instructions and estimated cycles of one
inference, outputs checked equal.

Run from the repository root: python bench/lstm.py [--json]
Cases: a 64-feature, 64-unit layer over 10 steps (built with the test model builder, seed 0) and the
converter-made tests/data/lstm/lstm_sequences.tflite. The portable kernel runs on the same core with the DSP
extension switched off in the target, so both builds differ only in the LSTM kernel.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuzz.layers_lstm import lstm_graph  # noqa: E402
from tinyengine_codegen.importers.tflite import load_tflite  # noqa: E402
from tinyengine_codegen.ir.cost import graph_macs  # noqa: E402
from tinyengine_codegen.options import CompileOptions, as_target  # noqa: E402
from tinyengine_codegen.passes import plan_model  # noqa: E402
from tinyengine_codegen.runner import run_model  # noqa: E402


def cases():
    yield "lstm_64x64_10steps", lstm_graph(np.random.default_rng(0), steps=10, features=64, units=64)
    yield "lstm_sequences.tflite", load_tflite(ROOT / "tests" / "data" / "lstm" / "lstm_sequences.tflite")


def measure() -> list[dict]:
    m4 = as_target("qemu-m4")
    rows = []
    for name, graph in cases():
        x = np.random.default_rng(0).integers(-128, 128, graph.tensor(graph.inputs[0]).shape).astype(np.int8)
        row: dict = {"case": name, "macs": graph_macs(graph)}
        outs = []
        for dsp in (True, False):
            options = CompileOptions(target=dataclasses.replace(m4, dsp=dsp), patches="off")
            kernel = plan_model(graph, options).kernel_names[0]
            r = run_model(graph, x, options)
            outs.append(r.output)
            row[kernel] = {"instructions": r.instructions, "est_cycles_m4": r.cycles.get("m4-trm-v1")}
        row["outputs_equal"] = bool(np.array_equal(*outs))
        rows.append(row)
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    rows = measure()
    if p.parse_args().json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            s, ref = r["lstm_s8_simd"], r["lstm_s8_ref"]
            print(
                f"{r['case']}: {r['macs']:,} MACs; simd {s['instructions']:,} instr ({s['est_cycles_m4']:,} est. "
                f"cycles), portable {ref['instructions']:,} ({ref['est_cycles_m4']:,}); outputs equal: "
                f"{r['outputs_equal']}"
            )
    return 0 if all(r["outputs_equal"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
