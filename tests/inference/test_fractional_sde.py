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


def test_gamma_max_is_selected_by_the_covariance_known_answer():
    from latentlab.inference.fbm import covariance_max_error, select_gamma_max

    # H = 0.7, K = 5, gamma_max = 20: the spec's covariances (0.4065 vs 0.4075, 0.8453 vs 0.8473) -> error ~ 0.002
    assert covariance_max_error(0.7, gamma_grid(5, 20.0)) == pytest.approx(0.0020, abs=2e-4)
    assert select_gamma_max(0.7, 5) == select_gamma_max(0.5, 5) == 20.0
    assert covariance_max_error(0.3, gamma_grid(5, 20.0)) > 0.01 >= covariance_max_error(0.3, gamma_grid(5, 50.0))
    assert select_gamma_max(0.3, 5) == 50.0
    with pytest.raises(ValueError, match="tol"):
        select_gamma_max(0.3, 5, candidates=(20.0,))


def test_ou_bank_step_is_the_euler_step_of_the_markov_approximation():
    from latentlab.inference.fractional_sde import ou_bank_feedback, ou_bank_step

    g, omega = torch.tensor([0.5, 2.0]), torch.tensor([1.5, -0.25])
    y, u, dw = torch.tensor([[1.0, -2.0]]), torch.tensor([0.3]), torch.tensor([0.1])
    assert float(ou_bank_feedback(y, g, omega)[0]) == pytest.approx(1.5 * 0.5 * 1.0 - 0.25 * 2.0 * -2.0)
    step = ou_bank_step(y, u, dw, g, 0.01)[0]
    assert step.tolist() == pytest.approx([1.0 + (-0.5 + 0.3) * 0.01 + 0.1, -2.0 + (4.0 + 0.3) * 0.01 + 0.1])
