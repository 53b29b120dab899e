import numpy as np
import pytest

from tinyengine_codegen.errors import TinyMLError
from tinynas.predictor import encode, fit_predictor
from tinynas.space import quick_space, sample


def test_ridge_recovers_a_linear_accuracy_model():
    sp = quick_space()
    rng = np.random.default_rng(0)
    archs = [sample(sp, rng) for _ in range(300)]
    true_w = rng.normal(size=encode(archs[0], sp).shape[0]) * 0.01
    acc = [0.8 + encode(a, sp) @ true_w for a in archs]
    p = fit_predictor(sp, archs[:250], acc[:250], alpha=1e-3)
    err = np.abs(p.predict(archs[250:]) - np.asarray(acc[250:]))
    assert err.max() < 1e-3
    assert abs(p(archs[0]) - acc[0]) < 1e-3


def test_encoding_ignores_inactive_slots():
    sp = quick_space()
    a = sample(sp, np.random.default_rng(1))
    v = encode(a, sp)
    nk, ne = len(sp.kernel_sizes), len(sp.expand_ratios)
    assert v[: sp.num_slots * (nk + ne)].sum() == 2 * sum(a.depths)


def test_too_few_measurements():
    with pytest.raises(TinyMLError, match="at least 2"):
        fit_predictor(quick_space(), [], [])


def test_spearman_and_ranks():
    from tinynas.predictor import rank, spearman

    assert list(rank([3.0, 1.0, 2.0, 2.0])) == [4.0, 1.0, 2.5, 2.5]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) == 0.0


def test_out_of_fold_predictions_rank_a_size_driven_accuracy():
    """Accuracy that grows with the network's computation plus choice effects: the cross-validated predictor sees
    each sub-network only from the other folds and still ranks them better than MACs alone."""
    from tinynas.predictor import cross_validated, spearman
    from tinynas.space import macs

    sp = quick_space()
    rng = np.random.default_rng(0)
    archs = [sample(sp, rng, width=1.0, resolution=16) for _ in range(60)]
    k5 = [sum(a.kernels[i] == 5 for i in a.active_slots(sp)) for a in archs]
    m = np.log([macs(a, sp) for a in archs])
    acc = list(0.5 + 0.05 * (m - m.mean()) + 0.02 * np.asarray(k5) + rng.normal(0, 0.003, len(archs)))
    oof = cross_validated(sp, archs, acc)
    assert len(oof) == len(archs)
    assert spearman(oof, acc) > spearman(m, acc)
