r"""Fractional Brownian motion: exact covariances and simulation, and its Markov approximation.

* Type II (Riemann–Liouville) fBM :math:`B^H(t)=\frac1{\Gamma(H+\frac12)}\int_0^t(t-s)^{H-\frac12}dW_s`
  has, for :math:`s\le t` and :math:`a=H-\frac12`,
  :math:`\mathrm{Cov}(B^H_s,B^H_t)=\frac{t^{a}s^{a+1}}{(a+1)\Gamma(a+1)^2}\,{}_2F_1(-a,1;a+2;s/t)`
  (:func:`type2_covariance`; the integral :math:`\int_0^s(t-u)^a(s-u)^a du` after a Pfaff
  transformation), and :math:`\mathrm{Var}\,B^H_t=t^{2H}/(2H\,\Gamma(H+\frac12)^2)`.
* Type I (Mandelbrot–van Ness) fBM: :math:`\frac12(s^{2H}+t^{2H}-|t-s|^{2H})` (:func:`type1_covariance`).
* :func:`sample_fbm` — exact draws on a grid by Cholesky factorisation of the covariance.
* Markov approximation (Daems et al. 2024): :math:`Y_k(t)=\int_0^te^{-\gamma_k(t-s)}dW_s`
  (:math:`dY_k=-\gamma_kY_kdt+dW_t`), :math:`\hat B^H=\sum_k\omega_kY_k`.  The weights minimising
  :math:`\int_0^TE[(B^H_t-\hat B^H_t)^2]dt` solve :math:`A\omega=b` with
  :math:`A_{ij}=\frac1{\gamma_i+\gamma_j}\big(T+\frac{e^{-(\gamma_i+\gamma_j)T}-1}{\gamma_i+\gamma_j}\big)`,
  :math:`b_k=\frac{T}{\gamma_k^{H+1/2}}P(H+\tfrac12,\gamma_kT)-\frac{H+1/2}{\gamma_k^{H+3/2}}P(H+\tfrac32,\gamma_kT)`
  (:math:`P` the regularised lower incomplete gamma) — :func:`optimal_weights`; relative
  error :math:`1-b^\top\omega/c`, :math:`c=\frac{T^{2H+1}}{2H(2H+1)\Gamma(H+1/2)^2}`.
  :func:`markov_approximation_covariance` gives
  :math:`\mathrm{Cov}(\hat B_s,\hat B_t)=
  \sum_{ij}\omega_i\omega_j e^{-\gamma_is-\gamma_jt}\frac{e^{(\gamma_i+\gamma_j)\min(s,t)}-1}{\gamma_i+\gamma_j}`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gamma as gamma_fn
from scipy.special import gammainc, hyp2f1

__all__ = [
    "MarkovApproximation",
    "type1_covariance",
    "type2_covariance",
    "covariance_matrix",
    "sample_fbm",
    "gamma_grid",
    "optimal_weights",
    "markov_approximation_covariance",
    "optimal_weights_torch",
    "covariance_max_error",
    "select_gamma_max",
    "variogram_hurst",
]


def _check_hurst(hurst: float) -> None:
    if not 0.0 < hurst < 1.0:
        raise ValueError(f"hurst must be in (0, 1), got {hurst}")


def type1_covariance(s: np.ndarray, t: np.ndarray, hurst: float) -> np.ndarray:
    r"""Type I fBM: :math:`\frac12(s^{2H}+t^{2H}-|t-s|^{2H})`, broadcast over ``s, t >= 0``."""
    _check_hurst(hurst)
    s, t = np.asarray(s, dtype=float), np.asarray(t, dtype=float)
    h2 = 2 * hurst
    return 0.5 * (s**h2 + t**h2 - np.abs(t - s) ** h2)


def type2_covariance(s: np.ndarray, t: np.ndarray, hurst: float) -> np.ndarray:
    r"""Type II (Riemann–Liouville) fBM covariance, broadcast over ``s, t >= 0``."""
    _check_hurst(hurst)
    s, t = np.broadcast_arrays(np.asarray(s, dtype=float), np.asarray(t, dtype=float))
    if np.any(s < 0) or np.any(t < 0):
        raise ValueError("times s, t must be >= 0")
    lo, hi = np.minimum(s, t), np.maximum(s, t)
    a = hurst - 0.5
    out = np.zeros(lo.shape)
    pos = lo > 0
    ratio = lo[pos] / hi[pos]
    out[pos] = hi[pos] ** a * lo[pos] ** (a + 1) / (a + 1) * hyp2f1(-a, 1.0, a + 2, ratio)
    return out / gamma_fn(hurst + 0.5) ** 2


def covariance_matrix(grid: np.ndarray, hurst: float, kind: str = "II") -> np.ndarray:
    """Covariance of fBM of ``kind`` ('I' or 'II') on ``grid`` (positive times)."""
    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 1 or np.any(grid <= 0):
        raise ValueError("grid must be a 1-D array of positive times")
    if kind not in ("I", "II"):
        raise ValueError(f"kind must be 'I' or 'II', got {kind!r}")
    fn = type1_covariance if kind == "I" else type2_covariance
    return fn(grid[:, None], grid[None, :], hurst)


def sample_fbm(grid: np.ndarray, hurst: float, n_paths: int, rng: np.random.Generator,
               kind: str = "II") -> np.ndarray:
    """Exact draws ``(n_paths, len(grid))`` of fBM on ``grid`` (Cholesky of the covariance)."""
    if n_paths < 1:
        raise ValueError(f"n_paths must be >= 1, got {n_paths}")
    cov = covariance_matrix(grid, hurst, kind)
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(cov.shape[0]) * np.trace(cov) / cov.shape[0])
    return rng.standard_normal((n_paths, cov.shape[0])) @ chol.T


def gamma_grid(n_terms: int, gamma_max: float = 20.0) -> np.ndarray:
    r"""Geometric grid :math:`\gamma_k=r^{k-(K+1)/2}`, :math:`r=\gamma_{\max}^{2/(K-1)}`.

    Centred at 1; :math:`K=1` gives :math:`\gamma=1`.
    """
    if n_terms < 1:
        raise ValueError(f"n_terms must be >= 1, got {n_terms}")
    if gamma_max <= 1:
        raise ValueError(f"gamma_max must be > 1, got {gamma_max}")
    if n_terms == 1:
        return np.ones(1)
    r = gamma_max ** (2.0 / (n_terms - 1))
    return r ** (np.arange(1, n_terms + 1) - (n_terms + 1) / 2)


@dataclass(frozen=True)
class MarkovApproximation:
    """Rates ``gammas``, optimal ``weights`` and the ``relative_error`` of the approximation on ``[0, horizon]``."""

    hurst: float
    gammas: np.ndarray
    weights: np.ndarray
    relative_error: float
    horizon: float


def _gram(gammas: np.ndarray, horizon: float) -> np.ndarray:
    g = gammas[:, None] + gammas[None, :]
    return (horizon + np.expm1(-g * horizon) / g) / g


def optimal_weights(hurst: float, gammas: np.ndarray, horizon: float = 1.0) -> MarkovApproximation:
    """Closed-form MSE-optimal weights of the Markov approximation of Type II fBM."""
    _check_hurst(hurst)
    gammas = np.asarray(gammas, dtype=float)
    if gammas.ndim != 1 or np.any(gammas <= 0):
        raise ValueError("gammas must be a 1-D array of positive rates")
    if horizon <= 0:
        raise ValueError(f"horizon must be > 0, got {horizon}")
    h = hurst + 0.5
    b = (horizon / gammas**h * gammainc(h, gammas * horizon)
         - h / gammas ** (h + 1) * gammainc(h + 1, gammas * horizon))
    A = _gram(gammas, horizon)
    weights = np.linalg.solve(A, b)
    c = horizon ** (2 * hurst + 1) / (2 * hurst * (2 * hurst + 1) * gamma_fn(h) ** 2)
    return MarkovApproximation(hurst, gammas, weights, float(1 - b @ weights / c), float(horizon))


def markov_approximation_covariance(s: np.ndarray, t: np.ndarray, approx: MarkovApproximation) -> np.ndarray:
    """Covariance of the Markov approximation :math:`\\sum_k\\omega_kY_k` at times ``s, t`` (broadcast)."""
    s, t = np.broadcast_arrays(np.asarray(s, dtype=float), np.asarray(t, dtype=float))
    g, w = approx.gammas, approx.weights
    gi, gj = g[:, None], g[None, :]
    m = np.minimum(s, t)[..., None, None]
    decay = np.exp(-gi * (s[..., None, None] - m) - gj * (t[..., None, None] - m))
    cross = decay * -np.expm1(-(gi + gj) * m) / (gi + gj)
    return np.einsum("...ij,i,j->...", cross, w, w)


def covariance_max_error(hurst: float, gammas: np.ndarray, horizon: float = 1.0, n_grid: int = 20) -> float:
    r"""Max absolute error :math:`\max_{ij}|\mathrm{Cov}(\hat B_{s_i},\hat B_{s_j})-\mathrm{Cov}(B^H_{s_i},B^H_{s_j})|`
    of the optimal Markov approximation on the grid :math:`s_i=iT/n`, :math:`i=1..n` (``n = n_grid``)."""
    if n_grid < 1:
        raise ValueError(f"n_grid must be >= 1, got {n_grid}")
    approx = optimal_weights(hurst, gammas, horizon)
    grid = np.linspace(horizon / n_grid, horizon, n_grid)
    exact = type2_covariance(grid[:, None], grid[None, :], hurst)
    return float(np.max(np.abs(markov_approximation_covariance(grid[:, None], grid[None, :], approx) - exact)))


def select_gamma_max(hurst: float, n_terms: int, candidates=(20.0, 50.0, 100.0), tol: float = 0.01,
                     horizon: float = 1.0, n_grid: int = 20) -> float:
    r"""Smallest :math:`\gamma_{\max}` in ``candidates`` whose :func:`gamma_grid` gives a covariance error
    (:func:`covariance_max_error`) :math:`\le` ``tol`` for this :math:`H` — the known-answer check used to
    pick the OU bank (rough :math:`H` needs a wider :math:`\gamma` range, hence a smaller Euler step
    :math:`dt\lesssim0.2/\gamma_{\max}`).  Raises ``ValueError`` when no candidate meets ``tol``."""
    if tol <= 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    errors = {}
    for gamma_max in sorted(float(c) for c in candidates):
        errors[gamma_max] = covariance_max_error(hurst, gamma_grid(n_terms, gamma_max), horizon, n_grid)
        if errors[gamma_max] <= tol:
            return gamma_max
    raise ValueError(f"no gamma_max in candidates={tuple(candidates)} reaches covariance error tol={tol} for "
                     f"hurst={hurst}, n_terms={n_terms}: errors {errors}")


def optimal_weights_torch(hurst, gammas: np.ndarray, horizon: float = 1.0, n_nodes: int = 128):
    r"""Differentiable (torch) optimal weights :math:`\omega(H)` for a learnable Hurst index.

    ``torch.special.gammainc`` has no gradient in its first argument, so :math:`b` is computed
    from its integral form :math:`b_k=\frac1{\Gamma(H+\frac12)}\int_0^T(T-v)v^{H-\frac12}e^{-\gamma_kv}dv`
    with :math:`v=Tu^4` (smooth integrand) and ``n_nodes`` Gauss–Legendre nodes; :math:`A`
    does not depend on :math:`H`.  ``hurst`` is a scalar tensor; returns a float64 tensor ``(K,)``.
    """
    import torch

    gammas = np.asarray(gammas, dtype=float)
    if gammas.ndim != 1 or np.any(gammas <= 0):
        raise ValueError("gammas must be a 1-D array of positive rates")
    if horizon <= 0:
        raise ValueError(f"horizon must be > 0, got {horizon}")
    hurst = torch.as_tensor(hurst, dtype=torch.float64)
    if not 0.0 < float(hurst.detach()) < 1.0:
        raise ValueError(f"hurst must be in (0, 1), got {float(hurst.detach())}")
    nodes, wts = np.polynomial.legendre.leggauss(n_nodes)
    u = torch.as_tensor((nodes + 1) / 2, dtype=torch.float64)
    w = torch.as_tensor(wts / 2, dtype=torch.float64)
    g = torch.as_tensor(gammas, dtype=torch.float64)[:, None]
    p, a1 = 4.0, hurst + 0.5
    integrand = p * horizon ** (a1 + 1) * (1 - u**p) * u ** (p * a1 - 1) * torch.exp(-g * horizon * u**p)
    b = (integrand * w).sum(dim=1) / torch.exp(torch.lgamma(a1))
    A = torch.as_tensor(_gram(gammas, horizon), dtype=torch.float64)
    return torch.linalg.solve(A, b)


def variogram_hurst(values: np.ndarray, times: np.ndarray, max_lag: float, n_bins: int = 8,
                    noise_var: float = 0.0) -> float:
    r"""Classical Hurst estimate from the variogram of (possibly irregular, noisy) observations.

    For fBM, :math:`\mathbb E[(X_t-X_s)^2]=\sigma^2|t-s|^{2H}`; with i.i.d. observation noise of
    variance :math:`\tau^2` the squared difference of two observations gains :math:`2\tau^2`.  All
    within-path pairs with lag :math:`\le` ``max_lag`` are pooled into ``n_bins`` log-spaced lag bins;
    :math:`\hat H` is half the least-squares slope of :math:`\log(\overline{(\Delta X)^2}-2\tau^2)`
    against :math:`\log\overline{|t-s|}`.  ``values``/``times``: ``(n_paths, n_obs)``.  For processes
    that are fBM-like only at short lags (fractional OU), keep ``max_lag`` small.
    """
    values, times = np.asarray(values, float), np.asarray(times, float)
    if values.shape != times.shape or values.ndim != 2 or values.shape[1] < 2:
        raise ValueError(f"values and times must both be (n_paths, n_obs >= 2), got {values.shape}, {times.shape}")
    if max_lag <= 0 or n_bins < 2 or noise_var < 0:
        raise ValueError(f"need max_lag > 0, n_bins >= 2, noise_var >= 0; got {max_lag}, {n_bins}, {noise_var}")
    i, j = np.triu_indices(values.shape[1], k=1)
    lags = np.abs(times[:, j] - times[:, i]).ravel()
    squares = ((values[:, j] - values[:, i]) ** 2).ravel()
    keep = (lags > 0) & (lags <= max_lag)
    lags, squares = lags[keep], squares[keep]
    if lags.size < n_bins:
        raise ValueError(f"only {lags.size} pairs with lag <= max_lag={max_lag}; need at least n_bins={n_bins}")
    edges = np.geomspace(lags.min(), lags.max() * (1 + 1e-12), n_bins + 1)
    which = np.clip(np.searchsorted(edges, lags, side="right") - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    mean_lag = np.bincount(which, lags, n_bins) / np.maximum(counts, 1)
    mean_sq = np.bincount(which, squares, n_bins) / np.maximum(counts, 1) - 2.0 * noise_var
    ok = (counts > 0) & (mean_sq > 0)
    if ok.sum() < 2:
        raise ValueError("fewer than two lag bins with a positive noise-corrected variogram")
    slope = np.polyfit(np.log(mean_lag[ok]), np.log(mean_sq[ok]), 1)[0]
    return float(slope / 2.0)
