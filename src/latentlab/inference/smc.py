r"""Sequential Monte Carlo, vectorised over particles and replicates.

Arrays of particles have shape ``(R, N, d)`` (replicates, particles, state dimension);
every step is one set of numpy operations over all replicates and particles.

* :func:`resample` — multinomial, stratified, systematic and residual resampling.
* :func:`bootstrap_filter` — the bootstrap particle filter and its likelihood estimate
  :math:`\hat p(y_{0:T})=\prod_t\frac1N\sum_i g_t(\xi^i_t)`.
* :func:`paris` — PaRIS (Olsson & Westerborn 2017) for smoothed additive functionals
  :math:`h(x_{0:T})=\tilde h_0(x_0)+\sum_{t=1}^T\tilde h_t(x_{t-1},x_t)`:
  with :math:`\Lambda_t(i,j)\propto w^j_{t-1}m(\xi^j_{t-1},\xi^i_t)`, draw
  :math:`J_{i,1..M}\sim\Lambda_t(i,\cdot)` and set
  :math:`\tau^i_t=\frac1M\sum_m[\tau^{J_{i,m}}_{t-1}+\tilde h_t(\xi^{J_{i,m}}_{t-1},\xi^i_t)]`;
  estimate :math:`\sum_iw^i_T\tau^i_T/\sum_iw^i_T`.  Backward draws are exact
  (:math:`O(N^2)`) or "hybrid": rejection from :math:`\mathrm{Cat}(w_{t-1})` with the bound
  :math:`\bar m\ge m` for a few rounds, then exact draws for what is left (Douc et al. 2011).
  Given a ``reference`` path, the same sweep is **conditional SMC** (particle :math:`N`
  is frozen to the reference; only particles :math:`1..N-1` are resampled) and returns a
  new reference traced back through the backward indices (backward sampling).
* :func:`ppg` — the Parisian particle Gibbs smoother (Cardoso et al. 2023): iterate
  conditional PaRIS sweeps, each refreshing the reference, and average the estimates
  :math:`\Pi^{(l)}(h)` after a burn-in :math:`k_0`: :math:`\frac1{k-k_0}\sum_{l=k_0}^{k-1}\Pi^{(l)}(h)`.
* :class:`PaRISScore`, :class:`PPGScore`, :func:`sgd` — the Fisher identity
  :math:`\nabla_\theta\log p_\theta(y)=E[\sum_t\nabla_\theta\log m_\theta(X_{t-1},X_t)g_\theta(X_t,y_t)\mid y]`
  estimated by a smoother, and stochastic-gradient ascent
  :math:`\theta_{n+1}=\theta_n+\gamma_{n+1}\widehat{\nabla\log p_{\theta_n}}(y)`; the PPG score keeps
  its reference path across parameter updates (Markovian stochastic approximation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from latentlab.inference.ssm import LinearGaussianSSM, StateSpaceModel

__all__ = [
    "RESAMPLING_SCHEMES",
    "AdditiveFunctional",
    "LagOneProduct",
    "ScoreA",
    "FilterResult",
    "ParisResult",
    "PPGResult",
    "resample",
    "bootstrap_filter",
    "paris",
    "ppg",
    "PaRISScore",
    "PPGScore",
    "sgd",
]

RESAMPLING_SCHEMES = ("multinomial", "stratified", "systematic", "residual")
Backward = Literal["exact", "hybrid", "auto"]
AUTO_EXACT_MAX_PARTICLES = 64
"""``backward="auto"`` draws exactly (:math:`O(N^2)`, fewer Python steps) up to this many particles."""
_EXACT_CHUNK = 4_000_000  # entries of an (R, N, N) backward-kernel block processed at once


# --------------------------------------------------------------------------- resampling


def logsumexp(values: np.ndarray, axis: int = -1) -> np.ndarray:
    r""":math:`\log\sum\exp` along ``axis`` (numerically stable)."""
    top = np.max(values, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(values - top), axis=axis)) + np.squeeze(top, axis=axis)


def _normalise(log_w: np.ndarray) -> np.ndarray:
    w = np.exp(log_w - log_w.max(axis=-1, keepdims=True))
    return w / w.sum(axis=-1, keepdims=True)


def _cdf_table(weights: np.ndarray) -> np.ndarray:
    """Row-wise CDFs of ``weights (R, N)`` shifted by the row index and flattened (for :func:`_draw_rows`)."""
    cdf = np.cumsum(weights, axis=1)
    cdf[:, -1] = 1.0
    return (cdf + np.arange(weights.shape[0], dtype=float)[:, None]).ravel()


def _draw_rows(table: np.ndarray, n: int, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws from the rows ``rows`` of a :func:`_cdf_table` (``u`` in [0, 1), same shape)."""
    idx = np.searchsorted(table, u + rows, side="right") - rows * n
    return np.clip(idx, 0, n - 1)


def _inverse_cdf(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise inverse CDF: ``weights (R, N)`` normalised, ``u (R, M)`` in [0, 1) -> indices ``(R, M)``."""
    rows = np.arange(weights.shape[0])[:, None]
    return _draw_rows(_cdf_table(weights), weights.shape[1], rows, u)


def resample(weights: np.ndarray, n_out: int, rng: np.random.Generator,
             scheme: str = "multinomial") -> np.ndarray:
    r"""Ancestor indices ``(R, n_out)`` from normalised ``weights (R, N)``, row by row.

    Multinomial: :math:`U_m\sim U(0,1)` i.i.d.; stratified: :math:`U_m=(m+V_m)/M`;
    systematic: :math:`U_m=(m+V)/M`; residual: :math:`\lfloor Mw_i\rfloor` copies of
    :math:`i`, the rest multinomial on the residual weights.  All are unbiased:
    :math:`E[\#\{m:A_m=i\}]=Mw_i`.
    """
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    if n_out < 1:
        raise ValueError(f"n_out must be >= 1, got {n_out}")
    if scheme not in RESAMPLING_SCHEMES:
        raise ValueError(f"scheme must be one of {RESAMPLING_SCHEMES}, got {scheme!r}")
    if np.any(weights < 0) or not np.allclose(weights.sum(axis=1), 1.0):
        raise ValueError("weights must be non-negative and sum to 1 along the last axis")
    return _resample(weights, n_out, rng, scheme)


def _resample(weights: np.ndarray, n_out: int, rng: np.random.Generator, scheme: str) -> np.ndarray:
    """:func:`resample` without the input checks (inner loops)."""
    rows = weights.shape[0]
    grid = np.arange(n_out)[None, :]
    if scheme == "multinomial":
        return _inverse_cdf(weights, rng.random((rows, n_out)))
    if scheme == "stratified":
        return _inverse_cdf(weights, (grid + rng.random((rows, n_out))) / n_out)
    if scheme == "systematic":
        return _inverse_cdf(weights, (grid + rng.random((rows, 1))) / n_out)
    return _residual(weights, n_out, rng)


def _residual(weights: np.ndarray, n_out: int, rng: np.random.Generator) -> np.ndarray:
    rows, n = weights.shape
    copies = np.floor(n_out * weights).astype(int)
    n_rest = n_out - copies.sum(axis=1)
    residual = n_out * weights - copies
    out = np.empty((rows, n_out), dtype=int)
    # deterministic part: the index i repeated copies[r, i] times, then random fill
    position = np.arange(n_out)[None, :]
    ends = np.cumsum(copies, axis=1)
    det = np.minimum((position[..., None] >= ends[:, None, :]).sum(-1), n - 1)
    total = np.maximum(residual.sum(axis=1, keepdims=True), 1e-300)
    rand = _inverse_cdf(np.where(total > 0, residual / total, 1.0 / n), rng.random((rows, n_out)))
    filled = position < (n_out - n_rest)[:, None]
    out[:] = np.where(filled, det, rand)
    return out


# --------------------------------------------------------------------------- bootstrap filter


@dataclass(frozen=True)
class FilterResult:
    """Bootstrap filter output: ``log_likelihood (R,)`` and filtering means ``(R, T+1, d)``."""

    log_likelihood: np.ndarray
    filter_mean: np.ndarray


def _check_filter_args(y: np.ndarray, n_particles: int, replicates: int, scheme: str) -> np.ndarray:
    if scheme not in RESAMPLING_SCHEMES:
        raise ValueError(f"scheme must be one of {RESAMPLING_SCHEMES}, got {scheme!r}")
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] < 1:
        raise ValueError(f"y must have shape (T+1, obs_dim), got {y.shape}")
    if n_particles < 2:
        raise ValueError(f"n_particles must be >= 2, got {n_particles}")
    if replicates < 1:
        raise ValueError(f"replicates must be >= 1, got {replicates}")
    return y


def _gather(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``values (R, N, ...)`` indexed row-wise by ``idx (R, ...)``."""
    rows = np.arange(values.shape[0]).reshape((-1,) + (1,) * (idx.ndim - 1))
    return values[rows, idx]


def bootstrap_filter(model: StateSpaceModel, y: np.ndarray, n_particles: int, rng: np.random.Generator,
                     replicates: int = 1, scheme: str = "multinomial") -> FilterResult:
    r"""Bootstrap particle filter (resampling at every step), vectorised over ``replicates``."""
    y = _check_filter_args(y, n_particles, replicates, scheme)
    shape = (replicates, n_particles)
    x = model.sample_initial(rng, shape)
    log_w = model.observation_logpdf(x, y[0], 0)
    log_lik = logsumexp(log_w, axis=1) - np.log(n_particles)
    means = [np.einsum("rn,rnd->rd", _normalise(log_w), x)]
    for t in range(1, y.shape[0]):
        ancestors = _resample(_normalise(log_w), n_particles, rng, scheme)
        x = model.sample_transition(rng, _gather(x, ancestors), t)
        log_w = model.observation_logpdf(x, y[t], t)
        log_lik = log_lik + logsumexp(log_w, axis=1) - np.log(n_particles)
        means.append(np.einsum("rn,rnd->rd", _normalise(log_w), x))
    return FilterResult(log_lik, np.stack(means, axis=1))


# --------------------------------------------------------------------------- additive functionals


class AdditiveFunctional(Protocol):
    r"""Additive functional :math:`h(x_{0:T})=\tilde h_0(x_0)+\sum_t\tilde h_t(x_{t-1},x_t)`.

    Values lie in :math:`\mathbb R^{\text{dim}}`.
    """

    dim: int

    def initial(self, x: np.ndarray) -> np.ndarray:
        r""":math:`\\tilde h_0(x_0)`, shape ``x.shape[:-1] + (dim,)``."""
        ...

    def step(self, t: int, x_prev: np.ndarray, x: np.ndarray) -> np.ndarray:
        r""":math:`\\tilde h_t(x_{t-1},x_t)` broadcast over leading axes, trailing ``(dim,)``."""
        ...


@dataclass(frozen=True)
class LagOneProduct:
    r""":math:`h=\sum_{t=1}^T\mathrm{vec}(x_tx_{t-1}^\top)` (what EM and the score for :math:`A` need)."""

    state_dim: int

    @property
    def dim(self) -> int:
        return self.state_dim**2

    def initial(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(x.shape[:-1] + (self.dim,))

    def step(self, t: int, x_prev: np.ndarray, x: np.ndarray) -> np.ndarray:
        x_prev, x = np.broadcast_arrays(x_prev, x)
        return np.einsum("...i,...j->...ij", x, x_prev).reshape(x.shape[:-1] + (self.dim,))


@dataclass(frozen=True)
class ScoreA:
    r"""Fisher-identity functional for :math:`A` of a linear-Gaussian SSM:
    :math:`\tilde h_t=\mathrm{vec}\,Q^{-1}(x_t-Ax_{t-1})x_{t-1}^\top`."""

    model: LinearGaussianSSM

    @property
    def dim(self) -> int:
        return self.model.dim**2

    def initial(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(x.shape[:-1] + (self.dim,))

    def step(self, t: int, x_prev: np.ndarray, x: np.ndarray) -> np.ndarray:
        x_prev, x = np.broadcast_arrays(x_prev, x)
        if self.model.dim == 1:
            resid = (x - x_prev * self.model.A[0, 0]) / self.model.Q[0, 0]
        else:
            resid = (x - x_prev @ self.model.A.T) @ np.linalg.inv(self.model.Q).T
        return np.einsum("...i,...j->...ij", resid, x_prev).reshape(x.shape[:-1] + (self.dim,))


# --------------------------------------------------------------------------- PaRIS / conditional SMC


@dataclass(frozen=True)
class ParisResult:
    """PaRIS sweep: ``estimate (R, dim)``, ``log_likelihood (R,)``, new ``reference (R, T+1, d)`` or None."""

    estimate: np.ndarray
    log_likelihood: np.ndarray
    reference: np.ndarray | None


def _categorical_from_logits(logits: np.ndarray, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """``n_draws`` categorical draws per row of ``logits (..., N)`` (inverse CDF), shape ``(..., n_draws)``."""
    lead, n = logits.shape[:-1], logits.shape[-1]
    weights = _normalise(logits.reshape(-1, n))
    return _inverse_cdf(weights, rng.random((weights.shape[0], n_draws))).reshape(lead + (n_draws,))


def _exact_backward(model: StateSpaceModel, t: int, x_prev: np.ndarray, log_w_prev: np.ndarray,
                    x: np.ndarray, n_backward: int, rng: np.random.Generator) -> np.ndarray:
    r"""Exact draws :math:`J\\sim\\Lambda_t(i,\\cdot)` for every replicate and particle: ``(R, N, M)``."""
    rows, n = log_w_prev.shape
    per_chunk = max(1, _EXACT_CHUNK // (n * n))
    out = np.empty((rows, x.shape[1], n_backward), dtype=int)
    for start in range(0, rows, per_chunk):
        sl = slice(start, start + per_chunk)
        logits = log_w_prev[sl, None, :] + model.transition_logpdf(x_prev[sl, None, :, :], x[sl, :, None, :], t)
        out[sl] = _categorical_from_logits(logits, n_backward, rng)
    return out


def _hybrid_backward(model: StateSpaceModel, t: int, x_prev: np.ndarray, log_w_prev: np.ndarray,
                     x: np.ndarray, n_backward: int, rng: np.random.Generator, max_rounds: int) -> np.ndarray:
    r"""Rejection draws (proposal :math:`\\mathrm{Cat}(w_{t-1})`, bound :math:`\\bar m`), exact for the leftovers."""
    rows, n = log_w_prev.shape
    table = _cdf_table(_normalise(log_w_prev))
    bound = model.transition_log_bound(t)
    out = np.full((rows, x.shape[1], n_backward), -1, dtype=int)
    pending = np.ones(out.shape, dtype=bool)
    for _ in range(max_rounds):
        r_idx, i_idx, m_idx = np.nonzero(pending)
        if r_idx.size == 0:
            return out
        proposal = _draw_rows(table, n, r_idx, rng.random(r_idx.size))
        log_m = model.transition_logpdf(x_prev[r_idx, proposal], x[r_idx, i_idx], t)
        accept = np.log(rng.random(r_idx.size)) < log_m - bound
        out[r_idx[accept], i_idx[accept], m_idx[accept]] = proposal[accept]
        pending[r_idx[accept], i_idx[accept], m_idx[accept]] = False
    r_idx, i_idx, m_idx = np.nonzero(pending)
    if r_idx.size:
        logits = log_w_prev[r_idx] + model.transition_logpdf(x_prev[r_idx], x[r_idx, i_idx][:, None, :], t)
        out[r_idx, i_idx, m_idx] = _categorical_from_logits(logits, 1, rng)[:, 0]
    return out


def _trace_reference(history: list[np.ndarray], backward: list[np.ndarray], log_w: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    r"""Draw :math:`I_T\\sim\\mathrm{Cat}(w_T)` and follow one random backward index per step."""
    rows = log_w.shape[0]
    r = np.arange(rows)
    index = _inverse_cdf(_normalise(log_w), rng.random((rows, 1)))[:, 0]
    path = np.empty((rows, len(history), history[0].shape[-1]))
    path[:, -1] = history[-1][r, index]
    for t in range(len(history) - 1, 0, -1):
        pick = rng.integers(backward[t].shape[-1], size=rows)
        index = backward[t][r, index, pick]
        path[:, t - 1] = history[t - 1][r, index]
    return path


def paris(model: StateSpaceModel, y: np.ndarray, functional: AdditiveFunctional, n_particles: int,
          rng: np.random.Generator, replicates: int = 1, n_backward: int = 2, backward: Backward = "auto",
          reference: np.ndarray | None = None, trace: bool = False, max_rounds: int = 10,
          scheme: str = "multinomial") -> ParisResult:
    r"""One PaRIS sweep (conditional on ``reference`` when given), vectorised over ``replicates``.

    ``reference`` ``(R, T+1, d)`` freezes particle :math:`N` to the reference path
    (conditional SMC); the new reference is returned when ``trace`` or ``reference`` is set.
    """
    y = _check_filter_args(y, n_particles, replicates, scheme)
    if n_backward < 1:
        raise ValueError(f"n_backward must be >= 1, got {n_backward}")
    if backward not in ("exact", "hybrid", "auto"):
        raise ValueError(f"backward must be 'exact', 'hybrid' or 'auto', got {backward!r}")
    if backward == "auto":
        backward = "exact" if n_particles <= AUTO_EXACT_MAX_PARTICLES else "hybrid"
    conditional = reference is not None
    if conditional:
        reference = np.asarray(reference, dtype=float)
        if reference.shape != (replicates, y.shape[0], model.dim):
            raise ValueError(f"reference must have shape ({replicates}, {y.shape[0]}, {model.dim}), "
                             f"got {reference.shape}")
    trace = trace or conditional
    n_free = n_particles - 1 if conditional else n_particles
    x = model.sample_initial(rng, (replicates, n_free))
    if conditional:
        x = np.concatenate([x, reference[:, :1]], axis=1)
    log_w = model.observation_logpdf(x, y[0], 0)
    log_lik = logsumexp(log_w, axis=1) - np.log(n_particles)
    tau = functional.initial(x)
    history, indices = ([x], [np.empty(0)]) if trace else ([], [])
    for t in range(1, y.shape[0]):
        ancestors = _resample(_normalise(log_w), n_free, rng, scheme)
        x_prev = x
        x = model.sample_transition(rng, _gather(x_prev, ancestors), t)
        if conditional:
            x = np.concatenate([x, reference[:, t:t + 1]], axis=1)
        if backward == "exact":
            J = _exact_backward(model, t, x_prev, log_w, x, n_backward, rng)
        else:
            J = _hybrid_backward(model, t, x_prev, log_w, x, n_backward, rng, max_rounds)
        back_x = _gather(x_prev, J)  # (R, N, M, d)
        increments = functional.step(t, back_x, x[:, :, None, :])
        tau = np.mean(_gather(tau, J) + increments, axis=2)
        log_w = model.observation_logpdf(x, y[t], t)
        log_lik = log_lik + logsumexp(log_w, axis=1) - np.log(n_particles)
        if trace:
            history.append(x)
            indices.append(J)
    estimate = np.einsum("rn,rnk->rk", _normalise(log_w), tau)
    new_reference = _trace_reference(history, indices, log_w, rng) if trace else None
    return ParisResult(estimate, log_lik, new_reference)


# --------------------------------------------------------------------------- PPG


@dataclass(frozen=True)
class PPGResult:
    """Per-iteration estimates ``(R, k, dim)``, the burn-in average ``estimate (R, dim)`` and the last reference."""

    iterates: np.ndarray
    estimate: np.ndarray
    reference: np.ndarray


def ppg(model: StateSpaceModel, y: np.ndarray, functional: AdditiveFunctional, n_particles: int,
        n_iterations: int, rng: np.random.Generator, burn_in: int | None = None, replicates: int = 1,
        n_backward: int = 2, backward: Backward = "auto", reference: np.ndarray | None = None) -> PPGResult:
    r"""Parisian particle Gibbs: ``n_iterations`` conditional PaRIS sweeps, averaged after ``burn_in``.

    Without ``reference`` the first sweep is an unconditional PaRIS sweep whose traced path
    starts the chain (it counts as iteration 0, so the particle budget is exactly
    ``n_particles * n_iterations``).  ``burn_in`` defaults to :math:`\lfloor k/4\rfloor`.
    """
    if n_iterations < 1:
        raise ValueError(f"n_iterations must be >= 1, got {n_iterations}")
    k0 = n_iterations // 4 if burn_in is None else burn_in
    if not 0 <= k0 < n_iterations:
        raise ValueError(f"burn_in must be in [0, n_iterations), got {k0} for n_iterations={n_iterations}")
    iterates = []
    for _ in range(n_iterations):
        sweep = paris(model, y, functional, n_particles, rng, replicates, n_backward, backward,
                      reference=reference, trace=True)
        iterates.append(sweep.estimate)
        reference = sweep.reference
    stacked = np.stack(iterates, axis=1)
    return PPGResult(stacked, stacked[:, k0:].mean(axis=1), reference)


# --------------------------------------------------------------------------- score estimation and SGD


@dataclass
class PaRISScore:
    r"""Score estimate :math:`\widehat{\nabla_A\log p}` of a linear-Gaussian SSM by one PaRIS sweep."""

    y: np.ndarray
    n_particles: int
    n_backward: int = 2
    backward: Backward = "auto"

    def __call__(self, model: LinearGaussianSSM, rng: np.random.Generator) -> np.ndarray:
        sweep = paris(model, self.y, ScoreA(model), self.n_particles, rng, 1, self.n_backward, self.backward)
        return sweep.estimate[0].reshape(model.A.shape)


@dataclass
class PPGScore:
    r"""Score estimate by ``sweeps`` conditional PaRIS sweeps, keeping the reference path across calls."""

    y: np.ndarray
    n_particles: int
    sweeps: int = 1
    n_backward: int = 2
    backward: Backward = "auto"
    reference: np.ndarray | None = field(default=None, repr=False)

    def __call__(self, model: LinearGaussianSSM, rng: np.random.Generator) -> np.ndarray:
        result = ppg(model, self.y, ScoreA(model), self.n_particles, self.sweeps, rng, burn_in=0,
                     n_backward=self.n_backward, backward=self.backward, reference=self.reference)
        self.reference = result.reference
        return result.estimate[0].reshape(model.A.shape)


def sgd(score: Callable[[LinearGaussianSSM, np.random.Generator], np.ndarray], model: LinearGaussianSSM,
        n_steps: int, step_size: Callable[[int], float], rng: np.random.Generator,
        normaliser: float = 1.0) -> np.ndarray:
    r"""Stochastic-gradient ascent on :math:`A`: :math:`A_{n+1}=A_n+\gamma_{n+1}\,\widehat{\nabla_A}/\text{normaliser}`.

    Returns the trajectory ``(n_steps + 1,) + A.shape``.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    if normaliser <= 0:
        raise ValueError(f"normaliser must be > 0, got {normaliser}")
    path = [model.A.copy()]
    for n in range(1, n_steps + 1):
        grad = score(model, rng)
        model = model.with_A(model.A + step_size(n) * grad / normaliser)
        path.append(model.A.copy())
    return np.stack(path)
