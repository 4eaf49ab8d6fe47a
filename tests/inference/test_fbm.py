"""fBM: covariance closed form vs quadrature, exact sampling, the spec's Markov-approximation reference values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import gamma

from latentlab.inference import fbm


@pytest.mark.parametrize("hurst", [0.2, 0.5, 0.7, 0.9])
def test_type2_covariance_matches_quadrature(hurst):
    a = hurst - 0.5
    for s, t in [(0.3, 1.0), (0.99, 1.0), (1.0, 1.0), (2.0, 0.5)]:
        lo, hi = min(s, t), max(s, t)
        ref = quad(lambda u, hi=hi, lo=lo: (hi - u) ** a * (lo - u) ** a, 0, lo, limit=200)[0] / gamma(hurst + 0.5) ** 2
        assert fbm.type2_covariance(s, t, hurst) == pytest.approx(ref, rel=1e-6)


def test_spec_reference_values():
    cases = {(0.5, 2): 9e-5, (0.5, 5): 2e-11, (0.7, 1): 0.153, (0.7, 2): 0.012, (0.7, 5): 1.3e-4,
             (0.9, 1): 0.272, (0.9, 5): 5.9e-5, (0.3, 5): 7.8e-3, (0.2, 5): 4.7e-2}
    for (hurst, k), ref in cases.items():
        err = fbm.optimal_weights(hurst, fbm.gamma_grid(k, 20.0)).relative_error
        assert err == pytest.approx(ref, rel=0.1 if ref > 1e-10 else 1.0), (hurst, k)
    approx = fbm.optimal_weights(0.7, fbm.gamma_grid(5, 20.0))
    np.testing.assert_allclose(approx.gammas, [0.05, 0.224, 1, 4.47, 20], rtol=2e-3)
    np.testing.assert_allclose(approx.weights, [-0.935, 3.268, -1.771, 0.116, -0.316], atol=2e-3)
    assert fbm.type2_covariance(0.5, 1.0, 0.7) == pytest.approx(0.4075, abs=1e-4)
    assert fbm.markov_approximation_covariance(0.5, 1.0, approx) == pytest.approx(0.4065, abs=1e-4)
    assert fbm.type2_covariance(1.0, 1.0, 0.7) == pytest.approx(0.8473, abs=1e-4)
    assert fbm.markov_approximation_covariance(1.0, 1.0, approx) == pytest.approx(0.8453, abs=1e-4)


def test_brownian_limit_and_relative_error_identity():
    bm = fbm.optimal_weights(0.5, np.array([1e-6]))
    assert bm.weights[0] == pytest.approx(1.0, abs=1e-5) and bm.relative_error < 5e-6
    # relative error = int_0^T E(B - B_hat)^2 dt / int_0^T Var B dt, checked by quadrature
    approx = fbm.optimal_weights(0.7, fbm.gamma_grid(2, 20.0))
    grid = np.linspace(1e-6, 1, 4001)
    mse = (fbm.type2_covariance(grid, grid, 0.7) - 2 * _cross(grid, approx)
           + fbm.markov_approximation_covariance(grid, grid, approx))
    var = fbm.type2_covariance(grid, grid, 0.7)
    assert np.trapezoid(mse, grid) / np.trapezoid(var, grid) == pytest.approx(approx.relative_error, rel=0.02)


def _cross(grid, approx):
    """E[B^H_t Y_k(t)] = gamma-incomplete closed form, weighted: sum_k w_k g^-h P(h, g t)."""
    from scipy.special import gammainc

    h = approx.hurst + 0.5
    g = approx.gammas[None, :]
    return np.sum(approx.weights * g**-h * gammainc(h, g * grid[:, None]), axis=1)


@pytest.mark.parametrize("kind", ["I", "II"])
def test_exact_sampling_has_the_covariance(kind):
    grid = np.linspace(0.1, 1, 6)
    draws = fbm.sample_fbm(grid, 0.7, 60_000, np.random.default_rng(0), kind)
    np.testing.assert_allclose(np.cov(draws.T), fbm.covariance_matrix(grid, 0.7, kind), atol=0.02)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="hurst"):
        fbm.type2_covariance(1.0, 1.0, 1.2)
    with pytest.raises(ValueError, match="gammas"):
        fbm.optimal_weights(0.5, np.array([-1.0]))


@pytest.mark.parametrize("hurst", [0.3, 0.5, 0.7, 0.9])
def test_torch_weights_match_closed_form_and_have_the_right_gradient(hurst):
    import torch

    gammas = fbm.gamma_grid(5, 20.0)
    h = torch.tensor(hurst, dtype=torch.float64, requires_grad=True)
    w = fbm.optimal_weights_torch(h, gammas)
    np.testing.assert_allclose(w.detach().numpy(), fbm.optimal_weights(hurst, gammas).weights, rtol=1e-6, atol=1e-8)
    w.sum().backward()
    eps = 1e-5
    fd = (fbm.optimal_weights(hurst + eps, gammas).weights.sum()
          - fbm.optimal_weights(hurst - eps, gammas).weights.sum()) / (2 * eps)
    assert float(h.grad) == pytest.approx(fd, rel=1e-4, abs=1e-6)
