"""Memory cost of candidate sub-networks through the code generator's plan, memoised, on a process pool."""

from __future__ import annotations

from collections.abc import Callable

from tinyengine_codegen.ir.graph import Graph

from .evolution import Cost
from .space import Arch, SearchSpace
from .to_ir import arch_to_graph


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
