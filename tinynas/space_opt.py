"""Search-space optimization (TinyNAS): pick the width multiplier and resolution whose fitting sub-networks have
the most computation.

For each (width, resolution) candidate, sample sub-networks, keep those the cost function says fit, and compare the
MACs distributions (CDFs) of the fitting ones: more MACs under the same memory limits predicts higher accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tinyengine_codegen.errors import TinyMLError

from .evolution import CostFn, Limits, cost_many
from .space import SearchSpace, macs, sample


@dataclass(frozen=True, eq=False)
class Candidate:
    width: float
    resolution: int
    sampled: int
    fitting_macs: np.ndarray  # sorted MACs of the sampled sub-networks that fit (the CDF's x values)

    @property
    def fit_ratio(self) -> float:
        return len(self.fitting_macs) / max(1, self.sampled)

    def statistic(self, criterion: str) -> float:
        if len(self.fitting_macs) == 0:
            return float("-inf")
        if criterion == "mean":
            return float(self.fitting_macs.mean())
        if criterion.startswith("p"):
            return float(np.percentile(self.fitting_macs, float(criterion[1:])))
        raise TinyMLError(f"unknown space criterion '{criterion}'; use mean or pNN (e.g. p80)")


@dataclass(frozen=True, eq=False)
class SpaceChoice:
    width: float
    resolution: int
    criterion: str
    candidates: tuple[Candidate, ...]


def optimize_space(
    space: SearchSpace,
    cost_fn: CostFn,
    limits: Limits,
    rng: np.random.Generator,
    samples: int = 200,
    criterion: str = "mean",
    min_fit_ratio: float = 0.05,
    progress: Callable[[dict], None] | None = None,
) -> SpaceChoice:
    """Choose (width, resolution) by `criterion` over the MACs of fitting sub-networks."""
    drawn = [
        (w, r, [sample(space, rng, width=w, resolution=r) for _ in range(samples)])
        for w in space.widths
        for r in space.resolutions
    ]
    costs = iter(cost_many(cost_fn)([a for _, _, archs in drawn for a in archs]))  # one batch: parallel when it can
    cands = []
    for w, r, archs in drawn:
        fit = [macs(a, space) for a in archs if limits.violation(next(costs)) is None]
        cands.append(Candidate(w, r, samples, np.sort(np.asarray(fit, dtype=np.int64))))
        if progress:
            progress({"width": w, "resolution": r, "fit_ratio": cands[-1].fit_ratio})
    ok = [c for c in cands if len(c.fitting_macs) and c.fit_ratio >= min_fit_ratio]
    if not ok:
        best = max(cands, key=lambda c: c.fit_ratio)
        raise TinyMLError(
            f"no width/resolution lets {min_fit_ratio:.0%} of sub-networks fit (best: width "
            f"{best.width}, resolution {best.resolution}, {best.fit_ratio:.1%}); the board is too small "
            "for this space: use a smaller space or relax the limits"
        )
    best = max(ok, key=lambda c: (c.statistic(criterion), c.fit_ratio))
    return SpaceChoice(best.width, best.resolution, criterion, tuple(cands))
