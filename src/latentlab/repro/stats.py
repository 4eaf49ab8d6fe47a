"""Statistics for claim checks: bootstrap CIs, paired comparisons, log-log slopes.

Everything here is a plain function of arrays of per-seed numbers; nothing knows
about papers.  The bootstrap uses its own fixed-seed generator so that a verdict
computed twice from the same runs is the same verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats as _sps

__all__ = [
    "Interval",
    "bootstrap_ci",
    "paired_comparison",
    "PairedComparison",
    "loglog_slope",
    "SlopeFit",
]

_BOOTSTRAP_SEED = 20_240_601


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float
    n: int

    def __str__(self) -> str:
        return f"{self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}]"


def _as_samples(samples: np.ndarray | list[float], name: str = "samples") -> np.ndarray:
    values = np.asarray(samples, dtype=float).ravel()
    if values.size == 0:
        raise ValueError(f"{name} must hold at least one number, got none")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite, got {values!r}")
    return values


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def bootstrap_ci(
    samples: np.ndarray | list[float],
    statistic: Callable[[np.ndarray], np.ndarray] | str = "mean",
    confidence: float = 0.95,
    n_boot: int = 10_000,
    seed: int = _BOOTSTRAP_SEED,
) -> Interval:
    r"""Percentile bootstrap interval of ``statistic`` over i.i.d. ``samples`` (one per seed).

    Draws ``n_boot`` resamples with replacement in one ``(n_boot, n)`` index array and
    returns the :math:`\alpha/2` and :math:`1-\alpha/2` quantiles of the statistic, with
    :math:`\alpha = 1 - \text{confidence}`.  With a single sample the interval is the
    point itself: one seed carries no information about spread.

    ``statistic`` is ``"mean"``, ``"median"`` or a function reducing the last axis.
    """
    values = _as_samples(samples)
    _check_confidence(confidence)
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    reduce = _reducer(statistic)
    estimate = float(reduce(values[None, :])[0])
    if values.size == 1:
        return Interval(estimate, estimate, estimate, confidence, 1)
    rng = np.random.default_rng(seed)
    resampled = values[rng.integers(0, values.size, size=(n_boot, values.size))]
    replicates = reduce(resampled)
    alpha = 1.0 - confidence
    low, high = np.quantile(replicates, [alpha / 2, 1 - alpha / 2])
    return Interval(estimate, float(low), float(high), confidence, int(values.size))


def _reducer(statistic: Callable[[np.ndarray], np.ndarray] | str) -> Callable[[np.ndarray], np.ndarray]:
    if statistic == "mean":
        return lambda x: np.mean(x, axis=-1)
    if statistic == "median":
        return lambda x: np.median(x, axis=-1)
    if callable(statistic):
        return statistic
    raise ValueError(f"statistic must be 'mean', 'median' or a callable, got {statistic!r}")


@dataclass(frozen=True)
class PairedComparison:
    """Difference ``a - b`` over paired seeds: bootstrap CI and an exact sign-flip p-value."""

    difference: Interval
    p_value: float
    n: int


def paired_comparison(
    a: np.ndarray | list[float],
    b: np.ndarray | list[float],
    confidence: float = 0.95,
    n_boot: int = 10_000,
    n_permutations: int = 20_000,
) -> PairedComparison:
    r"""Compare two methods run on the same seeds.

    With :math:`d_i = a_i - b_i`, returns the bootstrap CI of :math:`\bar d` and the
    two-sided sign-flip permutation p-value of :math:`H_0: d_i \overset{d}{=} -d_i`.
    For :math:`n \le 16` all :math:`2^n` sign patterns are enumerated (exact test);
    otherwise ``n_permutations`` random patterns are drawn.
    """
    x = _as_samples(a, "a")
    y = _as_samples(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"a and b must be paired (same length), got {x.size} and {y.size}")
    d = x - y
    interval = bootstrap_ci(d, confidence=confidence, n_boot=n_boot)
    n = d.size
    if n <= 16:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
    else:
        rng = np.random.default_rng(_BOOTSTRAP_SEED + 1)
        signs = rng.choice(np.array([-1, 1]), size=(n_permutations, n))
    observed = abs(d.mean())
    null = np.abs((signs * d).mean(axis=1))
    p_value = float(np.mean(null >= observed - 1e-12))
    return PairedComparison(interval, p_value, n)


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares fit of ``log y = intercept + slope * log x``."""

    slope: Interval
    intercept: float
    r_squared: float


def loglog_slope(x: np.ndarray | list[float], y: np.ndarray | list[float], confidence: float = 0.95) -> SlopeFit:
    r"""Slope of :math:`\log y` against :math:`\log x` with a Student-t confidence interval.

    ``y`` may be 1-D (one value per ``x``) or 2-D ``(n_seeds, len(x))``; in the second case
    every seed's point enters the regression, so the interval reflects seed spread.
    Rates such as :math:`\text{error} \propto N^{-1/2}` are checked by comparing the slope's
    interval with the predicted exponent.
    """
    _check_confidence(confidence)
    xs = np.asarray(x, dtype=float).ravel()
    ys = np.asarray(y, dtype=float)
    if ys.ndim == 1:
        ys = ys[None, :]
    if ys.ndim != 2 or ys.shape[1] != xs.size:
        raise ValueError(f"y must have shape (len(x),) or (n_seeds, len(x)); got {ys.shape} for len(x)={xs.size}")
    if xs.size < 2 or np.unique(xs).size < 2:
        raise ValueError("x must hold at least two distinct values")
    if np.any(xs <= 0) or np.any(ys <= 0):
        raise ValueError("x and y must be positive for a log-log fit")
    log_x = np.broadcast_to(np.log(xs), ys.shape).ravel()
    log_y = np.log(ys).ravel()
    fit = _sps.linregress(log_x, log_y)
    dof = log_x.size - 2
    if dof > 0:
        half = float(_sps.t.ppf(0.5 + confidence / 2, dof) * fit.stderr)
    else:
        half = 0.0
    slope = Interval(float(fit.slope), float(fit.slope - half), float(fit.slope + half), confidence, int(log_x.size))
    return SlopeFit(slope, float(fit.intercept), float(fit.rvalue**2))
