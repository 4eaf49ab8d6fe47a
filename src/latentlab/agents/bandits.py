r"""Multi-armed and contextual bandit environments, batched over independent instances.

Every environment holds ``S`` independent instances (one per seed or trial) and is stepped
with one action per instance, so a whole experiment over seeds is one array operation per
round.

* :func:`bernoulli_bandit` — BanditBench's Bernoulli instances: one arm with mean
  :math:`0.5+\Delta/2`, the other :math:`K-1` with :math:`0.5-\Delta/2`, the best arm's
  position shuffled per instance.  "Hard" is :math:`\Delta=0.2`, "easy" :math:`\Delta=0.5`.
* :func:`gaussian_bandit` — means :math:`\mu_a\sim\mathcal N(0,\sigma^2)`, rewards
  :math:`\mathcal N(\mu_a,\sigma^2)`; :math:`\sigma=1` easy, :math:`3` hard.  Instance hardness
  is :math:`(\mu_{(1)}-\mu_{(2)})^2/2\sigma^2`.
* :class:`LowRankContextualBandit` — the synthetic stand-in for MovieBench: user vectors
  :math:`u\sim\mathcal N(0,I_k/k)`, item vectors :math:`v_a\sim\mathcal N(0,I_k)`, expected rating
  :math:`u^\top\Sigma v_a` with a decaying diagonal :math:`\Sigma`, plus Gaussian noise.

The pseudo-regret of a run is :math:`R_T=\sum_{t\le T}(\mu^*-\mu_{a_t})` (:func:`pseudo_regret`).
:func:`lai_robbins_constant` gives :math:`\sum_{a:\Delta_a>0}\Delta_a/\mathrm{KL}(\mu_a,\mu^*)`,
the asymptotic slope of :math:`\mathbb E R_T` in :math:`\log T` for any consistent policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "BanditInstance",
    "bernoulli_bandit",
    "gaussian_bandit",
    "LowRankContextualBandit",
    "low_rank_contextual_bandit",
    "lai_robbins_constant",
    "bernoulli_kl",
    "pseudo_regret",
]

Family = Literal["bernoulli", "gaussian"]


@dataclass(frozen=True)
class BanditInstance:
    """``S`` independent K-armed bandits: ``means`` has shape ``(S, K)``."""

    means: np.ndarray
    family: Family = "bernoulli"
    noise_std: float = 1.0

    def __post_init__(self) -> None:
        means = np.asarray(self.means, dtype=float)
        if means.ndim != 2 or means.shape[1] < 2:
            raise ValueError(f"means must have shape (n_instances, n_arms >= 2), got {means.shape}")
        if self.family not in ("bernoulli", "gaussian"):
            raise ValueError(f"family must be 'bernoulli' or 'gaussian', got {self.family!r}")
        if self.family == "bernoulli" and (means.min() < 0 or means.max() > 1):
            raise ValueError("Bernoulli means must lie in [0, 1]")
        if self.noise_std <= 0:
            raise ValueError(f"noise_std must be > 0, got {self.noise_std}")
        object.__setattr__(self, "means", means)

    @property
    def n_instances(self) -> int:
        return int(self.means.shape[0])

    @property
    def n_arms(self) -> int:
        return int(self.means.shape[1])

    @property
    def best_mean(self) -> np.ndarray:
        return self.means.max(axis=1)

    @property
    def gaps(self) -> np.ndarray:
        """:math:`\\Delta_a=\\mu^*-\\mu_a`, shape ``(S, K)``."""
        return self.best_mean[:, None] - self.means

    def pull(self, actions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One reward per instance for ``actions`` (shape ``(S,)``)."""
        actions = _check_actions(actions, self.n_instances, self.n_arms)
        mean = self.means[np.arange(self.n_instances), actions]
        if self.family == "bernoulli":
            return (rng.random(self.n_instances) < mean).astype(float)
        return mean + self.noise_std * rng.standard_normal(self.n_instances)

    def subset(self, index: np.ndarray | slice) -> BanditInstance:
        return BanditInstance(self.means[index], self.family, self.noise_std)


def _check_actions(actions: np.ndarray, n: int, k: int) -> np.ndarray:
    actions = np.asarray(actions)
    if actions.shape != (n,):
        raise ValueError(f"actions must have shape ({n},), got {actions.shape}")
    if actions.size and (actions.min() < 0 or actions.max() >= k):
        raise ValueError(f"actions must lie in [0, {k - 1}]")
    return actions.astype(np.int64)


def bernoulli_bandit(n_arms: int, gap: float, n_instances: int, rng: np.random.Generator) -> BanditInstance:
    r"""BanditBench Bernoulli instances: best arm :math:`0.5+\Delta/2`, others :math:`0.5-\Delta/2`, shuffled."""
    if n_arms < 2:
        raise ValueError(f"n_arms must be >= 2, got {n_arms}")
    if not 0 < gap <= 1:
        raise ValueError(f"gap must be in (0, 1], got {gap}")
    if n_instances < 1:
        raise ValueError(f"n_instances must be >= 1, got {n_instances}")
    means = np.full((n_instances, n_arms), 0.5 - gap / 2)
    best = rng.integers(0, n_arms, n_instances)
    means[np.arange(n_instances), best] = 0.5 + gap / 2
    return BanditInstance(means, "bernoulli")


def gaussian_bandit(n_arms: int, sigma: float, n_instances: int, rng: np.random.Generator) -> BanditInstance:
    r"""Gaussian instances: :math:`\mu_a\sim\mathcal N(0,\sigma^2)`, reward noise std :math:`\sigma`."""
    if n_arms < 2:
        raise ValueError(f"n_arms must be >= 2, got {n_arms}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    if n_instances < 1:
        raise ValueError(f"n_instances must be >= 1, got {n_instances}")
    return BanditInstance(sigma * rng.standard_normal((n_instances, n_arms)), "gaussian", noise_std=sigma)


def bernoulli_kl(p: np.ndarray | float, q: np.ndarray | float) -> np.ndarray:
    r""":math:`\mathrm{KL}(\mathrm{Ber}(p)\,\|\,\mathrm{Ber}(q))` (elementwise, clipped away from 0 and 1)."""
    p = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
    q = np.clip(np.asarray(q, dtype=float), 1e-12, 1 - 1e-12)
    return p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))


def lai_robbins_constant(instance: BanditInstance) -> np.ndarray:
    r"""Per instance :math:`C=\sum_{a:\Delta_a>0}\Delta_a/\mathrm{KL}(\mu_a,\mu^*)`.

    Bernoulli: Bernoulli KL; Gaussian with known std :math:`\sigma`:
    :math:`\mathrm{KL}=\Delta_a^2/2\sigma^2`, so :math:`C=\sum_a 2\sigma^2/\Delta_a`.
    """
    gaps = instance.gaps
    suboptimal = gaps > 1e-12
    if instance.family == "bernoulli":
        kl = bernoulli_kl(instance.means, instance.best_mean[:, None])
    else:
        kl = gaps**2 / (2 * instance.noise_std**2)
    terms = np.where(suboptimal, gaps / np.where(suboptimal, kl, 1.0), 0.0)
    return terms.sum(axis=1)


def pseudo_regret(instance: BanditInstance, actions: np.ndarray) -> np.ndarray:
    r"""Cumulative pseudo-regret :math:`R_t=\sum_{s\le t}\Delta_{a_s}`; ``actions`` ``(S, T)`` -> ``(S, T)``."""
    actions = np.asarray(actions, dtype=np.int64)
    if actions.ndim != 2 or actions.shape[0] != instance.n_instances:
        raise ValueError(f"actions must have shape ({instance.n_instances}, T), got {actions.shape}")
    return np.cumsum(np.take_along_axis(instance.gaps, actions, axis=1), axis=1)


@dataclass(frozen=True)
class LowRankContextualBandit:
    r"""Synthetic low-rank contextual bandit, ``S`` instances with ``n_users`` users and ``K`` items each.

    Expected reward of item :math:`a` for user :math:`u`: :math:`r(u,a)=u^\top\Sigma v_a`.
    Each round a user is drawn uniformly from the instance's pool; the context is :math:`u`
    (shape ``(S, k)``), and the observed reward adds :math:`\mathcal N(0,\text{noise}^2)`.
    """

    users: np.ndarray  # (S, U, k)
    items: np.ndarray  # (S, K, k)
    singular_values: np.ndarray  # (k,)
    noise_std: float = 0.1

    @property
    def n_instances(self) -> int:
        return int(self.users.shape[0])

    @property
    def n_arms(self) -> int:
        return int(self.items.shape[1])

    @property
    def dim(self) -> int:
        return int(self.users.shape[2])

    def expected_rewards(self, user_index: np.ndarray) -> np.ndarray:
        """``(S, K)`` expected rewards for one user per instance."""
        u = self.users[np.arange(self.n_instances), user_index]  # (S, k)
        return np.einsum("sk,k,sak->sa", u, self.singular_values, self.items)

    def contexts(self, user_index: np.ndarray) -> np.ndarray:
        return self.users[np.arange(self.n_instances), user_index]

    def draw_users(self, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, self.users.shape[1], self.n_instances)

    def pull(self, user_index: np.ndarray, actions: np.ndarray,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Observed rewards and the per-instance instantaneous regret of ``actions``."""
        actions = _check_actions(actions, self.n_instances, self.n_arms)
        expected = self.expected_rewards(user_index)
        mean = expected[np.arange(self.n_instances), actions]
        regret = expected.max(axis=1) - mean
        return mean + self.noise_std * rng.standard_normal(self.n_instances), regret


def low_rank_contextual_bandit(n_arms: int, rank: int, n_users: int, n_instances: int, rng: np.random.Generator,
                               noise_std: float = 0.1) -> LowRankContextualBandit:
    r"""Users :math:`\mathcal N(0,I_k/k)`, items :math:`\mathcal N(0,I_k)`, :math:`\Sigma=\mathrm{diag}(1/\sqrt{i})`."""
    for name, value, low in (("n_arms", n_arms, 2), ("rank", rank, 1), ("n_users", n_users, 1),
                             ("n_instances", n_instances, 1)):
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}")
    users = rng.standard_normal((n_instances, n_users, rank)) / np.sqrt(rank)
    items = rng.standard_normal((n_instances, n_arms, rank))
    singular = 1.0 / np.sqrt(np.arange(1, rank + 1))
    return LowRankContextualBandit(users, items, singular, noise_std)
