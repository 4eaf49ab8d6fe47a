"""Discrete offline learners: shared-loss identities, BC accuracy, a value-iteration known answer."""

import numpy as np
import pytest
import torch

from latentlab.offline.datasets import OfflineDataset, make_dataset
from latentlab.offline.discrete import DiscreteAgent, DiscreteConfig, fit, train_online_dqn


def _batch(n=64, obs_dim=4, n_actions=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"obs": torch.randn(n, obs_dim, generator=g), "actions": torch.randint(0, n_actions, (n,), generator=g),
            "rewards": torch.randn(n, generator=g), "next_obs": torch.randn(n, obs_dim, generator=g),
            "terminated": (torch.rand(n, generator=g) < 0.2).float()}


@pytest.mark.parametrize("double", [False, True])
def test_cql_with_alpha_zero_is_dqn_loss(double):
    batch = _batch()
    dqn = DiscreteAgent(4, 3, DiscreteConfig.dqn(double=double), seed=7)
    cql = DiscreteAgent(4, 3, DiscreteConfig.cql(cql_alpha=0.0, double=double), seed=7)
    l_dqn, _ = dqn.loss(batch)
    l_cql, info = cql.loss(batch)
    assert torch.equal(l_dqn, l_cql)
    l_pos, _ = DiscreteAgent(4, 3, DiscreteConfig.cql(cql_alpha=1.0, double=double), seed=7).loss(batch)
    assert l_pos > l_cql  # logsumexp Q - Q(s, a) > 0


def test_bcq_threshold_zero_acts_like_dqn():
    batch = _batch(n=256)
    dqn = DiscreteAgent(4, 3, DiscreteConfig.dqn(), seed=3)
    bcq = DiscreteAgent(4, 3, DiscreteConfig.bcq(bcq_threshold=0.0), seed=3)
    obs = batch["obs"].numpy()
    assert np.array_equal(dqn.act(obs), bcq.act(obs))
    double = DiscreteAgent(4, 3, DiscreteConfig.dqn(double=True), seed=3)
    assert torch.equal(bcq.next_value(batch["next_obs"]), double.next_value(batch["next_obs"]))
    strict = DiscreteAgent(4, 3, DiscreteConfig.bcq(bcq_threshold=1.0), seed=3)
    probs = strict.behaviour_probs(obs)
    assert np.array_equal(strict.act(obs), probs.argmax(1))  # tau = 1: only the BC argmax is allowed


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="lr"):
        DiscreteConfig(lr=-1.0)
    with pytest.raises(ValueError, match="algo"):
        DiscreteConfig(algo="sarsa")
    with pytest.raises(ValueError, match="bcq_threshold"):
        DiscreteConfig.bcq(bcq_threshold=1.5)
    assert DiscreteConfig.from_json(DiscreteConfig.cql(hidden=(8,)).to_json()) == DiscreteConfig.cql(hidden=(8,))


def test_bc_reaches_high_accuracy_on_expert_data():
    data = make_dataset("CartPole-v1", "expert", 3000, 0, cache=False, n_envs=2)
    res = fit(data, DiscreteConfig.bc(n_updates=1500, eval_every=1500, eval_episodes=5), seed=0)
    acc = np.mean(res.agent.act(data.observations) == data.actions)
    assert acc >= 0.95
    assert res.max_eval >= 400


def _chain(gamma):
    """2-state chain: action 0 stays, action 1 switches; staying in state 1 pays 1."""
    obs, acts, rews, nxt = [], [], [], []
    for s in (0, 1):
        for a in (0, 1):
            s2 = s if a == 0 else 1 - s
            obs.append(np.eye(2)[s])
            acts.append(a)
            rews.append(1.0 if (s == 1 and a == 0) else 0.0)
            nxt.append(np.eye(2)[s2])
    P = np.zeros((2, 2, 2))
    R = np.zeros((2, 2))
    for (s, a), r, s2 in zip([(0, 0), (0, 1), (1, 0), (1, 1)], rews, nxt):
        P[s, a, int(s2[1])] = 1.0
        R[s, a] = r
    Q = np.zeros((2, 2))
    for _ in range(2000):
        Q = R + gamma * P @ Q.max(1)
    rep = 100
    data = OfflineDataset.from_arrays(np.tile(obs, (rep, 1)), np.tile(acts, rep), np.tile(rews, rep),
                                      np.tile(nxt, (rep, 1)), np.zeros(4 * rep), n_actions=2)
    return data, Q


@pytest.mark.parametrize("double", [False, True])
def test_offline_dqn_converges_to_value_iteration_q(double):
    gamma = 0.8
    data, q_star = _chain(gamma)
    cfg = DiscreteConfig.dqn(gamma=gamma, lr=3e-3, batch_size=64, target_update=50, n_updates=4000, loss="mse",
                             hidden=(32,), double=double)
    res = fit(data, cfg, seed=0, env_id="")
    q = res.agent.scores(np.eye(2)).numpy()[0]
    np.testing.assert_allclose(q, q_star, atol=0.1)
    assert q_star[0, 1] == pytest.approx(4.0) and q_star[1, 0] == pytest.approx(5.0)


def test_ensemble_members_train_independently():
    data, _ = _chain(0.8)
    other = OfflineDataset.from_arrays(data.observations, 1 - data.actions, data.rewards, data.next_observations,
                                       data.terminals, n_actions=2)
    cfg = DiscreteConfig.bc(n_updates=300, hidden=(16,))
    a, b = fit([data, other], cfg, seed=0, env_id="")
    assert a.agent is b.agent and (a.member, b.member) == (0, 1)
    acts = a.agent.act(data.observations)  # (2, N): member-wise greedy actions
    assert np.mean(acts[0] == data.actions) > 0.45 and np.mean(acts[1] == other.actions) > 0.45
    # each member's gradient depends only on its own batch
    grads = []
    for other_seed in (1, 2):
        agent = DiscreteAgent(2, 2, cfg, n_members=2, seed=0)
        parts = [data.sample(32, np.random.default_rng(0)), other.sample(32, np.random.default_rng(other_seed))]
        loss, _ = agent.loss({k: torch.stack([p[k] for p in parts]) for k in parts[0]})
        loss.backward()
        grads.append([p.grad.clone() for p in agent.policy.parameters()])
    for g1, g2 in zip(*grads):
        torch.testing.assert_close(g1[0], g2[0])
        assert not torch.equal(g1[1], g2[1])


def test_online_dqn_records_every_transition():
    res = train_online_dqn("CartPole-v1", DiscreteConfig.online_dqn(learning_starts=100), 600, seed=1, eval_points=2,
                           eval_episodes=2)
    d = res.dataset
    assert len(d) == 600 and d.metadata["recipe"] == "replay" and len(res.evals) == 2
    inner = ~d.episode_starts[1:]
    assert np.array_equal(d.next_observations[:-1][inner], d.observations[1:][inner])
    assert d.terminals.sum() + d.timeouts.sum() == d.episode_starts[1:].sum() + (d.terminals[-1] + d.timeouts[-1])
