r"""Metrics on exact per-episode values: regret, sample complexity, constraint violations."""

from __future__ import annotations

import numpy as np

__all__ = ["cumulative_regret", "sample_complexity", "constraint_violations"]


def cumulative_regret(v_star: float | np.ndarray, values: np.ndarray) -> np.ndarray:
    r""":math:`\mathrm{Reg}(k) = \sum_{k' \le k} (V^* - V^{\pi_{k'}})` along axis 0 of ``values[K, ...]``."""
    return np.cumsum(np.asarray(v_star) - np.asarray(values, dtype=float), axis=0)


def sample_complexity(values: np.ndarray, v_star: float | np.ndarray, epsilon: float) -> np.ndarray:
    r"""First episode :math:`k` from which every output policy is :math:`\varepsilon`-optimal.

    ``values[k, ...]`` is the exact value of the policy output after ``k`` episodes. Returns,
    per trailing index, the smallest ``k`` with :math:`V^* - V_{k'} \le \varepsilon` for all
    :math:`k' \ge k` in the record, or ``inf`` when the last output is not ε-optimal.
    """
    if epsilon <= 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon}")
    values = np.asarray(values, dtype=float)
    bad = (np.asarray(v_star) - values) > epsilon
    K = values.shape[0]
    # last bad index + 1; reversed argmax finds the last True
    any_bad = bad.any(axis=0)
    last_bad = K - 1 - np.argmax(bad[::-1], axis=0)
    first_good = np.where(any_bad, last_bad + 1, 0).astype(float)
    return np.where(first_good >= K, np.inf, first_good)


def constraint_violations(values: np.ndarray, threshold: float | np.ndarray, tol: float = 1e-9) -> np.ndarray:
    r"""Number of episodes with :math:`V^{\pi_k} < \text{threshold}` (axis 0), with a round-off tolerance."""
    return np.sum(np.asarray(values) < np.asarray(threshold) - tol, axis=0)
