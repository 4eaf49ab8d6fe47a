r"""State-space models behind one interface, and their exact oracles.

A state-space model (SSM) is a Markov chain :math:`X_0\sim\chi`,
:math:`X_t\mid x_{t-1}\sim m_\theta(x_{t-1},\cdot)` observed through
:math:`Y_t\mid x_t\sim g_\theta(x_t,\cdot)`, :math:`t=0,\dots,T`.  Particle methods
(:mod:`latentlab.inference.smc`) only need the :class:`StateSpaceModel` protocol:
sampling from :math:`\chi` and :math:`m`, and the log-densities of :math:`m` and
:math:`g`, all broadcasting over leading axes (replicates, particles).

Exact oracles:

* :class:`LinearGaussianSSM` — :math:`X_t = AX_{t-1}+Q^{1/2}\epsilon_t`,
  :math:`Y_t = BX_t+R^{1/2}\eta_t`, :math:`X_0\sim\mathcal N(m_0,P_0)`, with the Kalman
  filter (:func:`kalman_filter`: filtered/predicted moments and
  :math:`\log p(y_{0:T})`), the Rauch–Tung–Striebel smoother (:func:`rts_smoother`:
  smoothed moments and the lag-one covariances
  :math:`\mathrm{Cov}(X_t,X_{t-1}\mid y_{0:T}) = P^s_t J_{t-1}^\top`,
  :math:`J_{t-1}=P^f_{t-1}A^\top(P^p_t)^{-1}`), exact smoothing draws by forward-filtering
  backward-sampling (:func:`ffbs_sample`) and smoothed additive functionals
  (:func:`exact_lag_one_moments`, :func:`exact_score_A`).
* :func:`hmm_forward_backward` — finite-state HMM filtering/smoothing in log space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = [
    "StateSpaceModel",
    "LinearGaussianSSM",
    "KalmanResult",
    "SmootherResult",
    "HMMResult",
    "kalman_filter",
    "rts_smoother",
    "ffbs_sample",
    "exact_lag_one_moments",
    "exact_score_A",
    "hmm_forward_backward",
]


@runtime_checkable
class StateSpaceModel(Protocol):
    """What particle methods need from a model (all methods broadcast over leading axes)."""

    dim: int

    def sample_initial(self, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
        r"""Draws of :math:`X_0\\sim\\chi`, shape ``size + (dim,)``."""
        ...

    def sample_transition(self, rng: np.random.Generator, x_prev: np.ndarray, t: int) -> np.ndarray:
        r"""Draws of :math:`X_t\\sim m(x_{t-1},\\cdot)`, same shape as ``x_prev``."""
        ...

    def transition_logpdf(self, x_prev: np.ndarray, x: np.ndarray, t: int) -> np.ndarray:
        r""":math:`\\log m(x_{t-1}, x_t)` broadcast over the leading axes."""
        ...

    def transition_log_bound(self, t: int) -> float:
        r"""An upper bound of :math:`\\log m(\\cdot,\\cdot)` (rejection backward sampling)."""
        ...

    def observation_logpdf(self, x: np.ndarray, y_t: np.ndarray, t: int) -> np.ndarray:
        r""":math:`\\log g(x_t, y_t)` broadcast over the leading axes of ``x``."""
        ...


def _as_matrix(value: np.ndarray | float, name: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    arr = np.atleast_2d(np.asarray(value, dtype=float))
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a matrix, got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _check_spd(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.shape[0] != arr.shape[1] or not np.allclose(arr, arr.T):
        raise ValueError(f"{name} must be a symmetric square matrix, got shape {arr.shape}")
    try:
        return np.linalg.cholesky(arr)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} must be positive definite") from None


@dataclass(frozen=True)
class _GaussianNoise:
    r"""Precomputed :math:`L^{-1}` and :math:`\log\det(2\pi LL^\top)` of a covariance :math:`LL^\top`."""

    chol: np.ndarray
    inv_chol_t: np.ndarray
    log_norm: float

    @classmethod
    def from_chol(cls, chol: np.ndarray) -> _GaussianNoise:
        d = chol.shape[0]
        log_norm = 2.0 * float(np.sum(np.log(np.diag(chol)))) + d * np.log(2 * np.pi)
        return cls(chol, np.linalg.inv(chol).T, log_norm)

    def logpdf(self, diff: np.ndarray) -> np.ndarray:
        r""":math:`\log\mathcal N(\text{diff};0,LL^\top)` over the last axis of ``diff``."""
        if diff.shape[-1] == 1:
            z2 = (diff[..., 0] * self.inv_chol_t[0, 0]) ** 2
        else:
            z = diff @ self.inv_chol_t
            z2 = np.einsum("...i,...i->...", z, z)
        return -0.5 * (z2 + self.log_norm)


def _gaussian_logpdf(diff: np.ndarray, chol: np.ndarray) -> np.ndarray:
    r""":math:`\log\mathcal N(\text{diff};0,LL^\top)` over the last axis of ``diff``."""
    return _GaussianNoise.from_chol(chol).logpdf(diff)


@dataclass(frozen=True)
class LinearGaussianSSM:
    r"""Linear-Gaussian SSM :math:`X_t=AX_{t-1}+Q^{1/2}\epsilon_t,\ Y_t=BX_t+R^{1/2}\eta_t`.

    Matrices may be given as scalars for ``dim = 1``.  ``m0, P0`` are the mean and
    covariance of :math:`X_0`; the observation :math:`Y_0` is emitted at time 0.
    """

    A: np.ndarray
    Q: np.ndarray
    B: np.ndarray
    R: np.ndarray
    m0: np.ndarray
    P0: np.ndarray

    def __post_init__(self) -> None:
        A = _as_matrix(self.A, "A")
        d = A.shape[0]
        if A.shape != (d, d):
            raise ValueError(f"A must be square, got shape {A.shape}")
        Q = _as_matrix(self.Q, "Q", (d, d))
        B = _as_matrix(self.B, "B")
        if B.shape[1] != d:
            raise ValueError(f"B must have {d} columns (the state dimension), got shape {B.shape}")
        R = _as_matrix(self.R, "R", (B.shape[0], B.shape[0]))
        P0 = _as_matrix(self.P0, "P0", (d, d))
        m0 = np.atleast_1d(np.asarray(self.m0, dtype=float))
        if m0.shape != (d,):
            raise ValueError(f"m0 must have shape ({d},), got {m0.shape}")
        for name, value in (("A", A), ("Q", Q), ("B", B), ("R", R), ("m0", m0), ("P0", P0)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_chol_Q", _check_spd(Q, "Q"))
        object.__setattr__(self, "_chol_R", _check_spd(R, "R"))
        object.__setattr__(self, "_noise_Q", _GaussianNoise.from_chol(self._chol_Q))
        object.__setattr__(self, "_noise_R", _GaussianNoise.from_chol(self._chol_R))
        object.__setattr__(self, "_chol_P0", _check_spd(P0, "P0"))

    @classmethod
    def scalar(cls, a: float, q: float = 1.0, b: float = 1.0, r: float = 1.0, m0: float = 0.0,
               p0: float | None = None) -> LinearGaussianSSM:
        """The 1-D model; ``p0`` defaults to the stationary variance :math:`q/(1-a^2)` when :math:`|a|<1`."""
        if p0 is None:
            p0 = q / (1 - a * a) if abs(a) < 1 else q
        return cls(A=a, Q=q, B=b, R=r, m0=m0, P0=p0)

    def with_A(self, A: np.ndarray | float) -> LinearGaussianSSM:
        """The same model with another transition matrix (``P0`` kept)."""
        return LinearGaussianSSM(A, self.Q, self.B, self.R, self.m0, self.P0)

    @property
    def dim(self) -> int:
        return self.A.shape[0]

    @property
    def obs_dim(self) -> int:
        return self.B.shape[0]

    # --- StateSpaceModel protocol
    def sample_initial(self, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
        eps = rng.standard_normal(tuple(size) + (self.dim,))
        return self.m0 + eps @ self._chol_P0.T

    def sample_transition(self, rng: np.random.Generator, x_prev: np.ndarray, t: int) -> np.ndarray:
        eps = rng.standard_normal(x_prev.shape)
        if self.dim == 1:
            return x_prev * self.A[0, 0] + eps * self._chol_Q[0, 0]
        return x_prev @ self.A.T + eps @ self._chol_Q.T

    def transition_logpdf(self, x_prev: np.ndarray, x: np.ndarray, t: int) -> np.ndarray:
        if self.dim == 1:
            return self._noise_Q.logpdf(x - x_prev * self.A[0, 0])
        return self._noise_Q.logpdf(x - x_prev @ self.A.T)

    def transition_log_bound(self, t: int) -> float:
        return float(-np.sum(np.log(np.diag(self._chol_Q))) - 0.5 * self.dim * np.log(2 * np.pi))

    def observation_logpdf(self, x: np.ndarray, y_t: np.ndarray, t: int) -> np.ndarray:
        if self.dim == 1 and self.obs_dim == 1:
            return self._noise_R.logpdf(np.asarray(y_t) - x * self.B[0, 0])
        return self._noise_R.logpdf(np.asarray(y_t) - x @ self.B.T)

    # --- simulation
    def simulate(self, n_steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One trajectory: states ``(T+1, dim)`` and observations ``(T+1, obs_dim)`` for ``T = n_steps``."""
        if n_steps < 0:
            raise ValueError(f"n_steps must be >= 0, got {n_steps}")
        x = np.empty((n_steps + 1, self.dim))
        x[0] = self.sample_initial(rng, ())
        for t in range(1, n_steps + 1):
            x[t] = self.sample_transition(rng, x[t - 1], t)
        y = x @ self.B.T + rng.standard_normal((n_steps + 1, self.obs_dim)) @ self._chol_R.T
        return x, y


def _check_observations(model: LinearGaussianSSM, y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if y.ndim == 1 and model.obs_dim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] != model.obs_dim or y.shape[0] < 1:
        raise ValueError(f"y must have shape (T+1, {model.obs_dim}), got {y.shape}")
    return y


@dataclass(frozen=True)
class KalmanResult:
    """Filtered (``mean``, ``cov``) and predicted (``pred_mean``, ``pred_cov``) moments; ``log_likelihood``."""

    mean: np.ndarray
    cov: np.ndarray
    pred_mean: np.ndarray
    pred_cov: np.ndarray
    log_likelihood: float


def kalman_filter(model: LinearGaussianSSM, y: np.ndarray) -> KalmanResult:
    r"""Kalman filter: :math:`p(x_t\mid y_{0:t})=\mathcal N(m^f_t,P^f_t)` and :math:`\log p(y_{0:T})`.

    Predict :math:`m^p_t=Am^f_{t-1}`, :math:`P^p_t=AP^f_{t-1}A^\top+Q` (:math:`m^p_0=m_0,P^p_0=P_0`);
    update with :math:`S_t=BP^p_tB^\top+R`, :math:`K_t=P^p_tB^\top S_t^{-1}`,
    :math:`m^f_t=m^p_t+K_t(y_t-Bm^p_t)`, :math:`P^f_t=(I-K_tB)P^p_t`; the log-likelihood is
    :math:`\sum_t\log\mathcal N(y_t;Bm^p_t,S_t)`.
    """
    y = _check_observations(model, y)
    n, d = y.shape[0], model.dim
    mean, cov = np.empty((n, d)), np.empty((n, d, d))
    pred_mean, pred_cov = np.empty((n, d)), np.empty((n, d, d))
    m, P = model.m0, model.P0
    log_lik = 0.0
    for t in range(n):
        if t > 0:
            m = model.A @ mean[t - 1]
            P = model.A @ cov[t - 1] @ model.A.T + model.Q
        pred_mean[t], pred_cov[t] = m, P
        S = model.B @ P @ model.B.T + model.R
        chol_S = np.linalg.cholesky(S)
        innovation = y[t] - model.B @ m
        log_lik += float(_gaussian_logpdf(innovation, chol_S))
        K = np.linalg.solve(S, model.B @ P).T
        mean[t] = m + K @ innovation
        joseph = np.eye(d) - K @ model.B
        cov[t] = joseph @ P @ joseph.T + K @ model.R @ K.T
    return KalmanResult(mean, cov, pred_mean, pred_cov, log_lik)


@dataclass(frozen=True)
class SmootherResult:
    r"""Smoothed moments ``mean[t]``, ``cov[t]`` and the lag-one covariances.

    ``lag_cov[t]`` = :math:`\mathrm{Cov}(X_t,X_{t-1}\mid y)` (``lag_cov[0]`` = 0).

    ``gain[t]`` is :math:`J_t=P^f_tA^\top(P^p_{t+1})^{-1}` (last entry 0).
    """

    mean: np.ndarray
    cov: np.ndarray
    lag_cov: np.ndarray
    gain: np.ndarray
    filtered: KalmanResult


def rts_smoother(model: LinearGaussianSSM, y: np.ndarray) -> SmootherResult:
    r"""Rauch–Tung–Striebel smoother with lag-one covariances.

    :math:`m^s_t=m^f_t+J_t(m^s_{t+1}-m^p_{t+1})`, :math:`P^s_t=P^f_t+J_t(P^s_{t+1}-P^p_{t+1})J_t^\top`,
    :math:`\mathrm{Cov}(X_{t+1},X_t\mid y)=P^s_{t+1}J_t^\top`.
    """
    filt = kalman_filter(model, y)
    n, d = filt.mean.shape
    mean, cov = filt.mean.copy(), filt.cov.copy()
    lag_cov, gain = np.zeros((n, d, d)), np.zeros((n, d, d))
    for t in range(n - 2, -1, -1):
        J = np.linalg.solve(filt.pred_cov[t + 1], model.A @ filt.cov[t]).T
        gain[t] = J
        mean[t] = filt.mean[t] + J @ (mean[t + 1] - filt.pred_mean[t + 1])
        cov[t] = filt.cov[t] + J @ (cov[t + 1] - filt.pred_cov[t + 1]) @ J.T
        lag_cov[t + 1] = cov[t + 1] @ J.T
    return SmootherResult(mean, cov, lag_cov, gain, filt)


def ffbs_sample(model: LinearGaussianSSM, y: np.ndarray, n_draws: int, rng: np.random.Generator,
                smoother: SmootherResult | None = None) -> np.ndarray:
    r"""Exact draws from :math:`p(x_{0:T}\mid y_{0:T})` by forward filtering, backward sampling.

    :math:`X_T\sim\mathcal N(m^f_T,P^f_T)`, then
    :math:`X_t\mid x_{t+1}\sim\mathcal N(m^f_t+J_t(x_{t+1}-m^p_{t+1}),\ P^f_t-J_tP^p_{t+1}J_t^\top)`.
    Returns ``(n_draws, T+1, dim)``; vectorised over draws.
    """
    if n_draws < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    sm = smoother if smoother is not None else rts_smoother(model, y)
    filt = sm.filtered
    n, d = filt.mean.shape
    out = np.empty((n_draws, n, d))
    chol = np.linalg.cholesky(filt.cov[-1])
    out[:, -1] = filt.mean[-1] + rng.standard_normal((n_draws, d)) @ chol.T
    for t in range(n - 2, -1, -1):
        J = sm.gain[t]
        cond_cov = filt.cov[t] - J @ filt.pred_cov[t + 1] @ J.T
        cond_cov = 0.5 * (cond_cov + cond_cov.T) + 1e-12 * np.eye(d)
        mean = filt.mean[t] + (out[:, t + 1] - filt.pred_mean[t + 1]) @ J.T
        out[:, t] = mean + rng.standard_normal((n_draws, d)) @ np.linalg.cholesky(cond_cov).T
    return out


def exact_lag_one_moments(model: LinearGaussianSSM, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Smoothed sums :math:`S_{10}=\sum_{t=1}^T E[X_tX_{t-1}^\top\mid y]` and
    :math:`S_{00}=\sum_{t=1}^T E[X_{t-1}X_{t-1}^\top\mid y]` (RTS smoother with lag-one covariances)."""
    sm = rts_smoother(model, y)
    s10 = np.sum(sm.lag_cov[1:] + np.einsum("ti,tj->tij", sm.mean[1:], sm.mean[:-1]), axis=0)
    s00 = np.sum(sm.cov[:-1] + np.einsum("ti,tj->tij", sm.mean[:-1], sm.mean[:-1]), axis=0)
    return s10, s00


def exact_score_A(model: LinearGaussianSSM, y: np.ndarray) -> np.ndarray:
    r"""Exact score :math:`\nabla_A\log p_\theta(y_{0:T}) = Q^{-1}(S_{10}-AS_{00})` (Fisher identity)."""
    s10, s00 = exact_lag_one_moments(model, y)
    return np.linalg.solve(model.Q, s10 - model.A @ s00)


@dataclass(frozen=True)
class HMMResult:
    """Filtering and smoothing marginals ``(T+1, K)``, lag-one pair marginals ``(T, K, K)`` and the log-likelihood."""

    filtered: np.ndarray
    smoothed: np.ndarray
    pairs: np.ndarray
    log_likelihood: float


def hmm_forward_backward(initial: np.ndarray, transition: np.ndarray, log_obs: np.ndarray) -> HMMResult:
    r"""Forward–backward for a finite-state HMM in log space.

    ``initial`` :math:`\pi_k=P(X_0=k)`, ``transition`` :math:`P_{jk}=P(X_t=k\mid X_{t-1}=j)`,
    ``log_obs[t, k]`` :math:`=\log g(k, y_t)`.  Forward :math:`\alpha_t(k)\propto g_t(k)\sum_j\alpha_{t-1}(j)P_{jk}`,
    backward :math:`\beta_t(j)=\sum_kP_{jk}g_{t+1}(k)\beta_{t+1}(k)`, smoothed :math:`\propto\alpha_t\beta_t`,
    pairs :math:`\xi_t(j,k)\propto\alpha_{t-1}(j)P_{jk}g_t(k)\beta_t(k)`.
    """
    from scipy.special import logsumexp

    initial = np.asarray(initial, dtype=float)
    transition = np.asarray(transition, dtype=float)
    log_obs = np.asarray(log_obs, dtype=float)
    k = initial.size
    if initial.ndim != 1 or np.any(initial < 0) or not np.isclose(initial.sum(), 1.0):
        raise ValueError("initial must be a probability vector (non-negative, summing to 1)")
    if transition.shape != (k, k) or np.any(transition < 0) or not np.allclose(transition.sum(1), 1.0):
        raise ValueError(f"transition must be a ({k}, {k}) row-stochastic matrix")
    if log_obs.ndim != 2 or log_obs.shape[1] != k:
        raise ValueError(f"log_obs must have shape (T+1, {k}), got {log_obs.shape}")
    with np.errstate(divide="ignore"):
        log_p, log_pi = np.log(transition), np.log(initial)
    n = log_obs.shape[0]
    log_alpha = np.empty((n, k))
    log_alpha[0] = log_pi + log_obs[0]
    for t in range(1, n):
        log_alpha[t] = logsumexp(log_alpha[t - 1][:, None] + log_p, axis=0) + log_obs[t]
    log_lik = float(logsumexp(log_alpha[-1]))
    log_beta = np.zeros((n, k))
    for t in range(n - 2, -1, -1):
        log_beta[t] = logsumexp(log_p + (log_obs[t + 1] + log_beta[t + 1])[None, :], axis=1)
    filtered = np.exp(log_alpha - logsumexp(log_alpha, axis=1, keepdims=True))
    smoothed = np.exp(log_alpha + log_beta - log_lik)
    log_xi = log_alpha[:-1, :, None] + log_p[None] + (log_obs[1:] + log_beta[1:])[:, None, :] - log_lik
    return HMMResult(filtered, smoothed, np.exp(log_xi), log_lik)
