r"""Environments of the model-based offline stack, each with a batched torch *true-dynamics oracle*.

The oracle and a learned dynamics ensemble share one interface, :class:`Dynamics` (swapping
one for the other *is* the experiment of the edge-of-reach paper)::

    step(obs (B, obs_dim), actions (B, act_dim), generator=None)
        -> next_obs (B, obs_dim), reward (B,), terminated (B,) bool

Actions are in the environment's own action box (not the agent's squashed [-1, 1]).

``EdgeOfReach2D`` (registered as ``latentlab/EdgeOfReach2D-v0``, horizon 50)
----------------------------------------------------------------------------
A 2-D point mass (spec of paper #21, §4): :math:`s\in[-1,1]^2`, :math:`a\in[-1,1]^2`,

.. math::

    s' = \mathrm{clip}(s + 0.1\,a,\,-1,\,1),\qquad r = 1 - \frac{\|s'-g\|}{2\sqrt2}\in[0,1],

never terminating, truncated at 50 steps, γ = 0.99 (so every true discounted value lies in
[0, 100] = [0, R_max/(1−γ)]).  Fixed knobs (set once, before any experiment was run):
goal :math:`g=(0.8, 0.8)`; start distribution :math:`s_0\sim U([-0.05,0.05]^2)`.

The behaviour dataset (:func:`edge_of_reach_dataset`) walks *away* from g along a narrow
horizontal band: :math:`a_x=\mathrm{clip}(-0.2+0.3\,\epsilon_x)`,
:math:`a_y=\mathrm{clip}(-5\,s_y+0.2\,\epsilon_y)` (a restoring force; stationary
:math:`\mathrm{sd}(s_y)=0.02/\sqrt{0.75}\approx0.023`, so the band is :math:`|s_y|\lesssim0.05`,
:math:`s_x\in[-1, 0.05]`), 200 episodes of 50 steps.  With k = 5 rollout steps of at most 0.1
per coordinate, every state reachable from the data lies within L∞ distance 0.5 of the band, so
the goal (L∞ distance ≥ 0.75 from the band) is outside the reach of truncated rollouts.

``PendulumDynamics``
--------------------
Gymnasium's ``Pendulum-v1`` step (g = 10, m = l = 1, dt = 0.05, max speed 8, max torque 2) on
observations :math:`(\cos\theta,\sin\theta,\dot\theta)`:
:math:`\dot\theta'=\mathrm{clip}(\dot\theta+(\tfrac{3g}{2l}\sin\theta+\tfrac{3}{ml^2}u)\,dt,\pm8)`,
:math:`\theta'=\theta+\dot\theta'dt`,
:math:`r=-(\mathrm{norm}(\theta)^2+0.1\dot\theta^2+0.001u^2)`, computed in float64 (as gymnasium
does) from :math:`\theta=\mathrm{atan2}(\sin\theta,\cos\theta)`.
"""

from __future__ import annotations

import math
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
import torch

from latentlab.offline.datasets import OfflineDataset

__all__ = [
    "Dynamics",
    "EdgeOfReach2D",
    "EdgeOfReach2DDynamics",
    "PendulumDynamics",
    "edge_of_reach_dataset",
    "edge_of_reach_reference_returns",
    "EDGE_OF_REACH_ID",
]

EDGE_OF_REACH_ID = "latentlab/EdgeOfReach2D-v0"


@runtime_checkable
class Dynamics(Protocol):
    """A batched transition model: a true-dynamics oracle or a learned ensemble.

    ``step((B, obs_dim), (B, act_dim), generator) -> (next_obs (B, obs_dim), reward (B,),
    terminated (B,) bool)``; actions are in the environment's action box.  A stochastic model
    draws its noise from ``generator``; an oracle of a deterministic env ignores it."""

    obs_dim: int
    act_dim: int

    def step(self, obs: torch.Tensor, actions: torch.Tensor,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ...


def _check_batch(obs: torch.Tensor, actions: torch.Tensor, obs_dim: int, act_dim: int, name: str) -> None:
    if obs.dim() != 2 or obs.shape[-1] != obs_dim:
        raise ValueError(f"{name}.step: obs must have shape (B, {obs_dim}), got {tuple(obs.shape)}")
    if actions.dim() != 2 or actions.shape[-1] != act_dim or actions.shape[0] != obs.shape[0]:
        raise ValueError(f"{name}.step: actions must have shape ({obs.shape[0]}, {act_dim}), "
                         f"got {tuple(actions.shape)}")


# --------------------------------------------------------------------------- EdgeOfReach2D

class EdgeOfReach2DDynamics:
    r"""Batched true dynamics of :class:`EdgeOfReach2D`: :math:`s'=\mathrm{clip}(s+0.1a)`,
    :math:`r=1-\|s'-g\|/(2\sqrt2)`, never terminating."""

    obs_dim = 2
    act_dim = 2
    reward_max = 1.0
    reward_min = 0.0

    def __init__(self, goal: tuple[float, float] = (0.8, 0.8), step_size: float = 0.1,
                 start_half_width: float = 0.05) -> None:
        if not all(-1.0 <= g <= 1.0 for g in goal) or len(goal) != 2:
            raise ValueError(f"goal must be 2 numbers in [-1, 1], got {goal}")
        if not 0 < step_size <= 1:
            raise ValueError(f"step_size must be in (0, 1], got {step_size}")
        if not 0 <= start_half_width <= 1:
            raise ValueError(f"start_half_width must be in [0, 1], got {start_half_width}")
        self.goal = (float(goal[0]), float(goal[1]))
        self.step_size = float(step_size)
        self.start_half_width = float(start_half_width)

    def reward(self, next_obs: torch.Tensor) -> torch.Tensor:
        goal = torch.tensor(self.goal, dtype=next_obs.dtype)
        return 1.0 - torch.linalg.vector_norm(next_obs - goal, dim=-1) / (2.0 * math.sqrt(2.0))

    def step(self, obs: torch.Tensor, actions: torch.Tensor,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        _check_batch(obs, actions, 2, 2, "EdgeOfReach2DDynamics")
        next_obs = (obs + self.step_size * actions.clamp(-1.0, 1.0)).clamp(-1.0, 1.0)
        return next_obs, self.reward(next_obs), torch.zeros(obs.shape[0], dtype=torch.bool)

    def sample_initial(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` start states from :math:`U([-w, w]^2)` (w = 0.05)."""
        w = self.start_half_width
        return (torch.rand(n, 2, generator=generator) * 2.0 - 1.0) * w


class EdgeOfReach2D(gym.Env):
    """The 2-D edge-of-reach toy as a gymnasium env (see the module docstring); register id
    ``latentlab/EdgeOfReach2D-v0`` adds the 50-step time limit."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, goal: tuple[float, float] = (0.8, 0.8), step_size: float = 0.1,
                 start_half_width: float = 0.05) -> None:
        self.dynamics = EdgeOfReach2DDynamics(goal, step_size, start_half_width)
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._goal = np.asarray(self.dynamics.goal, dtype=np.float32)
        self._state = np.zeros(2, np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        w = self.dynamics.start_half_width
        self._state = self.np_random.uniform(-w, w, size=2).astype(np.float32)
        return self._state.copy(), {}

    def step(self, action):
        a = np.clip(np.asarray(action, dtype=np.float32).reshape(2), -1.0, 1.0)
        self._state = np.clip(self._state + np.float32(self.dynamics.step_size) * a, -1.0, 1.0).astype(np.float32)
        reward = 1.0 - float(np.linalg.norm(self._state - self._goal)) / (2.0 * math.sqrt(2.0))
        return self._state.copy(), reward, False, False, {}


gym.register(id=EDGE_OF_REACH_ID, entry_point="latentlab.offline.envs:EdgeOfReach2D", max_episode_steps=50)


def edge_of_reach_dataset(n_episodes: int = 200, seed: int = 0, horizon: int = 50, drift: float = -0.2,
                          drift_noise: float = 0.3, band_gain: float = 5.0, band_noise: float = 0.2,
                          dynamics: EdgeOfReach2DDynamics | None = None) -> OfflineDataset:
    r"""Behaviour data for :class:`EdgeOfReach2D`: ``n_episodes`` noisy episodes walking away from g
    along the band :math:`|s_y|\lesssim0.05` (see the module docstring), all episodes stepped
    together in numpy.

    Returns an :class:`~latentlab.offline.datasets.OfflineDataset` whose metadata records the
    recipe knobs and the reference returns."""
    if n_episodes < 1 or horizon < 1:
        raise ValueError(f"n_episodes and horizon must be >= 1, got {n_episodes}, {horizon}")
    dyn = dynamics or EdgeOfReach2DDynamics()
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 2121]))
    w = dyn.start_half_width
    s = rng.uniform(-w, w, size=(n_episodes, 2)).astype(np.float32)
    obs, acts, rews, nxt = [], [], [], []
    goal = np.asarray(dyn.goal, dtype=np.float32)
    for _ in range(horizon):
        eps = rng.standard_normal((n_episodes, 2))
        a = np.stack([drift + drift_noise * eps[:, 0], -band_gain * s[:, 1] + band_noise * eps[:, 1]], axis=-1)
        a = np.clip(a, -1.0, 1.0).astype(np.float32)
        s2 = np.clip(s + np.float32(dyn.step_size) * a, -1.0, 1.0).astype(np.float32)
        r = (1.0 - np.linalg.norm(s2 - goal, axis=-1) / (2.0 * math.sqrt(2.0))).astype(np.float32)
        obs.append(s)
        acts.append(a)
        rews.append(r)
        nxt.append(s2)
        s = s2
    # (T, E, .) -> episode-major (E * T, .)
    def flat(x: list[np.ndarray]) -> np.ndarray:
        return np.swapaxes(np.stack(x), 0, 1).reshape(n_episodes * horizon, *x[0].shape[1:])

    timeouts = np.zeros((n_episodes, horizon), np.float32)
    timeouts[:, -1] = 1.0
    starts = np.zeros((n_episodes, horizon), np.float32)
    starts[:, 0] = 1.0
    arrays = dict(observations=flat(obs), actions=flat(acts), rewards=flat(rews), next_observations=flat(nxt),
                  terminals=np.zeros(n_episodes * horizon, np.float32), timeouts=timeouts.reshape(-1))
    ref_min, ref_max = edge_of_reach_reference_returns(dyn, horizon=horizon)
    metadata = {"env_id": EDGE_OF_REACH_ID, "recipe": "edge-of-reach-band", "behaviour_policy": "edge-of-reach-band",
                "seed": int(seed), "n_episodes": int(n_episodes), "drift": drift, "drift_noise": drift_noise,
                "band_gain": band_gain, "band_noise": band_noise, "ref_min_score": ref_min, "ref_max_score": ref_max}
    return OfflineDataset.from_arrays(**arrays, episode_starts=starts.reshape(-1), **metadata)


def edge_of_reach_reference_returns(dynamics: EdgeOfReach2DDynamics | None = None, horizon: int = 50,
                                    n: int = 4096, seed: int = 0) -> tuple[float, float]:
    r"""``(random, expert)`` mean undiscounted returns over ``horizon`` steps from the start distribution:
    uniform random actions, and the greedy controller :math:`a=\mathrm{clip}((g-s)/0.1)` (optimal: it
    moves every coordinate towards g as fast as the dynamics allow).  The D4RL-style normalised
    score of a return R is :math:`(R-R_{\rm random})/(R_{\rm expert}-R_{\rm random})`."""
    dyn = dynamics or EdgeOfReach2DDynamics()
    g = torch.Generator().manual_seed(int(seed))
    goal = torch.tensor(dyn.goal)
    totals = []
    for policy in ("random", "expert"):
        s = dyn.sample_initial(n, g)
        total = torch.zeros(n, dtype=torch.float64)
        for _ in range(horizon):
            a = torch.rand(n, 2, generator=g) * 2 - 1 if policy == "random" else ((goal - s) / dyn.step_size)
            s, r, _ = dyn.step(s, a.clamp(-1, 1))
            total += r.double()
        totals.append(float(total.mean()))
    return totals[0], totals[1]


# --------------------------------------------------------------------------- Pendulum

class PendulumDynamics:
    """Batched true dynamics of gymnasium's ``Pendulum-v1`` (see the module docstring)."""

    obs_dim = 3
    act_dim = 1
    max_speed = 8.0
    max_torque = 2.0
    dt = 0.05

    def __init__(self, g: float = 10.0, m: float = 1.0, length: float = 1.0) -> None:
        self.g, self.m, self.length = float(g), float(m), float(length)

    def step(self, obs: torch.Tensor, actions: torch.Tensor,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        _check_batch(obs, actions, 3, 1, "PendulumDynamics")
        x = obs.to(torch.float64)
        th = torch.atan2(x[:, 1], x[:, 0])
        thdot = x[:, 2]
        # gymnasium clips the float32 action in float32, then mixes it into float64 arithmetic
        u = actions[:, 0].clamp(-self.max_torque, self.max_torque).to(torch.float64)
        norm_th = torch.remainder(th + math.pi, 2 * math.pi) - math.pi
        costs = norm_th ** 2 + 0.1 * thdot ** 2 + 0.001 * u ** 2
        new_thdot = thdot + (3 * self.g / (2 * self.length) * torch.sin(th)
                             + 3.0 / (self.m * self.length ** 2) * u) * self.dt
        new_thdot = new_thdot.clamp(-self.max_speed, self.max_speed)
        new_th = th + new_thdot * self.dt
        next_obs = torch.stack([torch.cos(new_th), torch.sin(new_th), new_thdot], dim=-1).to(obs.dtype)
        return next_obs, (-costs).to(obs.dtype), torch.zeros(obs.shape[0], dtype=torch.bool)

    def sample_initial(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """gymnasium's reset: θ ~ U(-π, π), θdot ~ U(-1, 1)."""
        u = torch.rand(n, 2, generator=generator, dtype=torch.float64) * 2.0 - 1.0
        th, thdot = u[:, 0] * math.pi, u[:, 1]
        return torch.stack([torch.cos(th), torch.sin(th), thdot], dim=-1).to(torch.float32)
