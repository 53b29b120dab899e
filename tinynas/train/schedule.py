"""Progressive shrinking as data: each phase opens more of the space (kernel, then depth, then expand ratio).

As in once-for-all, each elastic dimension opens in sub-stages, one smaller value at a time (kernel 7 -> 5 -> 3,
depth 4 -> 3 -> 2, expand 6 -> 4 -> 3); the first expand sub-stage starts by sorting the expanded channels by
importance, so that the narrower networks keep the channels that matter most.
"""

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
    subnets_per_step: int = 1  # sampled sub-networks per step (0: only the largest network)
    distill: bool = True  # knowledge distillation of the sampled sub-networks
    frozen_teacher: bool = False  # True: from a frozen copy of the full network (once-for-all), with the labels;
    # False: in-place, from the largest network trained in the same step (BigNAS)
    sort_channels: bool = False  # sort the expanded channels by importance before the phase's first epoch


def _sub_stages(values: tuple[int, ...]) -> list[tuple[int, ...]]:
    """(7, 5, 3) -> [(7, 5), (7, 5, 3)]: the choices open one smaller value at a time."""
    desc = tuple(sorted(values, reverse=True))
    return [tuple(sorted(desc[: i + 1])) for i in range(1, len(desc))] or [tuple(sorted(desc))]


def _split(epochs: int, parts: int) -> list[int]:
    base, extra = divmod(epochs, parts)
    return [base + (1 if i >= parts - extra else 0) for i in range(parts)]  # the later sub-stages get the rest


def progressive_shrinking(
    space: SearchSpace,
    full_epochs: int,
    phase_epochs: int,
    lr: float,
    subnets_per_step: int = 2,
    *,
    sub_stages: bool = True,
    frozen_teacher: bool = True,
) -> tuple[Phase, ...]:
    """full network -> elastic kernel -> elastic depth -> elastic expand; each later phase at a lower rate.

    `phase_epochs` is per elastic dimension, split over its sub-stages (kernel-5 then kernel-3 and so on) when
    `sub_stages`; `frozen_teacher` picks the distillation scheme of the elastic phases (see Phase)."""
    kmax, emax, dmax = (max(space.kernel_sizes),), (max(space.expand_ratios),), (max(space.depths),)
    ks, es, ds = space.kernel_sizes, space.expand_ratios, space.depths
    phases = [Phase("full", full_epochs, lr, kmax, emax, dmax, 0, False)]
    dims = (
        ("kernel", ks, 0.5, lambda v: (v, emax, dmax)),
        ("depth", ds, 0.4, lambda v: (ks, emax, v)),
        ("expand", es, 0.3, lambda v: (ks, v, ds)),
    )
    sorted_yet = False
    for name, values, scale, choice in dims:
        stages = _sub_stages(values) if sub_stages else [tuple(sorted(values))]
        for v, n in zip(stages, _split(phase_epochs, len(stages))):
            label = f"{name}-{min(v)}" if sub_stages and len(stages) > 1 else name
            k, e, d = choice(v)
            sort = name == "expand" and not sorted_yet and n > 0 and len(space.expand_ratios) > 1
            sorted_yet = sorted_yet or sort
            phases.append(Phase(label, n, lr * scale, k, e, d, subnets_per_step, True, frozen_teacher, sort))
    return tuple(p for p in phases if p.epochs > 0)


def restrict(space: SearchSpace, phase: Phase) -> SearchSpace:
    """The space a phase samples from."""
    return replace(space, kernel_sizes=phase.kernel_sizes, expand_ratios=phase.expand_ratios, depths=phase.depths)
