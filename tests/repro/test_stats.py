import numpy as np
import pytest

from latentlab.repro.stats import bootstrap_ci, loglog_slope, paired_comparison


def test_bootstrap_constant_samples_have_zero_width():
    interval = bootstrap_ci([2.5] * 7)
    assert interval.estimate == interval.low == interval.high == 2.5


def test_bootstrap_single_sample_is_the_point():
    interval = bootstrap_ci([3.0])
    assert (interval.low, interval.high, interval.n) == (3.0, 3.0, 1)


def test_bootstrap_interval_is_deterministic_and_close_to_normal_theory():
    rng = np.random.default_rng(0)
    x = rng.normal(10.0, 2.0, size=200)
    a, b = bootstrap_ci(x), bootstrap_ci(x)
    assert a == b
    half_normal = 1.96 * x.std(ddof=1) / np.sqrt(x.size)
    assert abs((a.high - a.low) / 2 - half_normal) < 0.15 * half_normal
    assert a.low < x.mean() < a.high


def test_bootstrap_coverage_of_the_mean():
    # coverage over 300 experiments: close to the nominal 95%
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(300):
        interval = bootstrap_ci(rng.normal(0, 1, 30), n_boot=2000)
        covered += interval.low <= 0 <= interval.high
    assert 0.88 <= covered / 300 <= 0.99


def test_bootstrap_rejects_bad_input():
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1, 2], confidence=1.5)
    with pytest.raises(ValueError, match="finite"):
        bootstrap_ci([1, np.nan])
    with pytest.raises(ValueError, match="at least one"):
        bootstrap_ci([])


def test_paired_comparison_exact_sign_flip_p_value():
    # all five differences positive: only the all-plus and all-minus patterns are as extreme
    result = paired_comparison([2, 3, 4, 5, 6], [1, 1, 1, 1, 1])
    assert result.p_value == pytest.approx(2 / 32)
    assert result.difference.estimate == pytest.approx(3.0)


def test_paired_comparison_requires_pairs():
    with pytest.raises(ValueError, match="paired"):
        paired_comparison([1, 2, 3], [1, 2])


def test_loglog_slope_exact_power_law():
    x = np.array([10, 100, 1000, 10000])
    fit = loglog_slope(x, 3.0 * x**-0.5)
    assert fit.slope.estimate == pytest.approx(-0.5)
    assert fit.slope.high - fit.slope.low == pytest.approx(0, abs=1e-9)
    assert fit.intercept == pytest.approx(np.log(3.0))


def test_loglog_slope_interval_over_seeds_has_nominal_coverage():
    rng = np.random.default_rng(2)
    x = np.array([16, 64, 256, 1024, 4096])
    covered = 0
    for _ in range(300):
        y = x**-0.5 * np.exp(rng.normal(0, 0.1, size=(8, x.size)))
        fit = loglog_slope(x, y)
        covered += fit.slope.low < -0.5 < fit.slope.high
    assert fit.slope.n == 40
    assert 0.9 <= covered / 300 <= 0.99
