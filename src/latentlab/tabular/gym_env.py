"""A Gymnasium environment for any :class:`~latentlab.tabular.mdp.FiniteHorizonMDP`."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from latentlab.tabular.mdp import FiniteHorizonMDP

__all__ = ["FiniteHorizonEnv"]


class FiniteHorizonEnv(gym.Env):
    """Episodes of a finite-horizon MDP through the Gymnasium API.

    The observation is ``[h, s]`` (``MultiDiscrete([H + 1, S])``), because the kernels may
    depend on the step; the episode is *truncated* after ``H`` steps (there is no terminal
    state).  Rewards are the means, or Bernoulli draws when ``mdp.reward_noise == "bernoulli"``.
    """

    metadata = {"render_modes": []}

    def __init__(self, mdp: FiniteHorizonMDP) -> None:
        self.mdp = mdp
        self.observation_space = spaces.MultiDiscrete([mdp.H + 1, mdp.S])
        self.action_space = spaces.Discrete(mdp.A)
        self._h = 0
        self._s = 0

    def _obs(self) -> np.ndarray:
        return np.array([self._h, self._s], dtype=np.int64)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._h = 0
        self._s = int(self.np_random.choice(self.mdp.S, p=self.mdp.mu))
        return self._obs(), {"step": 0}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in [0, {self.mdp.A}), got {action!r}")
        if self._h >= self.mdp.H:
            raise RuntimeError("episode is over: call reset()")
        a = int(action)
        mean = float(self.mdp.R[self._h, self._s, a])
        reward = float(self.np_random.random() < mean) if self.mdp.reward_noise == "bernoulli" else mean
        self._s = int(self.np_random.choice(self.mdp.S, p=self.mdp.P[self._h, self._s, a]))
        self._h += 1
        return self._obs(), reward, False, self._h >= self.mdp.H, {"step": self._h}
