"""The search's settings: the SearchConfig dataclass and its quick (CPU) and CIFAR-10 (GPU) presets."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from .evolution import EvolutionBudget
from .quantize import QuantConfig
from .space import cifar_space, mcunet_space, quick_space

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
