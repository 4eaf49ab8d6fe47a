"""Known-answer tests of FK steering: telescoping potentials, unbiased resampling, lambda = 0, tilted target."""

from __future__ import annotations

import pytest
import torch

from latentlab.generative import (
    FKSteering,
    GaussianMixture,
    GradientGuidance,
    best_of_n,
    effective_sample_size,
    fk_sample,
    iterate,
    karras_sigmas,
    multinomial_resample,
    sample,
    sliced_wasserstein,
    systematic_resample,
)
from latentlab.generative.steering import POTENTIALS


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def base() -> GaussianMixture:
    return GaussianMixture.isotropic(torch.tensor([0.6, 0.4]), torch.tensor([[-1.0, 0.0], [1.0, 0.5]]), 0.4)


A = torch.tensor([1.0, 0.5], dtype=torch.float64)


def linear_reward(x: torch.Tensor) -> torch.Tensor:
    return x @ A


@pytest.mark.parametrize("resample", [multinomial_resample, systematic_resample])
def test_resampling_is_unbiased(resample):
    """E[number of copies of particle i] = k * w_i."""
    log_w = torch.log(torch.tensor([0.05, 0.15, 0.3, 0.5]))
    rows = log_w.expand(50_000, 4).clone()
    idx = resample(rows, gen(1))
    counts = torch.nn.functional.one_hot(idx, 4).sum(1).double().mean(0)
    assert torch.allclose(counts, 4 * torch.exp(log_w).double(), atol=0.02)
    assert torch.allclose(effective_sample_size(log_w[None]), torch.tensor([1 / (torch.exp(log_w) ** 2).sum()]))


@pytest.mark.parametrize("potential", POTENTIALS)
def test_potentials_telescope_to_the_final_reward(base, potential):
    """Along every surviving lineage, sum_t log G_t = lambda r(x_0) (minus lambda r_min for DIFF)."""
    lam, r_min = 0.7, -3.0
    prior = 10.0 * torch.randn(4 * 8, 2, generator=gen(2), dtype=torch.float64)
    x, hook = fk_sample(base, prior, karras_sigmas(30, 0.002, 10.0), linear_reward, lam, n_particles=8,
                        potential=potential, resample_every=5, reward_min=r_min, generator=gen(3))
    expected = lam * (linear_reward(x) - (r_min if potential == "diff" else 0.0))
    assert torch.allclose(hook.log_potential_sum, expected, atol=1e-9)
    assert torch.allclose(hook.final_rewards, linear_reward(x))


@pytest.mark.parametrize("adaptive", [False, True])
def test_lambda_zero_with_systematic_resampling_is_the_base_sampler(base, adaptive):
    prior = 10.0 * torch.randn(64, 2, generator=gen(4), dtype=torch.float64)
    sigmas = karras_sigmas(20, 0.002, 10.0)
    plain = sample(base, prior, sigmas, "ancestral", generator=gen(5))
    hook = FKSteering(linear_reward, 0.0, 8, 8, range(0, 20, 4), resampler="systematic", adaptive=adaptive,
                      generator=gen(99))
    steered = sample(base, prior, sigmas, "ancestral", hooks=[hook], generator=gen(5))
    assert torch.equal(plain, steered)
    assert all(h["ess"] == pytest.approx(8.0) for h in hook.history)


def test_fk_samples_the_tilted_mixture(base):
    """With the exact base and many particles, FK's pooled particles match the closed-form tilt."""
    lam = 1.0
    target = base.tilt_linear(A, lam)
    k, systems = 32, 128
    prior = 20.0 * torch.randn(k * systems, 2, generator=gen(6), dtype=torch.float64)
    x, _ = fk_sample(base, prior, karras_sigmas(100, 0.002, 20.0), linear_reward, lam, n_particles=k,
                     resample_every=10, generator=gen(7))
    assert torch.allclose(x.mean(0), target.mean(), atol=0.08)
    untilted = base.mean()
    assert (x.mean(0) - untilted).norm() > 5 * (x.mean(0) - target.mean()).norm()
    ref = target.sample(k * systems, gen(8))
    assert sliced_wasserstein(x, ref, generator=gen(9)) < 0.1


def test_guidance_records_exact_importance_correction(base):
    """Shifting the Gaussian proposal mean by delta gives log p/tau = -(|delta|^2 + 2 s delta.z) / (2 s^2)."""
    prior = 10.0 * torch.randn(16, 2, generator=gen(10), dtype=torch.float64)
    guide = GradientGuidance(lambda d: A.expand_as(d), scale=0.5)
    step = next(iterate(base, prior, karras_sigmas(10, 0.002, 10.0), "ancestral", hooks=[guide], generator=gen(11)))
    delta = 0.5 * step.std**2 * A
    expected = -((delta**2).sum() + 2 * step.std * step.noise @ delta) / (2 * step.std**2)
    assert torch.allclose(step.log_weight, expected)
    assert torch.allclose(step.x_next, step.mean + delta + step.std * step.noise)
    x, hook = fk_sample(base, prior, karras_sigmas(10, 0.002, 10.0), linear_reward, 1.0, n_particles=4,
                        extra_hooks=[guide], generator=gen(11))
    assert torch.isfinite(x).all() and hook.history


def test_best_of_n_picks_the_maximum():
    samples = torch.arange(12.0)[:, None]
    rewards = torch.tensor([0.0, 3, 1, 2, 5, 4, 9, 8, 7, 6, 1, 1])
    best, r = best_of_n(samples, rewards, 4)
    assert best[:, 0].tolist() == [1.0, 6.0, 8.0] and r.tolist() == [3.0, 9.0, 7.0]
    with pytest.raises(ValueError, match="n must"):
        best_of_n(samples, rewards, 5)


def test_fk_rejects_bad_input(base):
    with pytest.raises(ValueError, match="potential"):
        fk_sample(base, torch.zeros(8, 2), [1.0, 0.0], linear_reward, 1.0, 4, potential="min")
    with pytest.raises(ValueError, match="multiple"):
        fk_sample(base, torch.zeros(7, 2), [1.0, 0.0], linear_reward, 1.0, 4)
