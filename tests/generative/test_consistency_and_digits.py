"""Consistency-training oracles, the adaptive scale, data generators and the digits classifier-FD."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentlab.generative import (
    ConsistencyPreconditioning,
    Denoiser,
    MLPNet,
    TDQuantileScale,
    digits,
    digits_frechet_distance,
    gaussian_consistency_function,
    impulsive_latents,
    load_digits_classifier,
    toy,
    train_consistency,
)
from latentlab.generative.data import TOYS


def test_gaussian_consistency_function_solves_the_pf_ode():
    """Integrating the exact PF-ODE of N(0, s^2) from sigma to sigma_min gives the closed form."""
    s, sigma, sigma_min = 0.7, 5.0, 0.002
    x = torch.randn(10, 3, dtype=torch.float64)
    exact_denoiser = lambda z, t: z * s**2 / (s**2 + t**2)  # noqa: E731  (Tweedie for Gaussian data)
    grid = torch.tensor([sigma, *np.geomspace(sigma, sigma_min, 400)[1:]], dtype=torch.float64)
    grid = torch.cat([grid, torch.zeros(1, dtype=torch.float64)])
    ode = x
    for a, b in zip(grid[:-2], grid[1:-1]):  # stop at sigma_min (no final jump to 0)
        ode = ode + (b - a) * (ode - exact_denoiser(ode, a)) / a
    assert torch.allclose(ode, gaussian_consistency_function(x, sigma, s, sigma_min), rtol=2e-2)
    assert torch.allclose(gaussian_consistency_function(x, sigma_min, s, sigma_min), x)


def test_consistency_training_approaches_the_gaussian_consistency_map():
    """A short CT run on N(0, 0.5^2) data (fixed 20-interval grid) moves towards the closed-form map
    f(x, sigma) = x sqrt((s^2 + sigma_min^2)/(s^2 + sigma^2)); a collapsed model (f = mean) has error 1."""
    torch.manual_seed(0)
    data = 0.5 * torch.randn(4000, 2, generator=torch.Generator().manual_seed(1))
    model = Denoiser(MLPNet(2, width=64, depth=2), ConsistencyPreconditioning(0.5, 0.002))
    train_consistency(model, data, 1500, 256, 2e-3, generator=torch.Generator().manual_seed(2), sigma_max=20.0,
                      s0=20, s1=20, distance="pseudo_huber", c_schedule=lambda step, stats: 0.03)
    x = 2.0 * torch.randn(500, 2, generator=torch.Generator().manual_seed(3))
    errors = []
    with torch.no_grad():
        for sigma in (0.5, 2.0):
            want = gaussian_consistency_function(x.double(), sigma, 0.5).float()
            errors.append(((model(x, torch.tensor(sigma)) - want).norm() / want.norm()).item())
    assert errors[0] < 0.15 and errors[1] < 0.35


def test_td_quantile_scale_tracks_residuals():
    sched = TDQuantileScale(1.0, quantile=0.5, momentum=0.0)
    assert sched(0, None) == 1.0
    assert sched(1, {"td_norm": torch.tensor([0.1, 0.2, 0.3])}) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="quantile"):
        TDQuantileScale(1.0, quantile=1.5)


def test_toys_and_latents_shapes_and_tails():
    rng = np.random.default_rng(0)
    for name in TOYS:
        x = toy(name, 500, rng)
        assert x.shape == (500, 2) and torch.isfinite(x).all()
    board = toy("checkerboard", 20000, rng)
    cells = torch.floor(board + 2.0).long()
    assert torch.all((cells[:, 0] + cells[:, 1]) % 2 == 0)  # only one colour of squares
    latents, mask = impulsive_latents(20000, rng, dim=16)
    assert abs(mask.double().mean().item() - 0.01) < 0.002
    clean = latents[~mask.any(1)]
    kurt = lambda z: (((z - z.mean(0)) ** 4).mean(0) / z.var(0) ** 2).mean().item()  # noqa: E731
    assert kurt(latents) > 5 * kurt(clean)
    with pytest.raises(ValueError, match="name"):
        toy("spirals", 10, rng)


def test_digits_classifier_fd_separates_real_from_noise(tmp_path):
    net = load_digits_classifier(tmp_path)
    images, labels = digits()
    with torch.no_grad():
        acc = (net(images).argmax(1) == labels).double().mean().item()
    assert acc > 0.95
    assert any(tmp_path.rglob("digits_classifier_*.pt"))  # cached
    again = load_digits_classifier(tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    a, b = images[perm[:800]], images[perm[800:1600]]
    real = digits_frechet_distance(a, b, net)
    noise = digits_frechet_distance(torch.rand(800, 64) * 2 - 1, b, net)
    assert real * 20 < noise
