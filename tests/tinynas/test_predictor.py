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
