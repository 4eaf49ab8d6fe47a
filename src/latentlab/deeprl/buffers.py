r"""Replay and rollout buffers (preallocated numpy), and GAE with correct episode ends.

GAE (per env i and step t, :math:`\text{done}=\text{terminated}\lor\text{truncated}`):

.. math::

    \delta_t = r_t + \gamma(1-\text{term}_t)V(s_{t+1}) - V(s_t),\qquad
    \hat A_t = \delta_t + \gamma\lambda(1-\text{done}_t)\hat A_{t+1},\qquad \hat R_t=\hat A_t+V(s_t),

where on truncation :math:`V(s_{t+1})` is the value of the *final* observation of the
finished episode (the runner's ``next_obs``), not of the reset observation.  Steps marked
invalid (gymnasium NEXT_STEP reset steps) are kept in the T x N arrays, cut from the
recursion by the preceding ``done``, and excluded from every minibatch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

__all__ = ["gae", "RolloutBuffer", "ReplayBuffer"]


def gae(rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray, terminated: np.ndarray,
        done: np.ndarray, gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Advantages and returns, arrays of shape (T, N); ``next_values[t]`` is :math:`V(s_{t+1})`."""
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    deltas = rewards + gamma * (1.0 - terminated) * next_values - values
    carry = gamma * lam * (1.0 - done)
    adv = np.zeros_like(deltas)
    running = np.zeros(deltas.shape[1:], dtype=deltas.dtype)
    for t in range(deltas.shape[0] - 1, -1, -1):
        running = deltas[t] + carry[t] * running
        adv[t] = running
    return adv, adv + values


class RolloutBuffer:
    """T steps x N envs of on-policy data; ``params`` are the behaviour policy's distribution
    parameters (for KL terms such as MDPO's)."""

    def __init__(self, n_steps: int, n_envs: int, obs_dim: int, act_shape: tuple[int, ...], n_params: int,
                 act_dtype: type = np.float32) -> None:
        if n_steps < 1 or n_envs < 1:
            raise ValueError(f"n_steps and n_envs must be >= 1, got {n_steps}, {n_envs}")
        T, N = n_steps, n_envs
        self.n_steps, self.n_envs = T, N
        self.obs = np.zeros((T, N, obs_dim), np.float32)
        self.actions = np.zeros((T, N, *act_shape), act_dtype)
        self.log_probs = np.zeros((T, N), np.float32)
        self.params = np.zeros((T, N, n_params), np.float32)
        self.rewards = np.zeros((T, N))
        self.values = np.zeros((T, N))
        self.next_values = np.zeros((T, N))
        self.terminated = np.zeros((T, N))
        self.done = np.zeros((T, N))
        self.valid = np.ones((T, N), dtype=bool)
        self.advantages = np.zeros((T, N))
        self.returns = np.zeros((T, N))
        self.t = 0

    def add(self, obs: np.ndarray, actions: np.ndarray, log_probs: np.ndarray, params: np.ndarray,
            rewards: np.ndarray, values: np.ndarray, terminated: np.ndarray, done: np.ndarray,
            valid: np.ndarray, bootstrap_values: np.ndarray) -> None:
        """``bootstrap_values``: V(final obs) where an episode ended (read only on truncation)."""
        if self.t >= self.n_steps:
            raise RuntimeError("RolloutBuffer is full; call reset() after the update")
        t = self.t
        self.obs[t], self.actions[t], self.log_probs[t], self.params[t] = obs, actions, log_probs, params
        self.rewards[t], self.values[t], self.terminated[t], self.done[t] = rewards, values, terminated, done
        self.valid[t] = valid
        self.next_values[t] = bootstrap_values  # overwritten by V(s_{t+1}) below where not done
        if t > 0:
            prev_done = self.done[t - 1].astype(bool)
            self.next_values[t - 1] = np.where(prev_done, self.next_values[t - 1], values)
        self.t += 1

    def finish(self, last_values: np.ndarray, gamma: float, lam: float) -> None:
        """Close the rollout with V(s_T) and compute advantages and returns."""
        if self.t != self.n_steps:
            raise RuntimeError(f"RolloutBuffer holds {self.t} of {self.n_steps} steps")
        last_done = self.done[-1].astype(bool)
        self.next_values[-1] = np.where(last_done, self.next_values[-1], last_values)
        self.advantages, self.returns = gae(self.rewards, self.values, self.next_values, self.terminated, self.done,
                                            gamma, lam)

    def reset(self) -> None:
        self.t = 0

    def flat(self) -> dict[str, torch.Tensor]:
        """Valid steps only, flattened to (B, ...) torch tensors."""
        keep = self.valid.reshape(-1)
        data = {
            "obs": self.obs, "actions": self.actions, "log_probs": self.log_probs, "params": self.params,
            "values": self.values, "advantages": self.advantages, "returns": self.returns,
        }
        out = {}
        for k, v in data.items():
            arr = v.reshape(self.n_steps * self.n_envs, *v.shape[2:])[keep]
            tensor = torch.as_tensor(arr)
            out[k] = tensor.float() if tensor.is_floating_point() else tensor
        return out

    @staticmethod
    def minibatches(n: int, n_minibatches: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
        if n_minibatches < 1:
            raise ValueError(f"n_minibatches must be >= 1, got {n_minibatches}")
        perm = torch.randperm(n, generator=generator)
        yield from torch.tensor_split(perm, n_minibatches)


class ReplayBuffer:
    """Preallocated ring buffer of transitions; only ``terminated`` is stored as the bootstrap mask.

    ``extras`` names additional per-transition fields and their dtypes (e.g. the rollout step of a
    model transition, ``{"step": np.int64}``); they are stored and returned by :meth:`get`, while
    :meth:`sample` returns the five keys SAC's update reads.  When one ``add`` brings more
    transitions than the capacity, only the newest ``capacity`` are kept (FIFO)."""

    _KEYS = ("obs", "actions", "rewards", "next_obs", "terminated")

    def __init__(self, capacity: int, obs_dim: int, act_dim: int, extras: dict[str, Any] | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.actions = np.zeros((capacity, act_dim), np.float32)
        self.rewards = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, np.float32)
        self.extras = {name: np.zeros(capacity, dtype) for name, dtype in (extras or {}).items()}
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, **extras: np.ndarray) -> None:
        """Add a batch of transitions (leading axis = transitions); ``extras`` must match the constructor's."""
        if set(extras) != set(self.extras):
            raise ValueError(f"extras must be exactly {sorted(self.extras)}, got {sorted(extras)}")
        n = len(rewards)
        if n == 0:
            return
        columns = {"obs": obs, "actions": actions, "rewards": rewards, "next_obs": next_obs,
                   "terminated": terminated, **extras}
        if n > self.capacity:  # only the newest transitions fit
            columns = {k: v[n - self.capacity:] for k, v in columns.items()}
            n = self.capacity
        idx = (self.pos + np.arange(n)) % self.capacity
        for key, value in columns.items():
            self._array(key)[idx] = value
        self.pos = int((self.pos + n) % self.capacity)
        self.size = int(min(self.size + n, self.capacity))

    def _array(self, key: str) -> np.ndarray:
        return self.extras[key] if key in self.extras else getattr(self, key)

    def get(self, idx: np.ndarray) -> dict[str, torch.Tensor]:
        """Stored transitions ``idx`` (indices into the filled part), every field including the extras."""
        return {k: torch.from_numpy(self._array(k)[idx]) for k in (*self._KEYS, *self.extras)}

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty ReplayBuffer")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        idx = rng.integers(0, self.size, size=batch_size)
        return {k: torch.from_numpy(getattr(self, k)[idx]) for k in self._KEYS}
