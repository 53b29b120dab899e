"""A fuzz campaign over mutated model files: the contract every mutant must meet, checked end to end.

1. import: the importer returns a verified graph or raises TinyMLError with one line (no other exception, no hang);
2. generate: an accepted graph generates C for the host and for a Cortex-M board without any other exception;
3. TFLM: for a stratified sample of accepted .tflite mutants that TFLM runs deterministically (in its own
   process), the reference executor's output is bit-exact with TFLM's;
4. sanitizers (optional): the generated C of those mutants, built with -fsanitize=address,undefined and a heap
   arena of exactly the planned size, runs clean and gives TFLM's output.

`run_campaign` returns the counts and the failures (each with the seed and index that rebuild the mutant).
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .mutants import Mutant, classify, onnx_mutants, tflite_mutants

ROOT = Path(__file__).resolve().parents[2]
TFLM_TIMEOUT = 60
MEM_KB = 4 << 20  # TFLM's child gets 4 GiB of address space: a huge shape must not take the machine down


@dataclass
class Campaign:
    counts: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    accepted: list[tuple[int, Mutant, object]] = field(default_factory=list)  # (seed, mutant, graph)

    def fail(self, seed: int, m: Mutant, what: str) -> None:
        self.failures.append(f"seed {seed} {m.name} [{m.detail}]: {what}")


def import_and_generate(camp: Campaign, seed: int, mutants, targets=("host", "qemu-m4")) -> None:
    from tinyengine_codegen.compile import compile_model
    from tinyengine_codegen.importers.onnx import load_onnx
    from tinyengine_codegen.importers.tflite import load_tflite
    from tinyengine_codegen.options import CompileOptions

    options = {t: CompileOptions(target=t) for t in targets}  # each board read once
    for m in mutants:
        fmt = "onnx" if m.base == "onnx" else "tflite"
        load = load_onnx if fmt == "onnx" else load_tflite
        verdict, graph = classify(lambda data, load=load, name=m.name: load(data, name), m.data)
        camp.counts[f"{fmt} mutants"] += 1
        if verdict.startswith("crash"):
            camp.counts[f"{fmt} import failures"] += 1
            camp.fail(seed, m, f"import: {verdict}")
            continue
        camp.counts[f"{fmt} {verdict}"] += 1
        if verdict != "accepted":
            continue
        for target in targets:
            gen, _ = classify(lambda _, g=graph, o=options[target]: compile_model(g, o), b"")
            if gen.startswith("crash"):
                camp.counts[f"{fmt} generate failures"] += 1
                camp.fail(seed, m, f"generate for {target}: {gen}")
            elif gen == "refused":
                camp.counts[f"{fmt} refused at generate ({target})"] += 1
        if fmt == "tflite":
            camp.accepted.append((seed, m, graph))


def stratified(items: list, rng: random.Random, limit: int) -> list:
    """Round robin over mutation kinds so that a small sample still covers every kind."""
    by_kind: dict[str, list] = {}
    for item in items:
        by_kind.setdefault(item[1].kind, []).append(item)
    queues = [rng.sample(v, len(v)) for _, v in sorted(by_kind.items())]
    out: list = []
    while any(queues) and len(out) < limit:
        for q in queues:
            if q and len(out) < limit:
                out.append(q.pop())
    return out


def tflm_reference(model: Path, seed: int, out: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """(input, TFLM's output), or None when TFLM does not run the model deterministically."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = ["sh", "-c", f'ulimit -v {MEM_KB}; exec "$@"', "sh", sys.executable, "-m", "tests.fuzz.tflm_child"]
    try:
        proc = subprocess.run(
            [*cmd, str(model), str(seed), str(out)], cwd=ROOT, capture_output=True, timeout=TFLM_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        return None
    return np.load(out / "x.npy"), np.load(out / "y.npy")


def compare_with_tflm(camp: Campaign, work: Path, limit: int, sanitize: bool, rng: random.Random) -> None:
    from tinyengine_codegen.reference.run import run_graph

    runs = []
    for seed, m, graph in stratified(camp.accepted, rng, limit):
        d = work / f"s{seed}_{m.name}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "model.tflite").write_bytes(m.data)
        ref = tflm_reference(d / "model.tflite", seed + m.index, d)
        camp.counts["tflite compared: TFLM refuses or is not deterministic" if ref is None else "tflite compared"] += 1
        if ref is None:
            continue
        x, y = ref
        ours = run_graph(graph, [x])[0]
        if ours.shape != y.shape and ours.size == y.size:
            ours = ours.reshape(y.shape)
        if not np.array_equal(ours, y):
            camp.counts["tflite reference differs from TFLM"] += 1
            camp.fail(seed, m, "reference executor output differs from TFLM's")
            continue
        camp.counts["tflite reference bit-exact with TFLM"] += 1
        runs.append((seed, m, graph, x, y))
    if sanitize:
        sanitized_c(camp, work, runs)


def sanitized_c(camp: Campaign, work: Path, runs: list, per_build: int = 8) -> None:
    """Generated C of each run built with ASan/UBSan and an exact-size heap arena, several models a build."""
    from tests.helpers.host_c import run_graphs_in_c

    for k in range(0, len(runs), per_build):
        chunk = runs[k : k + per_build]
        (work / f"asan{k}").mkdir(parents=True, exist_ok=True)
        try:
            outs = run_graphs_in_c(
                [r[2] for r in chunk], [r[3][None] for r in chunk], work / f"asan{k}", opt="-O1", sanitize=True
            )
        except Exception as exc:  # a sanitizer report or a build failure: name the models of this build
            camp.counts["sanitized C failures"] += len(chunk)
            for seed, m, *_ in chunk:
                camp.fail(seed, m, f"sanitized C: {type(exc).__name__}: {str(exc)[-300:]}")
            continue
        for (seed, m, _, _, y), out in zip(chunk, outs):
            if np.array_equal(out.reshape(y.shape), y):
                camp.counts["sanitized C clean and bit-exact with TFLM"] += 1
            else:
                camp.counts["sanitized C differs from TFLM"] += 1
                camp.fail(seed, m, "sanitized C output differs from TFLM's")


def run_campaign(
    seeds,
    tflite_count: int,
    onnx_count: int,
    work: Path,
    compare: int = 0,
    sanitize: bool = False,
    targets=("host", "qemu-m4"),
) -> Campaign:
    camp = Campaign()
    for seed in seeds:
        import_and_generate(camp, seed, tflite_mutants(seed, tflite_count), targets)
        import_and_generate(camp, seed, onnx_mutants(seed, onnx_count), targets)
    if compare:
        compare_with_tflm(camp, work, compare, sanitize, random.Random(sum(seeds)))
    return camp
