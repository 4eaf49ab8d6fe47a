"""Paper 21's building blocks: EDAC diversity loss closed forms, SAC-N (twin path unchanged),
the EdgeOfReach2D / Pendulum true-dynamics oracles, and the model-rollout trainer's edge set."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from latentlab.deeprl import SAC, SACConfig
from latentlab.deeprl.buffers import ReplayBuffer
from latentlab.deeprl.nets import QNet
from latentlab.deeprl.sac import CriticEnsemble, critic_action_gradients, critic_diversity_loss
from latentlab.offline.envs import (
    EDGE_OF_REACH_ID,
    Dynamics,
    EdgeOfReach2DDynamics,
    PendulumDynamics,
    edge_of_reach_dataset,
)
from latentlab.offline.rollouts import ModelRolloutTrainer, RolloutConfig, first_seen_steps
from tests.deeprl.test_algorithms import ContinuousIdentity

BOX2 = gym.spaces.Box(-1, 1, (2,), np.float32)


def _batch(n=64, obs_dim=2, act_dim=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"obs": torch.rand(n, obs_dim, generator=g) * 2 - 1, "actions": torch.rand(n, act_dim, generator=g) * 2 - 1,
            "rewards": torch.rand(n, generator=g), "next_obs": torch.rand(n, obs_dim, generator=g) * 2 - 1,
            "terminated": (torch.rand(n, generator=g) < 0.1).float()}


# --------------------------------------------------------------------------- diversity loss


def test_diversity_loss_closed_forms():
    # N identical critics: every ordered pair i != j contributes <g, g> = 1 -> N(N-1)/(N-1) = N
    # (PyTorch-default init: action-gradient norms ~0.1, so the eps = 1e-8 of the normalisation is invisible)
    agent = SAC(BOX2, BOX2, SACConfig(n_critics=5, critic_diversity_coef=1.0, hidden=(16, 16)), seed=0)
    ens: CriticEnsemble = agent.critics
    with torch.no_grad():
        for layer in ens.net.layers:
            layer.weight.copy_(layer.weight[:1].expand_as(layer.weight))
            layer.bias.copy_(layer.bias[:1].expand_as(layer.bias))
    b = _batch()
    _, grads = critic_action_gradients(ens, b["obs"], b["actions"])
    assert grads.shape == (5, 64, 2)
    assert float(critic_diversity_loss(grads).detach()) == pytest.approx(5.0, abs=1e-5)
    # mutually orthogonal action-gradients (any lengths): 0
    eye = torch.eye(3).unsqueeze(1).expand(3, 7, 3) * torch.tensor([2.0, 0.5, 3.0]).view(3, 1, 1)
    assert float(critic_diversity_loss(eye)) == pytest.approx(0.0, abs=1e-7)
    # two opposite gradients: -2 / (N - 1) = -2 (the minimum -N/(N-1))
    opp = torch.stack([torch.ones(4, 2), -torch.ones(4, 2)])
    assert float(critic_diversity_loss(opp)) == pytest.approx(-2.0, abs=1e-6)
    # equals the official masked Gram-matrix form on random gradients
    g = torch.randn(6, 32, 3, generator=torch.Generator().manual_seed(1))
    u = (g / (g.norm(dim=-1, keepdim=True) + 1e-8)).transpose(0, 1)
    gram = u @ u.transpose(1, 2)
    official = ((1 - torch.eye(6)) * gram).sum((1, 2)).mean() / 5
    torch.testing.assert_close(critic_diversity_loss(g), official)
    with pytest.raises(ValueError, match="N >= 2"):
        critic_diversity_loss(torch.randn(1, 4, 2))


def test_action_gradients_are_each_members_own():
    agent = SAC(BOX2, BOX2, SACConfig(n_critics=3, hidden=(8,)), seed=1)
    b = _batch(5)
    q, grads = critic_action_gradients(agent.critics, b["obs"], b["actions"], create_graph=False)
    for j in range(3):
        member = agent.critics.net.member(j)
        a = b["actions"].clone().requires_grad_(True)
        out = member(torch.cat([b["obs"], a], -1)).squeeze(-1)
        (gj,) = torch.autograd.grad(out.sum(), a)
        torch.testing.assert_close(grads[j], gj)
        torch.testing.assert_close(q[j].detach(), out.detach())


# --------------------------------------------------------------------------- SAC-N


def test_default_sac_keeps_the_twin_qnet_path_and_ensemble_path_matches_it():
    default = SAC(BOX2, BOX2, SACConfig(hidden=(32, 32)), seed=3)
    assert isinstance(default.critics, torch.nn.ModuleList) and all(isinstance(q, QNet) for q in default.critics)
    vec = SAC(BOX2, BOX2, SACConfig(hidden=(32, 32), vectorized_critics=True), seed=3)
    assert isinstance(vec.critics, CriticEnsemble)
    # same initial weights: copy the twin QNets into the ensemble members, same actor (same seed)
    with torch.no_grad():
        for net, tgt in ((vec.critics, default.critics), (vec.critic_targets, default.critic_targets)):
            for k, layer in enumerate(net.net.layers):
                for j in range(2):
                    lin = [m for m in tgt[j].modules() if isinstance(m, torch.nn.Linear)][k]
                    layer.weight[j].copy_(lin.weight.T)
                    layer.bias[j, 0].copy_(lin.bias)
    for p, q in zip(default.actor.parameters(), vec.actor.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    batch = _batch(64, seed=4)
    for _ in range(3):
        a, b = default.update(batch), vec.update(batch)
        for key in ("critic_loss", "actor_loss", "q1", "q_mean", "q_max", "alpha", "entropy"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key
    torch.testing.assert_close(default.q_values(batch["obs"], batch["actions"]),
                               vec.q_values(batch["obs"], batch["actions"]), rtol=1e-5, atol=1e-6)


def test_sac_n_config_presets_and_validation():
    ravl = SACConfig.ravl()
    assert (ravl.n_critics, ravl.critic_diversity_coef, ravl.hidden) == (10, 1.0, (256, 256, 256))
    assert ravl.uses_critic_ensemble and not SACConfig().uses_critic_ensemble
    assert SACConfig.from_json(ravl.to_json()) == ravl
    with pytest.raises(ValueError, match="n_critics"):
        SACConfig(n_critics=0)
    with pytest.raises(ValueError, match="critic_diversity_coef"):
        SACConfig(n_critics=1, critic_diversity_coef=1.0)
    agent = SAC(BOX2, BOX2, SACConfig.ravl(hidden=(16, 16)), seed=0)
    last = agent.critics.net.layers[-1]
    assert float(last.weight.detach().abs().max()) <= 3e-3 and float(last.bias.detach().abs().max()) <= 3e-3
    assert torch.all(agent.critics.net.layers[0].bias == 0.1)
    assert float(agent.actor.mean.weight.detach().abs().max()) <= 1e-3
    b = _batch(9)
    assert agent.q_values(b["obs"], b["actions"]).shape == (10, 9)
    out = agent.update(b)
    assert {"critic_diversity", "q_std", "q_mean"} <= set(out)


def test_sac_n_with_diversity_learns_a_trivial_task():
    env = ContinuousIdentity()
    config = SACConfig(total_steps=1200, learning_starts=200, hidden=(32, 32), batch_size=64, actor_lr=3e-3,
                       critic_lr=3e-3, alpha_lr=3e-3, eval_every=0, eval_episodes=20, n_critics=5,
                       critic_diversity_coef=1.0)
    result = SAC(env.observation_space, env.action_space, config, seed=0).learn(ContinuousIdentity)
    assert result.final_eval() >= -0.05, result.evals


# --------------------------------------------------------------------------- envs and oracles


def test_edge_of_reach_env_is_registered_and_its_oracle_equals_env_step():
    env = gym.make(EDGE_OF_REACH_ID)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.spec.max_episode_steps == 50
    dyn = EdgeOfReach2DDynamics()
    assert isinstance(dyn, Dynamics) and isinstance(PendulumDynamics(), Dynamics)
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    steps = 0
    while True:
        a = rng.uniform(-1.5, 1.5, size=2).astype(np.float32)  # out-of-box actions are clipped on both sides
        nxt, r, term, trunc, _ = env.step(a)
        p_obs, p_r, p_term = dyn.step(torch.from_numpy(obs)[None], torch.from_numpy(a)[None])
        np.testing.assert_array_equal(p_obs[0].numpy(), nxt)
        assert float(p_r[0]) == pytest.approx(r, abs=1e-6)
        assert bool(p_term[0]) == term is False
        steps += 1
        obs = nxt
        if term or trunc:
            break
    assert steps == 50
    assert float(dyn.reward(torch.tensor([[0.8, 0.8]]))[0]) == pytest.approx(1.0)
    assert float(dyn.reward(torch.tensor([[-1.0, -1.0]]))[0]) >= 0.0


def test_pendulum_oracle_equals_gymnasium_step():
    env = gym.make("Pendulum-v1")
    dyn = PendulumDynamics()
    rng = np.random.default_rng(1)
    for episode in range(3):
        obs, _ = env.reset(seed=episode)
        for _ in range(200):
            a = rng.uniform(-2.5, 2.5, size=1).astype(np.float32)
            nxt, r, term, trunc, _ = env.step(a)
            p_obs, p_r, p_term = dyn.step(torch.from_numpy(obs)[None], torch.from_numpy(a)[None])
            np.testing.assert_allclose(p_obs[0].numpy(), nxt, atol=1e-5)
            assert float(p_r[0]) == pytest.approx(r, abs=1e-4)
            assert not bool(p_term[0])
            obs = nxt
    with pytest.raises(ValueError, match="obs must have shape"):
        dyn.step(torch.zeros(3), torch.zeros(1, 1))


def test_edge_of_reach_dataset_is_a_narrow_band_away_from_the_goal():
    data = edge_of_reach_dataset(n_episodes=50, seed=0)
    obs = data.observations if hasattr(data, "observations") else data["observations"]
    assert obs.shape == (2500, 2)
    assert np.percentile(np.abs(obs[:, 1]), 99) < 0.1
    assert obs[:, 0].max() < 0.2 and obs[:, 0].min() < -0.7
    # the goal is outside the 5-step reach of every dataset state (L-inf distance > 0.5)
    assert np.abs(obs - np.array([0.8, 0.8])).max(1).min() > 0.5


# --------------------------------------------------------------------------- rollout trainer


class Shift:
    """Deterministic 1-D dynamics s' = s + 1 (actions ignored), reward s', terminates at s' >= stop."""

    obs_dim = 1
    act_dim = 1

    def __init__(self, stop: float = 1e9) -> None:
        self.stop = stop

    def step(self, obs, actions, generator=None):
        nxt = obs + 1.0
        return nxt, nxt[:, 0], nxt[:, 0] >= self.stop


def _tiny_trainer(starts, k, dynamics=None, **config):
    box = gym.spaces.Box(-1, 1, (1,), np.float32)
    agent = SAC(box, box, SACConfig(hidden=(8,), batch_size=8), seed=0)
    s = np.asarray(starts, np.float32).reshape(-1, 1)
    data = {"observations": s, "actions": np.zeros_like(s), "rewards": np.zeros(len(s), np.float32),
            "next_observations": s + 1, "terminals": np.zeros(len(s), np.float32)}
    rc = RolloutConfig(epochs=1, updates_per_epoch=2, rollout_batch=4, rollout_length=k, retain_epochs=2,
                       batch_size=8, diag_every=0, eval_every=0, **config)
    return ModelRolloutTrainer(agent, data, dynamics or Shift(), rc, seed=0)


def test_edge_set_is_exactly_the_states_first_seen_at_step_k():
    trainer = _tiny_trainer([0.0, 1.0], k=3)
    batch = trainer.rollout(torch.tensor([[0.0], [1.0]]))
    assert len(batch) == 6 and batch.step.tolist() == [0, 0, 1, 1, 2, 2]
    states, steps = batch.states_by_step()
    first = first_seen_steps(states, steps)
    by_state = {}
    for s, f in zip(states[:, 0].tolist(), first.tolist()):
        by_state.setdefault(s, set()).add(f)
    # from 0: 0,1,2,3; from 1: 1,2,3,4 -> inputs {0,1,2,3}, targets {1,2,3,4}, edge = {4}
    assert by_state == {0.0: {0}, 1.0: {0}, 2.0: {1}, 3.0: {2}, 4.0: {3}}
    inputs = set(batch.obs[:, 0].tolist())
    targets = set(batch.next_obs[:, 0].tolist())
    edge = {s for s, f in by_state.items() if f == {3}}
    assert edge == targets - inputs == {4.0}


def test_rollouts_drop_terminated_rows_penalise_rewards_and_fifo_retains_r_epochs():
    trainer = _tiny_trainer([0.0, 5.0], k=4, dynamics=Shift(stop=7.0), penalty_coef=0.5)
    trainer.penalty = lambda obs, act: torch.full((obs.shape[0],), 2.0)
    batch = trainer.rollout(torch.tensor([[0.0], [5.0]]))
    # the row from 5 terminates at 7 (step 1) and is dropped afterwards
    assert batch.step.tolist() == [0, 0, 1, 1, 2, 3]
    assert batch.terminated.tolist() == [False, False, False, True, False, False]
    torch.testing.assert_close(batch.rewards, batch.next_obs[:, 0] - 1.0)
    buf = ReplayBuffer(capacity=5, obs_dim=1, act_dim=1, extras={"step": np.int64})
    columns = [t.numpy() for t in (batch.obs, batch.actions, batch.rewards, batch.next_obs, batch.terminated)]
    buf.add(*columns, step=batch.step.numpy())
    buf.add(*columns, step=batch.step.numpy())
    assert len(buf) == 5
    assert sorted(buf.extras["step"].tolist()) == sorted([2, 3, 0, 0, 1, 1, 2, 3][-5:])
    with pytest.raises(ValueError, match="start_sampler"):
        _tiny_trainer([0.0], k=2, full_horizon=True)


def test_trainer_runs_on_edge_of_reach_with_diagnostics():
    dyn = EdgeOfReach2DDynamics()
    data = edge_of_reach_dataset(n_episodes=10, seed=0)
    agent = SAC(BOX2, BOX2, SACConfig(hidden=(16, 16), batch_size=32), seed=0)
    rc = RolloutConfig(epochs=2, updates_per_epoch=5, rollout_batch=50, rollout_length=3, batch_size=32,
                       diag_states=8, diag_mc_samples=1, diag_mc_horizon=10, eval_episodes=4, real_ratio=0.25)
    trainer = ModelRolloutTrainer(agent, data, dyn, rc, true_dynamics=dyn, start_sampler=dyn.sample_initial, seed=0)
    hist = trainer.train()
    assert agent.n_updates == 10 and len(hist.q_mean) == 2 and len(hist.returns) == 2
    assert hist.edge[-1]["steps"] == [0, 1, 2, 3]
    assert hist.model_buffer_size == [150, 300]
    # Monte-Carlo soft value with horizon 1 is the immediate reward
    obs = data.observations if hasattr(data, "observations") else data["observations"]
    s = torch.as_tensor(obs[:5])
    a = torch.zeros(5, 2)
    torch.testing.assert_close(trainer.soft_q_true(s, a, n_samples=1, horizon=1), dyn.step(s, a)[1])


def test_edge_diagnostic_reports_the_ensemble_spread_per_rollout_step():
    # RAVL's pessimism is min over N critics = mean - O(spread): the diagnostic records the spread
    # (std over the critics) per first-seen step, identical to what SAC.q_values gives
    dyn = EdgeOfReach2DDynamics()
    data = edge_of_reach_dataset(n_episodes=4, seed=0)
    agent = SAC(BOX2, BOX2, SACConfig.ravl(hidden=(8, 8), n_critics=4, batch_size=16), seed=3)
    rc = RolloutConfig(epochs=1, updates_per_epoch=1, rollout_batch=10, rollout_length=2, batch_size=16,
                       diag_states=200, diag_mc_samples=1, diag_mc_horizon=2, eval_every=0)
    trainer = ModelRolloutTrainer(agent, data, dyn, rc, true_dynamics=dyn, seed=0)
    trainer.train()
    d = trainer.history.edge[-1]
    assert len(d["q_std"]) == len(d["steps"]) == 3
    assert all(v > 0 for v in d["q_std"])
    # independent members: the ensemble is not initialised identically (a zero spread would make min = mean)
    s, a = torch.rand(64, 2) * 2 - 1, torch.rand(64, 2) * 2 - 1
    assert float(agent.q_values(s, a).std(0).mean()) > 0


def test_paper_config_sets_tau_and_lr_and_reads_the_spread():
    from latentlab.papers.edge_of_reach import Config, _edge_spread, _sac_config

    for arm in ("A", "D", "F"):
        c = _sac_config(Config(tau=0.05, lr=1e-3), arm)
        assert (c.tau, c.actor_lr, c.critic_lr, c.alpha_lr) == (0.05, 1e-3, 1e-3, 1e-3)
    assert _sac_config(Config(), "D").n_critics == 10 and _sac_config(Config(), "A").n_critics == 2
    hist = {"edge": [{"steps": [0, 1, 2], "q_std": [0.1, 0.2, 0.3]}, {"steps": [0, 1, 2], "q_std": [0.3, 0.4, 0.5]}]}
    assert _edge_spread(hist, 2) == pytest.approx((0.2, 0.4))
    assert all(np.isnan(_edge_spread({"edge": []}, 2)))
