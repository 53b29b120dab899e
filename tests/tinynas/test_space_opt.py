import numpy as np
import pytest

from tinyengine_codegen.errors import TinyMLError
from tinynas.evolution import Cost, Limits
from tinynas.space import arch_steps, quick_space
from tinynas.space_opt import optimize_space
from tinynas.viz import plot_space_cdf

SPACE = quick_space()


def largest_activation(a):
    """A stand-in for the planner: bytes of the biggest int8 activation."""
    peak = max(s.out_hw[0] * s.out_hw[1] * s.cout for s in arch_steps(a, SPACE) if s.kind in ("conv", "dw"))
    return Cost(peak, 0)


def test_picks_the_candidate_with_most_computation_that_fits(tmp_path):
    # at 16x16 the first expand conv writes at least 16 x 16 x 16 = 4096 B, so a 4000 B limit rules out
    # resolution 16; at 14 only expand ratio 2 in the first slot fits (3136 B), at 12 ratios 2 and 3 do
    limits = Limits(4000, 10**9)
    choice = optimize_space(SPACE, largest_activation, limits, np.random.default_rng(0), samples=30)
    assert choice.resolution != 16
    best = max((c for c in choice.candidates if c.fit_ratio >= 0.05), key=lambda c: c.statistic("mean"))
    assert (choice.width, choice.resolution) == (best.width, best.resolution)
    by = {(c.width, c.resolution): c for c in choice.candidates}
    assert by[(1.0, 16)].fit_ratio == 0.0 and by[(0.75, 16)].fit_ratio == 0.0
    assert 0.15 < by[(1.0, 14)].fit_ratio < 0.55 and by[(1.0, 12)].fit_ratio > by[(1.0, 14)].fit_ratio
    assert np.all(np.diff(best.fitting_macs) >= 0)
    assert plot_space_cdf(choice, tmp_path / "cdf.png").stat().st_size > 1000


def test_no_candidate_fits():
    with pytest.raises(TinyMLError, match="too small"):
        optimize_space(SPACE, largest_activation, Limits(10, 10), np.random.default_rng(0), samples=5)
