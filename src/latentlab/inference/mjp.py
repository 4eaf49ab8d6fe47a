r"""Markov jump processes (continuous-time Markov chains) on states :math:`0..C-1`.

A rate matrix :math:`F` has :math:`f_{ij}\ge0` for :math:`i\ne j` and
:math:`f_{ii}=-\sum_{j\ne i}f_{ij}`; the law :math:`p(t)` of :math:`X_t` solves the master
equation :math:`\dot p=pF`, so :math:`P(t)=e^{Ft}` (:func:`transition_matrix`).

* :func:`validate_rate_matrix`, :func:`rate_matrix_from_offdiagonal`, :func:`stationary_distribution`.
* :func:`gillespie` — exact simulation of many paths at once: holding time
  :math:`\sim\mathrm{Exp}(-f_{ii})`, next state :math:`j` w.p. :math:`f_{ij}/(-f_{ii})`; all
  paths take their :math:`k`-th jump in the same vectorised step.
* :func:`observe` / :func:`flip_noise` — states on observation grids, and random state flips.
* :func:`complete_data_mle` — :math:`\hat f_{ij}=N_{ij}/T_i` (jump counts over occupation times).
* :func:`discrete_observation_mle` — maximise :math:`\sum_l\log[e^{F\Delta_l}]_{x_l,x_{l+1}}` over
  log-rates with L-BFGS (gradients by the Fréchet derivative of :math:`\exp`).
* :func:`time_averaged_hellinger` — :math:`\frac1{|\mathcal T|}\sum_t H(p_0e^{F t},p_0e^{\hat Ft})`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import expm, expm_frechet
from scipy.optimize import minimize

__all__ = [
    "MJPPaths",
    "validate_rate_matrix",
    "rate_matrix_from_offdiagonal",
    "offdiagonal",
    "transition_matrix",
    "stationary_distribution",
    "gillespie",
    "observe",
    "flip_noise",
    "complete_data_mle",
    "transition_counts",
    "discrete_observation_mle",
    "time_averaged_hellinger",
    "discrete_flashing_ratchet",
]


def validate_rate_matrix(F: np.ndarray, atol: float = 1e-8) -> np.ndarray:
    """Return ``F`` as a float array after checking it is a rate matrix (raises ValueError otherwise)."""
    F = np.asarray(F, dtype=float)
    if F.ndim != 2 or F.shape[0] != F.shape[1] or F.shape[0] < 2:
        raise ValueError(f"F must be a square matrix with at least 2 states, got shape {F.shape}")
    if not np.all(np.isfinite(F)):
        raise ValueError("F must be finite")
    off = F - np.diag(np.diag(F))
    if np.any(off < 0):
        raise ValueError("F off-diagonal rates must be >= 0")
    if not np.allclose(F.sum(axis=1), 0.0, atol=atol * max(1.0, np.abs(F).max())):
        raise ValueError("F rows must sum to 0 (f_ii = -sum_{j != i} f_ij)")
    return F


def rate_matrix_from_offdiagonal(rates: np.ndarray) -> np.ndarray:
    """Rate matrices ``(..., C, C)`` from off-diagonal rates ``(..., C, C)`` (diagonal of the input ignored)."""
    rates = np.asarray(rates, dtype=float)
    c = rates.shape[-1]
    off = rates * (1 - np.eye(c))
    return off - np.eye(c) * off.sum(axis=-1, keepdims=True)


def offdiagonal(F: np.ndarray) -> np.ndarray:
    """The :math:`C^2-C` off-diagonal entries of ``(..., C, C)`` in row-major order."""
    F = np.asarray(F)
    c = F.shape[-1]
    mask = ~np.eye(c, dtype=bool)
    return F[..., mask]


def transition_matrix(F: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    r""":math:`P(t)=e^{Ft}` for a scalar ``t`` (``(C, C)``) or an array of times (``t.shape + (C, C)``)."""
    F = validate_rate_matrix(F)
    times = np.asarray(t, dtype=float)
    if np.any(times < 0):
        raise ValueError("t must be >= 0")
    out = expm(times.reshape(-1, 1, 1) * F[None])
    return out.reshape(times.shape + F.shape)


def stationary_distribution(F: np.ndarray) -> np.ndarray:
    r"""The probability vector :math:`\pi` with :math:`\pi F=0` (least squares with :math:`\sum\pi=1`)."""
    F = validate_rate_matrix(F)
    c = F.shape[0]
    system = np.vstack([F.T, np.ones((1, c))])
    rhs = np.zeros(c + 1)
    rhs[-1] = 1.0
    pi = np.linalg.lstsq(system, rhs, rcond=None)[0]
    return np.clip(pi, 0, None) / np.clip(pi, 0, None).sum()


@dataclass(frozen=True)
class MJPPaths:
    """Piecewise-constant paths: ``times[p, k]`` (jump times, ``times[:, 0] = 0``, padded with +inf)
    and ``states[p, k]`` (state entered at ``times[p, k]``), observed on ``[0, t_end]``."""

    times: np.ndarray
    states: np.ndarray
    t_end: float

    def state_at(self, grid: np.ndarray) -> np.ndarray:
        """States at times ``grid`` (``(L,)`` shared or ``(P, L)`` per path), shape ``(P, L)``."""
        grid = np.asarray(grid, dtype=float)
        if grid.ndim == 1:
            grid = np.broadcast_to(grid, (self.times.shape[0], grid.size))
        idx = np.sum(self.times[:, None, :] <= grid[:, :, None], axis=-1) - 1
        return np.take_along_axis(self.states, np.maximum(idx, 0), axis=1)


def gillespie(F: np.ndarray, initial: np.ndarray, t_end: float, n_paths: int,
              rng: np.random.Generator, max_jumps: int = 100_000) -> MJPPaths:
    """Exact paths of the MJP on ``[0, t_end]`` started from ``initial`` (a law or one state per path)."""
    F = validate_rate_matrix(F)
    c = F.shape[0]
    if t_end <= 0:
        raise ValueError(f"t_end must be > 0, got {t_end}")
    if n_paths < 1:
        raise ValueError(f"n_paths must be >= 1, got {n_paths}")
    initial = np.asarray(initial)
    if initial.ndim == 1 and initial.size == c and initial.dtype.kind == "f":
        if np.any(initial < 0) or not np.isclose(initial.sum(), 1.0):
            raise ValueError("initial must be a probability vector over the states")
        state = rng.choice(c, size=n_paths, p=initial)
    else:
        state = np.broadcast_to(initial.astype(int), (n_paths,)).copy()
        if np.any((state < 0) | (state >= c)):
            raise ValueError(f"initial states must be in [0, {c - 1}]")
    exit_rate = -np.diag(F)
    jump_cdf = np.cumsum(np.where(exit_rate[:, None] > 0, F / np.maximum(exit_rate[:, None], 1e-300), 0.0)
                         * (1 - np.eye(c)), axis=1)
    now = np.zeros(n_paths)
    times, states = [now.copy()], [state.copy()]
    active = exit_rate[state] > 0
    for _ in range(max_jumps):
        if not active.any():
            break
        hold = rng.exponential(size=n_paths) / np.where(active, exit_rate[state], 1.0)
        now = np.where(active, now + hold, np.inf)
        active &= now <= t_end
        u = rng.random(n_paths) * jump_cdf[state, -1]
        nxt = np.minimum(np.sum(jump_cdf[state] <= u[:, None], axis=1), c - 1)
        state = np.where(active, nxt, state)
        times.append(np.where(active, now, np.inf))
        states.append(state.copy())
        active &= exit_rate[state] > 0
    else:
        raise RuntimeError(f"gillespie: more than max_jumps={max_jumps} jumps on [0, {t_end}]")
    return MJPPaths(np.stack(times, axis=1), np.stack(states, axis=1), float(t_end))


def observe(paths: MJPPaths, grid: np.ndarray) -> np.ndarray:
    """The states of ``paths`` on an observation ``grid`` (``(L,)`` or ``(P, L)``)."""
    return paths.state_at(grid)


def flip_noise(states: np.ndarray, n_states: int, probability: float, rng: np.random.Generator) -> np.ndarray:
    """Replace each observed state, with ``probability``, by a uniformly drawn *other* state."""
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be in [0, 1], got {probability}")
    states = np.asarray(states)
    flip = rng.random(states.shape) < probability
    other = (states + rng.integers(1, n_states, size=states.shape)) % n_states
    return np.where(flip, other, states)


def complete_data_mle(paths: MJPPaths, n_states: int) -> np.ndarray:
    r"""Complete-data MLE :math:`\hat f_{ij}=N_{ij}/T_i` from exactly observed paths on ``[0, t_end]``."""
    start = np.minimum(paths.times, paths.t_end)
    stop = np.concatenate([start[:, 1:], np.full((start.shape[0], 1), paths.t_end)], axis=1)
    occupation = np.zeros(n_states)
    np.add.at(occupation, paths.states, stop - start)
    counts = np.zeros((n_states, n_states))
    jumped = np.isfinite(paths.times[:, 1:])
    np.add.at(counts, (paths.states[:, :-1][jumped], paths.states[:, 1:][jumped]), 1.0)
    counts *= 1 - np.eye(n_states)
    return rate_matrix_from_offdiagonal(counts / np.maximum(occupation, 1e-300)[:, None])


def transition_counts(observations: np.ndarray, grid: np.ndarray, n_states: int) -> dict[float, np.ndarray]:
    """Counts of observed transitions ``x_l -> x_{l+1}`` grouped by the (rounded) gap :math:`\\Delta_l`."""
    observations = np.asarray(observations)
    grid = np.broadcast_to(np.asarray(grid, dtype=float), observations.shape)
    gaps = np.round(np.diff(grid, axis=1), 10)
    out: dict[float, np.ndarray] = {}
    for gap in np.unique(gaps):
        sel = gaps == gap
        counts = np.zeros((n_states, n_states))
        np.add.at(counts, (observations[:, :-1][sel], observations[:, 1:][sel]), 1.0)
        out[float(gap)] = counts
    return out


def discrete_observation_mle(observations: np.ndarray, grid: np.ndarray, n_states: int,
                             init: np.ndarray | None = None, max_iter: int = 200) -> np.ndarray:
    r"""MLE of :math:`F` from states observed on a grid: maximise
    :math:`\sum_{\Delta}\sum_{ij}n^\Delta_{ij}\log[e^{F\Delta}]_{ij}` over :math:`\log f_{ij}` (L-BFGS)."""
    counts = transition_counts(observations, grid, n_states)
    mask = ~np.eye(n_states, dtype=bool)
    if init is None:
        first_gap = min(counts)
        empirical = counts[first_gap] + 1.0
        init = rate_matrix_from_offdiagonal(empirical / empirical.sum(1, keepdims=True) / first_gap)

    def objective(log_rates: np.ndarray) -> tuple[float, np.ndarray]:
        rates = np.zeros((n_states, n_states))
        rates[mask] = np.exp(log_rates)
        F = rate_matrix_from_offdiagonal(rates)
        value, grad_F = 0.0, np.zeros_like(F)
        for gap, n in counts.items():
            P = np.clip(expm(F * gap), 1e-300, None)
            value -= float(np.sum(n * np.log(P)))
            G = -n / P
            # d/dF sum G * expm(F gap) = gap * frechet(F^T gap, G)
            grad_F += gap * expm_frechet((F * gap).T, G, compute_expm=False)
        # chain rule through f_ii = -sum_j f_ij and f_ij = exp(theta_ij)
        grad_off = grad_F - np.diag(grad_F)[:, None]
        return value, grad_off[mask] * rates[mask]

    start = np.log(np.maximum(offdiagonal(np.asarray(init, dtype=float)), 1e-6))
    result = minimize(objective, start, jac=True, method="L-BFGS-B",
                      bounds=[(-12.0, 8.0)] * start.size, options={"maxiter": max_iter})
    rates = np.zeros((n_states, n_states))
    rates[mask] = np.exp(result.x)
    return rate_matrix_from_offdiagonal(rates)


def time_averaged_hellinger(F_true: np.ndarray, F_hat: np.ndarray, initial: np.ndarray,
                            times: np.ndarray) -> float:
    r"""Mean over ``times`` of the Hellinger distance :math:`\sqrt{1-\sum_x\sqrt{p_t(x)\hat p_t(x)}}`."""
    p = np.asarray(initial, dtype=float) @ transition_matrix(F_true, times)
    q = np.asarray(initial, dtype=float) @ transition_matrix(F_hat, times)
    bc = np.sum(np.sqrt(np.clip(p, 0, None) * np.clip(q, 0, None)), axis=-1)
    return float(np.mean(np.sqrt(np.clip(1 - bc, 0, None))))


def discrete_flashing_ratchet(potential: float = 1.0, switching: float = 1.0, off_rate: float = 1.0) -> np.ndarray:
    r"""Rate matrix of the 6-state discrete flashing ratchet (DFR) with parameters :math:`(V, r, b)`.

    States 0-2 (potential on): :math:`f_{ij}=e^{-V(j-i)/2}`; states 3-5 (potential off): :math:`f_{ij}=b`;
    switching :math:`i\leftrightarrow i+3` at rate :math:`r`.
    """
    if potential < 0 or switching <= 0 or off_rate <= 0:
        raise ValueError("potential must be >= 0 and switching, off_rate > 0")
    rates = np.zeros((6, 6))
    idx = np.arange(3)
    rates[:3, :3] = np.exp(-potential * (idx[None, :] - idx[:, None]) / 2)
    rates[3:, 3:] = off_rate
    rates[idx, idx + 3] = switching
    rates[idx + 3, idx] = switching
    return rate_matrix_from_offdiagonal(rates)
