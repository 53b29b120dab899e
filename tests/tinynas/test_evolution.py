import numpy as np
import pytest

from tinyengine_codegen.errors import TinyMLError
from tinynas.evolution import Cost, EvolutionBudget, Limits, evolve, random_search
from tinynas.space import cifar_space, macs

SPACE = cifar_space()
TARGET = np.random.default_rng(42).choice(SPACE.kernel_sizes, SPACE.num_slots)


def score(a):
    """Synthetic objective: agreement with a hidden kernel pattern, plus a reward for depth and expansion."""
    return float(np.sum(np.asarray(a.kernels) == TARGET)) + 0.5 * sum(a.depths) + 0.2 * sum(a.expands)


def cost(a):
    m = macs(a, SPACE)
    return Cost(peak_sram_bytes=m // 100, flash_bytes=m // 50, macs=m)


LIMITS = Limits(peak_sram_bytes=40_000, flash_bytes=10**9)


def test_evolution_beats_random_sampling_with_the_same_budget():
    budget = EvolutionBudget(population=20, generations=10)
    wins = 0
    for seed in range(3):
        evo = evolve(SPACE, score, cost, LIMITS, np.random.default_rng(seed), budget, width=1.0, resolution=32)
        rnd = random_search(SPACE, score, cost, LIMITS, np.random.default_rng(seed), evo.evaluated, 1.0, 32)
        assert LIMITS.violation(evo.cost) is None and evo.cost == cost(evo.arch)
        assert list(evo.history) == sorted(evo.history)  # elitist: best never gets worse
        wins += evo.score > rnd.score
    assert wins == 3


def test_every_candidate_respects_the_limits():
    seen = []

    def spy(a):
        c = cost(a)
        seen.append(c)
        return c

    res = evolve(SPACE, score, spy, LIMITS, np.random.default_rng(0), EvolutionBudget(8, 3), 1.0, 32)
    assert res.cost.peak_sram_bytes <= LIMITS.peak_sram_bytes
    assert any(c.peak_sram_bytes > LIMITS.peak_sram_bytes for c in seen)  # the limit did reject some


def test_nothing_fits_is_a_clear_error():
    with pytest.raises(TinyMLError, match="no random sub-network fits after 20 tries.*peak SRAM"):
        evolve(
            SPACE,
            score,
            cost,
            Limits(10, 10),
            np.random.default_rng(0),
            EvolutionBudget(4, 2, tries_per_child=5),
            1.0,
            32,
        )


def graph_bytes(graph):
    """A picklable graph cost for the worker-pool test: the largest activation, and the weights."""
    sizes = {t.is_const: [] for t in graph.tensors.values()}
    for t in graph.tensors.values():
        sizes[t.is_const].append(int(np.prod(t.shape)))
    return Cost(max(sizes[False]), sum(sizes.get(True, [0])))


def test_worker_processes_give_the_same_search():
    """Costs evaluated on a process pool (ArchCost.many) change nothing: same fitting draws, same winner."""
    from tinynas.search import ArchCost

    results = []
    for workers in (1, 2):
        cost_fn = ArchCost(SPACE, graph_bytes, workers)
        try:
            limits = Limits(peak_sram_bytes=20_000, flash_bytes=10**9)
            budget = EvolutionBudget(population=8, generations=3)
            results.append(evolve(SPACE, score, cost_fn, limits, np.random.default_rng(3), budget, 1.0, 32))
        finally:
            cost_fn.close()
    assert results[0].arch == results[1].arch and results[0].history == results[1].history
