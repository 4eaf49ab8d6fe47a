r"""Vector environments with explicit gymnasium-1.x autoreset handling, evaluation, and small envs.

Autoreset (gymnasium >= 1.0)
----------------------------
``gymnasium.vector`` envs reset finished sub-environments automatically, in one of two modes:

* ``NEXT_STEP`` (gymnasium's default): the step that ends an episode returns the *final*
  observation; the **next** call to ``step`` ignores that sub-env's action, resets it and
  returns the reset observation with reward 0 and ``terminated = truncated = False``.  That
  call is not a transition: its reward must not be counted and it must not enter a buffer.
* ``SAME_STEP``: the step that ends an episode already returns the reset observation; the
  final observation is in ``info["final_obs"]`` (mask ``info["_final_obs"]``).

:class:`VecRunner` turns both into the same stream of :class:`Step` records:
``next_obs`` is always the true next observation (the final one where an episode ended),
``terminated`` and ``truncated`` are kept apart (bootstrap on truncation), and ``valid``
is False exactly on NEXT_STEP reset steps.  Episode returns/lengths are tracked from valid
steps only.  A loop written for the old same-step API that reads ``obs`` as the next state
on a NEXT_STEP env records a bogus "final -> reset" transition per episode; the tests
build such a loop and check that it is caught.

Shipped env: ``latentlab/MultiGoalPoint-v0`` (:class:`MultiGoalPointEnv`), PMOE's 2-D point
mass with four equally good goals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

__all__ = [
    "EnvSpec",
    "make_vec",
    "Step",
    "VecRunner",
    "Episode",
    "evaluate",
    "MultiGoalPointEnv",
    "space_dims",
]

EnvSpec = str | Callable[[], gym.Env]
_AUTORESET = {"next_step": AutoresetMode.NEXT_STEP, "same_step": AutoresetMode.SAME_STEP}

gym.register(id="latentlab/MultiGoalPoint-v0", entry_point="latentlab.deeprl.envs:MultiGoalPointEnv",
             max_episode_steps=20)


def _thunk(env: EnvSpec, kwargs: dict[str, Any]) -> Callable[[], gym.Env]:
    if isinstance(env, str):
        return lambda: gym.make(env, **kwargs)
    if callable(env):
        return env
    raise ValueError(f"env must be a registered env id (str) or a callable returning a gymnasium.Env, got {env!r}")


def make_vec(env: EnvSpec, n: int, *, mode: Literal["sync", "async"] = "sync",
             autoreset: Literal["next_step", "same_step"] = "same_step", **env_kwargs: Any) -> gym.vector.VectorEnv:
    """``n`` copies of ``env`` in a ``gymnasium.vector`` env with the autoreset mode set explicitly.

    ``sync`` (one process) is the fastest choice for cheap envs on few cores."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if mode not in ("sync", "async"):
        raise ValueError(f"mode must be 'sync' or 'async', got {mode!r}")
    if autoreset not in _AUTORESET:
        raise ValueError(f"autoreset must be one of {sorted(_AUTORESET)}, got {autoreset!r}")
    cls = SyncVectorEnv if mode == "sync" else AsyncVectorEnv
    return cls([_thunk(env, env_kwargs) for _ in range(n)], autoreset_mode=_AUTORESET[autoreset])


def space_dims(space: gym.Space) -> tuple[int, int | None]:
    """(flat size, number of discrete actions or None) of a Box or Discrete space."""
    if isinstance(space, gym.spaces.Discrete):
        return 1, int(space.n)
    if isinstance(space, gym.spaces.Box):
        return int(np.prod(space.shape)), None
    raise ValueError(f"only Box and Discrete spaces are supported, got {space}")


@dataclass
class Step:
    """One vector step, cleaned of autoreset artefacts (arrays over the N sub-envs)."""

    obs: np.ndarray
    """Observations the actions were taken in."""
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    """True next observations: the final observation where an episode ended."""
    terminated: np.ndarray
    truncated: np.ndarray
    valid: np.ndarray
    """False on NEXT_STEP reset steps (the action was ignored; not a transition)."""

    @property
    def done(self) -> np.ndarray:
        return self.terminated | self.truncated


@dataclass(frozen=True)
class Episode:
    step: int
    """Valid environment steps taken by the runner (all sub-envs) when the episode ended."""
    ret: float
    length: int
    final_obs: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0))


class VecRunner:
    """Steps a vector env and yields :class:`Step` records and finished :class:`Episode` s."""

    def __init__(self, env: gym.vector.VectorEnv, seed: int) -> None:
        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(f"autoreset_mode must be NEXT_STEP or SAME_STEP, got {mode}")
        self.env, self.mode, self.n = env, mode, env.num_envs
        self.obs, _ = env.reset(seed=int(seed))
        env.action_space.seed(int(seed))
        self._reset_next = np.zeros(self.n, dtype=bool)
        self._ret = np.zeros(self.n)
        self._len = np.zeros(self.n, dtype=np.int64)
        self.steps = 0
        self.episodes: list[Episode] = []

    def step(self, actions: np.ndarray) -> Step:
        next_obs, rewards, terminated, truncated, info = self.env.step(actions)
        valid = ~self._reset_next
        terminated = np.asarray(terminated, dtype=bool) & valid
        truncated = np.asarray(truncated, dtype=bool) & valid
        rewards = np.where(valid, np.asarray(rewards, dtype=np.float64), 0.0)
        done = terminated | truncated
        true_next = next_obs
        if self.mode == AutoresetMode.SAME_STEP and done.any():
            true_next = np.array(next_obs, copy=True)
            for i in np.flatnonzero(info["_final_obs"]):
                true_next[i] = info["final_obs"][i]
        self._ret += rewards
        self._len += valid
        self.steps += int(valid.sum())
        for i in np.flatnonzero(done):
            self.episodes.append(Episode(self.steps, float(self._ret[i]), int(self._len[i]), np.array(true_next[i])))
            self._ret[i], self._len[i] = 0.0, 0
        if self.mode == AutoresetMode.NEXT_STEP:
            self._reset_next = done
        step = Step(self.obs, actions, rewards, true_next, terminated, truncated, valid)
        self.obs = next_obs
        return step


def evaluate(policy: Callable[[np.ndarray], np.ndarray], env: EnvSpec, n_episodes: int, seed: int,
             max_steps: int = 100_000, **env_kwargs: Any) -> list[Episode]:
    """Run ``n_episodes`` episodes (one per sub-env, seeds ``seed .. seed+n-1``) with ``policy``.

    ``policy`` maps a batch of observations to a batch of actions (deterministic for the
    usual evaluation protocol).  Returns the first episode of every sub-env."""
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    vec = make_vec(env, n_episodes, autoreset="next_step", **env_kwargs)
    try:
        runner = VecRunner(vec, seed)
        first: dict[int, Episode] = {}
        ret = np.zeros(n_episodes)
        length = np.zeros(n_episodes, dtype=np.int64)
        for _ in range(max_steps):
            step = runner.step(policy(runner.obs))
            live = step.valid & ~np.isin(np.arange(n_episodes), list(first))
            ret += np.where(live, step.rewards, 0.0)
            length += live
            for i in np.flatnonzero(step.done & live):
                first[int(i)] = Episode(int(length.sum()), float(ret[i]), int(length[i]), np.array(step.next_obs[i]))
            if len(first) == n_episodes:
                break
        else:
            raise RuntimeError(f"evaluation did not finish {n_episodes} episodes within max_steps={max_steps}")
    finally:
        vec.close()
    return [first[i] for i in range(n_episodes)]


class MultiGoalPointEnv(gym.Env):
    r"""2-D point mass with four equally good goals (PMOE's multi-goal task).

    The point starts at the origin; actions in :math:`[-1,1]^2` move it by
    ``step_size * a``; the reward is :math:`-\min_g\|x-g\|-0.1\|a\|^2` with goals
    :math:`(\pm1,0),(0,\pm1)`; episodes last 20 steps (time limit of the registered id).
    ``info["goal"]`` is the index of the nearest goal and ``info["at_goal"]`` whether the
    point is within ``goal_radius`` of it.  Observation: position and elapsed fraction of the
    episode (so the time limit is observable).
    """

    metadata = {"render_modes": []}
    GOALS = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])

    def __init__(self, step_size: float = 0.2, goal_radius: float = 0.3, horizon: int = 20) -> None:
        if step_size <= 0:
            raise ValueError(f"step_size must be > 0, got {step_size}")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        self.step_size, self.goal_radius, self.horizon = step_size, goal_radius, horizon
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._pos = np.zeros(2)
        self._t = 0

    def _obs(self) -> np.ndarray:
        return np.array([*self._pos, self._t / self.horizon], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._pos = np.zeros(2)
        self._t = 0
        return self._obs(), {}

    def nearest_goal(self, pos: np.ndarray) -> tuple[int, float]:
        dist = np.linalg.norm(self.GOALS - pos, axis=-1)
        return int(dist.argmin()), float(dist.min())

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        self._pos = self._pos + self.step_size * a
        self._t += 1
        goal, dist = self.nearest_goal(self._pos)
        reward = -dist - 0.1 * float(a @ a)
        return self._obs(), reward, False, self._t >= self.horizon, {"goal": goal, "at_goal": dist < self.goal_radius}
