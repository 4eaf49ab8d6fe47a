r"""Proximal Policy Optimization (Schulman et al. 2017), with the KL-penalty hook used by MDPO.

Objective minimised on each minibatch (:math:`\rho_t=\pi_\theta(a_t|s_t)/\pi_{\rm old}(a_t|s_t)`):

.. math::

    L = -\mathbb E\big[\min(\rho_t\hat A_t,\ \mathrm{clip}(\rho_t,1\pm\epsilon)\hat A_t)\big]
        + c_v\,\mathbb E\big[\max\big((V-\hat R)^2,\
          (V_{\rm old}+\mathrm{clip}(V-V_{\rm old},\pm\epsilon)-\hat R)^2\big)\big]
        - c_e\,\mathbb E[\mathcal H(\pi_\theta)]
        + c_k\,\mathbb E\big[\mathrm{KL}(\pi_\theta\,\|\,\pi_{\rm old})\big]

with GAE advantages (:func:`latentlab.deeprl.buffers.gae`), standardised per minibatch
(CleanRL/SB3) or per batch (MDPO), and :math:`c_v` multiplying 0.5·(squared error) as in CleanRL.
``clip_coef=None`` drops the clipping of the ratio (plain importance-weighted surrogate);
``kl_coef`` > 0 adds the new-to-old KL penalty, with ``kl_schedule="mdpo"`` making
:math:`c_k = \text{kl\_coef}/t_k`, :math:`t_k = 1-(k-1)/K` at iteration k of K (MDPO's
annealed step size, the penalty growing from 1 to K).  On-policy MDPO is therefore
``PPOConfig.mdpo()``: no clipping, KL penalty, m full-batch policy steps and a separate
value update.

Defaults are CleanRL's ``ppo.py`` (classic control): 4 envs x 128 steps, 4 epochs x 4
minibatches, lr 2.5e-4 linearly annealed, gamma 0.99, lambda 0.95, clip 0.2 with value
clipping, entropy 0.01, vf 0.5, grad-norm 0.5, Adam eps 1e-5, 64-64 tanh MLPs with
orthogonal init.  Presets: :meth:`PPOConfig.cleanrl_continuous`, :meth:`PPOConfig.sb3`,
:meth:`PPOConfig.zoo_cartpole` (RL-Zoo's tuned CartPole-v1), :meth:`PPOConfig.mdpo`.
Observation/reward normalisation (CleanRL's MuJoCo setting; :mod:`latentlab.deeprl.normalize`),
switched on by ``normalize_observation`` / ``normalize_reward`` (both on in
:meth:`PPOConfig.cleanrl_continuous`, off elsewhere):

* the networks see :math:`\tilde o=\mathrm{clip}((o-\mu)/\sqrt{\sigma^2+10^{-8}},\pm\text{obs\_clip})`,
  the running :math:`(\mu,\sigma^2)` updated with every observation the env emits during
  training (reset, next and final observations, as gymnasium's wrapper does) and frozen in
  :meth:`PPO.act` and the evaluations; the truncation bootstrap :math:`V(\tilde o_{\rm final})`
  uses the same statistics;
* GAE uses :math:`\tilde r_t=\mathrm{clip}(r_t/\sqrt{\mathrm{Var}[G]+10^{-8}},\pm\text{reward\_clip})`,
  :math:`G_t=\gamma(1-d_t)G_{t-1}+r_t` per sub-env (:math:`d_t`: terminated; gymnasium's
  ``NormalizeReward``); NEXT_STEP reset steps touch neither :math:`G` nor the statistics;
* episode returns (``TrainingResult.episodes``, evaluations) stay raw; the statistics are saved
  with the checkpoint.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from torch import nn

from latentlab.deeprl._config import ConfigMixin, check_range
from latentlab.deeprl.buffers import RolloutBuffer
from latentlab.deeprl.envs import EnvSpec, Step, VecRunner, evaluate, make_vec, space_dims
from latentlab.deeprl.nets import DiscretePolicy, GaussianPolicy, ValueNet, load_checkpoint, save_checkpoint
from latentlab.deeprl.normalize import ObservationNormalizer, RewardNormalizer
from latentlab.deeprl.optim import fused_adam_step
from latentlab.deeprl.training import TrainingResult

__all__ = ["PPOConfig", "PPO", "policy_objective", "value_objective", "mdpo_penalty"]


@dataclass(frozen=True)
class PPOConfig(ConfigMixin):
    total_steps: int = 500_000
    """Environment steps (all sub-envs together)."""
    n_envs: int = 4
    n_steps: int = 128
    """Rollout length per env and iteration."""
    n_epochs: int = 4
    n_minibatches: int = 4
    learning_rate: float = 2.5e-4
    anneal_lr: bool = True
    """Linear decay of the learning rate to 0 over the iterations."""
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_coef: float | None = 0.2
    """Ratio clipping epsilon; None: unclipped surrogate (MDPO)."""
    anneal_clip: bool = False
    """Linear decay of the clip range (RL-Zoo's ``lin_0.2``)."""
    clip_vloss: bool = True
    """Clip the value loss around the old predictions (CleanRL; SB3 default is off)."""
    vf_clip_coef: float = 0.2
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    max_grad_norm: float = 0.5
    norm_adv: Literal["minibatch", "batch", "none"] = "minibatch"
    target_kl: float | None = None
    """Stop the epochs of an iteration early once the approximate KL exceeds this."""
    kl_coef: float = 0.0
    """Weight of the KL(new || old) penalty (MDPO's 1/t_k when kl_schedule='mdpo')."""
    kl_schedule: Literal["constant", "mdpo"] = "constant"
    value_epochs: int = 0
    """> 0: train the value net separately, after the policy steps, for this many epochs (MDPO)."""
    value_minibatch_size: int = 128
    hidden: tuple[int, ...] = (64, 64)
    activation: Literal["tanh", "relu"] = "tanh"
    adam_eps: float = 1e-5
    autoreset: Literal["same_step", "next_step"] = "same_step"
    eval_every: int = 10_000
    """Env steps between deterministic evaluations (0: only at the end)."""
    eval_episodes: int = 10
    normalize_observation: bool = False
    """Running standardisation of observations, clipped to ``±obs_clip`` (CleanRL MuJoCo)."""
    normalize_reward: bool = False
    """Rewards divided by the running std of the discounted return, clipped to ``±reward_clip``."""
    obs_clip: float = 10.0
    reward_clip: float = 10.0

    def __post_init__(self) -> None:
        for name in ("total_steps", "n_envs", "n_steps", "n_epochs", "n_minibatches"):
            check_range(name, getattr(self, name), 1)
        check_range("eval_episodes", self.eval_episodes, 0)
        check_range("learning_rate", self.learning_rate, 0.0, low_open=True)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("gae_lambda", self.gae_lambda, 0.0, 1.0)
        if self.clip_coef is not None:
            check_range("clip_coef", self.clip_coef, 0.0, low_open=True)
        for name in ("vf_coef", "ent_coef", "max_grad_norm", "kl_coef", "value_epochs", "eval_every"):
            check_range(name, getattr(self, name), 0.0)
        check_range("value_minibatch_size", self.value_minibatch_size, 1)
        check_range("obs_clip", self.obs_clip, 0.0, low_open=True)
        check_range("reward_clip", self.reward_clip, 0.0, low_open=True)
        if self.norm_adv not in ("minibatch", "batch", "none"):
            raise ValueError(f"norm_adv must be 'minibatch', 'batch' or 'none', got {self.norm_adv!r}")
        if self.kl_schedule not in ("constant", "mdpo"):
            raise ValueError(f"kl_schedule must be 'constant' or 'mdpo', got {self.kl_schedule!r}")
        if self.total_steps < self.n_envs * self.n_steps:
            raise ValueError(f"total_steps must be >= n_envs * n_steps = {self.n_envs * self.n_steps}, "
                             f"got {self.total_steps}")

    @property
    def n_iterations(self) -> int:
        return self.total_steps // (self.n_envs * self.n_steps)

    @classmethod
    def cleanrl_continuous(cls, **changes: Any) -> PPOConfig:
        """CleanRL ``ppo_continuous_action.py`` (MuJoCo): 1 env x 2048 steps, 10 epochs x 32
        minibatches, lr 3e-4 annealed, no entropy bonus, observation and reward normalisation
        clipped at ±10."""
        return cls(**{**dict(total_steps=1_000_000, n_envs=1, n_steps=2048, n_epochs=10, n_minibatches=32,
                             learning_rate=3e-4, ent_coef=0.0, normalize_observation=True,
                             normalize_reward=True), **changes})

    @classmethod
    def sb3(cls, **changes: Any) -> PPOConfig:
        """Stable-Baselines3 ``PPO`` defaults (constant lr 3e-4, no value clipping)."""
        return cls(**{**dict(total_steps=1_000_000, n_envs=1, n_steps=2048, n_epochs=10, n_minibatches=32,
                             learning_rate=3e-4, anneal_lr=False, ent_coef=0.0, clip_vloss=False), **changes})

    @classmethod
    def zoo_cartpole(cls, **changes: Any) -> PPOConfig:
        """RL-Zoo's tuned CartPole-v1 hyper-parameters (8 envs x 32 steps, batch 256, 20 epochs,
        gamma 0.98, lambda 0.8, lr lin_1e-3, clip lin_0.2, ent 0, 100k steps); SB3 defaults otherwise."""
        return cls(**{**dict(total_steps=100_000, n_envs=8, n_steps=32, n_epochs=20, n_minibatches=1,
                             learning_rate=1e-3, anneal_lr=True, gamma=0.98, gae_lambda=0.8, clip_coef=0.2,
                             anneal_clip=True, clip_vloss=False, ent_coef=0.0), **changes})

    @classmethod
    def mdpo(cls, m: int = 10, **changes: Any) -> PPOConfig:
        """On-policy MDPO: unclipped surrogate + KL(new||old)/t_k penalty, m full-batch policy
        steps, batch-level advantage standardisation, 5 value epochs of minibatch 128, no entropy."""
        return cls(**{**dict(clip_coef=None, kl_coef=1.0, kl_schedule="mdpo", n_epochs=m, n_minibatches=1,
                             norm_adv="batch", ent_coef=0.0, value_epochs=5, value_minibatch_size=128,
                             learning_rate=3e-4, anneal_lr=False), **changes})


def mdpo_penalty(k: int, n_iterations: int) -> float:
    r""":math:`1/t_k` with :math:`t_k = 1-(k-1)/K` (k = 1..K): grows from 1 to K."""
    if not 1 <= k <= n_iterations:
        raise ValueError(f"k must be in [1, {n_iterations}], got {k}")
    return 1.0 / (1.0 - (k - 1) / n_iterations)


def policy_objective(new_dist: Any, old_dist: Any, actions: torch.Tensor, old_log_probs: torch.Tensor,
                     advantages: torch.Tensor, clip_coef: float | None, kl_coef: float = 0.0, ent_coef: float = 0.0,
                     weights: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    r"""PPO/MDPO policy loss: clipped (or plain) surrogate, entropy bonus and KL(new||old) penalty.

    ``weights`` (optional, summing to 1) replace the sample mean by a weighted sum: with all
    (s, a) pairs weighted by :math:`\rho(s)\pi_{\rm old}(a|s)` this is the exact expectation
    (the tabular MDPO check)."""
    log_probs = new_dist.log_prob(actions)
    log_ratio = log_probs - old_log_probs
    ratio = log_ratio.exp()
    surrogate = ratio * advantages
    if clip_coef is not None:
        surrogate = torch.min(surrogate, ratio.clamp(1 - clip_coef, 1 + clip_coef) * advantages)

    def average(x: torch.Tensor) -> torch.Tensor:
        return x.mean() if weights is None else (weights * x).sum()

    loss = -average(surrogate)
    info: dict[str, torch.Tensor] = {}
    if ent_coef:
        entropy = average(new_dist.entropy())
        loss = loss - ent_coef * entropy
        info["entropy"] = entropy.detach()
    if kl_coef:
        kl = average(new_dist.kl(old_dist))
        loss = loss + kl_coef * kl
        info["kl_penalty_term"] = kl.detach()
    with torch.no_grad():
        info["approx_kl"] = average((ratio - 1) - log_ratio)
        if clip_coef is not None:
            info["clipfrac"] = average(((ratio - 1).abs() > clip_coef).float())
    return loss, info


def value_objective(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
                    clip_coef: float | None) -> torch.Tensor:
    r""":math:`\tfrac12\mathbb E[\max((V-\hat R)^2,(V_{\rm old}+\mathrm{clip}(V-V_{\rm old},\pm\epsilon)-\hat R)^2)]`
    (no clipping when ``clip_coef`` is None)."""
    unclipped = (values - returns).pow(2)
    if clip_coef is None:
        return 0.5 * unclipped.mean()
    clipped = (old_values + (values - old_values).clamp(-clip_coef, clip_coef) - returns).pow(2)
    return 0.5 * torch.max(unclipped, clipped).mean()


def _seeds(seed: int) -> list[int]:
    return [int(s) for s in np.random.SeedSequence([int(seed), 4242]).generate_state(4)]


class PPO:
    """PPO (and on-policy MDPO) for Discrete or Box action spaces.

    >>> agent = PPO.for_env("CartPole-v1", PPOConfig(total_steps=20_000), seed=0)   # doctest: +SKIP
    >>> result = agent.learn("CartPole-v1")                                         # doctest: +SKIP
    """

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, config: PPOConfig | None = None,
                 seed: int = 0) -> None:
        self.config = config or PPOConfig()
        self.seed = int(seed)
        self.observation_space, self.action_space = observation_space, action_space
        obs_dim, _ = space_dims(observation_space)
        act_dim, n_actions = space_dims(action_space)
        self.discrete = n_actions is not None
        init_seed, sample_seed, env_seed, eval_seed = _seeds(seed)
        self.env_seed, self.eval_seed = env_seed % 2**31, eval_seed % 2**31
        c = self.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            self.policy: nn.Module = (DiscretePolicy(obs_dim, n_actions, c.hidden, c.activation) if self.discrete
                                      else GaussianPolicy(obs_dim, act_dim, c.hidden, c.activation))
            self.value = ValueNet(obs_dim, c.hidden, c.activation)
        self.generator = torch.Generator().manual_seed(sample_seed)
        if c.value_epochs > 0:
            self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=c.learning_rate, eps=c.adam_eps,
                                              fused=True)
            self.value_optimizer: torch.optim.Optimizer | None = torch.optim.Adam(
                self.value.parameters(), lr=c.learning_rate, eps=c.adam_eps, fused=True)
        else:
            self.optimizer = torch.optim.Adam([*self.policy.parameters(), *self.value.parameters()],
                                              lr=c.learning_rate, eps=c.adam_eps, fused=True)
            self.value_optimizer = None
        self.obs_dim, self.act_dim = obs_dim, act_dim
        if c.normalize_observation and not isinstance(observation_space, gym.spaces.Box):
            raise ValueError(f"normalize_observation needs a Box observation space, got {observation_space}")
        self.obs_normalizer = (ObservationNormalizer(observation_space.shape, c.obs_clip)
                               if c.normalize_observation else None)
        self.reward_normalizer = RewardNormalizer(c.n_envs, c.gamma, c.reward_clip) if c.normalize_reward else None
        self.n_params = n_actions if self.discrete else 2 * act_dim
        self.iteration = 0

    @classmethod
    def for_env(cls, env: EnvSpec, config: PPOConfig | None = None, seed: int = 0, **env_kwargs: Any) -> PPO:
        probe = env() if callable(env) else gym.make(env, **env_kwargs)
        try:
            return cls(probe.observation_space, probe.action_space, config, seed)
        finally:
            probe.close()

    # ----------------------------------------------------------------- acting

    def distribution(self, obs: torch.Tensor) -> Any:
        return self.policy.distribution(self.policy.params(obs))

    def _to_env(self, actions: np.ndarray) -> np.ndarray:
        if self.discrete:
            return actions.astype(np.int64)
        return np.clip(actions, self.action_space.low, self.action_space.high)

    def policy_obs(self, obs: np.ndarray, update: bool = False) -> np.ndarray:
        """Raw env observations -> what the networks see (normalised when configured; the
        running statistics are updated only if ``update``)."""
        if self.obs_normalizer is None:
            return obs
        return self.obs_normalizer(obs, update=update)

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Environment actions for a batch of raw observations (continuous ones clipped to the
        box); observation statistics are used frozen."""
        with torch.no_grad():
            dist = self.distribution(torch.as_tensor(np.asarray(self.policy_obs(obs)), dtype=torch.float32))
            actions = dist.mode() if deterministic else dist.sample(self.generator)
        return self._to_env(actions.numpy())

    # ----------------------------------------------------------------- update

    def update(self, buffer: RolloutBuffer, kl_coef: float | None = None,
               clip_coef: float | None | Literal["config"] = "config") -> dict[str, float]:
        """One PPO iteration on a finished rollout; returns diagnostics."""
        c = self.config
        clip = c.clip_coef if clip_coef == "config" else clip_coef
        kl_coef = c.kl_coef if kl_coef is None else kl_coef
        data = buffer.flat()
        n = data["obs"].shape[0]
        adv_all = data["advantages"]
        if c.norm_adv == "batch":
            adv_all = (adv_all - adv_all.mean()) / (adv_all.std() + 1e-8)
        joint_value = self.value_optimizer is None
        params = [*self.policy.parameters(), *(self.value.parameters() if joint_value else ())]
        stats: dict[str, list[float]] = {}
        stop = False
        for _ in range(c.n_epochs):
            for idx in RolloutBuffer.minibatches(n, c.n_minibatches, self.generator):
                obs = data["obs"][idx]
                adv = adv_all[idx]
                if c.norm_adv == "minibatch" and len(idx) > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                new_dist = self.distribution(obs)
                old_dist = self.policy.distribution(data["params"][idx]) if kl_coef else None
                loss, info = policy_objective(new_dist, old_dist, data["actions"][idx], data["log_probs"][idx], adv,
                                              clip, kl_coef, c.ent_coef)
                if joint_value:
                    v_loss = value_objective(self.value(obs), data["values"][idx], data["returns"][idx],
                                             c.vf_clip_coef if c.clip_vloss else None)
                    loss = loss + c.vf_coef * v_loss
                    info["value_loss"] = v_loss.detach()
                self.optimizer.zero_grad()
                loss.backward()
                if c.max_grad_norm > 0:
                    nn.utils.clip_grad_norm_(params, c.max_grad_norm)
                fused_adam_step(self.optimizer)
                info["loss"] = loss.detach()
                for k, v in info.items():
                    stats.setdefault(k, []).append(v)
                if c.target_kl is not None and float(info["approx_kl"]) > c.target_kl:
                    stop = True
                    break
            if stop:
                break
        if not joint_value:
            assert self.value_optimizer is not None
            n_mb = max(1, math.ceil(n / c.value_minibatch_size))
            for _ in range(c.value_epochs):
                for idx in RolloutBuffer.minibatches(n, n_mb, self.generator):
                    v_loss = value_objective(self.value(data["obs"][idx]), data["values"][idx], data["returns"][idx],
                                             c.vf_clip_coef if c.clip_vloss else None)
                    self.value_optimizer.zero_grad()
                    (c.vf_coef * v_loss).backward()
                    if c.max_grad_norm > 0:
                        nn.utils.clip_grad_norm_(self.value.parameters(), c.max_grad_norm)
                    fused_adam_step(self.value_optimizer)
                    stats.setdefault("value_loss", []).append(v_loss.detach())
        with torch.no_grad():
            new_dist = self.distribution(data["obs"])
            old_dist = self.policy.distribution(data["params"])
            kl_new_old = float(new_dist.kl(old_dist).mean())
            values, returns = data["values"], data["returns"]
            var = float(returns.var())
            explained = float("nan") if var == 0 else 1.0 - float((returns - values).var()) / var
        # one tensor -> float conversion per statistic and iteration (a float() per minibatch costs ~2 us each)
        out = {k: float(np.mean(torch.stack(v).float().tolist())) for k, v in stats.items()}
        out.update(kl_new_old=kl_new_old, explained_variance=explained if math.isfinite(explained) else 0.0,
                   kl_coef=float(kl_coef), batch=float(n))
        return out

    # ----------------------------------------------------------------- training loop

    def learn(self, env: EnvSpec, *, check_finite: Callable[[str, Any], None] | None = None,
              callback: Callable[[int, dict[str, float]], None] | None = None, **env_kwargs: Any) -> TrainingResult:
        """Train for ``config.total_steps`` env steps; evaluates deterministically every
        ``config.eval_every`` steps and at the end on a separate env (own seeds)."""
        c = self.config
        start = time.perf_counter()
        vec = make_vec(env, c.n_envs, autoreset=c.autoreset, **env_kwargs)
        result = TrainingResult()
        try:
            runner = VecRunner(vec, self.env_seed)
            if self.reward_normalizer is not None:
                self.reward_normalizer.reset_returns()
            obs_now = self.policy_obs(runner.obs, update=True)
            buffer = RolloutBuffer(c.n_steps, c.n_envs, self.obs_dim,
                                   () if self.discrete else (self.act_dim,), self.n_params,
                                   np.int64 if self.discrete else np.float32)
            K = c.n_iterations
            next_eval = c.eval_every if c.eval_every > 0 else None
            steps = 0
            for k in range(1, K + 1):
                frac = 1.0 - (k - 1) / K
                lr = c.learning_rate * (frac if c.anneal_lr else 1.0)
                for opt in (self.optimizer, self.value_optimizer):
                    if opt is not None:
                        for group in opt.param_groups:
                            group["lr"] = lr
                obs_now = self._collect(runner, buffer, obs_now)
                steps += c.n_envs * c.n_steps
                clip = None if c.clip_coef is None else c.clip_coef * (frac if c.anneal_clip else 1.0)
                kl_coef = c.kl_coef * (mdpo_penalty(k, K) if c.kl_schedule == "mdpo" else 1.0)
                metrics = self.update(buffer, kl_coef=kl_coef, clip_coef=clip)
                buffer.reset()
                self.iteration += 1
                metrics["step"] = float(steps)
                if check_finite is not None:
                    check_finite(f"ppo update {k}", metrics)
                result.updates.append(metrics)
                if callback is not None:
                    callback(k, metrics)
                if next_eval is not None and c.eval_episodes > 0 and steps >= next_eval and k < K:
                    result.evals.append(self._evaluate(env, steps, **env_kwargs))
                    while next_eval <= steps:
                        next_eval += c.eval_every
            if c.eval_episodes > 0:
                result.evals.append(self._evaluate(env, steps, **env_kwargs))
            result.episodes = [(e.step, e.ret, e.length) for e in runner.episodes]
            result.total_steps, result.n_updates = steps, K
        finally:
            vec.close()
        result.wall_s = time.perf_counter() - start
        return result

    def _collect(self, runner: VecRunner, buffer: RolloutBuffer, obs_now: np.ndarray) -> np.ndarray:
        """Fill ``buffer`` with network-space observations and (normalised) rewards.

        ``obs_now``: ``runner.obs`` as the networks see it; returns its value after the rollout."""
        for _ in range(buffer.n_steps):
            obs = torch.as_tensor(obs_now, dtype=torch.float32)
            with torch.no_grad():
                params = self.policy.params(obs)
                dist = self.policy.distribution(params)
                actions = dist.sample(self.generator)
                log_probs = dist.log_prob(actions)
                values = self.value(obs)
            step = runner.step(self._to_env(actions.numpy()))
            next_obs = self.policy_obs(step.next_obs, update=True)
            rewards = (step.rewards if self.reward_normalizer is None
                       else self.reward_normalizer(step.rewards, step.terminated, step.valid))
            bootstrap = np.zeros(runner.n)
            if step.truncated.any():
                idx = np.flatnonzero(step.truncated)
                with torch.no_grad():
                    bootstrap[idx] = self.value(torch.as_tensor(next_obs[idx], dtype=torch.float32)).numpy()
            buffer.add(obs.numpy(), actions.numpy(), log_probs.numpy(), params.numpy(), rewards,
                       values.numpy(), step.terminated, step.done, step.valid, bootstrap)
            obs_now = self._after_autoreset(runner, step, next_obs)
        with torch.no_grad():
            last = self.value(torch.as_tensor(obs_now, dtype=torch.float32)).numpy()
        buffer.finish(last, self.config.gamma, self.config.gae_lambda)
        return obs_now

    def _after_autoreset(self, runner: VecRunner, step: Step, next_obs: np.ndarray) -> np.ndarray:
        """Network-space ``runner.obs`` after a step: ``next_obs`` except where a SAME_STEP
        autoreset already put the reset observation there (normalised after the final one,
        the order in which gymnasium's per-env wrapper sees them)."""
        if self.obs_normalizer is None:
            return runner.obs
        fresh = step.done if runner.mode == AutoresetMode.SAME_STEP else np.zeros(runner.n, dtype=bool)
        if not fresh.any():
            return next_obs
        out = np.array(next_obs, copy=True)
        out[fresh] = self.obs_normalizer(runner.obs[fresh], update=True)
        return out

    def _evaluate(self, env: EnvSpec, steps: int, **env_kwargs: Any) -> tuple[int, float, float]:
        episodes = evaluate(lambda o: self.act(o, deterministic=True), env, self.config.eval_episodes,
                            self.eval_seed, **env_kwargs)
        returns = np.array([e.ret for e in episodes])
        return steps, float(returns.mean()), float(returns.std())

    # ----------------------------------------------------------------- persistence

    def _stateful_parts(self) -> dict[str, Any]:
        """Optional members with ``state_dict``/``load_state_dict`` that go into checkpoints."""
        parts = {"value_optimizer": self.value_optimizer, "obs_normalizer": self.obs_normalizer,
                 "reward_normalizer": self.reward_normalizer}
        return {k: v for k, v in parts.items() if v is not None}

    def save(self, path: str | Path) -> Path:
        return save_checkpoint(path, policy=self.policy, value=self.value, optimizer=self.optimizer,
                               config=self.config.to_dict(), generator=self.generator.get_state(),
                               iteration=self.iteration, **self._stateful_parts())

    def load(self, path: str | Path) -> PPO:
        targets: dict[str, Any] = {"policy": self.policy, "value": self.value, "optimizer": self.optimizer,
                                   **self._stateful_parts()}
        payload = load_checkpoint(path, **targets)
        self.generator.set_state(payload["generator"])
        self.iteration = int(payload["iteration"])
        return self

    def clone(self) -> PPO:
        return copy.deepcopy(self)
