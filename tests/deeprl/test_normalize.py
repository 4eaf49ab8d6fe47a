"""Observation/reward normalisation: running moments against numpy, parity with gymnasium 1.x's
``NormalizeObservation``/``NormalizeReward`` wrappers, and PPO's wiring (raw episode returns,
statistics counts under both autoreset modes, frozen evaluation, checkpoints, config)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import NormalizeObservation, NormalizeReward, TransformObservation, TransformReward

from latentlab.deeprl import PPO, PPOConfig
from latentlab.deeprl.normalize import ObservationNormalizer, RewardNormalizer, RunningMeanStd


def test_running_mean_std_equals_pooled_moments_with_pseudo_count():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(m, 3)) for m in (1, 7, 0, 50, 2, 1, 13)]
    rms = RunningMeanStd((3,))
    for b in batches:
        rms.update(b)
    data = np.concatenate(batches)
    n0, n = 1e-4, len(data)
    # n0 pseudo-samples with mean 0 and variance 1 pooled with the data
    mean = data.sum(0) / (n0 + n)
    var = (n0 * 1.0 + (data**2).sum(0)) / (n0 + n) - mean**2
    np.testing.assert_allclose(rms.mean, mean, rtol=0, atol=1e-10)
    np.testing.assert_allclose(rms.var, var, rtol=0, atol=1e-10)
    assert rms.count == pytest.approx(n0 + n, abs=1e-12)
    # the pseudo-count is negligible: numpy's moments of the data
    np.testing.assert_allclose(rms.mean, data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(rms.var, data.var(0), rtol=1e-5)


class ReplayEnv(gym.Env):
    """Replays fixed observations / rewards / end flags (episodes of random length)."""

    def __init__(self, obs, rewards, terminated, truncated, resets):
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, obs.shape[1:], np.float64)
        self.action_space = gym.spaces.Discrete(2)
        self.data = obs, rewards, terminated, truncated
        self.resets, self.t, self.r = resets, 0, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.r += 1
        return self.resets[self.r - 1], {}

    def step(self, action):
        obs, rew, term, trunc = (x[self.t] for x in self.data)
        self.t += 1
        return obs, float(rew), bool(term), bool(trunc), {}


def _stream(n=400, seed=0):
    rng = np.random.default_rng(seed)
    obs = rng.normal([5.0, -2.0], [3.0, 0.1], size=(n, 2)) * np.linspace(1, 4, n)[:, None]
    rewards = rng.normal(1.0, 5.0, size=n)
    ends = rng.random(n) < 0.06
    terminated = ends & (rng.random(n) < 0.5)
    truncated = ends & ~terminated
    resets = rng.normal(0.0, 20.0, size=(n + 1, 2))
    return obs, rewards, terminated, truncated, resets


def test_normalizers_match_gymnasium_wrappers():
    obs, rewards, terminated, truncated, resets = _stream()
    gamma, clip = 0.97, 3.0  # small clip so that clipping is exercised
    env = ReplayEnv(obs, rewards, terminated, truncated, resets)
    env = TransformObservation(NormalizeObservation(env), lambda o: np.clip(o, -clip, clip), None)
    env = TransformReward(NormalizeReward(env, gamma=gamma), lambda r: np.clip(r, -clip, clip))
    on, rn = ObservationNormalizer((2,), clip=clip), RewardNormalizer(1, gamma, clip=clip)
    theirs, ours = [env.reset()[0]], [on(resets[:1])[0]]
    their_r, our_r = [], []
    k = 1
    for t in range(len(rewards)):
        o, r, term, trunc, _ = env.step(0)
        theirs.append(o)
        their_r.append(r)
        ours.append(on(obs[t:t + 1])[0])
        our_r.append(rn(rewards[t:t + 1], terminated[t:t + 1])[0])
        if term or trunc:
            theirs.append(env.reset()[0])
            ours.append(on(resets[k:k + 1])[0])
            k += 1
    assert k > 10 and np.abs(our_r).max() == clip and np.abs(ours).max() == clip
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(our_r, their_r, rtol=1e-6, atol=1e-6)


def test_reward_normalizer_skips_invalid_steps_and_shares_statistics():
    rn = RewardNormalizer(2, 0.9)
    rn(np.array([1.0, 2.0]), np.array([False, False]))
    out = rn(np.array([0.0, 3.0]), np.array([False, False]), valid=np.array([False, True]))
    assert out[0] == 0.0
    np.testing.assert_allclose(rn.returns, [1.0, 0.9 * 2.0 + 3.0])
    ref = RunningMeanStd()
    ref.update(np.array([1.0, 2.0]))
    ref.update(np.array([0.9 * 2.0 + 3.0]))
    np.testing.assert_allclose([rn.rms.mean, rn.rms.var, rn.rms.count], [ref.mean, ref.var, ref.count])
    np.testing.assert_allclose(out[1], 3.0 / np.sqrt(ref.var + 1e-8))


class BadlyScaledTarget(gym.Env):
    """Obs 100 x + 50 with x ~ U[-1, 1] fresh each step, reward -1000 (a - x)^2, 4-step episodes
    (truncated).  Every instance logs its raw rewards."""

    instances: list[BadlyScaledTarget] = []

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
        self.action_space = gym.spaces.Box(-1, 1, (1,), np.float32)
        self.log: list[float] = []
        BadlyScaledTarget.instances.append(self)

    def _obs(self):
        self.x = float(self.np_random.uniform(-1, 1))
        return np.array([100 * self.x + 50], np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        reward = -1000.0 * (float(np.clip(action[0], -1, 1)) - self.x) ** 2
        self.log.append(reward)
        self.t += 1
        return self._obs(), reward, False, self.t >= 4, {}


NORM = PPOConfig(total_steps=8192, n_envs=4, n_steps=64, n_epochs=8, n_minibatches=4, learning_rate=3e-3,
                 ent_coef=0.0, hidden=(32,), eval_every=0, eval_episodes=8, normalize_observation=True,
                 normalize_reward=True)


def _train(config, seed=0):
    BadlyScaledTarget.instances = []
    probe = BadlyScaledTarget()
    agent = PPO(probe.observation_space, probe.action_space, config, seed=seed)
    result = agent.learn(BadlyScaledTarget)
    training = BadlyScaledTarget.instances[1:1 + config.n_envs]  # built before the evaluation envs
    return agent, result, training


@pytest.mark.parametrize("autoreset", ["same_step", "next_step"])
def test_ppo_normalised_keeps_raw_episode_returns_and_counts(autoreset):
    config = NORM.replace(total_steps=1024, autoreset=autoreset, n_epochs=1)
    agent, result, training = _train(config)
    raw = sorted(sum(env.log[i:i + 4]) for env in training for i in range(0, len(env.log) - 3, 4))
    np.testing.assert_allclose(sorted(e[1] for e in result.episodes), raw, rtol=1e-12)
    vector_steps = config.n_iterations * config.n_steps
    emitted = config.n_envs * (1 + vector_steps)  # reset obs + one obs per sub-env and vector step
    if autoreset == "same_step":
        emitted += len(result.episodes)  # final and reset observation on the same step
    valid = sum(len(env.log) for env in training)
    assert valid == config.total_steps if autoreset == "same_step" else valid < config.total_steps
    # training updates the statistics; evaluation (8 episodes) and act() use them frozen
    assert agent.obs_normalizer.rms.count == pytest.approx(1e-4 + emitted)
    assert agent.reward_normalizer.rms.count == pytest.approx(1e-4 + valid)
    agent.act(np.zeros((3, 1)), deterministic=True)
    assert agent.obs_normalizer.rms.count == pytest.approx(1e-4 + emitted)
    assert agent.obs_normalizer.rms.mean[0] == pytest.approx(50, abs=10)
    assert agent.reward_normalizer.rms.var > 1e3  # rewards were rescaled before GAE


def test_ppo_with_normalisation_learns_badly_scaled_target():
    _, result, _ = _train(NORM)
    assert result.final_eval() >= -4 * 1000 * 0.01, result.evals  # |a - x| < 0.1 on average


def test_checkpoint_restores_normalisers_and_config_round_trips(tmp_path):
    agent, _, _ = _train(NORM.replace(total_steps=512, n_epochs=1, eval_episodes=0))
    agent.save(tmp_path / "ppo.pt")
    fresh = PPO(agent.observation_space, agent.action_space, agent.config, seed=5).load(tmp_path / "ppo.pt")
    for a, b in ((agent.obs_normalizer, fresh.obs_normalizer), (agent.reward_normalizer, fresh.reward_normalizer)):
        for key, value in a.state_dict().items():
            np.testing.assert_array_equal(b.state_dict()[key], value)
    obs = np.array([[-30.0], [50.0], [140.0]])
    np.testing.assert_array_equal(agent.act(obs, deterministic=True), fresh.act(obs, deterministic=True))
    for config in (NORM, PPOConfig.cleanrl_continuous()):
        assert PPOConfig.from_json(config.to_json()) == config
    assert PPOConfig.cleanrl_continuous().normalize_observation and PPOConfig.cleanrl_continuous().normalize_reward
    assert not PPOConfig().normalize_observation and not PPOConfig.sb3().normalize_reward


def test_bad_clips_are_rejected_with_the_parameter_name():
    with pytest.raises(ValueError, match="obs_clip"):
        PPOConfig(obs_clip=-1.0)
    with pytest.raises(ValueError, match="reward_clip"):
        PPOConfig(reward_clip=0.0)
    with pytest.raises(ValueError, match="clip"):
        ObservationNormalizer((2,), clip=-1.0)
    with pytest.raises(ValueError, match="gamma"):
        RewardNormalizer(1, gamma=1.5)
    with pytest.raises(ValueError, match="normalize_observation"):
        PPO(gym.spaces.Discrete(3), gym.spaces.Discrete(2), PPOConfig(normalize_observation=True))


def _pendulum_f64():
    env = gym.make("Pendulum-v1")
    box = gym.spaces.Box(-np.inf, np.inf, env.observation_space.shape, np.float64)
    return TransformObservation(env, lambda o: np.asarray(o, np.float64), box)  # float64 statistics in gymnasium


def _pendulum_cleanrl_wrapped():
    env = TransformObservation(NormalizeObservation(_pendulum_f64()), lambda o: np.clip(o, -10, 10), None)
    return TransformReward(NormalizeReward(env, gamma=0.99), lambda r: np.clip(r, -10, 10))


@pytest.mark.parametrize("autoreset", ["same_step", "next_step"])
def test_ppo_normalisation_equals_training_on_gymnasium_wrapped_env(autoreset):
    """One sub-env: our in-PPO normalisation and CleanRL's wrapper stack (normalisation off in
    PPO) give the same training run, truncation bootstraps and autoreset steps included."""
    config = PPOConfig.cleanrl_continuous(total_steps=1024, n_steps=512, n_epochs=4, n_minibatches=8,
                                          eval_episodes=0, autoreset=autoreset)
    ours = PPO.for_env(_pendulum_f64, config, seed=1).learn(_pendulum_f64)
    off = config.replace(normalize_observation=False, normalize_reward=False)
    theirs = PPO.for_env(_pendulum_cleanrl_wrapped, off, seed=1).learn(_pendulum_cleanrl_wrapped)
    assert len(ours.updates) == len(theirs.updates) == 2 and len(ours.episodes) == 5
    for a, b in zip(ours.updates, theirs.updates):
        for key in ("loss", "value_loss", "approx_kl", "explained_variance"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-7), key
    assert ours.episodes[0][1] < -100  # raw Pendulum returns, not normalised ones
