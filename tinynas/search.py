"""The whole search as one function: space optimization, supernet training, evolution, fine-tuning, int8 export.

`run_search(config, cost_fn, limits, progress)`: cost_fn maps an IR graph (built by `arch_to_graph`) to a `Cost`
from the code generator's planner; progress receives small dicts ({"stage": ..., ...}) and nothing is printed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.ir.graph import Graph

from .data import Dataset, load_dataset, resize_uint8
from .evolution import Cost, CostFn, EvolutionBudget, Limits, evolve
from .predictor import fit_predictor
from .qsim import int8_accuracy
from .quantize import QuantConfig, quantize
from .space import Arch, SearchSpace, cifar_space, macs, mcunet_space, quick_space, sample
from .space_opt import SpaceChoice, optimize_space
from .supernet.mbv2 import Supernet
from .supernet.static import StaticNet
from .to_ir import arch_to_graph
from .train.bn_calib import calibration_images, recalibrate
from .train.loop import TrainConfig, evaluate, finetune, train_supernet
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
    checkpoint: Path | None = None


def quick_config(**changes) -> SearchConfig:
    """Minutes on two CPU cores with the embedded digits data."""
    return replace(SearchConfig(), **changes)


def cifar_config(data: Path, **changes) -> SearchConfig:
    """A full CIFAR-10 run (meant for a GPU)."""
    base = SearchConfig(dataset="cifar10", data=data, space="cifar", full_epochs=60, phase_epochs=25, lr=0.1,
                        batch_size=128, subnets_per_step=2, space_samples=100, measured_subnets=60,
                        evolution=EvolutionBudget(population=64, generations=20), finetune_epochs=30,
                        finetune_lr=0.02, calib_images=1000, device="cuda")
    return replace(base, **changes)


@dataclass(frozen=True, eq=False)
class SearchResult:
    arch: Arch
    space: SearchSpace
    space_choice: SpaceChoice
    net: StaticNet                   # the fine-tuned float network (eval mode)
    graph: Graph                     # its int8 IR graph
    cost: Cost
    float_accuracy: float            # test split
    int8_accuracy: float             # test split, integer simulation of `graph`
    macs: int
    seed: int
    test_images: np.ndarray          # uint8 NHWC test images at the model's resolution (int8 input = pixel - 128)
    test_labels: np.ndarray
    timings: dict = field(default_factory=dict)
    measured: tuple = ()             # (arch, validation accuracy, cost) of every measured sub-network
    evolution_history: tuple[float, ...] = ()   # best predicted accuracy after each generation
    train_images: int = 0            # images the supernet and the winner were trained on (validation held out)


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


def run_search(cfg: SearchConfig, cost_of_graph: Callable[[Graph], Cost], limits: Limits,
               progress: Callable[[dict], None] | None = None) -> SearchResult:
    note = progress or (lambda e: None)
    times: dict[str, float] = {}
    t = time.time()
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    data = load_dataset(cfg.dataset, cfg.data)
    if cfg.space not in SPACES:
        raise TinyMLError(f"unknown search space '{cfg.space}'; use one of {', '.join(SPACES)}")
    space = SPACES[cfg.space](data.channels, data.num_classes)
    cost = graph_cost(space, cost_of_graph)
    choice = optimize_space(space, cost, limits, rng, cfg.space_samples, cfg.space_criterion,
                            progress=lambda e: note({"stage": "space", **e}))
    times["space"] = time.time() - t
    note({"stage": "space", "width": choice.width, "resolution": choice.resolution})

    t, res, w = time.time(), choice.resolution, choice.width
    train, val = data.split_validation(cfg.val_fraction, cfg.seed)
    tcfg = TrainConfig(res, cfg.batch_size, seed=cfg.seed, checkpoint=cfg.checkpoint)
    net = Supernet(space, w)
    phases = progressive_shrinking(space, cfg.full_epochs, cfg.phase_epochs, cfg.lr, cfg.subnets_per_step)
    train_supernet(net, train, phases, tcfg, cfg.device, lambda e: note({"stage": "train", **e}))
    times["train"] = time.time() - t

    t = time.time()
    calib = calibration_images(train.x_train, res, cfg.calib_images, cfg.seed)
    val_x = resize_uint8(val.x_test, res)
    measured = {}
    for _ in range(cfg.measured_subnets):
        a = sample(space, rng, w, res)
        if limits.violation(cost(a)) is None:
            measured[a.key(space)] = (a, _measure(net, a, val, calib, val_x, cfg.device))
    if len(measured) < 2:
        raise TinyMLError(f"only {len(measured)} of {cfg.measured_subnets} sampled sub-networks fit the limits; "
                          "relax the limits or use a smaller space")
    pred = fit_predictor(space, [a for a, _ in measured.values()], [s for _, s in measured.values()])
    evo = evolve(space, pred, cost, limits, rng, cfg.evolution, w, res,
                 lambda e: note({"stage": "evolution", **e}))
    best_arch, best_acc = max(measured.values(), key=lambda v: v[1])
    evo_acc = _measure(net, evo.arch, val, calib, val_x, cfg.device)
    if evo_acc >= best_acc:
        best_arch, best_acc = evo.arch, evo_acc
    times["search"] = time.time() - t
    note({"stage": "search", "val_accuracy": best_acc, "macs": macs(best_arch, space)})

    t = time.time()
    sub = recalibrate(net.extract(best_arch), calib, device=cfg.device)
    if cfg.finetune_epochs:
        sub = finetune(sub, train, tcfg, cfg.finetune_epochs, cfg.finetune_lr, cfg.device,
                       lambda e: note({"stage": "finetune", **e}))
    sub = sub.cpu().eval()
    test_x = resize_uint8(data.x_test, res)
    graph = quantize(sub, calib, cfg.quant, name=f"tinynas_{data.name}")
    f_acc = evaluate(sub, test_x, data.y_test)
    q_acc = int8_accuracy(graph, test_x, data.y_test)
    times["export"] = time.time() - t
    measured_rows = tuple((a, acc, cost(a)) for a, acc in measured.values()) + ((evo.arch, evo_acc, evo.cost),)
    return SearchResult(best_arch, space, choice, sub, graph, cost(best_arch), f_acc, q_acc, macs(best_arch, space),
                        cfg.seed, test_x, data.y_test, times, measured_rows, tuple(evo.history),
                        len(train.y_train))
