r"""Online tabular learners, vectorised over independent replicates ("seeds").

All learners share one interface (:class:`Learner`): ``plan()`` returns the
:class:`Plan` to execute in the next episode for each of the ``n`` replicates,
``observe(trajectories)`` feeds back the episode, ``recommendation()`` returns the
policy the learner would output now (best-policy identification).  State is kept as
arrays with a leading replicate axis, e.g. transition counts ``N[i, h, s, a, s']``, so
planning for all replicates is one batched backward induction
(:mod:`latentlab.tabular.planning`).

Learners
--------
* :class:`UCBVI` (Azar, Osband & Munos, 2017): optimistic backward induction on the
  empirical model :math:`\hat P_h, \hat r_h` with bonus

  - Hoeffding: :math:`b_h(s,a) = c\,(H-h)\sqrt{L / n_h(s,a)}`,
  - Bernstein: :math:`b_h(s,a) = c\,\big(\sqrt{2\,\mathrm{Var}_{\hat P_h(\cdot|s,a)}(\bar V_{h+1})\,L / n}
    + \tfrac{7}{3}(H-h)L/n\big)`,

  with :math:`L = \log(SAHK/\delta)`, ``c = bonus_scale`` and values clipped to
  :math:`[0, H-h]`; unvisited pairs get the maximal value.
* :class:`UCBVIBPI`: UCBVI plus a pessimistic evaluation :math:`\underline V^{\pi}` of the
  greedy policy; it stops once :math:`\mu^\top(\bar V_1 - \underline V^{\pi}_1) \le \varepsilon`
  and then recommends that policy forever.
* :class:`QLearningUCBH` (Jin, Allen-Zhu, Bubeck & Jordan, 2018): model-free,
  :math:`Q_h \leftarrow (1-\alpha_t) Q_h + \alpha_t (r + V_{h+1}(s') + c\sqrt{H^3 L / t})`,
  :math:`\alpha_t = (H+1)/(H+t)`, :math:`V_h = \min(H-h, \max_a Q_h)`.
* :class:`PSRL` (Osband, Russo & Van Roy, 2013): sample
  :math:`\tilde P_h(\cdot|s,a) \sim \mathrm{Dir}(\alpha_0 + N_h(s,a,\cdot))` and Bernoulli
  means :math:`\tilde r \sim \mathrm{Beta}(1 + \Sigma r, 1 + n - \Sigma r)`, act greedily.
* :class:`ExploreThenCommit`: uniform actions for ``n_explore`` episodes, then the
  greedy policy of the empirical model.

:func:`run_learner` plays ``K`` episodes and records the *exact* value (backward
induction on the true MDP) of each played policy, so regret has no Monte-Carlo noise.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

import numpy as np

from latentlab.tabular.mdp import FiniteHorizonMDP
from latentlab.tabular.planning import as_stochastic, expected_next, policy_value, value_iteration

__all__ = [
    "Trajectories",
    "Plan",
    "rollout",
    "CountModel",
    "Learner",
    "UCBVI",
    "UCBVIBPI",
    "QLearningUCBH",
    "PSRL",
    "ExploreThenCommit",
    "LearningCurve",
    "run_learner",
    "log_term",
]

BonusKind = Literal["hoeffding", "bernstein"]


@dataclass(frozen=True)
class Trajectories:
    """One episode per replicate: ``states[i, 0..H]``, ``actions[i, 0..H-1]``, ``rewards[i, 0..H-1]``."""

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray

    @property
    def n(self) -> int:
        return int(self.actions.shape[0])


@dataclass(frozen=True)
class Plan:
    """What each replicate executes in one episode.

    ``policy[i]`` is the Markov policy actually run.  When the episode's policy was
    itself drawn at random (an episode-level mixture, e.g. EpsMix), ``components[i, j]``
    and ``weights[i, j]`` describe the mixture, and the *expected* value over that draw is
    :math:`\\sum_j w_{ij} V^{\\pi_{ij}}`.
    """

    policy: np.ndarray
    components: np.ndarray | None = None
    weights: np.ndarray | None = None

    def exact_value(self, mdp: FiniteHorizonMDP) -> np.ndarray:
        """Exact value per replicate (expected over the episode-level draw when there is one)."""
        if self.components is None:
            return mdp.value(self.policy)
        return np.sum(mdp.value(self.components) * self.weights, axis=-1)


def _sample_categorical(probs: np.ndarray, rng: np.random.Generator, u: np.ndarray | None = None) -> np.ndarray:
    """One draw per row of ``probs[..., k]`` by inverse CDF (``u``: optional uniforms of shape ``probs.shape[:-1]``)."""
    cum = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[:-1]) if u is None else u
    return np.minimum(np.sum((u * cum[..., -1])[..., None] >= cum, axis=-1), probs.shape[-1] - 1)


def rollout(mdp: FiniteHorizonMDP, policy: np.ndarray, rng: np.random.Generator, n: int | None = None) -> Trajectories:
    """Run one episode per replicate; ``policy`` is ``[n, H, S, A]`` / ``[n, H, S]`` or shared ``[H, S, A]``.

    Vectorised over replicates; the only loop is over the ``H`` steps.
    """
    pi = as_stochastic(policy, mdp.A)
    if pi.ndim == 3:
        pi = np.broadcast_to(pi, (n or 1, *pi.shape))
    if pi.shape[1:] != (mdp.H, mdp.S, mdp.A):
        raise ValueError(f"policy must have shape (n, H, S, A) = (n, {mdp.H}, {mdp.S}, {mdp.A}), got {pi.shape}")
    n = pi.shape[0]
    rows = np.arange(n)
    states = np.empty((n, mdp.H + 1), dtype=np.int64)
    actions = np.empty((n, mdp.H), dtype=np.int64)
    rewards = np.empty((n, mdp.H))
    states[:, 0] = _sample_categorical(np.broadcast_to(mdp.mu, (n, mdp.S)), rng)
    u = rng.random((3, mdp.H, n))  # action, reward and transition uniforms
    bernoulli = mdp.reward_noise == "bernoulli"
    for h in range(mdp.H):
        s = states[:, h]
        a = _sample_categorical(pi[rows, h, s], rng, u[0, h])
        mean = mdp.R[h, s, a]
        rewards[:, h] = (u[1, h] < mean) if bernoulli else mean
        states[:, h + 1] = np.minimum(np.sum(u[2, h][:, None] >= mdp.cum_P[h, s, a], axis=-1), mdp.S - 1)
        actions[:, h] = a
    return Trajectories(states, actions, rewards)


def log_term(S: int, A: int, H: int, K: int, delta: float) -> float:
    r""":math:`L = \log(SAHK/\delta)`, the confidence log-term of the bonuses."""
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    if K < 1:
        raise ValueError(f"n_episodes must be >= 1, got {K}")
    return float(np.log(S * A * H * K / delta))


class CountModel:
    r"""Empirical model per replicate: counts :math:`N_h(s,a,s')`, visit counts :math:`n_h(s,a)`, reward sums.

    ``p_hat()`` is :math:`N_h(s,a,\cdot)/n_h(s,a)` (uniform for unvisited pairs), ``r_hat()``
    the empirical mean reward (0 for unvisited pairs).
    """

    def __init__(self, n: int, H: int, S: int, A: int) -> None:
        for name, value in (("n_replicates", n), ("H", H), ("S", S), ("A", A)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.n, self.H, self.S, self.A = n, H, S, A
        self.N = np.zeros((n, H, S, A, S))
        self.visits = np.zeros((n, H, S, A))
        self.reward_sum = np.zeros((n, H, S, A))
        self._P: np.ndarray | None = None

    def update(self, traj: Trajectories, mask: np.ndarray | None = None) -> None:
        r"""Add one episode per replicate (replicates with ``mask[i] = False`` are skipped).

        Only the :math:`nH` visited rows change, so the cached :math:`\hat P` is updated row-wise.
        """
        n, H = self.n, self.H
        if traj.actions.shape != (n, H):
            raise ValueError(f"trajectories must have {n} replicates of length H={H}, got {traj.actions.shape}")
        keep = np.ones(n, bool) if mask is None else np.asarray(mask, bool)
        i = np.broadcast_to(np.arange(n)[:, None], (n, H))[keep].ravel()
        h = np.broadcast_to(np.arange(H), (n, H))[keep].ravel()
        s, a = traj.states[:, :-1][keep].ravel(), traj.actions[keep].ravel()
        s_next, r = traj.states[:, 1:][keep].ravel(), traj.rewards[keep].ravel()
        np.add.at(self.N, (i, h, s, a, s_next), 1.0)
        np.add.at(self.visits, (i, h, s, a), 1.0)
        np.add.at(self.reward_sum, (i, h, s, a), r)
        if self._P is not None:
            self._P.flags.writeable = True
            self._P[i, h, s, a] = self.N[i, h, s, a] / self.visits[i, h, s, a][:, None]
            self._P.flags.writeable = False

    def invalidate(self) -> None:
        r"""Drop the cached :math:`\hat P` (call after editing ``N`` or ``visits`` directly)."""
        self._P = None

    def p_hat(self) -> np.ndarray:
        r"""Read-only :math:`\hat P` ``[n, H, S, A, S]`` (cached; rows of unvisited pairs are uniform)."""
        if self._P is None:
            n = self.visits[..., None]
            P = self.N / np.maximum(n, 1)
            P[np.broadcast_to(n == 0, P.shape)] = 1.0 / self.S
            P.flags.writeable = False
            self._P = P
        return self._P

    def r_hat(self) -> np.ndarray:
        return self.reward_sum / np.maximum(self.visits, 1)


class Learner(ABC):
    """Interface of an online learner over ``n`` independent replicates."""

    n: int
    H: int
    S: int
    A: int

    @abstractmethod
    def plan(self) -> Plan:
        """The policies to execute in the next episode."""

    @abstractmethod
    def observe(self, traj: Trajectories) -> None:
        """Feed back one episode per replicate."""

    def recommendation(self) -> np.ndarray:
        """The policy output now (``[n, H, S, A]``); default: the policy played next."""
        return self.plan().policy


def _step_range(H: int, reward_max: float) -> np.ndarray:
    """:math:`v_{\\max,h} = (H-h) r_{\\max}` for ``h = 0..H-1``."""
    return (H - np.arange(H)) * reward_max


class UCBVI(Learner):
    """UCBVI with Hoeffding or Bernstein bonuses (see the module docstring for the equations)."""

    def __init__(self, H: int, S: int, A: int, n_episodes: int, n_replicates: int = 1,
                 bonus: BonusKind = "hoeffding", bonus_scale: float = 1.0, delta: float = 0.1,
                 reward_max: float = 1.0) -> None:
        if bonus not in ("hoeffding", "bernstein"):
            raise ValueError(f"bonus must be 'hoeffding' or 'bernstein', got {bonus!r}")
        if bonus_scale < 0:
            raise ValueError(f"bonus_scale must be >= 0, got {bonus_scale}")
        self.n, self.H, self.S, self.A = n_replicates, H, S, A
        self.model = CountModel(n_replicates, H, S, A)
        self.bonus_kind = bonus
        self.bonus_scale = float(bonus_scale)
        self.L = log_term(S, A, H, n_episodes, delta)
        self.v_max = _step_range(H, reward_max)
        self._cache: tuple | None = None

    # ------------------------------------------------------------ bonuses
    def hoeffding_bonus(self) -> np.ndarray:
        r""":math:`c (H-h)\sqrt{L/n}`; :math:`+\infty`-like (``v_max``) for unvisited pairs."""
        n = self.model.visits
        b = self.bonus_scale * self.v_max[:, None, None] * np.sqrt(self.L / np.maximum(n, 1))
        return np.where(n > 0, b, self.v_max[:, None, None])

    def _bonus_at(self, h: int, p_hat_h: np.ndarray, v_next: np.ndarray, pv: np.ndarray) -> np.ndarray:
        n = self.model.visits[:, h]
        if self.bonus_kind == "hoeffding":
            b = self.bonus_scale * self.v_max[h] * np.sqrt(self.L / np.maximum(n, 1))
        else:
            second = expected_next(p_hat_h, v_next**2)
            var = np.maximum(second - pv**2, 0.0)
            b = self.bonus_scale * (np.sqrt(2 * var * self.L / np.maximum(n, 1))
                                    + 7.0 * self.v_max[h] * self.L / (3.0 * np.maximum(n, 1)))
        return np.where(n > 0, b, self.v_max[h])

    # ------------------------------------------------------------ planning
    def optimistic(self) -> tuple[np.ndarray, np.ndarray]:
        r"""Optimistic :math:`\bar Q` ``[n, H, S, A]`` and :math:`\bar V` ``[n, H+1, S]``
        (cached until the next episode)."""
        if self._cache is None:
            P, R = self.model.p_hat(), self.model.r_hat()
            n, H, S, A = self.n, self.H, self.S, self.A
            if self.bonus_kind == "hoeffding":  # the bonus does not depend on V: plan in one batched call
                sol = value_iteration(P, R, bonus=self.hoeffding_bonus(), v_max=self.v_max)
                Q, V = sol.Q, sol.V
            else:
                Q = np.zeros((n, H, S, A))
                V = np.zeros((n, H + 1, S))
                for h in range(H - 1, -1, -1):
                    pv = expected_next(P[:, h], V[:, h + 1])
                    q = np.minimum(R[:, h] + pv + self._bonus_at(h, P[:, h], V[:, h + 1], pv), self.v_max[h])
                    Q[:, h] = q
                    V[:, h] = q.max(-1)
            self._cache = (Q, V, P, R)
        return self._cache[0], self._cache[1]

    def greedy_policy(self) -> np.ndarray:
        Q, _ = self.optimistic()
        return np.eye(self.A)[np.argmax(Q, axis=-1)]

    def pessimistic_value(self, policy: np.ndarray) -> np.ndarray:
        r"""Lower confidence value :math:`\underline V^\pi` ``[..., n, H+1, S]`` of a Markov policy.

        :math:`\underline V_h(s) = \max\big(0, \sum_a \pi_h(a|s)(\hat r_h + \hat P_h\underline V_{h+1} - b_h)(s,a)\big)`
        with the Hoeffding bonus :math:`b_h` (``v_max`` for unvisited pairs, so they
        contribute 0).  ``policy`` may carry extra leading axes before the replicate axis.
        """
        self.optimistic()
        _, _, P, R = self._cache
        n, H, S, A = self.n, self.H, self.S, self.A
        pi = np.asarray(policy, dtype=float)
        lead = pi.shape[:-4]
        B = int(np.prod(lead))
        # candidates as the last axis: one (S*A, S) @ (S, B) product per replicate and step
        pi = np.moveaxis(np.broadcast_to(pi, (*lead, n, H, S, A)).reshape(B, n, H, S, A), 0, -1)
        r_low = (R - self.hoeffding_bonus())[..., None]
        P_flat = P.reshape(n, H, S * A, S)
        V = np.zeros((n, H + 1, S, B))
        for h in range(H - 1, -1, -1):
            q = r_low[:, h] + np.matmul(P_flat[:, h], V[:, h + 1]).reshape(n, S, A, B)
            V[:, h] = np.maximum(np.sum(pi[:, h] * q, axis=2), 0.0)
        return np.moveaxis(V, -1, 0).reshape(*lead, n, H + 1, S)

    def plan(self) -> Plan:
        return Plan(self.greedy_policy())

    def observe(self, traj: Trajectories) -> None:
        self.model.update(traj)
        self._cache = None


class UCBVIBPI(UCBVI):
    r"""UCBVI for best-policy identification with the stopping rule
    :math:`\mu^\top(\bar V_1 - \underline V^{\bar\pi}_1) \le \varepsilon`.

    After stopping, a replicate keeps recommending the policy it stopped with;
    ``stop_episode[i]`` is the number of episodes it used (``-1`` while running).
    """

    def __init__(self, H: int, S: int, A: int, n_episodes: int, mu: np.ndarray, epsilon: float,
                 n_replicates: int = 1, **kwargs) -> None:
        super().__init__(H, S, A, n_episodes, n_replicates, **kwargs)
        if epsilon <= 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon}")
        self.mu = np.asarray(mu, dtype=float)
        self.epsilon = float(epsilon)
        self.episodes = 0
        self.stop_episode = np.full(n_replicates, -1)
        self.frozen = np.zeros((n_replicates, H, S, A))

    def gap(self) -> np.ndarray:
        """Optimistic minus pessimistic value of the greedy policy at the initial distribution."""
        _, V = self.optimistic()
        lower = self.pessimistic_value(self.greedy_policy())
        return (V[:, 0] - lower[:, 0]) @ self.mu

    def _update_stops(self) -> None:
        running = self.stop_episode < 0
        if not running.any():
            return
        newly = running & (self.gap() <= self.epsilon)
        self.frozen[newly] = self.greedy_policy()[newly]
        self.stop_episode[newly] = self.episodes

    def plan(self) -> Plan:
        self._update_stops()
        return Plan(self.greedy_policy())

    def recommendation(self) -> np.ndarray:
        self._update_stops()
        return np.where((self.stop_episode >= 0)[:, None, None, None], self.frozen, self.greedy_policy())

    def observe(self, traj: Trajectories) -> None:
        super().observe(traj)
        self.episodes += 1


class QLearningUCBH(Learner):
    """Optimistic Q-learning with Hoeffding bonus (UCB-H); model-free."""

    def __init__(self, H: int, S: int, A: int, n_episodes: int, n_replicates: int = 1, bonus_scale: float = 1.0,
                 delta: float = 0.1, reward_max: float = 1.0) -> None:
        self.n, self.H, self.S, self.A = n_replicates, H, S, A
        self.v_max = _step_range(H, reward_max)
        self.Q = np.broadcast_to(self.v_max[:, None, None], (n_replicates, H, S, A)).copy()
        self.counts = np.zeros((n_replicates, H, S, A))
        self.L = log_term(S, A, H, n_episodes, delta)
        self.bonus_scale = float(bonus_scale)

    def value(self) -> np.ndarray:
        V = np.zeros((self.n, self.H + 1, self.S))
        V[:, :-1] = np.minimum(self.Q.max(-1), self.v_max[:, None])
        return V

    def plan(self) -> Plan:
        return Plan(np.eye(self.A)[np.argmax(self.Q, axis=-1)])

    def observe(self, traj: Trajectories) -> None:
        V = self.value()
        rows = np.arange(self.n)
        H = self.H
        for h in range(H):  # sequential: the update at step h uses V_{h+1} before this episode's update
            s, a, s2 = traj.states[:, h], traj.actions[:, h], traj.states[:, h + 1]
            self.counts[rows, h, s, a] += 1
            t = self.counts[rows, h, s, a]
            alpha = (H + 1) / (H + t)
            bonus = self.bonus_scale * np.sqrt(H**3 * self.L / t)
            target = traj.rewards[:, h] + V[rows, h + 1, s2] + bonus
            self.Q[rows, h, s, a] = (1 - alpha) * self.Q[rows, h, s, a] + alpha * target


class PSRL(Learner):
    """Posterior-sampling RL with Dirichlet transitions and Beta (Bernoulli) reward posteriors."""

    def __init__(self, H: int, S: int, A: int, rng: np.random.Generator, n_replicates: int = 1,
                 prior_count: float = 1.0) -> None:
        if prior_count <= 0:
            raise ValueError(f"prior_count must be > 0, got {prior_count}")
        self.n, self.H, self.S, self.A = n_replicates, H, S, A
        self.model = CountModel(n_replicates, H, S, A)
        self.prior = float(prior_count) / S
        self.rng = rng

    def sample_model(self) -> tuple[np.ndarray, np.ndarray]:
        gam = self.rng.gamma(self.model.N + self.prior)
        P = gam / np.maximum(gam.sum(-1, keepdims=True), 1e-300)
        succ = np.clip(self.model.reward_sum, 0.0, self.model.visits)
        R = self.rng.beta(1.0 + succ, 1.0 + self.model.visits - succ)
        return P, R

    def plan(self) -> Plan:
        P, R = self.sample_model()
        return Plan(value_iteration(P, R).policy)

    def recommendation(self) -> np.ndarray:
        return value_iteration(self.model.p_hat(), self.model.r_hat()).policy

    def observe(self, traj: Trajectories) -> None:
        self.model.update(traj)


class ExploreThenCommit(Learner):
    """Uniform exploration for ``n_explore`` episodes, then the empirical model's greedy policy."""

    def __init__(self, H: int, S: int, A: int, n_explore: int, n_replicates: int = 1) -> None:
        if n_explore < 0:
            raise ValueError(f"n_explore must be >= 0, got {n_explore}")
        self.n, self.H, self.S, self.A = n_replicates, H, S, A
        self.model = CountModel(n_replicates, H, S, A)
        self.n_explore = n_explore
        self.episodes = 0
        self._committed: np.ndarray | None = None

    def recommendation(self) -> np.ndarray:
        return value_iteration(self.model.p_hat(), self.model.r_hat()).policy

    def plan(self) -> Plan:
        if self.episodes < self.n_explore:
            return Plan(np.full((self.n, self.H, self.S, self.A), 1.0 / self.A))
        if self._committed is None:
            self._committed = self.recommendation()
        return Plan(self._committed)

    def observe(self, traj: Trajectories) -> None:
        if self.episodes < self.n_explore:
            self.model.update(traj)
        self.episodes += 1


@dataclass(frozen=True)
class LearningCurve:
    """Exact values per episode and replicate: ``played[k, i]`` and (optionally) ``recommended[k, i]``."""

    played: np.ndarray
    recommended: np.ndarray | None
    v_star: float

    def regret(self) -> np.ndarray:
        """Cumulative regret ``[K, n]``: :math:`\\sum_{k' \\le k} (V^* - V^{\\pi_{k'}})`."""
        return np.cumsum(self.v_star - self.played, axis=0)


def run_learner(mdp: FiniteHorizonMDP, learner: Learner, n_episodes: int, rng: np.random.Generator,
                record_recommendation: bool = False) -> LearningCurve:
    """Play ``n_episodes`` episodes on ``mdp``; record the exact value of every played policy."""
    if (learner.H, learner.S, learner.A) != (mdp.H, mdp.S, mdp.A):
        raise ValueError(f"learner is for (H, S, A) = {(learner.H, learner.S, learner.A)}, "
                         f"mdp is {(mdp.H, mdp.S, mdp.A)}")
    played = np.zeros((n_episodes, learner.n))
    recommended = np.zeros((n_episodes, learner.n)) if record_recommendation else None
    for k in range(n_episodes):
        plan = learner.plan()
        played[k] = plan.exact_value(mdp)
        if recommended is not None:
            recommended[k] = policy_value(mdp.P, mdp.R, mdp.mu, learner.recommendation())
        learner.observe(rollout(mdp, plan.policy, rng))
    return LearningCurve(played, recommended, mdp.optimal_value())
