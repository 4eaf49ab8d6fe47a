r"""Offline datasets: a D4RL-compatible container, graded behaviour policies, recipes and a disk cache.

:class:`OfflineDataset` holds the keys of D4RL's ``qlearning_dataset`` — ``observations``,
``actions``, ``rewards``, ``next_observations``, ``terminals``, ``timeouts`` — plus
``episode_starts`` and a ``metadata`` dict (env id, recipe, behaviour policy, seed, size, code
version, ``ref_min_score``, ``ref_max_score``).  Observations, rewards and the 0/1 flags are
float32; continuous actions are float32 of shape (N, act_dim), discrete actions int64 of
shape (N,).  ``terminals[i] = 1`` means the MDP terminated after transition i (no bootstrap);
``timeouts[i] = 1`` means the episode was truncated by the environment's time limit (bootstrap).
A transition that is followed by an episode start without either flag ends an *incomplete*
episode (cut by the end of collection); such episodes are left out of episode returns.

Normalised score (D4RL):

.. math::

    \text{score}(R) = 100\,\frac{R-R_\text{random}}{R_\text{expert}-R_\text{random}}
    \quad(R_\text{random}=\texttt{ref\_min\_score},\ R_\text{expert}=\texttt{ref\_max\_score}).

Recipes (:func:`make_dataset`)
------------------------------
``random`` uniform actions; ``expert`` the behaviour zoo's expert; ``medium`` a *quality-p*
policy (expert action with probability p, uniform otherwise, per step) with p calibrated per
environment so that its normalised score is about 1/3 to 1/2; ``medium-replay`` / ``full-replay``
the data of a run whose quality grows linearly from 0 to the medium p / to 1 over the collection
(a stand-in for a learning run's replay buffer); ``medium-expert`` 50/50 medium and expert;
``mixed`` 80% random + 20% expert transitions; ``noisy`` the expert with epsilon = 0.2
(discrete) or Gaussian action noise of std 0.2 x half the action range (continuous);
``sweep-<p>`` the quality-p policy for p in {0, 0.25, 0.5, 0.75, 1}.

Behaviour policies (``behaviour="analytic"``): CartPole-v1 linear state feedback; Pendulum-v1
energy-pumping swing-up with a PD balance controller near upright; MountainCar-v0 /
MountainCarContinuous-v0 push in the direction of the velocity; InvertedPendulum-v5 /
InvertedDoublePendulum-v5 (``mujoco`` extra) an LQR controller from the finite-difference
linearisation at the upright equilibrium (:mod:`latentlab.offline.mujoco`, loaded on first use).
``behaviour="dqn"`` (discrete
envs, paper 59): an online DQN run whose every transition *is* the replay dataset; ``expert`` is
its final greedy policy and ``noisy`` that policy with epsilon = 0.2; ``ref_min_score`` is the
mean episode return of the random dataset and ``ref_max_score`` the best evaluation return of the
online run, so that ``normalized_score / 100`` is paper 59's normalisation.

Generation is vectorised over ``gymnasium`` vector envs (same-step autoreset, true final
observations) and cached on disk under ``cache_dir`` (default ``$LATENTLAB_CACHE`` or
``~/.cache/latentlab/datasets``), keyed by (env, recipe, size, seed, behaviour, code version).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from latentlab.deeprl.envs import VecRunner, evaluate, make_vec

__all__ = [
    "OfflineDataset",
    "Episode",
    "RECIPES",
    "DATASET_CODE_VERSION",
    "make_dataset",
    "dqn_behaviour_datasets",
    "expert_policy",
    "random_policy",
    "quality_policy",
    "gaussian_noise_policy",
    "collect",
    "reference_scores",
    "default_cache_dir",
]

DATASET_CODE_VERSION = "1"
"""Bumped whenever generation changes the numbers a (env, recipe, size, seed) produces."""

RECIPES = ("random", "medium", "expert", "medium-replay", "full-replay", "medium-expert", "mixed", "noisy",
           "sweep-0", "sweep-0.25", "sweep-0.5", "sweep-0.75", "sweep-1")

_ARRAYS = ("observations", "actions", "rewards", "next_observations", "terminals", "timeouts", "episode_starts")

Policy = Callable[[np.ndarray, np.random.Generator], np.ndarray]
"""Maps a batch of observations (and a generator) to a batch of actions."""


# --------------------------------------------------------------------------- container


@dataclass(frozen=True)
class Episode:
    """One episode of a dataset: transitions ``start:stop``."""

    start: int
    stop: int
    ret: float
    terminal: bool
    timeout: bool

    @property
    def length(self) -> int:
        return self.stop - self.start

    @property
    def complete(self) -> bool:
        """Ended by termination or by the env's time limit (not cut by the end of collection)."""
        return self.terminal or self.timeout


class OfflineDataset:
    """A validated offline dataset with D4RL ``qlearning_dataset`` keys, episodes and metadata.

    Construction checks every field and raises ``ValueError`` naming the field: shapes and
    lengths, NaN/inf, 0/1 flags, no transition both terminal and timeout, an episode start after
    every terminal/timeout, discrete actions inside ``[0, n_actions)``.
    """

    def __init__(self, observations: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
                 next_observations: np.ndarray, terminals: np.ndarray, timeouts: np.ndarray,
                 episode_starts: np.ndarray | None = None, metadata: dict[str, Any] | None = None) -> None:
        metadata = dict(metadata or {})
        obs = _as_float("observations", observations)
        next_obs = _as_float("next_observations", next_observations)
        if obs.ndim == 1:
            obs, next_obs = obs[:, None], next_obs.reshape(-1, 1)
        if obs.ndim != 2:
            raise ValueError(f"observations must have shape (N, obs_dim), got {obs.shape}")
        n = obs.shape[0]
        if n < 1:
            raise ValueError("observations must hold at least one transition, got 0")
        if next_obs.shape != obs.shape:
            raise ValueError(f"next_observations must have the shape of observations {obs.shape}, got {next_obs.shape}")
        acts = np.asarray(actions)
        discrete = metadata.get("n_actions") is not None or acts.dtype.kind in "iub"
        if discrete:
            if acts.ndim == 2 and acts.shape[1] == 1:
                acts = acts[:, 0]
            if acts.ndim != 1:
                raise ValueError(f"actions (discrete) must have shape (N,), got {acts.shape}")
            if acts.dtype.kind == "f":
                if not np.all(np.isfinite(acts)) or np.any(acts != np.round(acts)):
                    raise ValueError("actions (discrete) must be integers; got non-integer values")
            acts = acts.astype(np.int64)
            n_actions = int(metadata.get("n_actions") or (int(acts.max()) + 1 if acts.size else 1))
            if acts.size and (acts.min() < 0 or acts.max() >= n_actions):
                raise ValueError(f"actions (discrete) must lie in [0, n_actions={n_actions}), "
                                 f"got range [{acts.min()}, {acts.max()}]")
            metadata["n_actions"] = n_actions
            metadata["action_space"] = "discrete"
        else:
            acts = _as_float("actions", acts)
            if acts.ndim == 1:
                acts = acts[:, None]
            if acts.ndim != 2:
                raise ValueError(f"actions (continuous) must have shape (N, act_dim), got {acts.shape}")
            metadata["action_space"] = "continuous"
            metadata.pop("n_actions", None)
        if acts.shape[0] != n:
            raise ValueError(f"actions must have {n} rows (one per observation), got {acts.shape[0]}")
        rew = _as_float("rewards", rewards).reshape(-1) if np.ndim(rewards) <= 1 else None
        if rew is None or rew.shape[0] != n:
            raise ValueError(f"rewards must have shape ({n},), got {np.shape(rewards)}")
        term = _flags("terminals", terminals, n)
        tout = _flags("timeouts", timeouts, n)
        both = np.flatnonzero((term > 0) & (tout > 0))
        if both.size:
            raise ValueError(f"terminals and timeouts: transition {both[0]} is both terminal and timeout "
                             f"({both.size} such transitions); an episode ends in one way")
        if episode_starts is None:
            starts = np.zeros(n, dtype=bool)
            starts[0] = True
            starts[1:] = (term[:-1] > 0) | (tout[:-1] > 0)
        else:
            starts = np.asarray(episode_starts)
            if starts.shape != (n,):
                raise ValueError(f"episode_starts must have shape ({n},), got {starts.shape}")
            if not np.all((starts == 0) | (starts == 1)):
                raise ValueError("episode_starts must be 0/1 (bool)")
            starts = starts.astype(bool)
            if not starts[0]:
                raise ValueError("episode_starts[0] must be True (the data begins an episode)")
            ended = np.flatnonzero(((term[:-1] > 0) | (tout[:-1] > 0)) & ~starts[1:])
            if ended.size:
                raise ValueError(f"episode_starts: transition {ended[0]} ends an episode (terminal or timeout) "
                                 f"but transition {ended[0] + 1} is not marked as an episode start")
        self.observations, self.actions, self.rewards = obs, acts, rew
        self.next_observations, self.terminals, self.timeouts = next_obs, term, tout
        self.episode_starts = starts
        metadata.setdefault("size", n)
        metadata["size"] = n
        metadata.setdefault("code_version", DATASET_CODE_VERSION)
        for key in ("ref_min_score", "ref_max_score"):
            if metadata.get(key) is not None:
                value = float(metadata[key])
                if not math.isfinite(value):
                    raise ValueError(f"metadata[{key!r}] must be finite, got {value}")
                metadata[key] = value
        self.metadata = metadata

    # ----------------------------------------------------------------- basic properties

    def __len__(self) -> int:
        return int(self.observations.shape[0])

    def __repr__(self) -> str:
        m = self.metadata
        return (f"OfflineDataset(env={m.get('env_id')!r}, recipe={m.get('recipe')!r}, size={len(self)}, "
                f"episodes={len(self.episode_bounds())}, obs_dim={self.obs_dim}, "
                f"actions={'discrete(' + str(self.n_actions) + ')' if self.discrete else self.actions.shape[1]})")

    @property
    def discrete(self) -> bool:
        return self.metadata["action_space"] == "discrete"

    @property
    def n_actions(self) -> int | None:
        return self.metadata.get("n_actions")

    @property
    def obs_dim(self) -> int:
        return int(self.observations.shape[1])

    def as_dict(self) -> dict[str, np.ndarray]:
        """The D4RL-style dict of arrays (views, not copies)."""
        return {k: getattr(self, k) for k in _ARRAYS}

    # ----------------------------------------------------------------- episodes

    def episode_bounds(self) -> np.ndarray:
        """(E, 2) array of [start, stop) transition indices of every episode."""
        starts = np.flatnonzero(self.episode_starts)
        return np.stack([starts, np.append(starts[1:], len(self))], axis=1)

    def episodes(self) -> Iterator[Episode]:
        """The episodes in order (complete and incomplete)."""
        bounds = self.episode_bounds()
        returns = np.add.reduceat(self.rewards.astype(np.float64), bounds[:, 0])
        for (a, b), ret in zip(bounds, returns):
            yield Episode(int(a), int(b), float(ret), bool(self.terminals[b - 1]), bool(self.timeouts[b - 1]))

    def episode_returns(self, complete_only: bool = True) -> np.ndarray:
        """Undiscounted return of every episode; incomplete episodes (cut by the end of collection)
        are left out unless ``complete_only=False`` or no episode is complete."""
        eps = list(self.episodes())
        keep = [e.ret for e in eps if e.complete or not complete_only]
        if not keep:
            keep = [e.ret for e in eps]
        return np.asarray(keep, dtype=np.float64)

    def normalized_score(self, returns: float | np.ndarray) -> float | np.ndarray:
        """D4RL normalised score ``100 (R - ref_min_score) / (ref_max_score - ref_min_score)``."""
        lo, hi = self.metadata.get("ref_min_score"), self.metadata.get("ref_max_score")
        if lo is None or hi is None:
            raise ValueError("normalized_score needs metadata['ref_min_score'] and metadata['ref_max_score']")
        if hi == lo:
            raise ValueError(f"normalized_score: ref_max_score == ref_min_score == {lo}")
        out = 100.0 * (np.asarray(returns, dtype=np.float64) - lo) / (hi - lo)
        return float(out) if out.ndim == 0 else out

    # ----------------------------------------------------------------- sampling

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """Uniform minibatch as torch tensors with the keys of deeprl's ``ReplayBuffer.sample``:
        ``obs, actions, rewards, next_obs, terminated`` (timeouts bootstrap, so are not a mask)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        idx = rng.integers(0, len(self), size=batch_size)
        return self.batch(idx)

    def batch(self, idx: np.ndarray) -> dict[str, torch.Tensor]:
        """The transitions ``idx`` as a torch batch (same keys as :meth:`sample`)."""
        return {
            "obs": torch.from_numpy(self.observations[idx]),
            "actions": torch.from_numpy(self.actions[idx]),
            "rewards": torch.from_numpy(self.rewards[idx]),
            "next_obs": torch.from_numpy(self.next_observations[idx]),
            "terminated": torch.from_numpy(self.terminals[idx]),
        }

    # ----------------------------------------------------------------- construction helpers

    @classmethod
    def from_arrays(cls, observations, actions, rewards, next_observations, terminals, timeouts=None,
                    episode_starts=None, **metadata: Any) -> OfflineDataset:
        """A dataset from user arrays (``timeouts`` default to zeros; ``episode_starts`` are derived
        from the flags when not given).  Extra keywords go into ``metadata``."""
        n = np.shape(observations)[0]
        metadata.setdefault("recipe", "user")
        return cls(observations, actions, rewards, next_observations, terminals,
                   np.zeros(n, np.float32) if timeouts is None else timeouts, episode_starts, metadata)

    @classmethod
    def concatenate(cls, parts: list[OfflineDataset], **metadata: Any) -> OfflineDataset:
        """Datasets one after the other (episodes kept whole); metadata from the first, updated."""
        if not parts:
            raise ValueError("concatenate needs at least one dataset")
        arrays = {k: np.concatenate([getattr(p, k) for p in parts]) for k in _ARRAYS}
        return cls(**arrays, metadata={**parts[0].metadata, **metadata})

    def subset(self, stop: int) -> OfflineDataset:
        """The first ``stop`` transitions (the last episode may become incomplete)."""
        if not 1 <= stop <= len(self):
            raise ValueError(f"stop must be in [1, {len(self)}], got {stop}")
        return OfflineDataset(**{k: getattr(self, k)[:stop] for k in _ARRAYS}, metadata=dict(self.metadata))

    # ----------------------------------------------------------------- persistence

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (.npz with the arrays) and ``path`` with suffix .json (the metadata)."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}.npz")
        np.savez(tmp, **self.as_dict(), metadata_json=np.array(json.dumps(self.metadata, sort_keys=True)))
        os.replace(tmp, path)
        path.with_suffix(".json").write_text(json.dumps(self.metadata, indent=1, sort_keys=True))
        return path

    @classmethod
    def load(cls, path: str | Path) -> OfflineDataset:
        """Read a dataset written by :meth:`save`."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        if not path.is_file():
            raise FileNotFoundError(f"no dataset at {path}")
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in _ARRAYS}
            metadata = json.loads(str(data["metadata_json"]))
        return cls(**arrays, metadata=metadata)

    # ----------------------------------------------------------------- Minari

    def to_minari(self, dataset_id: str) -> Any:
        """Write the dataset as a local Minari dataset (needs the ``latentlab[minari]`` extra).

        Every episode becomes a Minari episode with T+1 observations; this requires
        ``next_observations[i] == observations[i + 1]`` inside an episode.  Our metadata travels
        as JSON in the dataset's ``description``.  Minari writes under ``MINARI_DATASETS_PATH``."""
        minari = _import_minari()
        from minari.data_collector import EpisodeBuffer

        bounds = self.episode_bounds()
        inner = np.ones(len(self), dtype=bool)
        inner[bounds[:, 1] - 1] = False
        idx = np.flatnonzero(inner)
        if idx.size and not np.array_equal(self.next_observations[idx], self.observations[idx + 1]):
            bad = idx[np.any(self.next_observations[idx] != self.observations[idx + 1], axis=1)][0]
            raise ValueError(f"next_observations[{bad}] != observations[{bad + 1}] inside an episode: "
                             "Minari stores one observation sequence per episode")
        buffers = []
        for k, (a, b) in enumerate(bounds):
            obs = np.concatenate([self.observations[a:b], self.next_observations[b - 1:b]])
            buffers.append(EpisodeBuffer(id=k, observations=obs, actions=self.actions[a:b],
                                         rewards=self.rewards[a:b], terminations=self.terminals[a:b] > 0,
                                         truncations=self.timeouts[a:b] > 0, infos={}))
        obs_space = gym.spaces.Box(-np.inf, np.inf, (self.obs_dim,), np.float32)
        if self.discrete:
            act_space: gym.Space = gym.spaces.Discrete(int(self.n_actions))
        else:
            low = np.asarray(self.metadata.get("action_low", -np.inf), np.float32) * np.ones(self.actions.shape[1])
            high = np.asarray(self.metadata.get("action_high", np.inf), np.float32) * np.ones(self.actions.shape[1])
            act_space = gym.spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
        kwargs: dict[str, Any] = {}
        if self.metadata.get("ref_max_score") is not None and self.metadata.get("ref_min_score") is not None:
            kwargs = {"ref_min_score": self.metadata["ref_min_score"], "ref_max_score": self.metadata["ref_max_score"]}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Minari's reminders about author e-mail, permalink ...
            return minari.create_dataset_from_buffers(
                dataset_id, buffers, observation_space=obs_space, action_space=act_space,
                algorithm_name=str(self.metadata.get("behaviour", "unknown")), author="latentlab",
                description="latentlab:" + json.dumps(self.metadata, sort_keys=True), **kwargs)

    @classmethod
    def from_minari(cls, dataset_id: str) -> OfflineDataset:
        """Read a local Minari dataset (one of ours or any other with flat Box observations)."""
        minari = _import_minari()
        mds = minari.load_dataset(dataset_id)
        parts: dict[str, list[np.ndarray]] = {k: [] for k in _ARRAYS}
        for ep in mds.iterate_episodes():
            obs = np.asarray(ep.observations, dtype=np.float32).reshape(len(ep.rewards) + 1, -1)
            t = len(ep.rewards)
            parts["observations"].append(obs[:-1])
            parts["next_observations"].append(obs[1:])
            parts["actions"].append(np.asarray(ep.actions))
            parts["rewards"].append(np.asarray(ep.rewards, dtype=np.float32))
            parts["terminals"].append(np.asarray(ep.terminations, dtype=np.float32))
            parts["timeouts"].append(np.asarray(ep.truncations, dtype=np.float32))
            start = np.zeros(t, dtype=bool)
            start[0] = True
            parts["episode_starts"].append(start)
        arrays = {k: np.concatenate(v) for k, v in parts.items()}
        description = getattr(mds.storage, "metadata", {}).get("description") or ""
        metadata: dict[str, Any] = {}
        if isinstance(description, str) and description.startswith("latentlab:"):
            metadata = json.loads(description[len("latentlab:"):])
        else:
            metadata = {"recipe": "minari", "env_id": None, "source": dataset_id}
            space = mds.action_space
            if isinstance(space, gym.spaces.Discrete):
                metadata["n_actions"] = int(space.n)
        if not metadata.get("n_actions"):
            arrays["actions"] = arrays["actions"].astype(np.float32)
        return cls(**arrays, metadata=metadata)


def _import_minari():
    try:
        import minari
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise ImportError("Minari export/import needs the optional extra: pip install 'latentlab[minari]'") from err
    return minari


def _as_float(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0].tolist()
        raise ValueError(f"{name} holds NaN or inf (first at index {bad})")
    return np.ascontiguousarray(arr)


def _flags(name: str, value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value).reshape(-1) if np.ndim(value) <= 1 else np.asarray(value)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {np.shape(value)}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or inf")
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"{name} must be 0/1 flags, got values {np.unique(arr)[:5].tolist()}")
    return arr.astype(np.float32)


# --------------------------------------------------------------------------- behaviour policies


def _spaces(env_id: str) -> tuple[gym.Space, gym.Space, int | None]:
    env = gym.make(env_id)
    try:
        return env.observation_space, env.action_space, env.spec.max_episode_steps if env.spec else None
    finally:
        env.close()


def random_policy(action_space: gym.Space) -> Policy:
    """Uniform actions over a Discrete space or a (bounded) Box."""
    if isinstance(action_space, gym.spaces.Discrete):
        n = int(action_space.n)
        return lambda obs, rng: rng.integers(0, n, size=len(obs))
    low, high = action_space.low.astype(np.float32), action_space.high.astype(np.float32)
    return lambda obs, rng: rng.uniform(low, high, size=(len(obs), *low.shape)).astype(np.float32)


def _cartpole_expert(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Linear state feedback u = k . s on (x, x_dot, theta, theta_dot); push right when u > 0.
    k = np.array([0.1, 0.5, 10.0, 2.0])
    return (obs @ k > 0).astype(np.int64)


def _pendulum_expert(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Pendulum-v1: theta'' = 3g/(2l) sin(theta) + 3/(m l^2) u = 15 sin(theta) + 3u, |u| <= 2, theta = 0 upright.
    # Energy E = theta_dot^2/2 + 15 cos(theta) (E* = 15 upright at rest); dE/dt = 3 u theta_dot.
    cos, sin, thdot = obs[:, 0], obs[:, 1], obs[:, 2]
    theta = np.arctan2(sin, cos)
    energy = 0.5 * thdot**2 + 15.0 * cos
    pump = np.clip(0.5 * (15.0 - energy) * np.sign(thdot + 1e-6), -2.0, 2.0)
    pd = np.clip(-(12.0 * theta + 2.5 * thdot), -2.0, 2.0)
    near = cos > 0.85
    return np.where(near, pd, pump)[:, None].astype(np.float32)


def _mountaincar_expert(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.where(obs[:, 1] >= 0, 2, 0).astype(np.int64)


def _mountaincar_cont_expert(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.where(obs[:, 1] >= 0, 1.0, -1.0)[:, None].astype(np.float32)


_EXPERTS: dict[str, tuple[Policy, str]] = {
    "CartPole-v1": (_cartpole_expert, "cartpole-linear-feedback"),
    "Pendulum-v1": (_pendulum_expert, "pendulum-energy-pump+pd"),
    "MountainCar-v0": (_mountaincar_expert, "mountaincar-push-with-velocity"),
    "MountainCarContinuous-v0": (_mountaincar_cont_expert, "mountaincar-push-with-velocity"),
}

_MEDIUM_P: dict[str, float] = {"CartPole-v1": 0.5, "Pendulum-v1": 0.3, "MountainCar-v0": 0.7,
                               "MountainCarContinuous-v0": 0.05}
"""Per-step expert probability of the ``medium`` policy (normalised score about 1/3 to 1/2)."""


_PLUGIN_EXPERTS: dict[str, str] = {"InvertedPendulum-v5": "latentlab.offline.mujoco",
                                    "InvertedDoublePendulum-v5": "latentlab.offline.mujoco"}
"""Env ids whose analytic expert lives in an optional module (imported on first use; it needs an extra)."""


def _load_plugin_expert(env_id: str) -> None:
    """Register the expert of ``env_id`` from its optional module (``_PLUGIN_EXPERTS``) on first use."""
    if env_id in _EXPERTS or env_id not in _PLUGIN_EXPERTS:
        return
    import importlib

    module = importlib.import_module(_PLUGIN_EXPERTS[env_id])
    policy = module.lqr_expert(env_id)  # ImportError naming the extra when it is missing
    _EXPERTS[env_id] = (policy, policy.name)
    _MEDIUM_P[env_id] = module.MUJOCO_MEDIUM_P[env_id]


def expert_policy(env_id: str) -> Policy:
    """The analytic expert of ``env_id`` (see the module docstring)."""
    _load_plugin_expert(env_id)
    if env_id not in _EXPERTS:
        raise ValueError(f"no analytic expert for env_id {env_id!r}; available: {sorted(_EXPERTS)} "
                         "(for other discrete envs use behaviour='dqn')")
    return _EXPERTS[env_id][0]


def quality_policy(expert: Policy, random: Policy, p: float | Callable[[float], float]) -> Callable:
    """Per step: the expert's action with probability p, a uniform one otherwise.

    ``p`` may be a function of the collection progress in [0, 1) (replay recipes).  The returned
    callable takes ``(obs, rng, progress)``."""

    def act(obs: np.ndarray, rng: np.random.Generator, progress: float = 0.0) -> np.ndarray:
        prob = p(progress) if callable(p) else p
        a_exp, a_rnd = expert(obs, rng), random(obs, rng)
        use = rng.random(len(obs)) < prob
        return np.where(use.reshape(-1, *([1] * (a_exp.ndim - 1))), a_exp, a_rnd).astype(a_exp.dtype)

    return act


def gaussian_noise_policy(expert: Policy, action_space: gym.spaces.Box, scale: float = 0.2) -> Policy:
    """Expert action plus N(0, (scale * half range)^2) noise, clipped to the box."""
    low, high = action_space.low.astype(np.float32), action_space.high.astype(np.float32)
    std = scale * (high - low) / 2.0
    return lambda obs, rng: np.clip(expert(obs, rng) + std * rng.standard_normal((len(obs), *low.shape)),
                                    low, high).astype(np.float32)


# --------------------------------------------------------------------------- collection


def collect(env_id: str, policy: Callable, size: int, seed: int, n_envs: int = 16,
            metadata: dict[str, Any] | None = None) -> OfflineDataset:
    """Run ``policy`` on ``n_envs`` vector copies of ``env_id`` until ``size`` transitions exist.

    ``policy(obs, rng)`` or ``policy(obs, rng, progress)`` (progress = fraction of the collection
    done).  Each sub-env's stream is kept contiguous; the last episode of each stream is incomplete
    unless it happened to end."""
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if n_envs < 1:
        raise ValueError(f"n_envs must be >= 1, got {n_envs}")
    n_envs = min(n_envs, size)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xDA7A]))
    steps = -(-size // n_envs)
    vec = make_vec(env_id, n_envs, autoreset="same_step")
    obs_l, act_l, rew_l, nxt_l, term_l, trunc_l = [], [], [], [], [], []
    takes_progress = _takes_progress(policy)
    try:
        runner = VecRunner(vec, seed)
        for t in range(steps):
            obs = np.asarray(runner.obs, dtype=np.float32)
            actions = policy(obs, rng, t / steps) if takes_progress else policy(obs, rng)
            step = runner.step(actions)
            obs_l.append(obs)
            act_l.append(np.asarray(actions))
            rew_l.append(step.rewards)
            nxt_l.append(np.asarray(step.next_obs, dtype=np.float32))
            term_l.append(step.terminated)
            trunc_l.append(step.truncated)
    finally:
        vec.close()

    def streams(parts: list[np.ndarray]) -> np.ndarray:  # (T, N, ...) -> env-major (N*T, ...)
        arr = np.stack(parts)
        return np.swapaxes(arr, 0, 1).reshape(-1, *arr.shape[2:])

    term, trunc = streams(term_l).astype(np.float32), streams(trunc_l).astype(np.float32)
    starts = np.zeros(len(term), dtype=bool)
    starts[::steps] = True
    starts[1:] |= (term[:-1] > 0) | (trunc[:-1] > 0)
    arrays = dict(observations=streams(obs_l), actions=streams(act_l), rewards=streams(rew_l).astype(np.float32),
                  next_observations=streams(nxt_l), terminals=term, timeouts=trunc, episode_starts=starts)
    arrays = {k: v[:size] for k, v in arrays.items()}
    meta = {"env_id": env_id, "seed": int(seed), "collect_seed": int(seed), "n_envs": int(n_envs), **(metadata or {})}
    _, act_space, _ = _spaces(env_id)
    if isinstance(act_space, gym.spaces.Discrete):
        meta["n_actions"] = int(act_space.n)
    else:
        meta["action_low"] = act_space.low.tolist()
        meta["action_high"] = act_space.high.tolist()
    return OfflineDataset(**arrays, metadata=meta)


def _takes_progress(policy: Callable) -> bool:
    import inspect

    try:
        return len(inspect.signature(policy).parameters) >= 3
    except (TypeError, ValueError):
        return False


@lru_cache(maxsize=32)
def reference_scores(env_id: str, episodes: int = 50) -> tuple[float, float]:
    """(random-policy mean return, analytic-expert mean return) over ``episodes`` episodes (fixed seed)."""
    _, act_space, _ = _spaces(env_id)
    out = []
    for key, pol in enumerate((random_policy(act_space), expert_policy(env_id))):
        rng = np.random.default_rng([12345, key])
        eps = evaluate(lambda o, pol=pol, rng=rng: pol(np.asarray(o, np.float32), rng), env_id, episodes, 10_000)
        out.append(float(np.mean([e.ret for e in eps])))
    return out[0], out[1]


# --------------------------------------------------------------------------- recipes and cache


def default_cache_dir() -> Path:
    """``$LATENTLAB_CACHE`` if set, else ``~/.cache/latentlab/datasets``."""
    env = os.environ.get("LATENTLAB_CACHE", "").strip()
    return Path(env) if env else Path.home() / ".cache" / "latentlab" / "datasets"


def _cache_path(cache_dir: str | Path | None, env_id: str, recipe: str, size: int, seed: int,
                behaviour: str, extra: str = "") -> Path:
    from latentlab import __version__

    key = json.dumps([env_id, recipe, int(size), int(seed), behaviour, DATASET_CODE_VERSION, __version__, extra])
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{env_id}_{behaviour}_{recipe}_{size}_{seed}_{digest}")
    return Path(cache_dir if cache_dir is not None else default_cache_dir()) / f"{name}.npz"


def _parse_sweep(recipe: str) -> float | None:
    m = re.fullmatch(r"sweep-([0-9.]+)", recipe)
    if not m:
        return None
    p = float(m.group(1))
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"recipe {recipe!r}: the sweep quality p must be in [0, 1]")
    return p


def make_dataset(env_id: str, recipe: str, size: int, seed: int, cache_dir: str | Path | None = None, *,
                 behaviour: str = "analytic", cache: bool = True, n_envs: int | None = None) -> OfflineDataset:
    """Generate (or load from the cache) the ``recipe`` dataset of ``size`` transitions on ``env_id``.

    ``behaviour="analytic"`` uses the analytic expert (CartPole-v1, Pendulum-v1, MountainCar-v0,
    MountainCarContinuous-v0; InvertedPendulum-v5 and InvertedDoublePendulum-v5 with the ``mujoco``
    extra); ``behaviour="dqn"`` uses an online DQN run of ``size`` transitions
    (discrete envs; recipes random, mixed, replay/full-replay, noisy, expert — see
    :func:`dqn_behaviour_datasets`).  ``cache=False`` skips the disk cache.  ``n_envs`` vector
    copies collect the data (default: up to 16, fewer for small sizes so that every stream holds
    about four complete time-limit episodes)."""
    if recipe not in RECIPES and _parse_sweep(recipe) is None and recipe != "replay":
        raise ValueError(f"recipe must be one of {RECIPES} or 'sweep-<p>', got {recipe!r}")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if behaviour == "dqn":
        name = {"full-replay": "replay"}.get(recipe, recipe)
        sets = dqn_behaviour_datasets(env_id, size, seed, cache_dir=cache_dir, cache=cache)
        if name not in sets:
            raise ValueError(f"behaviour='dqn' provides recipes {sorted(sets)} (and full-replay), got {recipe!r}")
        return sets[name]
    if behaviour != "analytic":
        raise ValueError(f"behaviour must be 'analytic' or 'dqn', got {behaviour!r}")
    if recipe == "replay":
        recipe = "full-replay"
    _load_plugin_expert(env_id)  # MuJoCo experts: a clear ImportError naming the extra when it is missing
    if n_envs is None:
        horizon = _spaces(env_id)[2] or 1000
        n_envs = int(np.clip(size // (4 * horizon), 1, 16))
    path = _cache_path(cache_dir, env_id, recipe, size, seed, behaviour, f"n_envs={n_envs}")
    if cache and path.is_file():
        return OfflineDataset.load(path)
    data = _generate_analytic(env_id, recipe, size, seed, n_envs)
    if cache:
        data.save(path)
    return data


def _generate_analytic(env_id: str, recipe: str, size: int, seed: int, n_envs: int) -> OfflineDataset:
    expert = expert_policy(env_id)
    _, act_space, _ = _spaces(env_id)
    rand = random_policy(act_space)
    ref_min, ref_max = reference_scores(env_id)
    medium_p = _MEDIUM_P[env_id]
    meta = {"recipe": recipe, "behaviour": _EXPERTS[env_id][1], "ref_min_score": ref_min, "ref_max_score": ref_max,
            "size": size, "seed": int(seed)}

    def run(policy: Callable, n: int, key: int, **extra: Any) -> OfflineDataset:
        return collect(env_id, policy, n, seed * 1000 + key, n_envs, {**meta, **extra})

    sweep = _parse_sweep(recipe)
    if recipe == "random":
        return run(rand, size, 1, behaviour="uniform-random")
    if recipe == "expert":
        return run(expert, size, 2)
    if recipe == "medium":
        return run(quality_policy(expert, rand, medium_p), size, 3, quality_p=medium_p)
    if recipe in ("medium-replay", "full-replay"):
        top = medium_p if recipe == "medium-replay" else 1.0
        return run(quality_policy(expert, rand, lambda prog: top * prog), size, 4, quality_p_schedule=[0.0, top])
    if recipe == "medium-expert":
        half = size // 2
        parts = [run(quality_policy(expert, rand, medium_p), half, 3), run(expert, size - half, 2)]
        return OfflineDataset.concatenate(parts, **meta)
    if recipe == "mixed":
        n_rand = int(round(0.8 * size))
        parts = [run(rand, n_rand, 1), run(expert, size - n_rand, 2)]
        return OfflineDataset.concatenate(parts, **meta, mix="0.8 random + 0.2 expert transitions")
    if recipe == "noisy":
        if isinstance(act_space, gym.spaces.Discrete):
            return run(quality_policy(expert, rand, 0.8), size, 5, epsilon=0.2)
        return run(gaussian_noise_policy(expert, act_space, 0.2), size, 5, noise_std_fraction=0.2)
    if sweep is not None:
        return run(quality_policy(expert, rand, sweep), size, 6, quality_p=sweep)
    raise ValueError(f"unknown recipe {recipe!r}")  # pragma: no cover - checked above


# --------------------------------------------------------------------------- DQN behaviour (paper 59)


def dqn_behaviour_datasets(env_id: str, size: int, seed: int, cache_dir: str | Path | None = None, *,
                           cache: bool = True, config: Any = None, n_envs: int = 16,
                           eval_points: int = 20, eval_episodes: int = 10) -> dict[str, OfflineDataset]:
    """Paper 59's five datasets from one online DQN run of ``size`` transitions.

    ``replay`` = every transition the online agent saw (in order); ``expert`` = the final greedy
    policy; ``noisy`` = that policy with epsilon = 0.2; ``random`` = uniform actions; ``mixed`` =
    80% random + 20% expert transitions.  Every dataset has ``size`` transitions.  Metadata:
    ``ref_min_score`` = mean episode return of ``random``, ``ref_max_score`` = best evaluation
    return of the online run (``online_evals`` holds the whole curve)."""
    from latentlab.offline.discrete import DiscreteConfig, train_online_dqn

    config = config or DiscreteConfig.online_dqn()
    names = ("random", "mixed", "replay", "noisy", "expert")
    key = json.dumps([config.to_json(), eval_points, eval_episodes, n_envs])
    paths = {k: _cache_path(cache_dir, env_id, k, size, seed, "dqn", key) for k in names}
    if cache and all(p.is_file() for p in paths.values()):
        return {k: OfflineDataset.load(p) for k, p in paths.items()}
    _, act_space, _ = _spaces(env_id)
    if not isinstance(act_space, gym.spaces.Discrete):
        raise ValueError(f"behaviour='dqn' needs a discrete action space; {env_id} has {act_space}")
    online = train_online_dqn(env_id, config, size, seed, eval_points=eval_points, eval_episodes=eval_episodes)
    base = {"behaviour": "dqn", "size": size, "dqn_config": config.to_dict(),
            "online_evals": online.evals, "online_max_eval": online.max_eval}
    replay = online.dataset
    greedy = online.greedy_policy()
    rand = random_policy(act_space)

    def run(policy: Callable, n: int, key: int, recipe: str, **extra: Any) -> OfflineDataset:
        return collect(env_id, policy, n, seed * 1000 + 100 + key, n_envs, {**base, "recipe": recipe, **extra})

    sets = {
        "random": run(rand, size, 1, "random"),
        "expert": run(greedy, size, 2, "expert"),
        "noisy": run(quality_policy(greedy, rand, 0.8), size, 3, "noisy", epsilon=0.2),
    }
    n_rand = int(round(0.8 * size))
    sets["mixed"] = OfflineDataset.concatenate(
        [run(rand, n_rand, 4, "mixed"), run(greedy, size - n_rand, 5, "mixed")], recipe="mixed")
    sets["replay"] = OfflineDataset(**replay.as_dict(), metadata={**replay.metadata, **base, "recipe": "replay",
                                                                   "env_id": env_id, "seed": int(seed)})
    ref_min = float(sets["random"].episode_returns().mean())
    ref_max = float(online.max_eval)
    for data in sets.values():
        data.metadata.update(ref_min_score=ref_min, ref_max_score=ref_max, seed=int(seed), env_id=env_id)
    if cache:
        for k, p in paths.items():
            sets[k].save(p)
    return {k: sets[k] for k in names}
