"""Closed-form KLs against Monte Carlo, log-densities, entropies; KL direction."""

from __future__ import annotations

import math

import pytest
import torch

from latentlab.deeprl.distributions import Categorical, DiagGaussian, MixtureGaussian, TanhGaussian


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_categorical_kl_entropy_sampling():
    p = Categorical(torch.tensor([[0.0, 1.0, -1.0]]))
    q = Categorical(torch.tensor([[0.5, 0.0, 0.0]]))
    pp, qq = p.probs[0], q.probs[0]
    assert torch.allclose(p.kl(q)[0], (pp * (pp / qq).log()).sum())
    assert not torch.allclose(p.kl(q), q.kl(p))  # direction matters
    assert torch.allclose(p.entropy()[0], -(pp * pp.log()).sum())
    draws = Categorical(p.logits.expand(200_000, 3)).sample(_g())
    freq = torch.bincount(draws, minlength=3).double() / draws.numel()
    assert torch.allclose(freq, pp.double(), atol=5e-3)


def test_categorical_sample_is_the_inverse_cdf_of_its_uniforms():
    # the draw for uniform u is the number of categories whose cdf lies below u * cdf_K; a zero-probability
    # category is never drawn (except at u = 0 exactly), and every draw is a valid index
    logits = torch.randn(500, 4) * 3
    logits[:, 1] = -math.inf
    dist = Categorical(logits)
    k = dist.sample(_g(7))
    u = torch.rand(500, 1, generator=_g(7))
    cdf = dist.probs.cumsum(-1)
    assert torch.equal(k, (cdf < u * cdf[:, -1:]).sum(-1))
    assert not (k == 1).any() and k.min() >= 0 and k.max() <= 3


def test_diag_gaussian_kl_matches_formula_and_monte_carlo():
    new = DiagGaussian(torch.tensor([0.3, -1.0]), torch.tensor([0.1, -0.5]))
    old = DiagGaussian(torch.tensor([0.0, 0.5]), torch.tensor([-0.2, 0.3]))
    s1, s0 = new.std, old.std
    closed = (torch.log(s0 / s1) + (s1**2 + (new.mean - old.mean) ** 2) / (2 * s0**2) - 0.5).sum()
    assert torch.allclose(new.kl(old), closed)
    x = DiagGaussian(new.mean.expand(400_000, 2), new.log_std.expand(400_000, 2)).sample(_g(1))
    mc = (new.log_prob(x) - old.log_prob(x)).mean()
    assert abs(float(mc - closed)) < 0.02
    ent_mc = -new.log_prob(x).mean()
    assert abs(float(ent_mc - new.entropy())) < 0.01
    assert abs(float(new.kl(old) - old.kl(new))) > 0.1


def test_tanh_gaussian_log_prob_and_kl():
    d = TanhGaussian(torch.tensor([[0.2, -0.4]]), torch.tensor([[-0.3, 0.1]]))
    a, logp = d.rsample_with_log_prob(_g(2))
    assert torch.allclose(d.log_prob(a), logp, atol=1e-4)
    # density integrates to 1 on (-1, 1) (1-D check on a grid)
    one = TanhGaussian(torch.tensor([0.5]), torch.tensor([-0.2]))
    grid = torch.linspace(-0.999999, 0.999999, 400_001, dtype=torch.float64).unsqueeze(-1)
    one64 = TanhGaussian(one.mean.double(), one.log_std.double())
    mass = torch.trapezoid(one64.log_prob(grid).exp(), grid.squeeze(-1))
    assert abs(float(mass) - 1.0) < 1e-3
    other = TanhGaussian(torch.tensor([[-0.1, 0.3]]), torch.tensor([[0.2, -0.2]]))
    mc = d.kl_mc(other, 200_000, _g(3))
    assert abs(float(mc - d.kl(other))) < 0.02


def test_mixture_log_prob_kl_bound_and_sampling():
    logits = torch.tensor([[0.0, 1.0, -0.5]])
    means = torch.tensor([[[0.5], [-1.0], [0.0]]])
    log_stds = torch.tensor([[[-0.5], [-0.7], [0.0]]])
    mix = MixtureGaussian(logits, means, log_stds, squash=False)
    # log-density = log sum_k w_k N_k
    x = torch.tensor([[0.3]])
    w = torch.softmax(logits, -1)[0]
    dens = sum(w[k] * torch.exp(-0.5 * ((x - means[0, k]) / log_stds[0, k].exp()) ** 2) /
               (log_stds[0, k].exp() * math.sqrt(2 * math.pi)) for k in range(3))
    assert torch.allclose(mix.log_prob(x), dens.log().squeeze(-1))
    other = MixtureGaussian(torch.tensor([[0.3, 0.0, 0.0]]), means + 0.4, log_stds + 0.1, squash=False)
    mc = mix.kl_mc(other, 4000, _g(4))
    bound = mix.kl(other)
    assert float(mc) <= float(bound) + 0.02
    same_components = MixtureGaussian(torch.tensor([[0.3, 0.0, 0.0]]), means, log_stds, squash=False)
    assert torch.allclose(mix.kl(same_components), mix.router.kl(same_components.router))
    # sampling: component frequencies follow w
    big = MixtureGaussian(logits.expand(50_000, 3), means.expand(50_000, 3, 1), log_stds.expand(50_000, 3, 1))
    _, k = big.sample(_g(5))
    freq = torch.bincount(k, minlength=3).float() / k.numel()
    assert torch.allclose(freq, w, atol=0.01)
    with pytest.raises(ValueError, match="means"):
        MixtureGaussian(None, torch.zeros(3), torch.zeros(3))
