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
from .evolution import Cost, CostFn, EvolutionBudget, EvolutionResult, Limits, evolve
from .predictor import fit_predictor
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
    full_epochs: int = 4
    phase_epochs: int = 2
    lr: float = 0.1
    batch_size: int = 64
    subnets_per_step: int = 2
    space_samples: int = 30
    space_criterion: str = "mean"
    measured_subnets: int = 16
    evolution: EvolutionBudget = EvolutionBudget(population=24, generations=8)
    finetune_epochs: int = 4
    finetune_lr: float = 0.02
    calib_images: int = 512
    quant: QuantConfig = QuantConfig()
    val_fraction: float = 0.15
    seed: int = 0
    device: str = "cpu"
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
        full_epochs=60,
        phase_epochs=25,
        lr=0.1,
        batch_size=128,
        subnets_per_step=2,
        space_samples=100,
        measured_subnets=60,
        evolution=EvolutionBudget(population=64, generations=20),
        finetune_epochs=30,
        finetune_lr=0.02,
        calib_images=1000,
        device="cuda",
    )
    return replace(base, **changes)


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


def graph_cost(space: SearchSpace, cost_of_graph: Callable[[Graph], Cost]) -> CostFn:
    """Arch -> Cost through the structural IR graph, memoised per distinct network."""
    memo: dict = {}

    def cost(a: Arch) -> Cost:
        k = a.key(space)
        if k not in memo:
            memo[k] = cost_of_graph(arch_to_graph(a, space))
        return memo[k]

    return cost


def _measure(net: Supernet, arch: Arch, data: Dataset, calib: np.ndarray, val_x: np.ndarray, device) -> float:
    sub = recalibrate(net.extract(arch), calib, device=device)
    return evaluate(sub, val_x, data.y_test, device=device)


def fingerprint(cfg: SearchConfig, limits: Limits, data: Dataset, context: dict | None = None) -> dict:
    """What a saved search state must match to be resumed: every option that changes a result (not the device or
    the state path), the limits, the cost function's context (board, options) and a digest of the data."""
    keys = {k: v for k, v in asdict(cfg).items() if k not in ("checkpoint", "device", "data")}
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
    state = SearchState.open(cfg.checkpoint, fingerprint(cfg, limits, data, context))
    c = _Ctx(cfg, space, graph_cost(space, cost_of_graph), limits, rng, state, state.logger(progress), [])
    choice = _space_stage(c)
    times["space"] = time.time() - t

    t, res, w = time.time(), choice.resolution, choice.width
    train, val = data.split_validation(cfg.val_fraction, cfg.seed)
    tcfg = TrainConfig(res, cfg.batch_size, seed=cfg.seed, checkpoint=state.supernet_path)
    net = Supernet(space, w)
    supernet_epochs = _train_stage(c, net, train, tcfg)
    times["train"] = time.time() - t

    t = time.time()
    calib = calibration_images(train.x_train, res, cfg.calib_images, cfg.seed)
    val_x = resize_uint8(val.x_test, res)
    measure = lambda a: _measure(net, a, val, calib, val_x, cfg.device)  # noqa: E731
    measured = _measure_stage(c, measure, w, res)
    evo, evo_acc, best_arch, best_acc = _evolution_stage(c, measured, measure, w, res)
    times["search"] = time.time() - t
    c.note({"stage": "search", "val_accuracy": best_acc, "macs": macs(best_arch, space)})

    t = time.time()
    sub = recalibrate(net.extract(best_arch), calib, device=cfg.device)
    sub, finetune_epochs = _finetune_stage(c, sub, train, replace(tcfg, checkpoint=state.finetune_path))
    sub = sub.cpu().eval()
    test_x = resize_uint8(data.x_test, res)
    graph = quantize(sub, calib, cfg.quant, name=f"tinynas_{data.name}")
    f_acc = evaluate(sub, test_x, data.y_test)
    q_acc = int8_accuracy(graph, test_x, data.y_test)
    times["export"] = time.time() - t
    cost = c.cost
    measured_rows = tuple((a, acc, cost(a)) for a, acc in measured.values()) + ((evo.arch, evo_acc, evo.cost),)
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
    phases = progressive_shrinking(c.space, cfg.full_epochs, cfg.phase_epochs, cfg.lr, cfg.subnets_per_step)
    before = _epochs_done(tcfg.checkpoint, phases)
    if before:
        c.resumed.append("train" if before >= sum(p.epochs for p in phases) else "train (partial)")
        c.note({"stage": "train", "resumed_epochs": before})
    run = train_supernet(net, train, phases, tcfg, cfg.device, lambda e: c.note({"stage": "train", **e}))
    return {"planned": sum(p.epochs for p in phases), "trained": before + len(run), "this_run": len(run)}


def _measure_stage(c: _Ctx, measure: Callable[[Arch], float], width: float, res: int) -> dict:
    """Validation accuracy of `measured_subnets` random fitting sub-networks, saved after each one."""
    saved = c.state.load("measured") or {"draws": []}
    with saved_file(c.state.folder, "measured stage"):
        draws = list(saved["draws"])
        archs = [(arch_from_json(d["arch"]), d["accuracy"]) for d in draws]
        if draws:
            c.rng.bit_generator.state = saved["rng"]
    if draws:
        c.resumed.append("measured" if len(draws) >= c.cfg.measured_subnets else "measured (partial)")
        c.note({"stage": "measure", "resumed_subnets": len(draws)})
    for _ in range(len(draws), c.cfg.measured_subnets):
        a = sample(c.space, c.rng, width, res)
        acc = measure(a) if c.limits.violation(c.cost(a)) is None else None
        draws.append({"arch": a.describe(), "accuracy": acc})
        c.state.save("measured", {"draws": draws, "rng": c.rng.bit_generator.state})
        archs.append((arch_from_json(a.describe()), acc))
    measured = {}
    for a, acc in archs:
        if acc is not None:
            measured[a.key(c.space)] = (a, acc)
    if len(measured) < 2:
        raise TinyMLError(
            f"only {len(measured)} of {c.cfg.measured_subnets} sampled sub-networks fit the limits; "
            "relax the limits or use a smaller space"
        )
    return measured


def _evolution_stage(c: _Ctx, measured: dict, measure: Callable[[Arch], float], width: float, res: int):
    """Evolution on the accuracy predictor; returns (result, its measured accuracy, chosen arch, its accuracy)."""
    saved = c.state.load("evolution")
    if saved is not None:
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
        c.resumed.append("evolution")
        c.note({"stage": "evolution", "resumed": True, "best": evo.score})
        return result
    pred = fit_predictor(c.space, [a for a, _ in measured.values()], [s for _, s in measured.values()])
    evo = evolve(
        c.space,
        pred,
        c.cost,
        c.limits,
        c.rng,
        c.cfg.evolution,
        width,
        res,
        lambda e: c.note({"stage": "evolution", **e}),
    )
    best_arch, best_acc = max(measured.values(), key=lambda v: v[1])
    evo_acc = measure(evo.arch)
    if evo_acc >= best_acc:
        best_arch, best_acc = evo.arch, evo_acc
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
            "rng": c.rng.bit_generator.state,
        },
    )
    return evo, evo_acc, best_arch, best_acc


def _finetune_stage(c: _Ctx, sub: StaticNet, train: Dataset, tcfg: TrainConfig) -> tuple[StaticNet, dict]:
    epochs = c.cfg.finetune_epochs
    if not epochs:
        return sub, {"planned": 0, "trained": 0, "this_run": 0}
    before = len(saved_history(tcfg.checkpoint))
    if before:
        c.resumed.append("finetune" if before >= epochs else "finetune (partial)")
        c.note({"stage": "finetune", "resumed_epochs": before})
    sub = finetune(
        sub, train, tcfg, epochs, c.cfg.finetune_lr, c.cfg.device, lambda e: c.note({"stage": "finetune", **e})
    )
    return sub, {
        "planned": epochs,
        "trained": len(saved_history(tcfg.checkpoint)) if tcfg.checkpoint else epochs,
        "this_run": epochs - before,
    }
