"""Accuracy predictor: ridge regression on an encoding of the arch (one-hot choices, and the network's computation
and parameters on a log scale), fit to measured sub-network accuracies; its quality is measured by the Spearman
rank correlation of out-of-fold predictions (`cross_validated`) against the measured accuracies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyengine_codegen.errors import TinyMLError

from .space import Arch, SearchSpace, arch_steps

SIZE_WEIGHT = 3.0  # scale of the size features: ridge shrinks them less than the one-hot choices


def size_features(arch: Arch, space: SearchSpace) -> np.ndarray:
    """log MACs and log parameters of the network, relative to the largest network's (both <= 0)."""
    top = space.largest(arch.width, arch.resolution)
    steps, top_steps = arch_steps(arch, space), arch_steps(top, space)
    mac, top_mac = sum(s.macs for s in steps), sum(s.macs for s in top_steps)
    par, top_par = _params(steps), _params(top_steps)
    return SIZE_WEIGHT * np.array([np.log(max(mac, 1) / max(top_mac, 1)), np.log(max(par, 1) / max(top_par, 1))])


def _params(steps) -> int:
    n = 0
    for s in steps:
        if s.kind == "conv":
            n += s.cin * s.cout * s.kernel * s.kernel
        elif s.kind == "dw":
            n += s.cout * s.kernel * s.kernel
        elif s.kind == "fc":
            n += s.cin * s.cout
    return n


def encode(arch: Arch, space: SearchSpace) -> np.ndarray:
    """One-hot kernel and expand per active slot (zeros for skipped slots), one-hot depth per stage, resolution,
    and the size features."""
    active = set(arch.active_slots(space))
    nk, ne, nd = len(space.kernel_sizes), len(space.expand_ratios), len(space.depths)
    v = np.zeros(space.num_slots * (nk + ne) + len(space.stages) * nd + 1 + 2)
    for i in range(space.num_slots):
        if i in active:
            v[i * (nk + ne) + space.kernel_sizes.index(arch.kernels[i])] = 1.0
            v[i * (nk + ne) + nk + space.expand_ratios.index(arch.expands[i])] = 1.0
    base = space.num_slots * (nk + ne)
    for s, d in enumerate(arch.depths):
        if d in space.depths:
            v[base + s * nd + space.depths.index(d)] = 1.0
    lo, hi = min(space.resolutions), max(space.resolutions)
    v[-3] = (arch.resolution - lo) / max(1, hi - lo)
    v[-2:] = size_features(arch, space)
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


def rank(values) -> np.ndarray:
    """Ranks from 1 (ties get their average rank)."""
    v = np.asarray(values, dtype=np.float64)
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(1, len(v) + 1)
    for u in np.unique(v):
        tie = v == u
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a, b) -> float:
    """Spearman's rank correlation (0.0 when either side is constant)."""
    ra, rb = rank(a), rank(b)
    if len(ra) < 2 or ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def cross_validated(
    space: SearchSpace, archs: list[Arch], accuracies: list[float], folds: int = 5, seed: int = 0
) -> np.ndarray:
    """Out-of-fold predictions: each measured sub-network predicted by a predictor fit without its fold."""
    n = len(archs)
    folds = max(2, min(folds, n))
    idx = np.random.default_rng(seed).permutation(n)
    pred = np.zeros(n)
    for f in range(folds):
        test = idx[f::folds]
        train = np.setdiff1d(idx, test)
        if len(train) < 2:
            continue
        p = fit_predictor(space, [archs[i] for i in train], [accuracies[i] for i in train])
        pred[test] = p.predict([archs[i] for i in test])
    return pred
