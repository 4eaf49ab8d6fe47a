"""Regret-loss: projection, loss limits, and recovery of the FTRL step by training."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from latentlab.agents import project_to_simplex  # noqa: E402
from latentlab.agents.regret_loss import (  # noqa: E402
    LinearAttentionLearner,
    RegretLossConfig,
    ftrl_alignment,
    project_simplex_torch,
    regret_loss,
    sequence_regret,
    train_regret_loss,
)


def test_torch_projection_matches_numpy():
    x = np.random.default_rng(0).normal(size=(50, 5))
    assert np.allclose(project_simplex_torch(torch.tensor(x)).numpy(), project_to_simplex(x))


def test_regret_loss_limits():
    r = torch.tensor([-1.0, 0.5, 2.0])
    assert float(regret_loss(r, 0.0)) == pytest.approx((0.25 + 4.0) / 3)
    assert float(regret_loss(r, 200.0)) == pytest.approx(4.0, rel=1e-3)  # k -> inf: the max


def test_model_is_ftrl_when_set_by_hand():
    """V_l = -c I, u_c = 1 and zero elsewhere is anytime FTRL-L2: pi_t = Proj(1/d - c L_t / sqrt(t-1))."""
    d, c = 3, 0.7
    model = LinearAttentionLearner(d, init_scale=0.0)
    with torch.no_grad():
        model.value[:, :d] = -c * torch.eye(d)
        model.key_query[d] = 1.0
    losses = torch.rand(4, 12, d, generator=torch.Generator().manual_seed(0), dtype=torch.float32)
    pis = model(losses).detach().numpy()
    cumulative = np.concatenate([np.zeros((4, 1, d)), np.cumsum(losses.numpy(), axis=1)[:, :-1]], axis=1)
    scale = np.sqrt(np.maximum(np.arange(12), 1))[None, :, None]
    assert np.allclose(pis, project_to_simplex(1 / d - c * cumulative / scale), atol=1e-6)
    assert ftrl_alignment(model.linear_map()) == pytest.approx(1.0)
    assert ftrl_alignment(-model.linear_map()) == pytest.approx(-1.0)


def test_training_recovers_ftrl_direction_and_beats_uniform():
    config = RegretLossConfig(n_actions=3, horizon=20, batch_size=128, steps=250, lr=0.02)
    generator = torch.Generator().manual_seed(1)
    model, history = train_regret_loss(config, generator)
    assert ftrl_alignment(model.linear_map()) > 0.95
    biased = torch.rand(512, 20, 3, generator=generator) * torch.tensor([0.6, 1.0, 1.0])  # action 0 is better
    trained = sequence_regret(biased, model(biased).detach()).mean()
    uniform = sequence_regret(biased, torch.full_like(biased, 1 / 3)).mean()
    assert trained < 0.7 * uniform


def test_bad_input_raises():
    with pytest.raises(ValueError):
        LinearAttentionLearner(1)
    with pytest.raises(ValueError):
        RegretLossConfig(steps=0)
    with pytest.raises(ValueError):
        regret_loss(torch.zeros(3), -1.0)
