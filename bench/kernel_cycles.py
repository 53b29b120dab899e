"""Measure every kernel's estimated cycles per unit of work in QEMU and write the patch planner's cost table.

For each model and virtual board: one run without patches (the layer kernels) and runs with forced patch counts
(the region kernels, halos included), with the cycle model of the board's core. Every layer gives one sample
(work, output pixels computed, cycles), work being MACs, or output elements for an op without MACs; per kernel,
cycles = a x work + b x pixels is fitted to its samples by least relative squares (b = 0 when one shape was
measured or the fit makes it negative). Besides the four MLPerf Tiny models a synthetic MCUNet-like model
(`kxk_model`: 5x5 and 7x7 depthwise layers) adds the kernels those models never run. Run it again after a kernel
changes.

Run from the repository root: python bench/kernel_cycles.py [--boards qemu-m4 qemu-m7] [--patches 3 6]
Prints a table and writes tinyengine_codegen/planner/kernel_cycles.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinyengine_codegen.boards import load_board  # noqa: E402
from tinyengine_codegen.ir.graph import Graph, Op, QuantParams, Tensor  # noqa: E402
from tinyengine_codegen.ir.ops import Activation, Conv2DAttrs, DepthwiseConv2DAttrs, OpKind, Padding  # noqa: E402
from tinyengine_codegen.model_io import load_model  # noqa: E402
from tinyengine_codegen.options import CompileOptions  # noqa: E402
from tinyengine_codegen.passes import plan_model  # noqa: E402
from tinyengine_codegen.planner.patch_cost import CORE_MODEL, TABLE_PATH, op_pixels, op_work  # noqa: E402
from tinyengine_codegen.run.measure import lcg_input  # noqa: E402
from tinyengine_codegen.runner import run_model  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
MODELS = {
    "ic": "mlperf_tiny/pretrainedResnet_quant",
    "vww": "mlperf_tiny/vww_96_int8",
    "kws": "mlperf_tiny/kws_ref_model",
    "ad": "mlperf_tiny/ad01_int8",
}
SYNTHETIC = ("kxk",)  # built here: the MLPerf Tiny models have no 5x5 or 7x7 depthwise layers


def kxk_model(hw: int = 48, c: int = 16) -> Graph:
    """An MCUNet-like int8 chain: depthwise 5x5 s1, 7x7 s2, 5x5 s2 and 7x7 s1, each followed by 1x1 convolutions
    (seeded random weights, scales that give output multipliers below one)."""
    rng = np.random.default_rng(0)
    tensors: dict[str, Tensor] = {}
    ops: list[Op] = []

    def act(name, shape):
        tensors[name] = Tensor(name, shape, "int8", QuantParams((0.05,), (-128 + len(tensors) % 50,)))
        return name

    def const(name, data, n, axis):
        q = QuantParams(tuple(rng.uniform(0.002, 0.01, n).tolist()), (0,) * n, axis) if data.dtype == np.int8 else None
        tensors[name] = Tensor(name, data.shape, str(data.dtype), q, data)
        return name

    def layer(x, kind, attrs, wshape, axis, cout, out_shape):
        i = len(ops)
        w = const(f"w{i}", rng.integers(-127, 128, wshape, dtype=np.int8), cout, axis)
        b = const(f"b{i}", rng.integers(-2000, 2000, cout, dtype=np.int32), cout, 0)
        tensors[b] = Tensor(b, (cout,), "int32", QuantParams((1.0,) * cout, (0,) * cout), tensors[b].data)
        ops.append(Op(f"op{i}", kind, (x, w, b), (act(f"t{i}", out_shape),), attrs))
        return f"t{i}"

    x = gin = act("x", (1, hw, hw, c))
    for k, s, mid, out in ((5, 1, 24, 48), (7, 2, 32, 64), (5, 2, 40, 96), (7, 1, 48, None)):
        _, h, w, ch = tensors[x].shape
        h, w = -(-h // s), -(-w // s)
        attrs = DepthwiseConv2DAttrs(s, s, 1, 1, Padding.SAME, 1, Activation.RELU6)
        x = layer(x, OpKind.DEPTHWISE_CONV_2D, attrs, (1, k, k, ch), 3, ch, (1, h, w, ch))
        for cout in (mid, out) if out else (mid,):
            attrs = Conv2DAttrs(1, 1, 1, 1, Padding.SAME, Activation.NONE)
            x = layer(x, OpKind.CONV_2D, attrs, (cout, 1, 1, tensors[x].shape[3]), 0, cout, (1, h, w, cout))
    return Graph("kxk", tensors, tuple(ops), (gin,), (x,))


def layer_work(graph, mp) -> list[tuple[float, int]]:
    """(work, output pixels) of every op as run: a stage op's counted over the pixels all patches compute."""
    out = []
    stage = mp.patches.pixels if mp.patches is not None else ()
    for i, op in enumerate(graph.ops):
        work, pixels = op_work(graph, op), op_pixels(graph, op)
        if i < len(stage):
            work, pixels = work * stage[i] / pixels, stage[i]
        out.append((work, pixels))
    return out


def fit(samples: list[tuple[float, int, int]]) -> tuple[float, float]:
    """(a, b) of cycles = a x work + b x pixels, least squares relative to each sample's cycles."""
    rows = np.array([(w / c, p / c) for w, p, c in samples if c > 0 and w > 0])
    if len(rows) == 0:
        return 0.0, 0.0
    distinct = len({(round(w), p) for w, p, c in samples if c > 0}) > 1
    if distinct:
        (a, b), *_ = np.linalg.lstsq(rows, np.ones(len(rows)), rcond=None)
        if a > 0 and b >= 0:
            return float(a), float(b)
    return float(sum(c for *_, c in samples) / sum(w for w, *_ in samples)), 0.0


def measure(board_id: str, model: Path | Graph, patches: str, sums: dict, known: dict | None = None) -> None:
    """Add the (work, pixels, cycles) of every layer of one run to sums[cycle model][kernel]; with `known`
    (kernel names per cycle model), only for kernels not in it."""
    board = load_board(board_id)
    cycle_model = CORE_MODEL[board.core]
    options = CompileOptions(target=board, patches=patches, max_extra_cycles=100.0)
    graph = model if isinstance(model, Graph) else load_model(model)
    mp = plan_model(graph, options)
    t = graph.tensors[graph.inputs[0]]
    res = run_model(graph, lcg_input(t.size).reshape(t.shape), options, count=True)
    cycles = res.layer_cycles[cycle_model]
    for kernel, c, (work, pixels) in zip(res.kernels, cycles, layer_work(mp.graph, mp)):
        if known is not None and kernel in known.get(cycle_model, ()):
            continue
        sums.setdefault(cycle_model, {}).setdefault(kernel, []).append((work, pixels, c))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", nargs="+", default=["qemu-m4", "qemu-m7"])
    ap.add_argument("--models", nargs="+", default=[*MODELS, *SYNTHETIC], choices=[*MODELS, *SYNTHETIC])
    ap.add_argument("--patches", nargs="+", default=["3", "6"], help="forced patch counts that measure region kernels")
    ap.add_argument("--out", type=Path, default=TABLE_PATH)
    args = ap.parse_args()
    sums: dict = {}
    for board in args.boards:
        for key in (m for m in args.models if m in MODELS):
            for patches in ("off", *args.patches):
                measure(board, DATA / f"{MODELS[key]}.tflite", patches, sums)
    # the synthetic models only add the kernels the MLPerf Tiny models do not run (their fits stay as measured there)
    known = {model: set(rows) for model, rows in sums.items()}
    for board in args.boards if "kxk" in args.models else ():
        for patches in ("off", *args.patches):
            measure(board, kxk_model(), patches, sums, known)
    raw = ROOT / "bench" / "results" / "kernel_cycles_samples.json"
    raw.parent.mkdir(exist_ok=True)
    raw.write_text(json.dumps(sums) + "\n")  # (work, pixels, cycles) per layer, per kernel
    tables = {}
    for model, rows in sums.items():
        tables[model] = {}
        for k, samples in sorted(rows.items()):
            if not any(w > 0 for w, *_ in samples):
                continue
            a, b = fit(samples)
            worst = max((abs(a * w + b * p - c) / c for w, p, c in samples if c > 0), default=0.0)
            tables[model][k] = {
                "cycles_per_unit": round(a, 4),
                "cycles_per_pixel": round(b, 3),
                "samples": len(samples),
                "worst_error": round(worst, 3),
            }
    for model, rows in tables.items():
        print(f"{model}: {'kernel':<34}{'cyc/unit':>10}{'cyc/pixel':>10}{'samples':>8}{'worst err':>10}")
        for k, r in rows.items():
            print(
                f"{'':<{len(model) + 2}}{k:<34}{r['cycles_per_unit']:>10.3f}{r['cycles_per_pixel']:>10.1f}"
                f"{r['samples']:>8}{r['worst_error']:>10.1%}"
            )
    about = (
        "per kernel: estimated cycles = cycles_per_unit x work (MACs, or output elements for ops without MACs) "
        "+ cycles_per_pixel x output pixels; written by bench/kernel_cycles.py"
    )
    args.out.write_text(json.dumps({"about": about, "models": tables}, indent=1) + "\n")


if __name__ == "__main__":
    main()
