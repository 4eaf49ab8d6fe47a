"""Markov jump processes: Gillespie vs expm, MLEs, DFR reference values, validation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from latentlab.inference import mjp

F3 = np.array([[-1.0, 0.7, 0.3], [0.5, -0.9, 0.4], [0.2, 1.3, -1.5]])


def test_dfr_reference_values():
    F = mjp.discrete_flashing_ratchet(1, 1, 1)
    np.testing.assert_allclose(F[0], [-1.9744, 0.6065, 0.3679, 1, 0, 0], atol=1e-4)
    np.testing.assert_allclose(mjp.stationary_distribution(F),
                               [0.3012, 0.1365, 0.0623, 0.2003, 0.1591, 0.1406], atol=1e-4)


def test_transition_matrix_solves_master_equation():
    P = mjp.transition_matrix(F3, np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(P[0], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(P[2], P[1] @ P[1], atol=1e-12)
    np.testing.assert_allclose(P.sum(-1), 1.0)
    pi = mjp.stationary_distribution(F3)
    np.testing.assert_allclose(pi @ F3, 0.0, atol=1e-12)


def test_gillespie_frequencies_match_expm():
    rng = np.random.default_rng(0)
    paths = mjp.gillespie(F3, np.array([0]), 2.0, 40_000, rng)
    states = mjp.observe(paths, np.array([0.0, 0.5, 2.0]))
    assert np.all(states[:, 0] == 0)
    for k, t in enumerate([0.5, 2.0]):
        freq = np.bincount(states[:, k + 1], minlength=3) / states.shape[0]
        expected = mjp.transition_matrix(F3, t)[0]
        assert np.all(np.abs(freq - expected) < 4 * np.sqrt(expected * (1 - expected) / states.shape[0]))


def test_complete_data_mle_recovers_rates():
    paths = mjp.gillespie(F3, np.ones(3) / 3, 50.0, 400, np.random.default_rng(1))
    np.testing.assert_allclose(mjp.complete_data_mle(paths, 3), F3, atol=0.06)


def test_discrete_observation_mle_gradient_and_recovery():
    rng = np.random.default_rng(2)
    paths = mjp.gillespie(F3, np.ones(3) / 3, 10.0, 300, rng)
    grid = np.linspace(0, 10, 51)
    obs = mjp.observe(paths, grid)
    F_hat = mjp.discrete_observation_mle(obs, grid, 3)
    np.testing.assert_allclose(F_hat, F3, atol=0.15)
    # the fitted point is a stationary point of the exact log-likelihood
    counts = mjp.transition_counts(obs, grid, 3)
    mask = ~np.eye(3, dtype=bool)

    def loglik(theta):
        rates = np.zeros((3, 3))
        rates[mask] = np.exp(theta)
        F = mjp.rate_matrix_from_offdiagonal(rates)
        return sum(float(np.sum(n * np.log(mjp.transition_matrix(F, g)))) for g, n in counts.items())

    theta = np.log(F_hat[mask])
    grad = approx_fprime(theta, loglik, 1e-6)
    assert np.max(np.abs(grad)) < 0.05


def test_flip_noise_rate_and_hellinger():
    rng = np.random.default_rng(3)
    states = rng.integers(0, 4, size=100_000)
    noisy = mjp.flip_noise(states, 4, 0.1, rng)
    assert np.mean(noisy != states) == pytest.approx(0.1, abs=0.005)
    assert mjp.time_averaged_hellinger(F3, F3, np.ones(3) / 3, np.linspace(0, 5, 20)) < 1e-7
    assert mjp.time_averaged_hellinger(F3, 2 * F3, np.array([1.0, 0, 0]), np.linspace(0.1, 5, 20)) > 0.01


@pytest.mark.parametrize("bad", [np.array([[-1.0, 1.0], [0.5, -0.4]]), np.array([[1.0, -1.0], [1.0, -1.0]]),
                                 np.ones(3)])
def test_bad_rate_matrices_raise(bad):
    with pytest.raises(ValueError, match="F"):
        mjp.validate_rate_matrix(bad)
