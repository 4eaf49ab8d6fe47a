r"""Conservative exploration under episode-wise constraints: StepMix, EpsMix and a budget baseline.

Li, Huang, Shen & Yang, *Near-optimal Conservative Exploration in Reinforcement Learning
under Episode-wise Constraints* (ICML 2023, arXiv 2306.06265).

Setting.  A safe baseline policy :math:`\pi_b` with known value :math:`V^{\pi_b}_1(s_1)` is
given.  Every episode's policy :math:`\pi_k` must satisfy the *episode-wise* constraint

.. math:: V^{\pi_k}_1(s_1) \ge (1-\alpha)\, V^{\pi_b}_1(s_1).

All three learners below run UCBVI (:class:`~latentlab.tabular.learners.UCBVI`) to get
an optimistic greedy policy :math:`\pi^k` and certify candidate policies with the
pessimistic evaluator :math:`\underline V^\pi` of
:meth:`~latentlab.tabular.learners.UCBVI.pessimistic_value` (empirical model minus the
Hoeffding bonus, clipped at 0).

* :class:`StepMix`: the step-mixing family :math:`\pi^k_{t,\rho}`
  (:func:`~latentlab.tabular.planning.step_mixture`): with ``order="baseline_first"``,
  :math:`\pi_b` at steps :math:`h<t`, :math:`\rho\pi^k + (1-\rho)\pi_b` at step :math:`t`,
  :math:`\pi^k` after (``"optimistic_first"`` swaps the roles).  It plays the most
  exploratory member (the most steps under :math:`\pi^k`, i.e. the largest
  :math:`(H-1-t)+\rho`) whose pessimistic value meets the constraint, searching
  :math:`\rho` on a grid of ``n_rho`` points for every :math:`t` in one batched
  evaluation; when no member is certified it plays :math:`\pi_b`.
* :class:`EpsMix`: the episode-level mixture: play :math:`\pi^k` with probability
  :math:`\varepsilon_k = \max\{\varepsilon\in[0,1] :
  \varepsilon \underline V^{\pi^k} + (1-\varepsilon)V^{\pi_b} \ge (1-\alpha)V^{\pi_b}\}`,
  else :math:`\pi_b` for the whole episode.  The constraint holds in expectation over
  the coin; :class:`~latentlab.tabular.learners.Plan` records the mixture, so the exact
  value reported is that expectation.
* :class:`BudgetConservativeUCBVI`: the *cumulative* constraint of Garcelon et al.
  (2020): play :math:`\pi^k` whenever the running budget
  :math:`\sum_{j<k} (\underline V_j - (1-\alpha)V^{\pi_b}) + \underline V^{\pi^k} - (1-\alpha)V^{\pi_b} \ge 0`
  (with :math:`\underline V_j = V^{\pi_b}` for baseline episodes), else :math:`\pi_b`.
  Slack accumulated while playing :math:`\pi_b` is spent on policies that may violate
  the per-episode constraint.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from latentlab.tabular.learners import UCBVI, Plan
from latentlab.tabular.planning import step_mixture

__all__ = ["StepMix", "EpsMix", "BudgetConservativeUCBVI", "softmax_baseline"]

Order = Literal["baseline_first", "optimistic_first"]


class _Conservative(UCBVI):
    """UCBVI plus a baseline policy, its known value and the conservatism level ``alpha``."""

    def __init__(self, H: int, S: int, A: int, n_episodes: int, baseline: np.ndarray, baseline_value: float,
                 mu: np.ndarray, alpha: float, n_replicates: int = 1, **kwargs) -> None:
        super().__init__(H, S, A, n_episodes, n_replicates, **kwargs)
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        baseline = np.asarray(baseline, dtype=float)
        if baseline.shape != (H, S, A):
            raise ValueError(f"baseline must have shape (H, S, A) = {(H, S, A)}, got {baseline.shape}")
        self.baseline = np.broadcast_to(baseline, (n_replicates, H, S, A))
        self.baseline_value = float(baseline_value)
        self.mu = np.asarray(mu, dtype=float)
        self.alpha = float(alpha)
        self.threshold = (1.0 - self.alpha) * self.baseline_value

    def lower_value(self, policy: np.ndarray) -> np.ndarray:
        """Pessimistic value at the initial distribution, ``[..., n]``."""
        return self.pessimistic_value(policy)[..., 0, :] @ self.mu


class StepMix(_Conservative):
    """StepMix: the most exploratory certified step-mixture of the baseline and the optimistic policy."""

    def __init__(self, *args, order: Order = "baseline_first", n_rho: int = 21, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if order not in ("baseline_first", "optimistic_first"):
            raise ValueError(f"order must be 'baseline_first' or 'optimistic_first', got {order!r}")
        if n_rho < 2:
            raise ValueError(f"n_rho must be >= 2, got {n_rho}")
        self.order = order
        t = np.arange(self.H)[:, None]
        rho = np.linspace(0.0, 1.0, n_rho)[None, :]
        self._t, self._rho = np.broadcast_arrays(t, rho)  # candidates [H, n_rho]
        # steps played under the optimistic policy: (H-1-t) + rho (baseline first) or t + (1 - rho)
        self._exploration = (self.H - 1 - self._t) + self._rho if order == "baseline_first" else self._t + 1 - self._rho
        self.last_exploration = np.zeros(self.n)

    def candidates(self, optimistic: np.ndarray) -> np.ndarray:
        """All mixtures :math:`\\pi_{t,\\rho}` as ``[H, n_rho, n, H, S, A]``."""
        first, second = (self.baseline, optimistic) if self.order == "baseline_first" else (optimistic, self.baseline)
        return step_mixture(first[None, None], second[None, None], self._t[..., None], self._rho[..., None])

    def plan(self) -> Plan:
        optimistic = self.greedy_policy()
        cands = self.candidates(optimistic)
        lower = self.lower_value(cands)  # [H, n_rho, n]
        score = np.where(lower >= self.threshold, self._exploration[..., None], -1.0).reshape(-1, self.n)
        best = np.argmax(score, axis=0)
        certified = score[best, np.arange(self.n)] >= 0
        flat = cands.reshape(-1, *cands.shape[2:])
        chosen = flat[best, np.arange(self.n)]
        policy = np.where(certified[:, None, None, None], chosen, self.baseline)
        self.last_exploration = np.where(certified, self._exploration.ravel()[best], 0.0)
        return Plan(policy)


class EpsMix(_Conservative):
    """EpsMix: play the optimistic policy for the whole episode with probability ``eps_k``."""

    def __init__(self, *args, rng: np.random.Generator, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rng = rng
        self.last_epsilon = np.zeros(self.n)

    def epsilon(self, lower_optimistic: np.ndarray) -> np.ndarray:
        r""":math:`\varepsilon_k = 1` if :math:`\underline V \ge (1-\alpha)V_b`,
        else :math:`\alpha V_b / (V_b - \underline V)` (clipped to [0, 1])."""
        slack = self.alpha * self.baseline_value
        deficit = self.baseline_value - lower_optimistic
        eps = np.where(deficit > 0, slack / np.maximum(deficit, 1e-300), 1.0)
        return np.where(lower_optimistic >= self.threshold, 1.0, np.clip(eps, 0.0, 1.0))

    def plan(self) -> Plan:
        optimistic = self.greedy_policy()
        eps = self.epsilon(self.lower_value(optimistic))
        self.last_epsilon = eps
        coin = self.rng.random(self.n) < eps
        policy = np.where(coin[:, None, None, None], optimistic, self.baseline)
        components = np.stack([optimistic, self.baseline], axis=1)
        return Plan(policy, components, np.stack([eps, 1.0 - eps], axis=1))


class BudgetConservativeUCBVI(_Conservative):
    """Conservative UCBVI with a cumulative (budget) constraint, in the spirit of Garcelon et al. (2020)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.budget = np.zeros(self.n)

    def plan(self) -> Plan:
        optimistic = self.greedy_policy()
        lower = self.lower_value(optimistic)
        play = self.budget + lower - self.threshold >= 0
        self.budget = self.budget + np.where(play, lower, self.baseline_value) - self.threshold
        return Plan(np.where(play[:, None, None, None], optimistic, self.baseline))


def softmax_baseline(Q: np.ndarray, value_of, target: float, low: float = -200.0, high: float = 200.0,
                     iters: int = 60) -> tuple[np.ndarray, float]:
    r"""A softmax-perturbed policy :math:`\pi_\beta \propto \exp(\beta Q^*)` with
    :math:`V^{\pi_\beta} \approx` ``target``.

    ``value_of(policy) -> float`` evaluates a policy exactly; :math:`\beta` is found by
    bisection on ``[low, high]`` (the value increases with :math:`\beta` in practice; a
    negative :math:`\beta` gives policies worse than uniform).  Returns
    :math:`(\pi_\beta, \beta)`.
    """
    def policy(beta: float) -> np.ndarray:
        logits = beta * (Q - Q.max(-1, keepdims=True))
        p = np.exp(logits)
        return p / p.sum(-1, keepdims=True)

    v_low, v_high = value_of(policy(low)), value_of(policy(high))
    if not v_low <= target <= v_high:
        raise ValueError(f"target must be in [{v_low:.4g}, {v_high:.4g}] (values at beta={low}, {high}), got {target}")
    for _ in range(iters):
        mid = 0.5 * (low + high)
        if value_of(policy(mid)) < target:
            low = mid
        else:
            high = mid
    return policy(high), high
