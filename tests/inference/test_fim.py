"""FIM network: shapes, the pair encoder's equivalence to its naive form, loss sanity, a short training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentlab.inference.fim import FIMNet, MJPPrior, fim_loss, predict_rates, sample_batch, train_fim
from latentlab.inference.mjp import validate_rate_matrix


def test_prior_batches_are_valid():
    prior = MJPPrior(n_paths=20, n_obs=15)
    batch = sample_batch(prior, 6, np.random.default_rng(0))
    assert batch.states.shape == (6, 20, 15)
    for k, c in enumerate(batch.n_states):
        validate_rate_matrix(batch.rates[k, :c, :c])
        assert np.all(batch.rates[k, c:] == 0) and batch.states[k].max() < c


def test_pair_encoder_equals_the_naive_per_pair_mlp():
    torch.manual_seed(0)
    net = FIMNet(hidden=8, head=16, encoder="pairs")
    prior = MJPPrior(n_paths=5, n_obs=7)
    batch = sample_batch(prior, 2, np.random.default_rng(1))
    states, times = torch.as_tensor(batch.states), torch.as_tensor(batch.times, dtype=torch.float32)
    b, p, length = states.shape
    phase = (times / net.t_norm)[:, None] * net.freq[None, :]
    code_t = torch.cat([torch.sin(phase), torch.cos(phase)], dim=-1)[:-1]
    gap = (torch.diff(times) / net.t_norm)[:, None]
    pair = states[..., :-1] * 3 + states[..., 1:]
    naive_in = torch.cat([torch.nn.functional.one_hot(pair, 9).float(),
                          torch.cat([code_t, gap], -1).expand(b, p, length - 1, -1)], -1)
    naive = net.pair_mlp(naive_in).mean(2)
    n_pairs = 9
    table = net.pair_mlp(torch.cat([torch.eye(n_pairs)[:, None, :].expand(-1, length - 1, -1),
                                    torch.cat([code_t, gap], -1).expand(n_pairs, -1, -1)], -1))
    fast = torch.nn.functional.one_hot(pair, 9).float().reshape(b, p, -1) @ \
        table.transpose(0, 1).reshape(-1, table.shape[-1]) / (length - 1)
    torch.testing.assert_close(fast, naive, atol=1e-5, rtol=1e-5)


def test_loss_is_minimised_by_the_truth():
    rates = np.zeros((1, 3, 3))
    rates[0, 0, 1], rates[0, 1, 0] = 0.5, 0.2
    mask = ~np.eye(3, dtype=bool)
    target = rates[0][mask] * 10
    good = torch.log(torch.as_tensor(np.where(target > 0, target, 1e-4), dtype=torch.float32))[None]
    log_var = torch.full_like(good, -4.0)
    bad = good + 0.5
    assert fim_loss(good, log_var, rates, 10.0) < fim_loss(bad, log_var, rates, 10.0)


@pytest.mark.parametrize("encoder", ["lstm", "pairs"])
def test_training_lowers_the_loss_and_predicts_rate_matrices(encoder):
    torch.manual_seed(0)
    prior = MJPPrior(n_paths=10, n_obs=12)
    net = FIMNet(hidden=8, head=16, encoder=encoder)
    losses = train_fim(net, prior, 25, 8, np.random.default_rng(2), lr=1e-2)
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    batch = sample_batch(prior, 3, np.random.default_rng(3))
    F, var = predict_rates(net, batch.states, batch.times)
    for k in range(3):
        validate_rate_matrix(F[k])
    assert np.all(var > 0)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="encoder"):
        FIMNet(encoder="gru")
    with pytest.raises(ValueError, match="states"):
        MJPPrior(states=(2, 7), max_states=3)
