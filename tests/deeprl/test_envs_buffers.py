"""Vector-env autoreset handling (both gymnasium 1.x modes), evaluation, GAE and buffers."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from latentlab.deeprl.buffers import ReplayBuffer, RolloutBuffer, gae
from latentlab.deeprl.envs import MultiGoalPointEnv, VecRunner, evaluate, make_vec


class Counter(gym.Env):
    """obs = [episode id, t]; reward 1 per step; terminates after `length` steps (varies by env)."""

    def __init__(self, length: int = 3) -> None:
        self.length = length
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t, self.episode = 0, -1

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.episode = 0, self.episode + 1
        return np.array([self.episode, 0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.episode, self.t], np.float32), 1.0, self.t >= self.length, False, {}


def _bad_transitions(obs, next_obs) -> int:
    """Transitions that are not 'same episode, t -> t+1' (what a mishandled autoreset produces)."""
    return int(np.sum((next_obs[:, 0] != obs[:, 0]) | (next_obs[:, 1] != obs[:, 1] + 1)))


def _envs(n=3):
    return [lambda i=i: Counter(length=2 + i) for i in range(n)]


@pytest.mark.parametrize("autoreset", ["next_step", "same_step"])
def test_runner_emits_only_true_transitions(autoreset):
    vec = gym.vector.SyncVectorEnv(_envs(), autoreset_mode=getattr(gym.vector.AutoresetMode, autoreset.upper()))
    runner = VecRunner(vec, seed=0)
    n_valid = 0
    for _ in range(30):
        step = runner.step(np.zeros(3, dtype=np.int64))
        v = step.valid
        n_valid += v.sum()
        assert _bad_transitions(step.obs[v], step.next_obs[v]) == 0
        # the step reaching t == length is the terminal one, with its final observation
        np.testing.assert_array_equal(step.terminated[v], step.next_obs[v, 1] == 2 + np.arange(3)[v])
    assert n_valid == runner.steps
    lengths = {e.length for e in runner.episodes}
    assert lengths == {2, 3, 4}
    assert all(e.ret == e.length for e in runner.episodes)
    if autoreset == "next_step":
        assert n_valid < 90  # one reset step per finished episode is not a transition
    else:
        assert n_valid == 90


def test_naive_same_step_loop_on_next_step_env_is_caught():
    """A gymnasium-0.29-style loop (every step is a transition) on the default NEXT_STEP env records
    one bogus final->reset transition per episode; the check above sees it."""
    vec = gym.vector.SyncVectorEnv(_envs(), autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP)
    obs, _ = vec.reset(seed=0)
    bad = 0
    for _ in range(30):
        next_obs, *_ = vec.step(np.zeros(3, dtype=np.int64))
        bad += _bad_transitions(obs, next_obs)
        obs = next_obs
    assert bad > 0


def test_truncation_keeps_final_observation_and_is_not_termination():
    vec = make_vec(lambda: gym.wrappers.TimeLimit(Counter(length=100), max_episode_steps=5), 2, autoreset="same_step")
    runner = VecRunner(vec, seed=1)
    for _ in range(5):
        step = runner.step(np.zeros(2, dtype=np.int64))
    assert step.truncated.all() and not step.terminated.any()
    np.testing.assert_array_equal(step.next_obs[:, 1], [5, 5])
    np.testing.assert_array_equal(runner.obs[:, 1], [0, 0])  # already reset (same-step mode)


def test_evaluate_returns_first_episode_of_each_env():
    episodes = evaluate(lambda o: np.zeros(len(o), dtype=np.int64), lambda: Counter(length=4), 3, seed=0)
    assert [e.ret for e in episodes] == [4.0, 4.0, 4.0]
    with pytest.raises(ValueError, match="n_episodes"):
        evaluate(lambda o: o, "CartPole-v1", 0, seed=0)
    with pytest.raises(ValueError, match="autoreset"):
        make_vec("CartPole-v1", 2, autoreset="sometimes")


def test_multigoal_env_reward_and_goal():
    env = MultiGoalPointEnv()
    env.reset(seed=0)
    for _ in range(5):
        obs, r, term, trunc, info = env.step(np.array([1.0, 0.0]))
    assert info["goal"] == 0 and info["at_goal"]
    np.testing.assert_allclose(r, -0.0 - 0.1)
    assert not term and not trunc


def _naive_gae(r, v, nv, term, done, gamma, lam):
    T, N = r.shape
    adv = np.zeros((T, N))
    for i in range(N):
        acc = 0.0
        for t in reversed(range(T)):
            delta = r[t, i] + gamma * (1 - term[t, i]) * nv[t, i] - v[t, i]
            acc = delta + gamma * lam * (1 - done[t, i]) * acc
            adv[t, i] = acc
    return adv


def test_gae_matches_reference_and_limits():
    rng = np.random.default_rng(0)
    T, N = 17, 3
    r, v, nv = rng.normal(size=(T, N)), rng.normal(size=(T, N)), rng.normal(size=(T, N))
    term = (rng.random((T, N)) < 0.1).astype(float)
    trunc = (rng.random((T, N)) < 0.1).astype(float) * (1 - term)
    done = np.maximum(term, trunc)
    adv, ret = gae(r, v, nv, term, done, 0.97, 0.9)
    np.testing.assert_allclose(adv, _naive_gae(r, v, nv, term, done, 0.97, 0.9))
    np.testing.assert_allclose(ret, adv + v)
    adv0, _ = gae(r, v, nv, term, done, 0.97, 0.0)  # lambda = 0: one-step TD error
    np.testing.assert_allclose(adv0, r + 0.97 * (1 - term) * nv - v)
    # lambda = 1, no episode ends, V(s_{t+1}) = v[t+1]: discounted return minus value
    nv1 = np.vstack([v[1:], np.zeros((1, N))])
    z = np.zeros((T, N))
    adv1, _ = gae(r, v, nv1, z, z, 0.9, 1.0)
    disc = np.array([[sum(0.9 ** (k - t) * r[k, i] for k in range(t, T)) for i in range(N)] for t in range(T)])
    np.testing.assert_allclose(adv1, disc - v, atol=1e-10)
    with pytest.raises(ValueError, match="gamma"):
        gae(r, v, nv, term, done, 1.5, 0.9)


def test_rollout_buffer_bootstraps_truncation_and_drops_invalid_steps():
    buf = RolloutBuffer(3, 2, obs_dim=1, act_shape=(), n_params=2, act_dtype=np.int64)
    zeros, ones = np.zeros(2), np.ones(2)
    # env 0 truncates at t=0 with V(final) = 10; env 1 runs on; t=1 is env 0's NEXT_STEP reset step
    buf.add(np.zeros((2, 1)), np.zeros(2), zeros, np.zeros((2, 2)), ones, np.array([1.0, 1.0]), zeros,
            np.array([1.0, 0.0]), np.array([True, True]), np.array([10.0, 0.0]))
    buf.add(np.zeros((2, 1)), np.zeros(2), zeros, np.zeros((2, 2)), zeros, np.array([2.0, 2.0]), zeros, zeros,
            np.array([False, True]), zeros)
    buf.add(np.zeros((2, 1)), np.zeros(2), zeros, np.zeros((2, 2)), ones, np.array([3.0, 3.0]), zeros, zeros,
            np.array([True, True]), zeros)
    buf.finish(np.array([4.0, 4.0]), gamma=0.5, lam=0.0)
    np.testing.assert_allclose(buf.next_values[:, 0], [10.0, 3.0, 4.0])
    np.testing.assert_allclose(buf.advantages[0, 0], 1 + 0.5 * 10 - 1)
    flat = buf.flat()
    assert flat["obs"].shape[0] == 5


def test_replay_buffer_ring_and_sampling():
    buf = ReplayBuffer(4, obs_dim=1, act_dim=1)
    for k in range(6):
        buf.add(np.full((1, 1), k), np.zeros((1, 1)), np.array([float(k)]), np.zeros((1, 1)), np.zeros(1))
    assert buf.size == 4
    assert sorted(buf.rewards.tolist()) == [2.0, 3.0, 4.0, 5.0]
    batch = buf.sample(64, np.random.default_rng(0))
    assert set(batch["rewards"].tolist()) <= {2.0, 3.0, 4.0, 5.0}
    assert batch["obs"].dtype == torch.float32
