"""SDE VI with Markov-approximated fractional noise: prior covariance, zero-control KL, gradient in H, data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentlab.inference.fbm import gamma_grid, markov_approximation_covariance, optimal_weights
from latentlab.inference.fractional_sde import FractionalOUVI, simulate_fractional_ou


def _model(**kw) -> FractionalOUVI:
    torch.manual_seed(0)
    return FractionalOUVI(gamma_grid(5, 20.0), n_obs=10, obs_noise=0.05, hidden=8, **kw)


def test_prior_paths_have_the_markov_approximation_variance():
    model = _model(hurst=0.7, theta=1e-8, sigma=1.0)  # theta ~ 0: X is the approximated fBM itself
    with torch.no_grad():
        x, kl = model.sample_paths(None, 8000, 100, 0.01, torch.Generator().manual_seed(1), zero_control=True)
    assert torch.all(kl == 0)
    approx = optimal_weights(0.7, gamma_grid(5, 20.0))
    for t in (0.5, 1.0):
        var = float(x[:, int(round(t / 0.01))].var())
        assert var == pytest.approx(float(markov_approximation_covariance(t, t, approx)), rel=0.07)


def test_elbo_is_differentiable_in_the_hurst_index():
    data = simulate_fractional_ou(1.0, 0.5, 0.7, 6, 30, 10, 0.05, np.random.default_rng(0))
    model = _model()
    elbo, kl = model.elbo(data, torch.Generator().manual_seed(2))
    assert elbo.shape == (6,) and torch.all(kl >= 0)
    (-elbo.mean()).backward()
    assert model.hurst_logit.grad is not None and float(model.hurst_logit.grad) != 0.0


def test_simulated_data_shapes_and_noise():
    data = simulate_fractional_ou(1.0, 0.5, 0.7, 4, 50, 10, 0.05, np.random.default_rng(1))
    assert data.values.shape == (4, 10) and np.all(np.diff(data.index, axis=1) > 0)
    with pytest.raises(ValueError, match="n_obs"):
        simulate_fractional_ou(1.0, 0.5, 0.7, 4, 5, 10, 0.05, np.random.default_rng(1))
