"""Progressive shrinking as data: each phase opens more of the space (kernel, then depth, then expand ratio)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..space import SearchSpace


@dataclass(frozen=True, slots=True)
class Phase:
    """One training phase: which choices sub-networks are sampled from, for how long, at which learning rate."""

    name: str
    epochs: int
    lr: float
    kernel_sizes: tuple[int, ...]
    expand_ratios: tuple[int, ...]
    depths: tuple[int, ...]
    subnets_per_step: int = 1  # sampled sub-networks per step besides the largest (0: only the largest)
    distill: bool = True  # in-place distillation from the largest network's predictions


def progressive_shrinking(
    space: SearchSpace, full_epochs: int, phase_epochs: int, lr: float, subnets_per_step: int = 2
) -> tuple[Phase, ...]:
    """full network -> elastic kernel -> elastic depth -> elastic expand; each later phase at a lower rate."""
    kmax, emax, dmax = (max(space.kernel_sizes),), (max(space.expand_ratios),), (max(space.depths),)
    ks, es, ds = space.kernel_sizes, space.expand_ratios, space.depths
    phases = [
        Phase("full", full_epochs, lr, kmax, emax, dmax, 0, False),
        Phase("kernel", phase_epochs, lr * 0.5, ks, emax, dmax, subnets_per_step),
        Phase("depth", phase_epochs, lr * 0.4, ks, emax, ds, subnets_per_step),
        Phase("expand", phase_epochs, lr * 0.3, ks, es, ds, subnets_per_step),
    ]
    return tuple(p for p in phases if p.epochs > 0)


def restrict(space: SearchSpace, phase: Phase) -> SearchSpace:
    """The space a phase samples from."""
    return replace(space, kernel_sizes=phase.kernel_sizes, expand_ratios=phase.expand_ratios, depths=phase.depths)
