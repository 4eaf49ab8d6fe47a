r"""Dataset measures of paper 59 (Schweighofer et al., "A Dataset Perspective on Offline RL").

Trajectory Quality (how good the behaviour was):

.. math::

    \mathrm{TQ}(D)=\frac{\bar R(D)-R_\text{random}}{R_\text{online,max}-R_\text{random}},

with :math:`\bar R(D)` the mean (undiscounted) return of the complete episodes in D,
:math:`R_\text{random}` the mean episode return of the Random dataset and
:math:`R_\text{online,max}` the best evaluation return of the online (behaviour) run.  So
TQ(Random) = 0 by construction.

State-Action Coverage (how much it explored):

.. math::

    \mathrm{SACo}(D)=\frac{U(D)}{U(D_\text{replay})},\qquad
    U(D)=\big|\{(\mathrm{bin}(s),a):(s,a)\in D\}\big|,

where every continuous coordinate x of s (and of a, for continuous actions) is put into one of
``bins`` = 100 equal bins between the Replay dataset's min and max of that coordinate,
:math:`\mathrm{bin}(x)=\min(\lfloor \mathrm{bins}\,(x-\ell)/(h-\ell)\rfloor,\mathrm{bins}-1)` (values
outside :math:`[\ell,h]` go to the first/last bin; a constant coordinate is one bin).  So
SACo(Replay) = 1 by construction, and SACo is invariant to shuffling and to duplicating D.

U is counted exactly (``np.unique`` over the binned rows viewed as opaque byte strings,
vectorised) or with HyperLogLog (:func:`hyperloglog`): each row is hashed to 64 bits
(splitmix64 mixing of the columns, vectorised), the first p bits pick one of
:math:`m=2^p` registers, a register keeps the largest
:math:`\rho`= 1 + number of leading zeros of the remaining bits, and

.. math::

    \hat U=\alpha_m m^2\Big/\sum_{j=1}^m 2^{-M_j},\qquad \alpha_m=\frac{0.7213}{1+1.079/m},

with linear counting :math:`m\ln(m/V)` when :math:`\hat U\le 2.5m` and V registers are empty.
Relative standard error :math:`\approx1.04/\sqrt m` (p = 14: 0.8%).

Normalised entropy of a (behaviour-cloning) policy fitted to D:
:math:`\bar H=\frac1{|D|}\sum_{s\in D}H(\pi(\cdot|s))/\log|A|\in[0,1]`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from latentlab.offline.datasets import OfflineDataset

__all__ = [
    "trajectory_quality",
    "state_action_coverage",
    "binning_bounds",
    "discretize",
    "state_action_rows",
    "count_unique",
    "hyperloglog",
    "hash_rows",
    "normalized_entropy",
    "dataset_summary",
]

_U64 = np.uint64


def trajectory_quality(data: OfflineDataset | np.ndarray | float, r_random: float, r_online_max: float) -> float:
    """TQ = (mean episode return - R_random) / (R_online_max - R_random).

    ``data`` is a dataset (mean return of its complete episodes), an array of episode returns or
    a mean return."""
    if r_online_max == r_random:
        raise ValueError(f"r_online_max must differ from r_random, both are {r_random}")
    if hasattr(data, "episode_returns"):
        mean = float(np.mean(data.episode_returns()))
    else:
        mean = float(np.mean(np.asarray(data, dtype=np.float64)))
    return (mean - float(r_random)) / (float(r_online_max) - float(r_random))


def binning_bounds(reference: OfflineDataset) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-coordinate (low, high) of the reference (Replay) dataset: observations, and continuous
    actions (None for discrete actions)."""
    obs = reference.observations
    lo_hi = np.stack([obs.min(0), obs.max(0)])
    if reference.discrete:
        return lo_hi, None
    acts = reference.actions
    return lo_hi, np.stack([acts.min(0), acts.max(0)])


def discretize(x: np.ndarray, low: np.ndarray, high: np.ndarray, bins: int = 100) -> np.ndarray:
    """Bin index in [0, bins) of every coordinate (100 equal bins between low and high)."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    x = np.asarray(x, dtype=np.float64)
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    width = np.where(high > low, high - low, 1.0)
    idx = np.floor((x - low) / width * bins)
    return np.clip(idx, 0, bins - 1).astype(np.int64)


def state_action_rows(data: OfflineDataset, obs_bounds: np.ndarray, act_bounds: np.ndarray | None = None,
                      bins: int = 100) -> np.ndarray:
    """(N, obs_dim + act columns) int64 rows of binned states and (binned or discrete) actions."""
    s = discretize(data.observations, obs_bounds[0], obs_bounds[1], bins)
    if data.discrete:
        a = data.actions.reshape(-1, 1).astype(np.int64)
    else:
        if act_bounds is None:
            act_bounds = np.stack([data.actions.min(0), data.actions.max(0)])
        a = discretize(data.actions, act_bounds[0], act_bounds[1], bins)
    return np.ascontiguousarray(np.concatenate([s, a], axis=1))


def count_unique(rows: np.ndarray, method: str = "exact", p: int = 14) -> float:
    """Number of distinct rows: ``exact`` (np.unique over byte views) or ``hll`` (HyperLogLog)."""
    rows = np.ascontiguousarray(np.asarray(rows))
    if rows.ndim == 1:
        rows = rows[:, None]
    if method == "exact":
        if len(rows) == 0:
            return 0.0
        view = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
        return float(np.unique(view).size)
    if method == "hll":
        return hyperloglog(rows, p)
    raise ValueError(f"method must be 'exact' or 'hll', got {method!r}")


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + _U64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> _U64(27))) * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


def hash_rows(rows: np.ndarray, seed: int = 0) -> np.ndarray:
    """64-bit hash of every integer row (splitmix64 mixing column by column, vectorised over rows)."""
    rows = np.asarray(rows)
    if rows.ndim == 1:
        rows = rows[:, None]
    with np.errstate(over="ignore"):
        h = np.full(len(rows), _U64(seed) ^ _U64(0x5851F42D4C957F2D), dtype=np.uint64)
        for j in range(rows.shape[1]):
            col = rows[:, j].astype(np.int64).view(np.uint64)
            h = _splitmix64(h ^ _splitmix64(col + _U64(j)))
    return h


def _leading_zeros(w: np.ndarray) -> np.ndarray:
    """Count of leading zero bits of uint64 values (exact, vectorised binary search)."""
    n = np.zeros(w.shape, dtype=np.int64)
    x = w.copy()
    for shift in (32, 16, 8, 4, 2, 1):
        top_zero = (x >> _U64(64 - shift)) == 0
        n += np.where(top_zero, shift, 0)
        x = np.where(top_zero, x << _U64(shift), x)
    n += (x == 0).astype(np.int64)  # only for w == 0 (cannot happen with the sentinel bit)
    return n


def hyperloglog(rows: np.ndarray, p: int = 14, seed: int = 0) -> float:
    """HyperLogLog estimate of the number of distinct rows (relative error ~ 1.04 / sqrt(2^p))."""
    if not 4 <= p <= 20:
        raise ValueError(f"p must be in [4, 20], got {p}")
    m = 1 << p
    h = hash_rows(rows, seed)
    if h.size == 0:
        return 0.0
    idx = (h >> _U64(64 - p)).astype(np.int64)
    with np.errstate(over="ignore"):
        w = (h << _U64(p)) | _U64(1 << (p - 1))  # sentinel bit caps rho at 64 - p + 1
    rho = _leading_zeros(w) + 1
    registers = np.zeros(m, dtype=np.int64)
    np.maximum.at(registers, idx, rho)
    alpha = 0.7213 / (1.0 + 1.079 / m)
    estimate = alpha * m * m / float(np.sum(np.ldexp(1.0, -registers)))
    zeros = int(np.count_nonzero(registers == 0))
    if estimate <= 2.5 * m and zeros > 0:
        estimate = m * math.log(m / zeros)
    return float(estimate)


def state_action_coverage(data: OfflineDataset, reference: OfflineDataset, bins: int = 100,
                          method: str = "exact", p: int = 14) -> float:
    """SACo(D) = U(D) / U(reference), both binned with the reference's per-coordinate min/max."""
    obs_b, act_b = binning_bounds(reference)
    u_ref = count_unique(state_action_rows(reference, obs_b, act_b, bins), method, p)
    u = count_unique(state_action_rows(data, obs_b, act_b, bins), method, p)
    if u_ref == 0:
        raise ValueError("reference dataset has no state-action pairs")
    return u / u_ref


def normalized_entropy(probs: np.ndarray) -> float:
    """Mean over rows of H(pi(.|s)) / log|A| for a (N, |A|) array of action probabilities."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise ValueError(f"probs must have shape (N, n_actions >= 2), got {probs.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.sum(np.where(probs > 0, probs * np.log(probs), 0.0), axis=1)
    return float(ent.mean() / math.log(probs.shape[1]))


def dataset_summary(data: OfflineDataset, replay: OfflineDataset, r_random: float, r_online_max: float,
                    bins: int = 100, hll_p: int = 14) -> dict[str, Any]:
    """TQ, SACo (exact and HyperLogLog), unique counts, mean return, episode length, reward sparsity."""
    obs_b, act_b = binning_bounds(replay)
    rows = state_action_rows(data, obs_b, act_b, bins)
    u_exact = count_unique(rows, "exact")
    u_ref = count_unique(state_action_rows(replay, obs_b, act_b, bins), "exact")
    returns = data.episode_returns()
    lengths = [e.length for e in data.episodes() if e.complete] or [e.length for e in data.episodes()]
    return {
        "tq": trajectory_quality(returns, r_random, r_online_max),
        "saco": u_exact / u_ref,
        "unique_exact": u_exact,
        "unique_hll": hyperloglog(rows, hll_p),
        "mean_return": float(np.mean(returns)),
        "n_episodes": int(len(returns)),
        "mean_episode_length": float(np.mean(lengths)),
        "reward_sparsity": float(np.mean(data.rewards == 0)),
    }
