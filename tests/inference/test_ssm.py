"""Exact oracles: Kalman/RTS against brute-force Gaussian conditioning, FFBS, HMM against enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from latentlab.inference.ssm import (
    LinearGaussianSSM,
    exact_lag_one_moments,
    exact_score_A,
    ffbs_sample,
    hmm_forward_backward,
    kalman_filter,
    rts_smoother,
)


def _model_2d() -> LinearGaussianSSM:
    return LinearGaussianSSM(
        A=np.array([[0.8, 0.2], [-0.1, 0.7]]), Q=np.array([[0.5, 0.1], [0.1, 0.3]]),
        B=np.array([[1.0, 0.5]]), R=np.array([[0.4]]), m0=np.array([0.3, -0.2]),
        P0=np.array([[1.0, 0.2], [0.2, 0.8]]),
    )


def _joint_gaussian(model: LinearGaussianSSM, n: int):
    """Mean and covariance of (x_{0:T}, y_{0:T}) by building x = L eps explicitly."""
    d = model.dim
    # x_t = A^t x_0 + sum_s A^{t-s} w_s ; covariance by recursion
    cov_x = np.zeros((n * d, n * d))
    mean_x = np.zeros(n * d)
    powers = [np.linalg.matrix_power(model.A, k) for k in range(n)]
    for t in range(n):
        mean_x[t * d:(t + 1) * d] = powers[t] @ model.m0
    for s in range(n):
        for t in range(n):
            c = powers[s] @ model.P0 @ powers[t].T
            for u in range(1, min(s, t) + 1):
                c = c + powers[s - u] @ model.Q @ powers[t - u].T
            cov_x[s * d:(s + 1) * d, t * d:(t + 1) * d] = c
    big_b = np.kron(np.eye(n), model.B)
    mean = np.concatenate([mean_x, big_b @ mean_x])
    cov_xy = cov_x @ big_b.T
    cov_y = big_b @ cov_x @ big_b.T + np.kron(np.eye(n), model.R)
    return mean_x, cov_x, big_b @ mean_x, cov_xy, cov_y, mean


def test_kalman_rts_match_brute_force_conditioning():
    model, n = _model_2d(), 6
    rng = np.random.default_rng(0)
    _, y = model.simulate(n - 1, rng)
    mean_x, cov_x, mean_y, cov_xy, cov_y, _ = _joint_gaussian(model, n)
    gain = np.linalg.solve(cov_y, cov_xy.T).T
    post_mean = mean_x + gain @ (y.ravel() - mean_y)
    post_cov = cov_x - gain @ cov_xy.T
    sm = rts_smoother(model, y)
    d = model.dim
    np.testing.assert_allclose(sm.mean.ravel(), post_mean, atol=1e-9)
    for t in range(n):
        np.testing.assert_allclose(sm.cov[t], post_cov[t * d:(t + 1) * d, t * d:(t + 1) * d], atol=1e-9)
    for t in range(1, n):
        np.testing.assert_allclose(sm.lag_cov[t], post_cov[t * d:(t + 1) * d, (t - 1) * d:t * d], atol=1e-9)
    # log-likelihood = log N(y; mean_y, cov_y)
    diff = y.ravel() - mean_y
    _, logdet = np.linalg.slogdet(cov_y)
    exact = -0.5 * (diff @ np.linalg.solve(cov_y, diff) + logdet + diff.size * np.log(2 * np.pi))
    assert kalman_filter(model, y).log_likelihood == pytest.approx(exact, abs=1e-9)
    # filtered marginal at the last time equals the smoothed one
    np.testing.assert_allclose(sm.filtered.mean[-1], sm.mean[-1])


def test_score_matches_finite_difference_of_log_likelihood():
    model = _model_2d()
    _, y = model.simulate(30, np.random.default_rng(1))
    score = exact_score_A(model, y)
    eps = 1e-6
    for i, j in itertools.product(range(2), range(2)):
        bump = np.zeros((2, 2))
        bump[i, j] = eps
        up = kalman_filter(model.with_A(model.A + bump), y).log_likelihood
        down = kalman_filter(model.with_A(model.A - bump), y).log_likelihood
        assert score[i, j] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-5)


def test_ffbs_draws_have_the_smoothed_moments():
    model = LinearGaussianSSM.scalar(0.9)
    _, y = model.simulate(20, np.random.default_rng(2))
    sm = rts_smoother(model, y)
    draws = ffbs_sample(model, y, 40_000, np.random.default_rng(3), sm)
    se = np.sqrt(sm.cov[:, 0, 0] / draws.shape[0])
    assert np.all(np.abs(draws[:, :, 0].mean(0) - sm.mean[:, 0]) < 5 * se)
    np.testing.assert_allclose(draws[:, :, 0].var(0), sm.cov[:, 0, 0], rtol=0.05)
    s10, _ = exact_lag_one_moments(model, y)
    mc = np.mean(np.sum(draws[:, 1:, 0] * draws[:, :-1, 0], axis=1))
    assert mc == pytest.approx(s10[0, 0], rel=0.02)


def test_hmm_forward_backward_matches_enumeration():
    rng = np.random.default_rng(4)
    k, n = 3, 5
    pi = rng.dirichlet(np.ones(k))
    P = rng.dirichlet(np.ones(k), size=k)
    log_obs = np.log(rng.random((n, k)))
    res = hmm_forward_backward(pi, P, log_obs)
    paths = np.array(list(itertools.product(range(k), repeat=n)))
    logp = np.log(pi[paths[:, 0]]) + log_obs[0, paths[:, 0]]
    for t in range(1, n):
        logp += np.log(P[paths[:, t - 1], paths[:, t]]) + log_obs[t, paths[:, t]]
    joint = np.exp(logp)
    assert res.log_likelihood == pytest.approx(np.log(joint.sum()))
    post = joint / joint.sum()
    for t in range(n):
        marg = np.bincount(paths[:, t], weights=post, minlength=k)
        np.testing.assert_allclose(res.smoothed[t], marg, atol=1e-12)
    pair = np.zeros((k, k))
    np.add.at(pair, (paths[:, 1], paths[:, 2]), post)
    np.testing.assert_allclose(res.pairs[1], pair, atol=1e-12)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"A": [[1.0, 0.0]], "Q": 1.0, "B": 1.0, "R": 1.0, "m0": 0.0, "P0": 1.0}, "A"),
    ({"A": 0.5, "Q": -1.0, "B": 1.0, "R": 1.0, "m0": 0.0, "P0": 1.0}, "Q"),
    ({"A": 0.5, "Q": 1.0, "B": 1.0, "R": 1.0, "m0": [0.0, 1.0], "P0": 1.0}, "m0"),
])
def test_bad_parameters_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        LinearGaussianSSM(**kwargs)


def test_package_import_stays_light():
    import subprocess
    import sys

    code = "import sys, latentlab.inference; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
