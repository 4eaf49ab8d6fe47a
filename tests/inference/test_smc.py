"""Particle methods against exact Kalman/RTS answers: resampling, filter, PaRIS, CSMC, PPG, score, SGD."""

from __future__ import annotations

import numpy as np
import pytest

from latentlab.inference.smc import (
    RESAMPLING_SCHEMES,
    LagOneProduct,
    PaRISScore,
    PPGScore,
    ScoreA,
    bootstrap_filter,
    paris,
    ppg,
    resample,
    sgd,
)
from latentlab.inference.ssm import (
    LinearGaussianSSM,
    exact_lag_one_moments,
    exact_score_A,
    ffbs_sample,
    kalman_filter,
    rts_smoother,
)
from latentlab.repro.stats import loglog_slope

MODEL = LinearGaussianSSM.scalar(0.9)


@pytest.fixture(scope="module")
def data():
    _, y = MODEL.simulate(30, np.random.default_rng(0))
    return y


@pytest.mark.parametrize("scheme", RESAMPLING_SCHEMES)
def test_resampling_is_unbiased(scheme):
    rng = np.random.default_rng(1)
    w = rng.dirichlet(np.ones(7), size=3)
    idx = resample(np.tile(w, (4000, 1)), 10, rng, scheme)
    counts = np.stack([(idx[r::3] == k).sum(1).mean() for r in range(3) for k in range(7)]).reshape(3, 7)
    np.testing.assert_allclose(counts, 10 * w, atol=0.08)
    single = resample(w, 10, rng, scheme)
    counts_one = np.stack([np.bincount(single[r], minlength=7) for r in range(3)])
    if scheme == "systematic":  # every count within 1 of N w_i
        assert np.all(np.abs(counts_one - 10 * w) < 1 + 1e-9)
    if scheme == "stratified":
        assert np.all(np.abs(counts_one - 10 * w) < 2 + 1e-9)
    if scheme == "residual":  # at least the deterministic copies
        assert np.all(counts_one >= np.floor(10 * w))


def test_resample_rejects_bad_input():
    with pytest.raises(ValueError, match="scheme"):
        resample(np.array([[0.5, 0.5]]), 2, np.random.default_rng(), "bogus")
    with pytest.raises(ValueError, match="weights"):
        resample(np.array([[0.5, 0.7]]), 2, np.random.default_rng())


def test_bootstrap_likelihood_is_unbiased(data):
    exact = kalman_filter(MODEL, data).log_likelihood
    res = bootstrap_filter(MODEL, data, 200, np.random.default_rng(2), replicates=300)
    ratio = np.exp(res.log_likelihood - exact)
    assert abs(ratio.mean() - 1) < 4 * ratio.std() / np.sqrt(ratio.size)
    sm = kalman_filter(MODEL, data)
    np.testing.assert_allclose(res.filter_mean.mean(0)[:, 0], sm.mean[:, 0], atol=0.05)


def test_paris_error_shrinks_like_inverse_sqrt_n(data):
    exact = exact_lag_one_moments(MODEL, data)[0][0, 0]
    ns = np.array([16, 64, 256])
    rmse = []
    for n in ns:
        est = paris(MODEL, data, LagOneProduct(1), int(n), np.random.default_rng(int(n)), replicates=60).estimate
        rmse.append(np.sqrt(np.mean((est[:, 0] - exact) ** 2)))
    fit = loglog_slope(ns, rmse)
    assert -0.75 < fit.slope.estimate < -0.3, fit
    assert rmse[-1] < 0.05 * abs(exact) + 0.5


def test_hybrid_and_exact_backward_agree(data):
    exact = exact_lag_one_moments(MODEL, data)[0][0, 0]
    kw = dict(replicates=200)
    a = paris(MODEL, data, LagOneProduct(1), 64, np.random.default_rng(5), backward="exact", **kw).estimate[:, 0]
    b = paris(MODEL, data, LagOneProduct(1), 64, np.random.default_rng(6), backward="hybrid", **kw).estimate[:, 0]
    se = np.sqrt(a.var() / a.size + b.var() / b.size)
    assert abs(a.mean() - b.mean()) < 4 * se
    assert abs(a.mean() - exact) < 0.1 * abs(exact)


def test_csmc_leaves_the_smoothing_law_invariant(data):
    sm = rts_smoother(MODEL, data)
    start = ffbs_sample(MODEL, data, 2000, np.random.default_rng(7), sm)
    out = paris(MODEL, data, LagOneProduct(1), 8, np.random.default_rng(8), replicates=2000,
                reference=start).reference
    z_mean = (out[:, :, 0].mean(0) - sm.mean[:, 0]) / np.sqrt(sm.cov[:, 0, 0] / out.shape[0])
    assert np.max(np.abs(z_mean)) < 4.5
    np.testing.assert_allclose(out[:, :, 0].var(0), sm.cov[:, 0, 0], rtol=0.2)
    assert np.mean(out[:, :, 0].var(0) / sm.cov[:, 0, 0]) == pytest.approx(1.0, abs=0.06)


def test_ppg_is_nearly_unbiased_with_few_particles(data):
    exact = exact_lag_one_moments(MODEL, data)[0][0, 0]
    res = ppg(MODEL, data, LagOneProduct(1), 8, 12, np.random.default_rng(9), burn_in=3, replicates=100)
    assert res.iterates.shape == (100, 12, 1)
    est = res.estimate[:, 0]
    assert abs(est.mean() - exact) < 4 * est.std() / np.sqrt(est.size) + 0.02 * abs(exact)


def test_score_estimators_target_the_exact_score(data):
    exact = exact_score_A(MODEL, data)[0, 0]
    est = paris(MODEL, data, ScoreA(MODEL), 256, np.random.default_rng(10), replicates=50).estimate[:, 0]
    assert abs(est.mean() - exact) < 4 * est.std() / np.sqrt(est.size) + 0.05
    score = PPGScore(data, n_particles=16)
    first = score(MODEL, np.random.default_rng(11))
    assert score.reference is not None and first.shape == (1, 1)


def test_sgd_with_exact_score_finds_the_mle(data):
    start = MODEL.with_A(0.5)
    path = sgd(lambda m, rng: exact_score_A(m, data), start, 200, lambda n: 0.5, np.random.default_rng(),
               normaliser=len(data))
    # the MLE is a stationary point of the log-likelihood
    assert abs(exact_score_A(MODEL.with_A(path[-1]), data)[0, 0]) < 1e-3
    path2 = sgd(PaRISScore(data, 64), start, 20, lambda n: 0.5, np.random.default_rng(12), normaliser=len(data))
    assert abs(path2[-1, 0, 0] - path[-1, 0, 0]) < 0.1
