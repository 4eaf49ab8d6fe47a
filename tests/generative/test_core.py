"""Known-answer tests of the diffusion core: GMM oracle, kernels, samplers, losses, metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from latentlab.generative import (
    ConsistencyPreconditioning,
    Denoiser,
    EDMPreconditioning,
    GaussianKernel,
    GaussianMixture,
    MLPNet,
    NoiseInjection,
    PFGMppKernel,
    StepRecorder,
    TinyUNet,
    eight_gaussians_mixture,
    exact_posterior_mean,
    gaussian_kl,
    iterate,
    karras_sigmas,
    mmd,
    sample,
    sliced_wasserstein,
    transition_log_prob,
)
from latentlab.generative import schedules as S
from latentlab.generative.losses import (
    consistency_training_loss,
    ict_num_scales,
    ict_sample_indices,
    ot_pairing,
    robust_distance,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def mixture() -> GaussianMixture:
    cov = torch.tensor([[[0.3, 0.1], [0.1, 0.2]], [[0.05, 0.0], [0.0, 0.4]], [[0.1, -0.05], [-0.05, 0.1]]])
    return GaussianMixture(torch.tensor([0.5, 0.3, 0.2]), torch.tensor([[1.0, 0.0], [-1.0, 1.0], [0.0, -1.5]]), cov)


# ---------------------------------------------------------------- schedules and converters

def test_karras_grid_endpoints_and_monotone():
    s = karras_sigmas(18, 0.002, 80.0)
    assert s[0].item() == pytest.approx(80.0) and s[-2].item() == pytest.approx(0.002) and s[-1] == 0
    assert torch.all(s[1:] < s[:-1])
    with pytest.raises(ValueError, match="sigma_max"):
        karras_sigmas(5, 1.0, 0.5)


def test_vp_edm_round_trip_and_prediction_converters():
    ab = S.vp_alpha_bars(100, "cosine")
    x = torch.randn(100, 3, dtype=torch.float64)
    xs, sigma = S.vp_to_edm(x, ab[:, None])
    back, ab2 = S.edm_to_vp(xs, sigma)
    assert torch.allclose(back, x) and torch.allclose(ab2, ab[:, None])
    y, eps = torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    s = torch.rand(5, dtype=torch.float64) + 0.1
    xn = y + s[:, None] * eps
    assert torch.allclose(S.eps_from_denoised(xn, y, s), eps)
    assert torch.allclose(S.denoised_from_eps(xn, eps, s), y)
    # v in VP coordinates: v = sqrt(ab) eps - sqrt(1-ab) y
    abar = 1 / (1 + s**2)
    v = abar.sqrt()[:, None] * eps - (1 - abar).sqrt()[:, None] * y
    assert torch.allclose(S.v_from_denoised(xn, y, s), v)


def test_consistency_preconditioning_boundary_is_identity():
    net = MLPNet(3, width=16, depth=1)
    f = Denoiser(net, ConsistencyPreconditioning(0.5, 0.002))
    x = torch.randn(4, 3)
    assert torch.allclose(f(x, torch.tensor(0.002)), x, atol=1e-6)
    c_skip, c_out, c_in, _ = EDMPreconditioning(0.5).coefficients(torch.tensor(0.5))
    assert c_skip.item() == pytest.approx(0.5) and c_out.item() == pytest.approx(0.5 * 0.5 / math.sqrt(0.5))


# ---------------------------------------------------------------- Gaussian-mixture oracle

def test_gmm_log_prob_matches_scipy(mixture):
    x = torch.randn(50, 2, generator=gen(), dtype=torch.float64)
    for sigma in (0.0, 0.7):
        ref = np.log(sum(w * stats.multivariate_normal(m, c + sigma**2 * np.eye(2)).pdf(x.numpy())
                         for w, m, c in zip(mixture.weights.numpy(), mixture.means.numpy(),
                                            mixture.covariances.numpy())))
        assert np.allclose(mixture.log_prob(x, sigma).numpy(), ref)


def test_gmm_score_is_gradient_and_denoiser_is_posterior_mean(mixture):
    x = torch.randn(20, 2, generator=gen(1), dtype=torch.float64, requires_grad=True)
    sigma = torch.rand(20, dtype=torch.float64) + 0.2  # per-sample levels
    grad, = torch.autograd.grad(mixture.log_prob(x, sigma).sum(), x)
    assert torch.allclose(mixture.score(x.detach(), sigma), grad)
    # posterior mean = mean of exact posterior draws
    xs = torch.tensor([[0.3, -0.2]], dtype=torch.float64)
    draws = mixture.sample_posterior(xs, 0.8, n_per=200_000, generator=gen(2))[:, 0]
    assert torch.allclose(draws.mean(0), mixture.denoise(xs, 0.8)[0], atol=0.01)


def test_gmm_linear_tilt_matches_importance_weighting(mixture):
    a, lam = torch.tensor([1.0, -0.5], dtype=torch.float64), 0.8
    tilted = mixture.tilt_linear(a, lam)
    y = mixture.sample(400_000, gen(3))
    w = torch.softmax(lam * y @ a, 0)
    assert torch.allclose((w[:, None] * y).sum(0), tilted.mean(), atol=0.01)
    # log-density difference is linear in y up to a constant
    pts = torch.randn(10, 2, dtype=torch.float64)
    diff = tilted.log_prob(pts) - mixture.log_prob(pts) - lam * pts @ a
    assert torch.allclose(diff, diff[0].expand(10), atol=1e-10)


def test_gmm_rejects_bad_input():
    with pytest.raises(ValueError, match="weights"):
        GaussianMixture(torch.tensor([0.5, 0.6]), torch.zeros(2, 2), torch.eye(2).expand(2, 2, 2))
    with pytest.raises(ValueError, match="covariances"):
        GaussianMixture(torch.tensor([1.0]), torch.zeros(1, 2), torch.eye(3)[None])


# ---------------------------------------------------------------- samplers under the exact score

def test_probability_flow_ode_recovers_the_mixture(mixture):
    """Heun on the PF-ODE with the exact denoiser gives back the density: moments and log-likelihood."""
    sigmas = karras_sigmas(40, 0.002, 30.0)
    start = mixture.noised(30.0).sample(20_000, gen(4))  # exact p_sigma_max, so only the solver can err
    x = sample(mixture, start, sigmas, "heun")
    ref = mixture.sample(20_000, gen(5))
    assert torch.allclose(x.mean(0), mixture.mean(), atol=0.03)
    assert torch.allclose(torch.cov(x.T), mixture.covariance(), atol=0.05)
    assert abs(mixture.log_prob(x).mean().item() - mixture.log_prob(ref).mean().item()) < 0.03
    assert sliced_wasserstein(x, ref, generator=gen(6)) < 0.03


@pytest.mark.parametrize("method,n_steps", [("ancestral", 400), ("euler", 200)])
def test_other_samplers_recover_the_mixture(mixture, method, n_steps):
    """First-order samplers converge to the mixture (ancestral shrinks the variance at few steps)."""
    sigmas = karras_sigmas(n_steps, 0.002, 30.0)
    x = sample(mixture, mixture.noised(30.0).sample(10_000, gen(7)), sigmas, method, generator=gen(8))
    # floor: SW between two exact samples of this size is about 0.02
    assert sliced_wasserstein(x, mixture.sample(10_000, gen(9)), generator=gen(6)) < 0.045


def test_ancestral_step_is_the_exact_gaussian_posterior():
    """For point data y=0 (denoiser = 0) the DDPM step from sigma to s has mean (s/sigma)^2 x and
    variance s^2 (1 - s^2/sigma^2); the record's log-prob is that Gaussian's density."""
    zero = lambda x, s: torch.zeros_like(x)  # noqa: E731
    x = torch.randn(6, 3, dtype=torch.float64)
    step = next(iterate(zero, x, [2.0, 1.0, 0.0], "ancestral", generator=gen()))
    assert torch.allclose(step.mean, 0.25 * x)
    assert step.std == pytest.approx(math.sqrt(1.0 * (1 - 0.25)))
    ref = stats.multivariate_normal(np.zeros(3), step.std**2 * np.eye(3))
    lp = [ref.logpdf((step.x_next[i] - step.mean[i]).numpy()) for i in range(6)]
    assert np.allclose(transition_log_prob(step).numpy(), lp)
    ddim0 = next(iterate(zero, x, [2.0, 1.0, 0.0], "ddim", eta=0.0))
    euler = next(iterate(zero, x, [2.0, 1.0, 0.0], "euler"))
    assert ddim0.std == 0 and torch.allclose(ddim0.x_next, euler.x_next)


def test_hooks_record_and_inject():
    g = eight_gaussians_mixture()
    rec = StepRecorder(("sigma", "x_next"), log_prob=True)
    x0 = 5 * torch.randn(8, 2, generator=gen(), dtype=torch.float64)
    a = sample(g, x0, karras_sigmas(5, 0.01, 5.0), "ancestral", hooks=[rec], generator=gen(1))
    assert len(rec.records) == 5 and "log_prob" in rec.records[0] and torch.equal(rec.records[-1]["x_next"], a)
    clean = sample(g, x0, karras_sigmas(5, 0.01, 5.0), "heun")
    noisy = sample(g, x0, karras_sigmas(5, 0.01, 5.0), "heun", hooks=[NoiseInjection(0.3, gen(2))])
    none = sample(g, x0, karras_sigmas(5, 0.01, 5.0), "heun", hooks=[NoiseInjection(0.0, gen(2))])
    assert torch.equal(clean, none) and not torch.allclose(clean, noisy)
    with pytest.raises(ValueError, match="method"):
        sample(g, x0, [1.0, 0.0], "rk4")


# ---------------------------------------------------------------- kernels

@pytest.mark.parametrize("n_dim,aug", [(3, 1.0), (8, 16.0), (64, 128.0)])
def test_pfgmpp_kernel_radius_matches_closed_form(n_dim, aug):
    k = PFGMppKernel(aug)
    noise = k.sample_noise((20_000, n_dim), torch.tensor(0.7), gen(n_dim), torch.float64)
    radius = noise.norm(dim=1)
    # R^2 / r^2 ~ BetaPrime(N/2, D/2)
    t = (radius**2 / (0.7**2 * aug)).numpy()
    assert stats.kstest(t, stats.betaprime(n_dim / 2, aug / 2).cdf).pvalue > 0.01
    # the radial density integrates to one
    from scipy.integrate import quad

    density = lambda r: float(torch.exp(k.radial_log_density(torch.tensor([r], dtype=torch.float64), n_dim, 0.7)))  # noqa: E731
    mass = sum(quad(density, lo, hi, limit=200)[0] for lo, hi in [(0, 1), (1, 100), (100, np.inf)])
    assert mass == pytest.approx(1.0, abs=1e-4)


def test_pfgmpp_density_is_multivariate_t_and_tends_to_gaussian():
    x = torch.randn(20, 5, dtype=torch.float64)
    y = torch.zeros(5, dtype=torch.float64)
    k = PFGMppKernel(7.0)
    ref = stats.multivariate_t(np.zeros(5), 0.5**2 * np.eye(5), df=7.0).logpdf(x.numpy())
    assert np.allclose(k.log_prob(x, y, 0.5).numpy(), ref)
    big = PFGMppKernel(1e7).log_prob(x, y, 0.5)
    assert torch.allclose(big, GaussianKernel().log_prob(x, y, 0.5), atol=1e-4)


def test_pfgmpp_prior_second_moment():
    """E||x||^2 at r_max equals r_max^2 N / (D - 2) = sigma_max^2 N D / (D - 2)."""
    n_dim, aug, s = 16, 32.0, 3.0
    prior = PFGMppKernel(aug).sample_prior(100_000, (n_dim,), s, gen(3), torch.float64)
    expected = s**2 * n_dim * aug / (aug - 2)
    assert (prior**2).sum(1).mean().item() == pytest.approx(expected, rel=0.02)


def test_exact_empirical_field_memorises_training_points():
    """Integrating the ODE with the exact PFGM++ field of a finite data set lands on the data."""
    data = torch.tensor([[1.0, 1.0, 0.0, 0.0], [-1.0, 0.0, 1.0, 0.5], [0.0, -1.0, -1.0, 1.0]], dtype=torch.float64)
    for kernel in (PFGMppKernel(8.0), GaussianKernel()):
        field = lambda x, s, k=kernel: exact_posterior_mean(k, data, x, s)  # noqa: E731
        x0 = kernel.sample_prior(300, (4,), 20.0, gen(4), torch.float64)
        x = sample(field, x0, karras_sigmas(40, 0.002, 20.0), "heun")
        nearest = torch.cdist(x, data).min(1).values
        assert nearest.max().item() < 1e-2


# ---------------------------------------------------------------- losses and networks

def test_robust_distances_agree_to_second_order():
    a = torch.zeros(3, 4, dtype=torch.float64)
    b = 1e-3 * torch.randn(3, 4, generator=gen(), dtype=torch.float64)
    c = 1.0
    sq = ((a - b) ** 2).sum(1)
    assert torch.allclose(robust_distance(a, b, "pseudo_huber", c), sq / (2 * c), rtol=1e-3)
    assert torch.allclose(robust_distance(a, b, "cauchy", c), sq / (2 * c**2), rtol=1e-3)
    assert torch.allclose(robust_distance(a, b, "l2", c), sq)


def test_ict_curriculum_and_index_sampler():
    assert ict_num_scales(0, 1000) == 11 and ict_num_scales(999, 1000) == 1281
    grid = karras_sigmas(10, 0.002, 80.0, append_zero=False).flip(0)
    idx = ict_sample_indices(grid, 200_000, generator=gen())
    cdf = torch.erf((torch.log(grid) - -1.1) / (math.sqrt(2) * 2.0))
    probs = (cdf[1:] - cdf[:-1]) / (cdf[1:] - cdf[:-1]).sum()
    assert torch.allclose(torch.bincount(idx, minlength=9).double() / 200_000, probs, atol=0.005)


def test_ot_pairing_is_an_optimal_permutation():
    y, z = torch.randn(32, 3, generator=gen(1)), torch.randn(32, 3, generator=gen(2))
    paired = ot_pairing(y, z)
    assert torch.equal(torch.sort(paired.flatten()).values, torch.sort(z.flatten()).values)
    assert ((y - paired) ** 2).sum() <= ((y - z) ** 2).sum()
    # brute force on a tiny case
    from itertools import permutations
    y4, z4 = y[:5], z[:5]
    best = min(((y4 - z4[list(p)]) ** 2).sum().item() for p in permutations(range(5)))
    assert ((y4 - ot_pairing(y4, z4)) ** 2).sum().item() == pytest.approx(best, rel=1e-6)


def test_consistency_loss_runs_and_tiny_unet_shapes():
    f = Denoiser(MLPNet(4, width=16, depth=1), ConsistencyPreconditioning())
    loss, st = consistency_training_loss(f, torch.randn(8, 4), 0, 100, distance="cauchy", ot=True,
                                         diffusion_weight=1.0, generator=gen())
    loss.backward()
    assert torch.isfinite(loss) and st["td_norm"].shape == (8,) and st["n_scales"] == 11
    unet = Denoiser(TinyUNet())
    assert unet(torch.randn(3, 64), torch.tensor([0.1, 1.0, 10.0])).shape == (3, 64)
    # a shared (0-d) noise level is broadcast and gives the same output as a per-sample one
    x = torch.randn(3, 64)
    assert torch.allclose(unet(x, torch.tensor(0.7)), unet(x, torch.full((3,), 0.7)), atol=1e-5)


def test_trained_denoiser_approaches_exact_denoiser():
    """A small MLP trained with the EDM loss on a 1-D two-component mixture gets close to the oracle."""
    from latentlab.generative.training import train_denoiser

    torch.manual_seed(0)
    g = GaussianMixture.isotropic(torch.tensor([0.5, 0.5]), torch.tensor([[-1.0], [1.0]]), 0.3)
    data = g.sample(4000, gen(1)).float()
    model = Denoiser(MLPNet(1, width=64, depth=2))
    train_denoiser(model, data, steps=600, batch=256, lr=3e-3, generator=gen(2))
    x = torch.linspace(-2, 2, 41)[:, None]
    with torch.no_grad():
        err = (model(x, torch.tensor(0.5)) - g.denoise(x.double(), 0.5).float()).abs().max().item()
    assert err < 0.15


# ---------------------------------------------------------------- metrics

def test_metrics_known_answers():
    x = torch.randn(1500, 2, generator=gen(1), dtype=torch.float64)
    shifted = x + torch.tensor([1.0, 0.0], dtype=torch.float64)
    # SW2 of a shift t: sqrt(E_theta (theta.t)^2) = |t| / sqrt(d)
    assert sliced_wasserstein(x, shifted, 4000, gen(2)) == pytest.approx(1 / math.sqrt(2), rel=0.05)
    y = torch.randn(1500, 2, generator=gen(3), dtype=torch.float64)
    assert mmd(x, y) < 0.05 < mmd(shifted, y)
    m0, m1 = torch.zeros(2), torch.tensor([1.0, 0.0])
    c0, c1 = torch.eye(2), 2 * torch.eye(2)
    assert gaussian_kl(m0, c0, m1, c1) == pytest.approx(0.5 * (1.0 + 0.5 - 2 + 2 * math.log(2)))
