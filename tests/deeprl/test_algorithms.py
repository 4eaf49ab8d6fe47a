"""PPO and SAC: learn trivially easy envs, determinism, config JSON round-trip, checkpoints, and the
MDPO / PMOE hooks (KL direction, penalty schedule, c = alpha equals SAC, winner-takes-gradient)."""

from __future__ import annotations

import copy
import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from latentlab.deeprl import PPO, SAC, PPOConfig, SACConfig, actor_objective, mdpo_penalty, policy_objective
from latentlab.deeprl.distributions import Categorical
from latentlab.deeprl.sac import has_cpp_compiler

needs_cpp_compiler = pytest.mark.skipif(not has_cpp_compiler(), reason="torch.compile needs a C++ compiler here")


class DiscreteIdentity(gym.Env):
    """One-step episodes: obs = one-hot target, reward 1 for choosing it."""

    def __init__(self, n: int = 4) -> None:
        self.n = n
        self.observation_space = gym.spaces.Box(0, 1, (n,), np.float32)
        self.action_space = gym.spaces.Discrete(n)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.target = int(self.np_random.integers(self.n))
        return np.eye(self.n, dtype=np.float32)[self.target], {}

    def step(self, action):
        return np.zeros(self.n, np.float32), float(int(action) == self.target), True, False, {}


class ContinuousIdentity(gym.Env):
    """One-step episodes: obs x ~ U[-1, 1], reward -(a - x)^2."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1, 1, (1,), np.float32)
        self.action_space = gym.spaces.Box(-1, 1, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = float(self.np_random.uniform(-1, 1))
        return np.array([self.x], np.float32), {}

    def step(self, action):
        return np.zeros(1, np.float32), -float((float(action[0]) - self.x) ** 2), True, False, {}


PPO_TINY = PPOConfig(total_steps=4096, n_envs=8, n_steps=32, n_epochs=4, n_minibatches=2, learning_rate=3e-3,
                     ent_coef=0.0, hidden=(32,), eval_every=0, eval_episodes=20)
SAC_TINY = SACConfig(total_steps=1200, learning_starts=200, hidden=(32, 32), batch_size=64, actor_lr=3e-3,
                     critic_lr=3e-3, alpha_lr=3e-3, eval_every=0, eval_episodes=20)


def test_ppo_learns_discrete_identity():
    agent = PPO(DiscreteIdentity().observation_space, DiscreteIdentity().action_space, PPO_TINY, seed=0)
    result = agent.learn(DiscreteIdentity)
    assert result.final_eval() >= 0.95, result.evals


def test_ppo_learns_continuous_identity():
    env = ContinuousIdentity()
    agent = PPO(env.observation_space, env.action_space, PPO_TINY.replace(total_steps=16384, n_epochs=8), seed=0)
    result = agent.learn(ContinuousIdentity)
    assert result.final_eval() >= -0.05, result.evals


def test_sac_learns_continuous_identity():
    env = ContinuousIdentity()
    agent = SAC(env.observation_space, env.action_space, SAC_TINY, seed=0)
    result = agent.learn(ContinuousIdentity)
    assert result.final_eval() >= -0.05, result.evals


def test_ppo_same_seed_same_curve_bit_for_bit():
    config = PPOConfig(total_steps=2048, eval_every=1024, eval_episodes=2)
    runs = [PPO.for_env("CartPole-v1", config, seed=3).learn("CartPole-v1") for _ in range(2)]
    a, b = (json.dumps(r.to_dict() | {"wall_s": 0}) for r in runs)
    assert a == b
    assert json.dumps(runs[0].updates) == json.dumps(runs[1].updates)
    other = PPO.for_env("CartPole-v1", config, seed=4).learn("CartPole-v1")
    assert json.dumps(other.updates) != json.dumps(runs[0].updates)


def test_sac_same_seed_same_curve_bit_for_bit():
    config = SACConfig(total_steps=400, learning_starts=100, hidden=(32, 32), batch_size=32, eval_every=200,
                       eval_episodes=1, log_every=50)
    runs = [SAC.for_env("Pendulum-v1", config, seed=5).learn("Pendulum-v1") for _ in range(2)]
    assert json.dumps(runs[0].updates) == json.dumps(runs[1].updates)
    assert runs[0].evals == runs[1].evals


def test_configs_round_trip_json_and_reject_bad_values():
    for config in (PPOConfig(), PPOConfig.mdpo(), PPOConfig.zoo_cartpole(), SACConfig(), SACConfig.cleanrl(),
                   SACConfig(n_components=4, mdpo_kl_coef=1.0)):
        again = type(config).from_json(config.to_json())
        assert again == config
    with pytest.raises(ValueError, match="gamma"):
        PPOConfig(gamma=1.5)
    with pytest.raises(ValueError, match="n_components"):
        SACConfig(n_components=0)
    with pytest.raises(ValueError, match="total_steps"):
        PPOConfig(total_steps=10)
    with pytest.raises(ValueError, match="no fields"):
        PPOConfig.from_dict({"gama": 0.9})


def test_checkpoint_round_trip(tmp_path):
    config = SACConfig(total_steps=300, learning_starts=100, hidden=(16, 16), batch_size=16, eval_every=0,
                       eval_episodes=1)
    agent = SAC.for_env("Pendulum-v1", config, seed=0)
    agent.learn("Pendulum-v1")
    agent.save(tmp_path / "sac.pt")
    fresh = SAC.for_env("Pendulum-v1", config, seed=1).load(tmp_path / "sac.pt")
    obs = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_array_equal(agent.act(obs, deterministic=True), fresh.act(obs, deterministic=True))
    np.testing.assert_array_equal(agent.act(obs), fresh.act(obs))  # same sampling state too
    ppo = PPO.for_env("CartPole-v1", PPOConfig(total_steps=512, eval_every=0, eval_episodes=1), seed=0)
    ppo.save(tmp_path / "ppo.pt")
    other = PPO.for_env("CartPole-v1", PPOConfig(total_steps=512), seed=9).load(tmp_path / "ppo.pt")
    cart = np.random.default_rng(1).normal(size=(7, 4)).astype(np.float32)
    np.testing.assert_array_equal(ppo.act(cart, True), other.act(cart, True))


def test_mdpo_penalty_is_new_to_old_kl_with_annealed_coefficient():
    assert mdpo_penalty(1, 10) == 1.0 and mdpo_penalty(10, 10) == pytest.approx(10.0)
    assert np.all(np.diff([mdpo_penalty(k, 50) for k in range(1, 51)]) > 0)
    with pytest.raises(ValueError, match="k must be"):
        mdpo_penalty(0, 10)
    new, old = Categorical(torch.tensor([[2.0, 0.0, -1.0]])), Categorical(torch.tensor([[0.0, 0.5, 0.0]]))
    actions, adv = torch.tensor([0]), torch.tensor([0.0])
    old_logp = old.log_prob(actions)
    base, _ = policy_objective(new, old, actions, old_logp, adv, None, kl_coef=0.0)
    with_kl, _ = policy_objective(new, old, actions, old_logp, adv, None, kl_coef=1.0)
    p, q = new.probs[0], old.probs[0]
    assert float(with_kl - base) == pytest.approx(float((p * (p / q).log()).sum()), rel=1e-5)
    assert float(with_kl - base) != pytest.approx(float((q * (q / p).log()).sum()), rel=1e-2)


def _sac_and_batch(n_components=1, mdpo=None, seed=0):
    config = SACConfig(hidden=(32, 32), n_components=n_components, mdpo_kl_coef=mdpo)
    agent = SAC(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-1, 1, (2,)), config, seed=seed)
    obs = torch.randn(64, 3, generator=torch.Generator().manual_seed(seed))
    return agent, obs


def test_off_policy_mdpo_with_c_equal_alpha_has_the_sac_actor_gradient():
    agent, obs = _sac_and_batch(mdpo=0.37)
    with torch.no_grad():  # make the lagged actor differ from the current one
        for p in agent.old_actor.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    alpha = 0.37

    def grads(old, c):
        agent.actor.zero_grad()
        loss, _, _ = actor_objective(agent.actor(obs), agent.critics, obs, alpha, torch.Generator().manual_seed(7),
                                     old, c)
        loss.backward()
        return [p.grad.clone() for p in agent.actor.parameters() if p.grad is not None]

    sac = grads(None, None)
    mdpo = grads(agent.old_actor(obs), alpha)
    for g1, g2 in zip(sac, mdpo):
        torch.testing.assert_close(g1, g2)
    different = grads(agent.old_actor(obs), 1.0)  # c != alpha: the lagged actor matters
    assert any(not torch.allclose(g1, g2) for g1, g2 in zip(sac, different))


def test_pmoe_only_the_winner_gets_actor_gradient_and_router_does_not_reach_trunk():
    agent, obs = _sac_and_batch(n_components=3)
    one = obs[:1]
    agent.actor.zero_grad()
    dist = agent.actor(one)
    loss, _, info = actor_objective(dist, agent.critics, one, 0.2, torch.Generator().manual_seed(3))
    loss.backward()
    grad = agent.actor.mean.weight.grad.reshape(3, 2, -1).abs().sum((1, 2))
    assert int((grad > 0).sum()) == 1  # one component (the winner) moves
    # the router loss alone gives no trunk gradient
    agent.actor.zero_grad()
    d = agent.actor(obs)
    torch.nn.functional.mse_loss(d.weights, torch.full_like(d.weights, 1 / 3) + 0.1).backward()
    assert all(p.grad is None or torch.all(p.grad == 0) for p in agent.actor.trunk.parameters())
    assert agent.actor.router.weight.grad.abs().sum() > 0


def test_pmoe_with_one_component_is_sac():
    a, obs = _sac_and_batch(n_components=1)
    b = copy.deepcopy(a)
    la, _, _ = actor_objective(a.actor(obs), a.critics, obs, 0.2, torch.Generator().manual_seed(0))
    dist = b.actor(obs)
    act, logp = dist.components.rsample_with_log_prob(torch.Generator().manual_seed(0))
    q = torch.min(b.critics[0](obs, act[:, 0]), b.critics[1](obs, act[:, 0]))
    torch.testing.assert_close(la, (0.2 * logp[:, 0] - q).mean())


def _reference_sac_update(agent: SAC, ref: dict, batch: dict[str, torch.Tensor], generator: torch.Generator) -> None:
    """SAC's update written out from the equations with separate backward passes (SB3/Spinning-Up order:
    critic step; actor step with the critics frozen; temperature step; Polyak), on copies of the nets."""
    c = agent.config
    obs, act, rew, nxt, term = (batch[k] for k in ("obs", "actions", "rewards", "next_obs", "terminated"))

    def sample(o: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = ref["actor"].trunk(o)
        mean, log_std = ref["actor"].mean(h), ref["actor"].log_std(h).clamp(*c.log_std_bounds)
        eps = torch.randn((o.shape[0], 1, mean.shape[-1]), generator=generator)[:, 0]
        u = mean + log_std.exp() * eps
        log_prob = torch.distributions.Normal(mean, log_std.exp()).log_prob(u).sum(-1)
        return torch.tanh(u), log_prob - torch.log(1 - torch.tanh(u).pow(2) + 1e-12).sum(-1)

    def q_min(nets, o, a):
        return torch.min(nets[0](o, a), nets[1](o, a))

    alpha = ref["log_alpha"].detach().exp()
    with torch.no_grad():
        a2, logp2 = sample(nxt)
        y = rew + c.gamma * (1 - term) * (q_min(ref["targets"], nxt, a2) - alpha * logp2)
    critic_loss = 0.5 * sum(torch.nn.functional.mse_loss(q(obs, act), y) for q in ref["critics"])
    ref["critic_opt"].zero_grad()
    critic_loss.backward()
    ref["critic_opt"].step()
    for p in ref["critics"].parameters():
        p.requires_grad_(False)
    a, logp = sample(obs)
    actor_loss = (alpha * logp - q_min(ref["critics"], obs, a)).mean()
    ref["actor_opt"].zero_grad()
    actor_loss.backward()
    ref["actor_opt"].step()
    for p in ref["critics"].parameters():
        p.requires_grad_(True)
    alpha_loss = -(ref["log_alpha"] * (logp.detach() - float(agent.act_dim))).mean()
    ref["alpha_opt"].zero_grad()
    alpha_loss.backward()
    ref["alpha_opt"].step()
    with torch.no_grad():
        for target, online in zip(ref["targets"].parameters(), ref["critics"].parameters()):
            target.mul_(1 - c.tau).add_(c.tau * online)


@pytest.mark.parametrize("compiled", [False, pytest.param(True, marks=needs_cpp_compiler)])
def test_sac_update_equals_reference_written_from_the_equations(compiled):
    """Known answer for the fast update (one backward for actor + temperature, no critic gradients in the
    actor pass, fused Adam, K = 1 without gathers), eager and compiled: three updates agree with the
    plain reference."""
    config = SACConfig(hidden=(32, 32), batch_size=16, actor_lr=1e-2, critic_lr=1e-2, alpha_lr=1e-2,
                       compile=compiled)
    agent = SAC(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-1, 1, (2,)), config, seed=1)
    ref = {"actor": copy.deepcopy(agent.actor), "critics": copy.deepcopy(agent.critics),
           "targets": copy.deepcopy(agent.critic_targets), "log_alpha": agent.log_alpha.detach().clone()}
    ref["log_alpha"].requires_grad_(True)
    ref["actor_opt"] = torch.optim.Adam(ref["actor"].parameters(), lr=1e-2)
    ref["critic_opt"] = torch.optim.Adam(ref["critics"].parameters(), lr=1e-2)
    ref["alpha_opt"] = torch.optim.Adam([ref["log_alpha"]], lr=1e-2)
    ref_generator = torch.Generator()
    data = torch.Generator().manual_seed(0)
    for _ in range(3):
        batch = {"obs": torch.randn(16, 3, generator=data), "actions": torch.rand(16, 2, generator=data) * 2 - 1,
                 "rewards": torch.randn(16, generator=data), "next_obs": torch.randn(16, 3, generator=data),
                 "terminated": (torch.rand(16, generator=data) < 0.2).float()}
        ref_generator.set_state(agent.generator.get_state())  # the same noise draws, in the same order
        agent.update(batch)
        _reference_sac_update(agent, ref, batch, ref_generator)
    for ours, theirs in ((agent.actor, ref["actor"]), (agent.critics, ref["critics"]),
                         (agent.critic_targets, ref["targets"])):
        for p, q in zip(ours.parameters(), theirs.parameters()):
            torch.testing.assert_close(p, q, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(agent.log_alpha.detach(), ref["log_alpha"].detach(), atol=1e-6, rtol=1e-5)
