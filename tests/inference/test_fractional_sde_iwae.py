"""Held-out likelihood of the fractional SDE model: IWAE against the exact marginal, Girsanov weights, BM model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentlab.inference.fbm import gamma_grid
from latentlab.inference.fractional_sde import (
    FractionalOUVI,
    ObservedPaths,
    discretised_log_marginal,
    iwae,
    simulate_fractional_ou,
)

N_STEPS, N_OBS, OBS_NOISE = 50, 3, 0.3


def _model(hurst: float = 0.7, learn_hurst: bool = True, control_scale: float = 1.0) -> FractionalOUVI:
    torch.manual_seed(0)
    model = FractionalOUVI(gamma_grid(5, 20.0), N_OBS, OBS_NOISE, hidden=8, hurst=hurst, learn_hurst=learn_hurst,
                           theta=1.0, sigma=0.5)
    with torch.no_grad():  # a clearly non-zero control (the proposal differs from the prior)
        model.control[-1].weight.mul_(control_scale)
        model.control[-1].bias.fill_(0.3 * control_scale)
    return model


def _data(hurst: float = 0.7, seed: int = 0) -> ObservedPaths:
    return simulate_fractional_ou(1.0, 0.5, hurst, 1, N_STEPS, N_OBS, OBS_NOISE, np.random.default_rng(seed))


def _replicate(data: ObservedPaths, n: int) -> ObservedPaths:
    """The same observed path ``n`` times: ``iwae`` then returns ``n`` independent estimates for it."""
    return ObservedPaths(np.repeat(data.values, n, 0), np.repeat(data.index, n, 0), data.dt, data.n_steps)


def test_discretised_marginal_matches_monte_carlo_of_the_prior():
    model, data = _model(), _data()
    with torch.no_grad():
        x, _ = model.sample_paths(None, 100_000, N_STEPS, data.dt, torch.Generator().manual_seed(1),
                                  zero_control=True)
    observed = x[:, data.index[0]].double().numpy()
    cov = np.cov(observed.T) + OBS_NOISE**2 * np.eye(N_OBS)
    sign, logdet = np.linalg.slogdet(cov)
    y = data.values[0]
    gaussian = -0.5 * (y @ np.linalg.solve(cov, y) + logdet + N_OBS * np.log(2 * np.pi))
    assert discretised_log_marginal(model, data)[0] == pytest.approx(gaussian, abs=0.02)


@pytest.mark.parametrize("zero_control", [True, False])
@pytest.mark.parametrize("hurst", [0.5, 0.7])
def test_iwae_with_many_samples_recovers_the_exact_marginal(zero_control, hurst):
    """u = 0: posterior = prior, the weights are likelihoods; u != 0: Girsanov-weighted posterior samples."""
    model, data = _model(hurst=hurst), _data(hurst=hurst)
    exact = discretised_log_marginal(model, data)[0]
    estimates = iwae(model, _replicate(data, 32), 1024, torch.Generator().manual_seed(3), zero_control=zero_control)
    se = estimates.std(ddof=1) / np.sqrt(estimates.size)
    assert abs(estimates.mean() - exact) <= 4 * se + 1e-3, (estimates.mean(), exact, se)


def test_iwae_is_non_decreasing_in_the_number_of_samples_on_average():
    model, data = _model(), _data(seed=2)
    exact = discretised_log_marginal(model, data)[0]
    reps = _replicate(data, 256)
    means, ses = [], []
    for s in (1, 4, 16, 64):
        values = iwae(model, reps, s, torch.Generator().manual_seed(10 + s))
        means.append(values.mean())
        ses.append(values.std(ddof=1) / np.sqrt(values.size))
    for a, b, sa, sb in zip(means, means[1:], ses, ses[1:]):
        assert b >= a - 3 * np.hypot(sa, sb), means
    assert means[-1] - means[0] > 3 * np.hypot(ses[0], ses[-1]), means  # strictly better with 64 than 1
    assert means[-1] <= exact + 3 * ses[-1], (means, exact)  # a lower bound in expectation


def test_girsanov_weights_have_unit_mean_under_the_posterior():
    """E_Q[dP/dQ] = 1 (the spec's importance-weight identity)."""
    model = _model(control_scale=2.0)
    n = 20_000
    with torch.no_grad():
        ctx = torch.randn(n, 16, generator=torch.Generator().manual_seed(4))
        _, kl, log_w = model._euler(ctx, n, N_STEPS, 1.0 / N_STEPS, torch.Generator().manual_seed(5),
                                    track_weight=True)
    weights = torch.exp(log_w.double())
    assert float(kl.mean()) > 0.02  # the proposal really differs from the prior
    assert float(weights.mean()) == pytest.approx(1.0, abs=4 * float(weights.std()) / np.sqrt(n))


def test_iwae_shape_determinism_and_validation():
    data = simulate_fractional_ou(1.0, 0.5, 0.7, 5, N_STEPS, N_OBS, OBS_NOISE, np.random.default_rng(0))
    model = _model()
    a = iwae(model, data, 8, torch.Generator().manual_seed(1))
    b = iwae(model, data, 8, torch.Generator().manual_seed(1))
    assert a.shape == (5,) and a.dtype == np.float64 and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="n_samples"):
        iwae(model, data, 0)


def test_sample_paths_unchanged_by_the_weight_tracking():
    """The training path (``sample_paths``/``elbo``) draws the same numbers as the IWAE path."""
    model, n = _model(), 16
    ctx = torch.zeros(n, 16)
    with torch.no_grad():
        x1, kl1 = model.sample_paths(ctx, n, N_STEPS, 0.02, torch.Generator().manual_seed(7))
        x2, kl2, log_w = model._euler(ctx, n, N_STEPS, 0.02, torch.Generator().manual_seed(7), track_weight=True)
    torch.testing.assert_close(x1, x2)
    torch.testing.assert_close(kl1, kl2)
    assert log_w is not None and log_w.shape == (n,)


def test_bm_model_is_the_same_model_with_hurst_fixed_at_one_half():
    data = simulate_fractional_ou(1.0, 0.5, 0.7, 6, N_STEPS, N_OBS, OBS_NOISE, np.random.default_rng(1))
    bm = _model(hurst=0.5, learn_hurst=False)
    assert type(bm) is FractionalOUVI and not bm.hurst_logit.requires_grad
    assert float(bm.weights().sum()) == pytest.approx(1.0, abs=1e-3)  # sum_k omega_k Y_k ~ W at H = 1/2
    optimiser = torch.optim.Adam([p for p in bm.parameters() if p.requires_grad], lr=0.1)
    for _ in range(3):
        elbo, _ = bm.elbo(data, torch.Generator().manual_seed(0))
        optimiser.zero_grad()
        (-elbo.mean()).backward()
        optimiser.step()
    assert bm.hurst_logit.grad is None and float(bm.hurst) == pytest.approx(0.5)
    # its IWAE is consistent for its own (Brownian) marginal likelihood as well
    single = ObservedPaths(data.values[:1], data.index[:1], data.dt, data.n_steps)
    exact = discretised_log_marginal(bm, single)[0]
    estimates = iwae(bm, _replicate(single, 32), 512, torch.Generator().manual_seed(8))
    assert abs(estimates.mean() - exact) <= 4 * estimates.std(ddof=1) / np.sqrt(32) + 1e-3
