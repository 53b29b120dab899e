"""Evolutionary search under hard resource limits, as a function of its inputs.

score_fn(arch) -> float (higher is better: measured or predicted accuracy); cost_fn(arch) -> Cost (the exact peak
SRAM and flash from the code generator's planner, injected by the caller). Parents come from the top quarter of
each generation; children are mutations and crossovers that must satisfy the limits. Every draw is bounded: when
no candidate fits after the allowed tries, a TinyMLError says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tinyengine_codegen.errors import TinyMLError

from .space import Arch, SearchSpace, crossover, mutate, sample


@dataclass(frozen=True, slots=True)
class Cost:
    peak_sram_bytes: int
    flash_bytes: int
    macs: int = 0
    latency: float | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    peak_sram_bytes: int
    flash_bytes: int
    latency: float | None = None

    def violation(self, c: Cost) -> str | None:
        if c.peak_sram_bytes > self.peak_sram_bytes:
            return f"peak SRAM {c.peak_sram_bytes:,} B > {self.peak_sram_bytes:,} B"
        if c.flash_bytes > self.flash_bytes:
            return f"flash {c.flash_bytes:,} B > {self.flash_bytes:,} B"
        if self.latency is not None and c.latency is not None and c.latency > self.latency:
            return f"latency {c.latency:g} > {self.latency:g}"
        return None


@dataclass(frozen=True, slots=True)
class EvolutionBudget:
    population: int = 32
    generations: int = 10
    mutate_ratio: float = 0.5  # share of children made by mutation (the rest by crossover)
    mutate_prob: float = 0.15
    parent_ratio: float = 0.25
    tries_per_child: int = 200  # bounded retries for a fitting candidate


@dataclass(frozen=True)
class EvolutionResult:
    arch: Arch
    score: float
    cost: Cost
    history: tuple[float, ...] = field(default=())  # best score after each generation
    evaluated: int = 0


CostFn = Callable[[Arch], Cost]


def _fitting(draw: Callable[[], Arch], cost: CostFn, limits: Limits, tries: int, what: str) -> Arch:
    last = "no candidate drawn"
    for _ in range(tries):
        a = draw()
        why = limits.violation(cost(a))
        if why is None:
            return a
        last = why
    raise TinyMLError(
        f"no {what} fits after {tries} tries (last: {last}); raise the limits, or choose a smaller width or resolution"
    )


def _cached(space: SearchSpace, fn: Callable[[Arch], object]) -> Callable[[Arch], object]:
    memo: dict = {}

    def call(a: Arch):
        k = a.key(space)
        if k not in memo:
            memo[k] = fn(a)
        return memo[k]

    return call


def evolve(
    space: SearchSpace,
    score_fn: Callable[[Arch], float],
    cost_fn: CostFn,
    limits: Limits,
    rng: np.random.Generator,
    budget: EvolutionBudget = EvolutionBudget(),
    width: float | None = None,
    resolution: int | None = None,
    progress: Callable[[dict], None] | None = None,
) -> EvolutionResult:
    """Best-scoring fitting arch found in population x generations score evaluations."""
    cost, score = _cached(space, cost_fn), _cached(space, score_fn)
    tries = budget.tries_per_child
    pop = [
        _fitting(lambda: sample(space, rng, width, resolution), cost, limits, tries, "random sub-network")
        for _ in range(budget.population)
    ]
    scored = sorted(((score(a), i, a) for i, a in enumerate(pop)), key=lambda t: -t[0])
    history, n_parents = [scored[0][0]], max(2, int(round(budget.parent_ratio * budget.population)))
    n_mut = int(round(budget.mutate_ratio * (budget.population - n_parents)))
    for gen in range(1, budget.generations):
        parents = [a for _, _, a in scored[:n_parents]]
        children = [
            _fitting(
                lambda ps=parents: mutate(space, _pick(ps, rng), rng, budget.mutate_prob, resolution is None),
                cost,
                limits,
                tries,
                "mutation",
            )
            for _ in range(n_mut)
        ]
        children += [
            _fitting(
                lambda ps=parents: crossover(_pick(ps, rng), _pick(ps, rng), rng), cost, limits, tries, "crossover"
            )
            for _ in range(budget.population - n_parents - n_mut)
        ]
        scored = sorted(
            scored[:n_parents] + [(score(a), gen * 10_000 + i, a) for i, a in enumerate(children)], key=lambda t: -t[0]
        )
        history.append(scored[0][0])
        if progress:
            progress({"generation": gen + 1, "generations": budget.generations, "best": scored[0][0]})
    best = scored[0]
    return EvolutionResult(best[2], best[0], cost(best[2]), tuple(history), budget.population * budget.generations)


def random_search(
    space: SearchSpace,
    score_fn: Callable[[Arch], float],
    cost_fn: CostFn,
    limits: Limits,
    rng: np.random.Generator,
    count: int,
    width: float | None = None,
    resolution: int | None = None,
    tries: int = 200,
) -> EvolutionResult:
    """The baseline: the best of `count` random fitting archs."""
    best = None
    for _ in range(count):
        a = _fitting(lambda: sample(space, rng, width, resolution), cost_fn, limits, tries, "random sub-network")
        s = score_fn(a)
        if best is None or s > best[0]:
            best = (s, a)
    return EvolutionResult(best[1], best[0], cost_fn(best[1]), (best[0],), count)


def _pick(parents: list, rng: np.random.Generator):
    """One parent drawn uniformly with `rng`."""
    return parents[int(rng.integers(len(parents)))]
