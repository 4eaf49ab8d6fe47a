r"""Regret statistics: sublinearity tests, the EVOLvE functional fit, win-rate tables.

* :func:`trend_test` — the trend-checking test of Park et al. (2025): :math:`H_0`: the
  average regret :math:`\mathrm{Reg}_t/t` does not decrease.  With checkpoints
  :math:`t_1<\dots<t_m`, :math:`s=\#\{i:\mathrm{Reg}_{t_{i+1}}/t_{i+1}<\mathrm{Reg}_{t_i}/t_i\}`
  and :math:`p=\sum_{k\ge s}\binom{m-1}{k}2^{-(m-1)}`.
* :func:`regression_test` — fit :math:`\log\mathrm{Reg}_t=\beta_0\log t+\beta_1` on the
  checkpoints with positive regret; one-sided t-test of :math:`H_0:\beta_0\ge1`.
* :func:`fit_regret_curve` — EVOLvE's functional form (spec reconstruction, *verify*):
  :math:`f(T)=\lambda_1(\log T)^\alpha/\Delta_{\min}+\beta T+\lambda_2` with non-negative
  :math:`\lambda_1,\beta,\lambda_2` (NNLS for each :math:`\alpha` on a grid), and
  :func:`classify_regret` — *linear* when the linear term carries at least half of the
  fitted final regret, :math:`\beta T/f(T)\ge 1/2` (our rule), else *sublinear*.
* :func:`win_rate_table` — pairwise wins: A beats B on an environment when its mean final
  regret is lower and Welch's t-test gives :math:`p<0.05`; win-rate(A) = wins /
  (#environments x #opponents).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

__all__ = [
    "checkpoints",
    "TrendTest",
    "trend_test",
    "RegressionTest",
    "regression_test",
    "RegretFit",
    "fit_regret_curve",
    "classify_regret",
    "win_rate_table",
]


def checkpoints(horizon: int, n_points: int = 20, step: int = 1) -> np.ndarray:
    """``n_points`` equally spaced rounds ``t`` in ``[1, horizon]``, multiples of ``step`` (1-based)."""
    if horizon < 2:
        raise ValueError(f"horizon must be >= 2, got {horizon}")
    if n_points < 2:
        raise ValueError(f"n_points must be >= 2, got {n_points}")
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    raw = np.linspace(step, horizon, n_points)
    ts = np.unique(np.maximum(step, (raw // step) * step).astype(int))
    return ts[ts <= horizon]


@dataclass(frozen=True)
class TrendTest:
    decreases: int
    comparisons: int
    p_value: float


def trend_test(regret: np.ndarray, at: np.ndarray | None = None) -> TrendTest:
    """Trend-checking test on a cumulative regret curve ``regret[t-1] = Reg_t`` (1-D)."""
    regret = np.asarray(regret, dtype=float)
    if regret.ndim != 1 or regret.size < 3:
        raise ValueError(f"regret must be a 1-D curve of length >= 3, got shape {regret.shape}")
    ts = np.arange(1, regret.size + 1) if at is None else np.asarray(at, dtype=int)
    if ts.min() < 1 or ts.max() > regret.size:
        raise ValueError(f"checkpoints must lie in [1, {regret.size}]")
    average = regret[ts - 1] / ts
    decreases = int(np.sum(average[1:] < average[:-1]))
    m = average.size - 1
    p_value = float(stats.binom.sf(decreases - 1, m, 0.5))
    return TrendTest(decreases, m, p_value)


@dataclass(frozen=True)
class RegressionTest:
    slope: float
    intercept: float
    p_value: float
    n_points: int


def regression_test(regret: np.ndarray, at: np.ndarray | None = None) -> RegressionTest:
    r"""Log-log regression of :math:`\mathrm{Reg}_t` on :math:`t`; p-value of :math:`H_0:\beta_0\ge 1`.

    Checkpoints with :math:`\mathrm{Reg}_t\le0` are dropped (the log is undefined there); with
    fewer than 3 positive points the curve is bounded by zero and reported as slope 0, p 0.
    """
    regret = np.asarray(regret, dtype=float)
    if regret.ndim != 1 or regret.size < 3:
        raise ValueError(f"regret must be a 1-D curve of length >= 3, got shape {regret.shape}")
    ts = np.arange(1, regret.size + 1) if at is None else np.asarray(at, dtype=int)
    values = regret[ts - 1]
    keep = values > 0
    if keep.sum() < 3:
        return RegressionTest(0.0, 0.0, 0.0, int(keep.sum()))
    fit = stats.linregress(np.log(ts[keep]), np.log(values[keep]))
    dof = int(keep.sum()) - 2
    if fit.stderr == 0:
        p_value = 0.0 if fit.slope < 1 else 1.0
    else:
        p_value = float(stats.t.cdf((fit.slope - 1.0) / fit.stderr, dof))
    return RegressionTest(float(fit.slope), float(fit.intercept), p_value, int(keep.sum()))


@dataclass(frozen=True)
class RegretFit:
    r""":math:`f(T)=\lambda_1(\log T)^\alpha/\Delta_{\min}+\beta T+\lambda_2`."""

    lambda1: float
    alpha: float
    beta: float
    lambda2: float
    delta_min: float
    sse: float

    def __call__(self, t: np.ndarray | float) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        return self.lambda1 * np.log(t) ** self.alpha / self.delta_min + self.beta * t + self.lambda2

    def linear_share(self, horizon: float) -> float:
        """:math:`\\beta T/f(T)`: the part of the fitted final regret explained by the linear term."""
        total = float(self(horizon))
        return float(self.beta * horizon / total) if total > 0 else 0.0


def fit_regret_curve(ts: np.ndarray, regret: np.ndarray, delta_min: float,
                     alphas: Sequence[float] = tuple(np.linspace(0.0, 3.0, 31))) -> RegretFit:
    """Non-negative least squares for each ``alpha`` in the grid; the best fit by squared error."""
    ts = np.asarray(ts, dtype=float)
    regret = np.asarray(regret, dtype=float)
    if ts.shape != regret.shape or ts.ndim != 1 or ts.size < 4:
        raise ValueError(f"ts and regret must be 1-D of equal length >= 4, got {ts.shape} and {regret.shape}")
    if np.any(ts < 2):
        raise ValueError("ts must be >= 2 (log T must be positive)")
    if delta_min <= 0:
        raise ValueError(f"delta_min must be > 0, got {delta_min}")
    scale = max(float(np.abs(regret).max()), 1e-12)
    best: RegretFit | None = None
    for alpha in alphas:
        design = np.stack([np.log(ts) ** alpha / delta_min, ts, np.ones_like(ts)], axis=1)
        col_scale = np.abs(design).max(axis=0)
        coef, residual = optimize.nnls(design / col_scale, regret / scale)
        coef = coef / col_scale * scale
        sse = float(residual**2 * scale**2)
        if best is None or sse < best.sse - 1e-12:
            best = RegretFit(float(coef[0]), float(alpha), float(coef[1]), float(coef[2]), float(delta_min), sse)
    assert best is not None
    return best


def classify_regret(fit: RegretFit, horizon: float, linear_share: float = 0.5) -> str:
    """``"linear"`` when the linear term explains at least ``linear_share`` of f(T), else ``"sublinear"``."""
    if not 0 < linear_share < 1:
        raise ValueError(f"linear_share must be in (0, 1), got {linear_share}")
    return "linear" if fit.linear_share(horizon) >= linear_share else "sublinear"


def win_rate_table(final_regret: Mapping[str, Mapping[str, np.ndarray]], alpha: float = 0.05) -> dict[str, float]:
    """``final_regret[method][env]`` = per-trial final regrets -> win-rate per method."""
    methods = list(final_regret)
    if len(methods) < 2:
        raise ValueError("final_regret needs at least two methods")
    envs = list(final_regret[methods[0]])
    wins = {m: 0 for m in methods}
    for env in envs:
        for a in methods:
            for b in methods:
                if a == b:
                    continue
                x = np.asarray(final_regret[a][env], dtype=float)
                y = np.asarray(final_regret[b][env], dtype=float)
                if x.mean() >= y.mean():
                    continue
                if np.std(x) == 0 and np.std(y) == 0:
                    wins[a] += 1
                    continue
                p = stats.ttest_ind(x, y, equal_var=False).pvalue
                if np.isfinite(p) and p < alpha:
                    wins[a] += 1
    denominator = len(envs) * (len(methods) - 1)
    return {m: wins[m] / denominator for m in methods}
