"""Cross-check of the cycle model: the plugin's execution-order m4-trm-v1 against its address-order variant.

Run from the repository root: python bench/cycle_check.py [--models ic vww kws ad] [--patches off]
For each model it builds the firmware for qemu-m4, runs it once with the per-PC profile, and prints, for the
region between the tinyml_invoke markers: instructions, the plugin's cycles (real execution order), the
address-order cycles computed from the profile and an independent objdump classification
(tinyengine_codegen/run/cycle_profile.py), and their difference in percent. The two are the same model and
must agree within a few tenths of a percent. Exits 1 when a difference exceeds --tolerance percent.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinyengine_codegen.boards import load_board  # noqa: E402
from tinyengine_codegen.build.platformio import build, prepare_project  # noqa: E402
from tinyengine_codegen.compile import write_project  # noqa: E402
from tinyengine_codegen.model_io import load_model  # noqa: E402
from tinyengine_codegen.options import CompileOptions  # noqa: E402
from tinyengine_codegen.run.cycle_profile import address_order_cycles, disassemble  # noqa: E402
from tinyengine_codegen.run.measure import lcg_input  # noqa: E402
from tinyengine_codegen.run.qemu import MARK_INVOKE_BEGIN, MARK_INVOKE_END, run_qemu  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
MODELS = {"ic": "pretrainedResnet_quant", "vww": "vww_96_int8", "kws": "kws_ref_model", "ad": "ad01_int8"}


def check(model: Path, patches: str, board_id: str = "qemu-m4") -> tuple[int, int, int]:
    """(instructions, execution-order cycles, address-order cycles) of tinyml_invoke's marker region."""
    graph, board = load_model(model), load_board(board_id)
    x = lcg_input(graph.tensors[graph.inputs[0]].size)
    with tempfile.TemporaryDirectory(prefix="tinyml-cyc-") as tmp:
        write_project(graph, Path(tmp) / "model", CompileOptions(target=board_id, patches=patches))
        elf = build(prepare_project(Path(tmp) / "model", board, Path(tmp) / "fw", x), board).elf_path
        res = run_qemu(elf, board, profile=True)
        insns = disassemble(elf)
    marks = {k: v for k, *v in reversed(res.marks)}  # first execution of each slot
    begin, end = marks[MARK_INVOKE_BEGIN], marks[MARK_INVOKE_END]
    executed = sum(n for _, _, n in res.profile)
    if executed != end[0] - begin[0]:
        raise SystemExit(f"{model.name}: profile holds {executed} executions, the markers {end[0] - begin[0]}")
    return executed, end[1] - begin[1], address_order_cycles(res.profile, insns)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--patches", default="off")
    ap.add_argument("--tolerance", type=float, default=0.5, help="largest allowed difference, percent")
    args = ap.parse_args()
    worst = 0.0
    for key in args.models:
        path = DATA / "mlperf_tiny" / f"{MODELS[key]}.tflite" if key in MODELS else Path(key)
        n, ours, addr = check(path, args.patches)
        diff = 100.0 * (addr - ours) / ours
        worst = max(worst, abs(diff))
        name = re.sub(r"\.tflite$", "", path.name)
        print(f"{name}: {n:,} instructions, {ours:,} cycles (execution order), {addr:,} (address order), {diff:+.3f} %")
    sys.exit(1 if worst > args.tolerance else 0)


if __name__ == "__main__":
    main()
