r"""Classical bandit policies behind one interface, vectorised over ``S`` independent instances.

Every policy implements :class:`BanditPolicy`: ``reset(n_instances, n_arms)``,
``act(rng) -> actions (S,)``, ``update(actions, rewards)``.  State is kept as ``(S, K)``
arrays (pull counts :math:`n_a`, reward sums), so one call serves all instances.  Ties
are broken uniformly at random.

* :class:`RandomPolicy` — uniform over arms.
* :class:`UCB` — BanditBench's :math:`\alpha`-UCB: index :math:`\hat\mu_a+\sqrt{\alpha\log(\sum_b n_b)/n_a}`,
  :math:`+\infty` for unplayed arms; :math:`\alpha=0.5` by default; ``alpha=2`` is UCB1.
* :class:`Greedy` — UCB with :math:`\alpha=0` (each arm once, then the best empirical mean).
* :class:`EpsilonGreedy` — uniform arm with probability :math:`\varepsilon`, else greedy.
* :class:`ThompsonSampling` — Bernoulli: Beta(1, 1) prior, sample :math:`\theta_a\sim\mathrm{Beta}(1+s_a,1+n_a-s_a)`;
  Gaussian (known std :math:`\sigma`): :math:`\theta_a\sim\mathcal N(\text{sum}_a/(n_a+1),\sigma^2/(n_a+1))`.
* :class:`LinUCB` — disjoint LinUCB for contextual bandits: per arm
  :math:`A_a=\lambda I+\sum x x^\top`, :math:`b_a=\sum r x`, index
  :math:`x^\top A_a^{-1}b_a+\alpha\sqrt{x^\top A_a^{-1}x}`.

:func:`run_bandit` plays a policy on a :class:`~latentlab.agents.bandits.BanditInstance` for
``T`` rounds and returns actions, rewards and the cumulative pseudo-regret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from latentlab.agents.bandits import BanditInstance, LowRankContextualBandit, pseudo_regret

__all__ = [
    "BanditPolicy",
    "RandomPolicy",
    "UCB",
    "Greedy",
    "EpsilonGreedy",
    "ThompsonSampling",
    "LinUCB",
    "BanditRun",
    "run_bandit",
    "run_contextual_bandit",
    "argmax_random_ties",
]


@runtime_checkable
class BanditPolicy(Protocol):
    """The interface of every bandit agent (classical or text-based)."""

    def reset(self, n_instances: int, n_arms: int) -> None: ...

    def act(self, rng: np.random.Generator) -> np.ndarray: ...

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None: ...


def argmax_random_ties(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row-wise argmax of ``(S, K)`` values, ties broken uniformly at random."""
    best = values.max(axis=1, keepdims=True)
    is_best = values >= best - 1e-12 * np.maximum(1.0, np.abs(np.where(np.isfinite(best), best, 0.0)))
    noise = rng.random(values.shape)
    return np.argmax(np.where(is_best, noise, -1.0), axis=1)


class _CountingPolicy:
    """Pull counts and reward sums per instance and arm."""

    counts: np.ndarray
    sums: np.ndarray

    def reset(self, n_instances: int, n_arms: int) -> None:
        if n_instances < 1 or n_arms < 2:
            raise ValueError(f"need n_instances >= 1 and n_arms >= 2, got {n_instances}, {n_arms}")
        self.counts = np.zeros((n_instances, n_arms))
        self.sums = np.zeros((n_instances, n_arms))

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        rows = np.arange(self.counts.shape[0])
        self.counts[rows, actions] += 1
        self.sums[rows, actions] += rewards

    @property
    def empirical_means(self) -> np.ndarray:
        return np.divide(self.sums, self.counts, out=np.zeros_like(self.sums), where=self.counts > 0)


class RandomPolicy(_CountingPolicy):
    """Uniformly random arm every round."""

    def act(self, rng: np.random.Generator) -> np.ndarray:
        n, k = self.counts.shape
        return rng.integers(0, k, n)


class UCB(_CountingPolicy):
    r""":math:`\alpha`-UCB: :math:`\hat\mu_a+\sqrt{\alpha\log(\sum_b n_b)/n_a}`, unplayed arms first."""

    def __init__(self, alpha: float = 0.5) -> None:
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.alpha = alpha

    def bonus(self) -> np.ndarray:
        """Exploration bonus per arm (``inf`` for unplayed arms)."""
        total = np.maximum(self.counts.sum(axis=1, keepdims=True), 1.0)
        safe = np.maximum(self.counts, 1.0)
        bonus = np.sqrt(self.alpha * np.log(total) / safe)
        return np.where(self.counts > 0, bonus, np.inf)

    def index(self) -> np.ndarray:
        return self.empirical_means + self.bonus()

    def act(self, rng: np.random.Generator) -> np.ndarray:
        return argmax_random_ties(self.index(), rng)


class Greedy(UCB):
    """Each arm once, then the highest empirical mean (UCB with ``alpha=0``)."""

    def __init__(self) -> None:
        super().__init__(alpha=0.0)


class EpsilonGreedy(Greedy):
    r"""With probability :math:`\varepsilon` a uniform arm, otherwise :class:`Greedy`."""

    def __init__(self, epsilon: float = 0.1) -> None:
        super().__init__()
        if not 0 <= epsilon <= 1:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
        self.epsilon = epsilon

    def act(self, rng: np.random.Generator) -> np.ndarray:
        n, k = self.counts.shape
        greedy = super().act(rng)
        explore = rng.random(n) < self.epsilon
        return np.where(explore, rng.integers(0, k, n), greedy)


class ThompsonSampling(_CountingPolicy):
    """Thompson sampling with a Beta(1, 1) (Bernoulli) or flat-ish Gaussian (known std) prior."""

    def __init__(self, family: str = "bernoulli", noise_std: float = 1.0) -> None:
        if family not in ("bernoulli", "gaussian"):
            raise ValueError(f"family must be 'bernoulli' or 'gaussian', got {family!r}")
        if noise_std <= 0:
            raise ValueError(f"noise_std must be > 0, got {noise_std}")
        self.family = family
        self.noise_std = noise_std

    def act(self, rng: np.random.Generator) -> np.ndarray:
        if self.family == "bernoulli":
            theta = rng.beta(1.0 + self.sums, 1.0 + self.counts - self.sums)
        else:
            scale = self.noise_std / np.sqrt(self.counts + 1.0)
            theta = self.sums / (self.counts + 1.0) + scale * rng.standard_normal(self.counts.shape)
        return argmax_random_ties(theta, rng)


class LinUCB:
    r"""Disjoint LinUCB: :math:`x^\top\hat\theta_a+\alpha\sqrt{x^\top A_a^{-1}x}` with ridge :math:`\lambda`."""

    def __init__(self, alpha: float = 0.5, ridge: float = 1.0) -> None:
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        if ridge <= 0:
            raise ValueError(f"ridge must be > 0, got {ridge}")
        self.alpha = alpha
        self.ridge = ridge

    def reset(self, n_instances: int, n_arms: int, dim: int) -> None:
        if n_instances < 1 or n_arms < 2 or dim < 1:
            raise ValueError(f"need n_instances >= 1, n_arms >= 2, dim >= 1; got {n_instances}, {n_arms}, {dim}")
        self.a_inv = np.broadcast_to(np.eye(dim) / self.ridge, (n_instances, n_arms, dim, dim)).copy()
        self.b = np.zeros((n_instances, n_arms, dim))

    def index(self, contexts: np.ndarray) -> np.ndarray:
        theta = np.einsum("sakl,sal->sak", self.a_inv, self.b)
        mean = np.einsum("sak,sk->sa", theta, contexts)
        width = np.einsum("sk,sakl,sl->sa", contexts, self.a_inv, contexts)
        return mean + self.alpha * np.sqrt(np.maximum(width, 0.0))

    def act(self, contexts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return argmax_random_ties(self.index(contexts), rng)

    def update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        rows = np.arange(contexts.shape[0])
        a_inv = self.a_inv[rows, actions]  # (S, k, k); Sherman-Morrison rank-one update
        ax = np.einsum("skl,sl->sk", a_inv, contexts)
        denom = 1.0 + np.einsum("sk,sk->s", contexts, ax)
        self.a_inv[rows, actions] = a_inv - np.einsum("sk,sl->skl", ax, ax) / denom[:, None, None]
        self.b[rows, actions] += rewards[:, None] * contexts


@dataclass(frozen=True)
class BanditRun:
    """Actions and rewards ``(S, T)`` of one batched run and its cumulative pseudo-regret ``(S, T)``."""

    actions: np.ndarray
    rewards: np.ndarray
    regret: np.ndarray


def run_bandit(instance: BanditInstance, policy: BanditPolicy, horizon: int, rng: np.random.Generator) -> BanditRun:
    """Play ``policy`` on all instances for ``horizon`` rounds."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    n = instance.n_instances
    policy.reset(n, instance.n_arms)
    actions = np.empty((n, horizon), dtype=np.int64)
    rewards = np.empty((n, horizon))
    for t in range(horizon):
        a = policy.act(rng)
        r = instance.pull(a, rng)
        policy.update(a, r)
        actions[:, t], rewards[:, t] = a, r
    return BanditRun(actions, rewards, pseudo_regret(instance, actions))


def run_contextual_bandit(bandit: LowRankContextualBandit, policy: LinUCB | BanditPolicy, horizon: int,
                          rng: np.random.Generator) -> BanditRun:
    """Play a contextual (:class:`LinUCB`) or context-free policy; regret is against the best item per user."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    n = bandit.n_instances
    contextual = isinstance(policy, LinUCB)
    if contextual:
        policy.reset(n, bandit.n_arms, bandit.dim)
    else:
        policy.reset(n, bandit.n_arms)
    actions = np.empty((n, horizon), dtype=np.int64)
    rewards = np.empty((n, horizon))
    regret = np.empty((n, horizon))
    for t in range(horizon):
        users = bandit.draw_users(rng)
        x = bandit.contexts(users)
        a = policy.act(x, rng) if contextual else policy.act(rng)
        r, inst = bandit.pull(users, a, rng)
        if contextual:
            policy.update(x, a, r)
        else:
            policy.update(a, r)
        actions[:, t], rewards[:, t], regret[:, t] = a, r, inst
    return BanditRun(actions, rewards, np.cumsum(regret, axis=1))
