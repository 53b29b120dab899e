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
    ranked: tuple = ()  # (arch, score) of the final population's distinct networks, best first


CostFn = Callable[[Arch], Cost]


def cost_many(cost_fn: CostFn) -> Callable[[list[Arch]], list[Cost]]:
    """The batch form of a cost function: its own `many` (a process pool, see tinynas.search.ArchCost) or a loop."""
    many = getattr(cost_fn, "many", None)
    return many if many is not None else (lambda archs: [cost_fn(a) for a in archs])


def fitting_batch(
    draw: Callable[[], Arch], need: int, cost_fn: CostFn, limits: Limits, tries: int, what: str
) -> list[Arch]:
    """`need` fitting archs from `draw`, in draw order, at most `tries` draws per arch. Candidates are drawn in
    batches sized by the fitting rate seen so far and their costs evaluated together (in parallel when the cost
    function has `many`); the result depends only on the draws, not on the batching."""
    out: list[Arch] = []
    drawn, fitted, last = 0, 0, "no candidate drawn"
    many = cost_many(cost_fn)
    while len(out) < need:
        left = need - len(out)
        if drawn >= tries * need:
            raise TinyMLError(
                f"no {what} fits after {drawn} tries (last: {last}); raise the limits, or choose a smaller "
                "width or resolution"
            )
        rate = max(fitted / drawn, 0.02) if drawn else 0.5
        k = int(min(max(left / rate * 1.2, left), tries * need - drawn, 2048))
        cands = [draw() for _ in range(max(1, k))]
        drawn += len(cands)
        for a, c in zip(cands, many(cands)):
            why = limits.violation(c)
            if why is None:
                fitted += 1
                if len(out) < need:
                    out.append(a)
            else:
                last = why
    return out


def _fitting(draw: Callable[[], Arch], cost: CostFn, limits: Limits, tries: int, what: str) -> Arch:
    return fitting_batch(draw, 1, cost, limits, tries, what)[0]


def _cached(space: SearchSpace, fn: Callable[[Arch], object]) -> Callable[[Arch], object]:
    memo: dict = {}
    many = cost_many(fn)

    def call(a: Arch):
        k = a.key(space)
        if k not in memo:
            memo[k] = fn(a)
        return memo[k]

    def call_many(archs: list[Arch]) -> list:
        new = list({a.key(space): a for a in archs if a.key(space) not in memo}.values())
        for a, v in zip(new, many(new) if new else []):
            memo[a.key(space)] = v
        return [memo[a.key(space)] for a in archs]

    call.many = call_many
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
    pop = fitting_batch(
        lambda: sample(space, rng, width, resolution), budget.population, cost, limits, tries, "random sub-network"
    )
    scored = sorted(((score(a), i, a) for i, a in enumerate(pop)), key=lambda t: -t[0])
    history, n_parents = [scored[0][0]], max(2, int(round(budget.parent_ratio * budget.population)))
    n_mut = int(round(budget.mutate_ratio * (budget.population - n_parents)))
    for gen in range(1, budget.generations):
        parents = [a for _, _, a in scored[:n_parents]]
        children = fitting_batch(
            lambda ps=parents: mutate(space, _pick(ps, rng), rng, budget.mutate_prob, resolution is None),
            n_mut,
            cost,
            limits,
            tries,
            "mutation",
        )
        children += fitting_batch(
            lambda ps=parents: crossover(_pick(ps, rng), _pick(ps, rng), rng),
            budget.population - n_parents - n_mut,
            cost,
            limits,
            tries,
            "crossover",
        )
        scored = sorted(
            scored[:n_parents] + [(score(a), gen * 10_000 + i, a) for i, a in enumerate(children)], key=lambda t: -t[0]
        )
        history.append(scored[0][0])
        if progress:
            progress({"generation": gen + 1, "generations": budget.generations, "best": scored[0][0]})
    best = scored[0]
    ranked, seen = [], set()
    for s, _, a in scored:
        if a.key(space) not in seen:
            seen.add(a.key(space))
            ranked.append((a, s))
    return EvolutionResult(
        best[2], best[0], cost(best[2]), tuple(history), budget.population * budget.generations, tuple(ranked)
    )


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
    draw = lambda: sample(space, rng, width, resolution)  # noqa: E731
    for a in fitting_batch(draw, count, cost_fn, limits, tries, "random sub-network"):
        s = score_fn(a)
        if best is None or s > best[0]:
            best = (s, a)
    return EvolutionResult(best[1], best[0], cost_fn(best[1]), (best[0],), count)


def _pick(parents: list, rng: np.random.Generator):
    """One parent drawn uniformly with `rng`."""
    return parents[int(rng.integers(len(parents)))]
