"""Accuracy predictor: ridge regression on a one-hot encoding of the arch, fit to measured sub-network accuracies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyengine_codegen.errors import TinyMLError

from .space import Arch, SearchSpace


def encode(arch: Arch, space: SearchSpace) -> np.ndarray:
    """One-hot kernel and expand per active slot (zeros for skipped slots), one-hot depth per stage, resolution."""
    active = set(arch.active_slots(space))
    nk, ne, nd = len(space.kernel_sizes), len(space.expand_ratios), len(space.depths)
    v = np.zeros(space.num_slots * (nk + ne) + len(space.stages) * nd + 1)
    for i in range(space.num_slots):
        if i in active:
            v[i * (nk + ne) + space.kernel_sizes.index(arch.kernels[i])] = 1.0
            v[i * (nk + ne) + nk + space.expand_ratios.index(arch.expands[i])] = 1.0
    base = space.num_slots * (nk + ne)
    for s, d in enumerate(arch.depths):
        if d in space.depths:
            v[base + s * nd + space.depths.index(d)] = 1.0
    lo, hi = min(space.resolutions), max(space.resolutions)
    v[-1] = (arch.resolution - lo) / max(1, hi - lo)
    return v


@dataclass(frozen=True, eq=False)
class AccuracyPredictor:
    space: SearchSpace
    coef: np.ndarray
    intercept: float

    def predict(self, archs: list[Arch]) -> np.ndarray:
        x = np.stack([encode(a, self.space) for a in archs])
        return x @ self.coef + self.intercept

    def __call__(self, arch: Arch) -> float:
        return float(self.predict([arch])[0])


def fit_predictor(
    space: SearchSpace, archs: list[Arch], accuracies: list[float], alpha: float = 1.0
) -> AccuracyPredictor:
    """Closed-form ridge regression (the intercept is not penalised)."""
    if len(archs) < 2 or len(archs) != len(accuracies):
        raise TinyMLError(f"the accuracy predictor needs at least 2 measured sub-networks (got {len(archs)})")
    x = np.stack([encode(a, space) for a in archs])
    y = np.asarray(accuracies, dtype=np.float64)
    xm, ym = x.mean(0), y.mean()
    xc = x - xm
    coef = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ (y - ym))
    return AccuracyPredictor(space, coef, float(ym - xm @ coef))
