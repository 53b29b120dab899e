"""The whole search as one function: space optimization, supernet training, evolution, fine-tuning, int8 export.

`run_search(config, cost_fn, limits, progress)`: cost_fn maps an IR graph (built by `arch_to_graph`) to a `Cost`
from the code generator's planner; progress receives small dicts ({"stage": ..., ...}) and nothing is printed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.ir.graph import Graph

from .data import Dataset, load_dataset, resize_uint8
from .evolution import Cost, CostFn, EvolutionBudget, EvolutionResult, Limits, evolve, fitting_batch
from .predictor import cross_validated, fit_predictor, spearman
from .qsim import int8_accuracy
from .quantize import QuantConfig, quantize
from .space import Arch, SearchSpace, cifar_space, macs, mcunet_space, quick_space, sample
from .space_opt import SpaceChoice, optimize_space
from .state import SearchState, arch_from_json, saved_file, space_choice_from_json, space_choice_to_json
from .supernet.mbv2 import Supernet
from .supernet.static import StaticNet
from .to_ir import arch_to_graph
from .train.bn_calib import calibration_images, recalibrate
from .train.loop import TrainConfig, evaluate, finetune, load_checkpoint, saved_history, train_supernet
from .train.schedule import progressive_shrinking

SPACES = {"quick": quick_space, "cifar": cifar_space, "mcunet": mcunet_space}


@dataclass(frozen=True, slots=True)
class SearchConfig:
    dataset: str = "digits"
    data: Path | None = None
    space: str = "quick"
    widths: tuple[float, ...] | None = None  # the space's width multipliers (None: the space's own)
    resolutions: tuple[int, ...] | None = None  # the space's input resolutions (None: the space's own)
    full_epochs: int = 4
    phase_epochs: int = 2
    lr: float = 0.1
    batch_size: int = 64
    warmup_epochs: float = 0.0
    subnets_per_step: int = 2
    space_samples: int = 30
    space_criterion: str = "mean"
    measured_subnets: int = 16  # random fitting sub-networks measured for the predictor
    evolution_measured: int = 3  # evolution's best distinct candidates measured (and as many more random ones)
    evolution: EvolutionBudget = EvolutionBudget(population=24, generations=8)
    finetune_epochs: int = 4
    finetune_lr: float = 0.02
    calib_images: int = 512
    quant: QuantConfig = QuantConfig()
    val_fraction: float = 0.15
    seed: int = 0
    frozen_teacher: bool = True  # elastic phases distil from a frozen full network (False: in-place, BigNAS)
    sub_stages: bool = True  # kernel 7->5->3, depth 4->3->2, expand 6->4->3 one value at a time
    finetune_distill: bool = True  # the winner's fine-tuning distils from the full network too
    device: str = "cpu"
    workers: int = 1  # processes evaluating the memory cost of candidates (the planner runs on the CPU)
    checkpoint: Path | None = None  # state folder: every stage saved as it completes and resumed (see state.py)


def quick_config(**changes) -> SearchConfig:
    """Minutes on two CPU cores with the embedded digits data."""
    return replace(SearchConfig(), **changes)


def cifar_config(data: Path, **changes) -> SearchConfig:
    """A full CIFAR-10 run (meant for a GPU)."""
    base = SearchConfig(
        dataset="cifar10",
        data=data,
        space="cifar",
        full_epochs=30,
        phase_epochs=10,
        lr=0.5,  # at batch 1024 (0.1 at batch 128, scaled between the square root and linear rules)
        batch_size=1024,
        warmup_epochs=2,
        subnets_per_step=1,
        space_samples=40,
        measured_subnets=40,
        evolution_measured=8,
        evolution=EvolutionBudget(population=48, generations=12),
        finetune_epochs=15,
        finetune_lr=0.1,
        calib_images=1000,
        device="cuda",
        workers=default_workers(),
    )
    return replace(base, **changes)


def default_workers() -> int:
    """Cost-evaluation processes for a GPU run: the CPU cores minus two (training and the main process), at most 12."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(12, cores - 2))


@dataclass(frozen=True, eq=False)
class SearchResult:
    arch: Arch
    space: SearchSpace
    space_choice: SpaceChoice
    net: StaticNet  # the fine-tuned float network (eval mode)
    graph: Graph  # its int8 IR graph
    cost: Cost
    float_accuracy: float  # test split
    int8_accuracy: float  # test split, integer simulation of `graph`
    macs: int
    seed: int
    test_images: np.ndarray  # uint8 NHWC test images at the model's resolution (int8 input = pixel - 128)
    test_labels: np.ndarray
    timings: dict = field(default_factory=dict)
    measured: tuple = ()  # (arch, validation accuracy, cost) of every measured sub-network
    evolution_history: tuple[float, ...] = ()  # best predicted accuracy after each generation
    train_images: int = 0  # images the supernet and the winner were trained on (validation held out)
    resumed: tuple[str, ...] = ()  # stages restored from the state folder ("train (partial)": some epochs)
    epochs: dict = field(default_factory=dict)  # {"supernet"|"finetune": {"planned", "trained", "this_run"}}
    run: int = 1  # how many runs have used the state folder, this one included
    earlier_log: tuple[dict, ...] = ()  # progress events of the earlier runs on the state folder
    state: str = ""  # the state folder (or older supernet checkpoint file); "" without one
    class_names: tuple[str, ...] = ()  # the dataset's class names, in output index order
    quality: dict = field(default_factory=dict)  # predictor and search quality (see _evolution_stage)
    epoch_seconds: dict = field(default_factory=dict)  # mean seconds of a full-network and an elastic epoch


class ArchCost:
    """Arch -> Cost through the structural IR graph, memoised per distinct network. `many(archs)` evaluates the new
    ones on `workers` processes (the planner is pure Python: one core each); the results do not depend on it."""

    def __init__(self, space: SearchSpace, cost_of_graph: Callable[[Graph], Cost], workers: int = 1):
        self.space, self.cost_of_graph, self.workers = space, cost_of_graph, max(1, workers)
        self.memo: dict = {}
        self._pool = None

    def __call__(self, a: Arch) -> Cost:
        k = a.key(self.space)
        if k not in self.memo:
            self.memo[k] = self.cost_of_graph(arch_to_graph(a, self.space))
        return self.memo[k]

    def many(self, archs: list[Arch]) -> list[Cost]:
        new = list({a.key(self.space): a for a in archs if a.key(self.space) not in self.memo}.values())
        if self.workers > 1 and len(new) > 1:
            pool = self._get_pool()
            chunk = max(1, len(new) // (4 * self.workers))
            for a, c in zip(new, pool.map(_pool_cost, new, chunksize=chunk)):
                self.memo[a.key(self.space)] = c
        return [self(a) for a in archs]

    def _get_pool(self):
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(
                self.workers, mp.get_context("spawn"), initializer=_pool_init, initargs=(self.space, self.cost_of_graph)
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


_POOL: dict = {}


def _pool_init(space: SearchSpace, cost_of_graph) -> None:
    _POOL.update(space=space, cost=cost_of_graph)


def _pool_cost(a: Arch) -> Cost:
    return _POOL["cost"](arch_to_graph(a, _POOL["space"]))


def graph_cost(space: SearchSpace, cost_of_graph: Callable[[Graph], Cost], workers: int = 1) -> ArchCost:
    """Arch -> Cost through the structural IR graph, memoised per distinct network (see ArchCost)."""
    return ArchCost(space, cost_of_graph, workers)


def _measure(net: Supernet, arch: Arch, data: Dataset, calib: np.ndarray, val_x: np.ndarray, device) -> float:
    sub = recalibrate(net.extract(arch), calib, device=device)
    return evaluate(sub, val_x, data.y_test, device=device)


def fingerprint(cfg: SearchConfig, limits: Limits, data: Dataset, context: dict | None = None) -> dict:
    """What a saved search state must match to be resumed: every option that changes a result (not the device or
    the state path), the limits, the cost function's context (board, options) and a digest of the data."""
    keys = {k: v for k, v in asdict(cfg).items() if k not in ("checkpoint", "device", "data", "workers")}
    h = hashlib.sha256()
    for arr in (data.x_train, data.y_train, data.x_test, data.y_test):
        h.update(str(arr.shape).encode())
        h.update(np.ascontiguousarray(arr.reshape(len(arr), -1)[::37]).tobytes())
    return {**keys, "limits": asdict(limits), "cost_context": context or {}, "data_digest": h.hexdigest()[:16]}


@dataclass(frozen=True)
class _Ctx:
    """What every stage reads: the options, the space, the cost, the limits, the rng and the state folder."""

    cfg: SearchConfig
    space: SearchSpace
    cost: CostFn
    limits: Limits
    rng: np.random.Generator
    state: SearchState
    note: Callable[[dict], None]
    resumed: list  # names of the stages restored from the state folder (appended to)


def run_search(
    cfg: SearchConfig,
    cost_of_graph: Callable[[Graph], Cost],
    limits: Limits,
    progress: Callable[[dict], None] | None = None,
    context: dict | None = None,
) -> SearchResult:
    """The whole search. With `cfg.checkpoint` (a state folder, see tinynas.state) every stage is saved as it
    completes and restored on a later call with the same configuration; `context` identifies the cost function
    (board, compile options) in the state's fingerprint."""
    times: dict[str, float] = {}
    t = time.time()
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    data = load_dataset(cfg.dataset, cfg.data)
    if cfg.space not in SPACES:
        raise TinyMLError(f"unknown search space '{cfg.space}'; use one of {', '.join(SPACES)}")
    space = SPACES[cfg.space](data.channels, data.num_classes)
    if cfg.widths is not None:
        space = replace(space, widths=tuple(cfg.widths))
    if cfg.resolutions is not None:
        space = replace(space, resolutions=tuple(cfg.resolutions))
    state = SearchState.open(cfg.checkpoint, fingerprint(cfg, limits, data, context))
    cost = graph_cost(space, cost_of_graph, cfg.workers)
    try:
        return _run(cfg, data, space, cost, limits, rng, state, progress, times, t)
    finally:
        cost.close()


def _run(cfg, data, space, cost_fn, limits, rng, state, progress, times, t) -> SearchResult:
    c = _Ctx(cfg, space, cost_fn, limits, rng, state, state.logger(progress), [])
    choice = _space_stage(c)
    times["space"] = time.time() - t

    t, res, w = time.time(), choice.resolution, choice.width
    train, val = data.split_validation(cfg.val_fraction, cfg.seed)
    tcfg = TrainConfig(
        res,
        cfg.batch_size,
        seed=cfg.seed,
        checkpoint=state.supernet_path,
        warmup_epochs=cfg.warmup_epochs,
        channels_last=cfg.device.startswith("cuda"),
    )
    net = Supernet(space, w)
    supernet_epochs, epoch_seconds = _train_stage(c, net, train, tcfg)
    times["train"] = time.time() - t

    t = time.time()
    calib = calibration_images(train.x_train, res, cfg.calib_images, cfg.seed)
    val_x = resize_uint8(val.x_test, res)
    measure = lambda a: _measure(net, a, val, calib, val_x, cfg.device)  # noqa: E731
    measured = _measure_stage(c, measure, w, res)
    evo, _evo_acc, best_arch, best_acc, quality = _evolution_stage(c, measured, measure, w, res)
    times["search"] = time.time() - t
    c.note({"stage": "search", "val_accuracy": best_acc, "macs": macs(best_arch, space), "source": quality["winner"]})

    t = time.time()
    sub = recalibrate(net.extract(best_arch), calib, device=cfg.device)
    teacher = None
    if cfg.finetune_distill:
        full = Supernet(space, w)
        full.load_state_dict(getattr(net, "teacher_state", None) or net.state_dict())
        full = full.to(cfg.device).eval()
        largest = space.largest(w, res)
        teacher = lambda x: full(x, largest)  # noqa: E731
    sub, finetune_epochs = _finetune_stage(c, sub, train, replace(tcfg, checkpoint=state.finetune_path), teacher)
    sub = sub.cpu().eval()
    test_x = resize_uint8(data.x_test, res)
    graph = quantize(sub, calib, cfg.quant, name=f"tinynas_{data.name}")
    f_acc = evaluate(sub, test_x, data.y_test)
    q_acc = int8_accuracy(graph, test_x, data.y_test)
    times["export"] = time.time() - t
    cost = c.cost
    measured_rows = tuple((a, acc, cost(a)) for a, acc in measured) + tuple(
        (a, acc, cost(a)) for a, acc in quality.pop("evolution_measured")
    )
    return SearchResult(
        best_arch,
        space,
        choice,
        sub,
        graph,
        cost(best_arch),
        f_acc,
        q_acc,
        macs(best_arch, space),
        cfg.seed,
        test_x,
        data.y_test,
        times,
        measured_rows,
        tuple(evo.history),
        len(train.y_train),
        tuple(c.resumed),
        {"supernet": supernet_epochs, "finetune": finetune_epochs},
        state.run,
        state.earlier_log,
        str(state.folder or state.supernet_file or ""),
        tuple(data.class_names),
        quality,
        epoch_seconds,
    )


def _space_stage(c: _Ctx) -> SpaceChoice:
    saved = c.state.load("space")
    if saved is not None:
        with saved_file(c.state.folder, "space stage"):
            choice = space_choice_from_json(saved)
            c.rng.bit_generator.state = saved["rng"]
        c.resumed.append("space")
    else:
        choice = optimize_space(
            c.space,
            c.cost,
            c.limits,
            c.rng,
            c.cfg.space_samples,
            c.cfg.space_criterion,
            progress=lambda e: c.note({"stage": "space", **e}),
        )
        c.state.save("space", {**space_choice_to_json(choice), "rng": c.rng.bit_generator.state})
    c.note({"stage": "space", "width": choice.width, "resolution": choice.resolution, "resumed": "space" in c.resumed})
    return choice


def _epochs_done(path: Path | None, phases) -> int:
    """Epochs completed in a training checkpoint (by every run that added to it)."""
    st = load_checkpoint(path, "cpu")
    if st is None:
        return 0
    with saved_file(path, "training checkpoint"):
        if "history" in st:
            return len(st["history"])
        return sum(p.epochs for p in phases[: int(st["phase"])]) + int(st["epoch"])  # older supernet checkpoints


def _train_stage(c: _Ctx, net: Supernet, train: Dataset, tcfg: TrainConfig) -> dict:
    cfg = c.cfg
    phases = schedule(c.space, cfg)
    before = _epochs_done(tcfg.checkpoint, phases)
    if before:
        c.resumed.append("train" if before >= sum(p.epochs for p in phases) else "train (partial)")
        c.note({"stage": "train", "resumed_epochs": before})
    run = train_supernet(net, train, phases, tcfg, cfg.device, lambda e: c.note({"stage": "train", **e}))
    secs = {"full": [r["seconds"] for r in run if r["phase"] == "full"]}
    secs["elastic"] = [r["seconds"] for r in run if r["phase"] != "full"]
    epoch_seconds = {k: round(float(np.mean(v)), 3) for k, v in secs.items() if v}
    epoch_seconds.update({f"{k}_median": round(float(np.median(v)), 3) for k, v in secs.items() if v})
    planned = {"planned": sum(p.epochs for p in phases), "trained": before + len(run), "this_run": len(run)}
    return planned, epoch_seconds


def schedule(space: SearchSpace, cfg: SearchConfig):
    """The supernet's training phases for a configuration."""
    return progressive_shrinking(
        space,
        cfg.full_epochs,
        cfg.phase_epochs,
        cfg.lr,
        cfg.subnets_per_step,
        sub_stages=cfg.sub_stages,
        frozen_teacher=cfg.frozen_teacher,
    )


def _measure_stage(c: _Ctx, measure: Callable[[Arch], float], width: float, res: int) -> list:
    """Validation accuracy of `measured_subnets + evolution_measured` random sub-networks drawn from the fitting
    set (the random search of the same measuring budget as evolution's), saved after each one. Returns
    [(arch, accuracy)] in draw order."""
    cfg = c.cfg
    saved = c.state.load("measured")
    if saved is not None and "archs" in saved:
        with saved_file(c.state.folder, "measured stage"):
            archs = [arch_from_json(a) for a in saved["archs"]]
            accs = [float(v) for v in saved["accuracies"]]
            c.rng.bit_generator.state = saved["rng"]
        c.resumed.append("measured" if len(accs) >= len(archs) else "measured (partial)")
        c.note({"stage": "measure", "resumed_subnets": len(accs)})
    else:
        n = cfg.measured_subnets + cfg.evolution_measured
        archs = fitting_batch(lambda: sample(c.space, c.rng, width, res), n, c.cost, c.limits, 400, "sub-network")
        accs = []
    rng_state = c.rng.bit_generator.state
    for a in archs[len(accs) :]:
        accs.append(measure(a))
        c.state.save("measured", {"archs": [x.describe() for x in archs], "accuracies": accs, "rng": rng_state})
        c.note({"stage": "measure", "done": len(accs), "of": len(archs), "accuracy": accs[-1]})
    if not archs:
        c.state.save("measured", {"archs": [], "accuracies": [], "rng": rng_state})
    return list(zip(archs, accs))


def _evolution_stage(c: _Ctx, measured: list, measure: Callable[[Arch], float], width: float, res: int):
    """The predictor (its out-of-fold Spearman beside MACs alone), evolution on it, its best distinct candidates
    measured, and the comparison with random search at the same number of measured candidates.

    Returns (evolution result, its measured accuracy, chosen arch, its accuracy, quality dict)."""
    saved = c.state.load("evolution")
    if saved is not None and "quality" in saved:
        with saved_file(c.state.folder, "evolution stage"):
            c.rng.bit_generator.state = saved["rng"]
            evo = EvolutionResult(
                arch_from_json(saved["arch"]),
                float(saved["score"]),
                Cost(**saved["cost"]),
                tuple(saved["history"]),
                saved["evaluated"],
            )
            result = evo, float(saved["accuracy"]), arch_from_json(saved["chosen"]), float(saved["chosen_accuracy"])
            quality = dict(saved["quality"])
            quality["evolution_measured"] = [(arch_from_json(a), float(v)) for a, v in saved["evolution_measured"]]
        c.resumed.append("evolution")
        c.note({"stage": "evolution", "resumed": True, "best": evo.score})
        return (*result, quality)
    m = c.cfg.measured_subnets
    fit_set = measured[:m] if len(measured) > m else measured
    archs, accs = [a for a, _ in fit_set], [v for _, v in fit_set]
    oof = cross_validated(c.space, archs, accs, seed=c.cfg.seed)
    quality = {
        "predictor_spearman": round(spearman(oof, accs), 4),
        "macs_spearman": round(spearman([macs(a, c.space) for a in archs], accs), 4),
        "predictor_samples": len(archs),
        "predictor_validation": "5-fold out-of-fold predictions on the measured fitting sub-networks",
    }
    c.note({"stage": "predictor", **quality})
    pred = fit_predictor(c.space, archs, accs)
    on_gen = lambda e: c.note({"stage": "evolution", **e})  # noqa: E731
    evo = evolve(c.space, pred, c.cost, c.limits, c.rng, c.cfg.evolution, width, res, on_gen)
    known = {a.key(c.space): v for a, v in measured}
    evo_measured = []
    for a, _score in (evo.ranked or ((evo.arch, evo.score),))[: max(1, c.cfg.evolution_measured)]:
        acc = known[a.key(c.space)] if a.key(c.space) in known else measure(a)
        evo_measured.append((a, acc))
    evo_arch, evo_acc = max(evo_measured, key=lambda t: t[1])
    rnd_arch, rnd_acc = max(measured, key=lambda t: t[1])
    best_arch, best_acc, source = (
        (evo_arch, evo_acc, "evolution") if evo_acc >= rnd_acc else (rnd_arch, rnd_acc, "random search")
    )
    quality.update(
        evolution_best=evo_acc,
        random_best=rnd_acc,
        evolution_candidates=len(evo_measured),
        random_candidates=len(measured),
        measured_budget=f"random: {len(measured)} measured; evolution: {len(fit_set)} for the predictor "
        f"+ {len(evo_measured)} of its own",
        winner=source,
    )
    c.note({"stage": "compare", **{k: v for k, v in quality.items() if k not in ("predictor_validation",)}})
    c.state.save(
        "evolution",
        {
            "arch": evo.arch.describe(),
            "score": evo.score,
            "cost": asdict(evo.cost),
            "history": list(evo.history),
            "evaluated": evo.evaluated,
            "accuracy": evo_acc,
            "chosen": best_arch.describe(),
            "chosen_accuracy": best_acc,
            "quality": quality,
            "evolution_measured": [(a.describe(), v) for a, v in evo_measured],
            "rng": c.rng.bit_generator.state,
        },
    )
    quality = dict(quality, evolution_measured=evo_measured)
    return evo, evo_acc, best_arch, best_acc, quality


def _finetune_stage(c: _Ctx, sub: StaticNet, train: Dataset, tcfg: TrainConfig, teacher=None) -> tuple[StaticNet, dict]:
    epochs = c.cfg.finetune_epochs
    if not epochs:
        return sub, {"planned": 0, "trained": 0, "this_run": 0}
    before = len(saved_history(tcfg.checkpoint))
    if before:
        c.resumed.append("finetune" if before >= epochs else "finetune (partial)")
        c.note({"stage": "finetune", "resumed_epochs": before})
    sub = finetune(
        sub, train, tcfg, epochs, c.cfg.finetune_lr, c.cfg.device, lambda e: c.note({"stage": "finetune", **e}), teacher
    )
    return sub, {
        "planned": epochs,
        "trained": len(saved_history(tcfg.checkpoint)) if tcfg.checkpoint else epochs,
        "this_run": epochs - before,
    }
