r"""Online learning with expert advice (full information), batched over ``S`` sequences.

At round :math:`t` a learner outputs :math:`\pi_t\in\Delta_d`, then the loss vector
:math:`\ell_t\in[0,B]^d` is revealed.  External regret after :math:`t` rounds:

.. math:: \mathrm{Reg}_t=\sum_{s\le t}\langle\ell_s,\pi_s\rangle-\min_a\sum_{s\le t}\ell_s(a).

Loss sequences (``(S, T, d)`` arrays, clipped to :math:`[0,B]`): :func:`iid_uniform_losses`,
:func:`linear_trend_losses` (:math:`c_a+s_a t/T` + noise), :func:`sine_trend_losses`
(:math:`\frac B2(1+\sin(\omega_a t+\phi_a))` + noise) and :func:`alternating_losses` — the
"noisy alternating" adversarial case :math:`\ell_t=(0,B)` for odd :math:`t`, :math:`(B,0)` for
even :math:`t` (extra actions at :math:`B/2`) plus small noise, on which FTL has linear regret.
:func:`play_adaptive_adversary` plays the adaptive case: the action with the largest
:math:`\pi_t(a)` gets loss :math:`B`, the others 0.

Learners (:class:`OnlineLearner`: ``reset(S, d)``, ``policy() -> (S, d)``, ``update(losses)``),
with :math:`L_t=\sum_{s<t}\ell_s`:

* :class:`FTL` — uniform over :math:`\arg\min_a L_t(a)`.
* :class:`Hedge` — FTRL with entropy: :math:`\pi_t\propto e^{-\eta_t L_t}`; ``fixed`` step
  :math:`\eta=\sqrt{8\ln d/T}/B` (regret :math:`\le B\sqrt{(T/2)\ln d}`), ``anytime``
  :math:`\eta_t=\sqrt{8\ln d/t}/B` (regret :math:`\le B(2\sqrt{(T/2)\ln d}+\sqrt{\ln d/8})`),
  Cesa-Bianchi & Lugosi (2006), Thm. 2.2 and 2.3.
* :class:`FTRLL2` — :math:`\pi_t=\Pi_\Delta(\tfrac1d\mathbf 1-\eta L_t)` (Euclidean projection).
* :class:`FTPL` — :math:`\arg\min_a(L_t(a)+\sigma\sqrt t\,z_a)`, :math:`z\sim\mathcal N(0,I)`; its
  policy is estimated with ``n_samples`` perturbations.
* :class:`RegretMatching` — :math:`\pi_t\propto[\mathrm{Reg}_t(a)]_+`, uniform when none is positive.
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np

__all__ = [
    "OnlineLearner",
    "FTL",
    "Hedge",
    "FTRLL2",
    "FTPL",
    "RegretMatching",
    "project_to_simplex",
    "iid_uniform_losses",
    "linear_trend_losses",
    "sine_trend_losses",
    "alternating_losses",
    "loss_sequence",
    "LOSS_KINDS",
    "play_online",
    "play_adaptive_adversary",
    "external_regret",
    "hedge_regret_bound",
]

LOSS_KINDS: tuple[str, ...] = ("iid", "linear-trend", "sine-trend", "alternating")


def project_to_simplex(x: np.ndarray) -> np.ndarray:
    r"""Euclidean projection of each row (last axis) onto the probability simplex (sort-based)."""
    x = np.asarray(x, dtype=float)
    d = x.shape[-1]
    u = -np.sort(-x, axis=-1)
    css = np.cumsum(u, axis=-1) - 1.0
    k = np.arange(1, d + 1)
    cond = u - css / k > 0
    rho = d - 1 - np.argmax(cond[..., ::-1], axis=-1)
    tau = np.take_along_axis(css, rho[..., None], axis=-1) / (rho[..., None] + 1.0)
    return np.maximum(x - tau, 0.0)


def _check_shape(n: int, d: int, horizon: int | None = None) -> None:
    if n < 1:
        raise ValueError(f"n_sequences must be >= 1, got {n}")
    if d < 2:
        raise ValueError(f"n_actions must be >= 2, got {d}")
    if horizon is not None and horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")


def iid_uniform_losses(n: int, horizon: int, d: int, rng: np.random.Generator, bound: float = 1.0) -> np.ndarray:
    """I.i.d. uniform losses on :math:`[0,B]^d`."""
    _check_shape(n, d, horizon)
    return bound * rng.random((n, horizon, d))


def linear_trend_losses(n: int, horizon: int, d: int, rng: np.random.Generator, bound: float = 1.0,
                        noise: float = 0.1) -> np.ndarray:
    r""":math:`\ell_t(a)=B(c_a+s_a t/T)+\text{noise}`, :math:`c\sim U[0.2,0.8]`, :math:`s\sim U[-0.2,0.2]`."""
    _check_shape(n, d, horizon)
    c = rng.uniform(0.2, 0.8, (n, 1, d))
    s = rng.uniform(-0.2, 0.2, (n, 1, d))
    t = (np.arange(horizon) / horizon)[None, :, None]
    eps = noise * rng.standard_normal((n, horizon, d))
    return np.clip(bound * (c + s * t + eps), 0.0, bound)


def sine_trend_losses(n: int, horizon: int, d: int, rng: np.random.Generator, bound: float = 1.0,
                      noise: float = 0.1) -> np.ndarray:
    r""":math:`\ell_t(a)=\frac B2(1+\sin(\omega_a t+\phi_a))+\text{noise}`, :math:`\omega\sim U[0.05,0.5]`."""
    _check_shape(n, d, horizon)
    omega = rng.uniform(0.05, 0.5, (n, 1, d))
    phi = rng.uniform(0, 2 * np.pi, (n, 1, d))
    t = np.arange(horizon)[None, :, None]
    eps = noise * bound * rng.standard_normal((n, horizon, d))
    return np.clip(bound / 2 * (1 + np.sin(omega * t + phi)) + eps, 0.0, bound)


def alternating_losses(n: int, horizon: int, d: int, rng: np.random.Generator, bound: float = 1.0,
                       noise: float = 0.05) -> np.ndarray:
    r"""Noisy alternating: rounds 1, 3, ... :math:`(0,B,\frac B2,\dots)`; rounds 2, 4, ...
    :math:`(B,0,\frac B2,\dots)`."""
    _check_shape(n, d, horizon)
    base = np.full((horizon, d), bound / 2)
    odd = np.arange(horizon) % 2 == 0  # rounds 1, 3, 5, ... (0-based even indices)
    base[odd, 0], base[odd, 1] = 0.0, bound
    base[~odd, 0], base[~odd, 1] = bound, 0.0
    eps = noise * bound * rng.standard_normal((n, horizon, d))
    return np.clip(base[None] + eps, 0.0, bound)


def loss_sequence(kind: str, n: int, horizon: int, d: int, rng: np.random.Generator,
                  bound: float = 1.0) -> np.ndarray:
    """Dispatch on ``kind`` in :data:`LOSS_KINDS`."""
    makers = {"iid": iid_uniform_losses, "linear-trend": linear_trend_losses,
              "sine-trend": sine_trend_losses, "alternating": alternating_losses}
    if kind not in makers:
        raise ValueError(f"kind must be one of {LOSS_KINDS}, got {kind!r}")
    return makers[kind](n, horizon, d, rng, bound)


class OnlineLearner(Protocol):
    def reset(self, n_sequences: int, n_actions: int) -> None: ...

    def policy(self) -> np.ndarray: ...

    def update(self, losses: np.ndarray) -> None: ...


class _CumulativeLoss:
    cumulative: np.ndarray
    t: int

    def reset(self, n_sequences: int, n_actions: int) -> None:
        _check_shape(n_sequences, n_actions)
        self.cumulative = np.zeros((n_sequences, n_actions))
        self.t = 0

    def update(self, losses: np.ndarray) -> None:
        self.cumulative = self.cumulative + losses
        self.t += 1


class FTL(_CumulativeLoss):
    """Follow the leader: uniform over the actions of least cumulative loss."""

    def policy(self) -> np.ndarray:
        best = self.cumulative.min(axis=1, keepdims=True)
        leaders = (self.cumulative <= best + 1e-12).astype(float)
        return leaders / leaders.sum(axis=1, keepdims=True)


class Hedge(_CumulativeLoss):
    r"""Exponential weights :math:`\pi_t\propto\exp(-\eta_t L_t)`."""

    def __init__(self, schedule: Literal["fixed", "anytime"] = "anytime", horizon: int | None = None,
                 loss_bound: float = 1.0, eta: float | None = None) -> None:
        if schedule not in ("fixed", "anytime"):
            raise ValueError(f"schedule must be 'fixed' or 'anytime', got {schedule!r}")
        if schedule == "fixed" and eta is None and (horizon is None or horizon < 1):
            raise ValueError("horizon must be >= 1 for the fixed schedule")
        if loss_bound <= 0:
            raise ValueError(f"loss_bound must be > 0, got {loss_bound}")
        self.schedule, self.horizon, self.loss_bound, self.eta = schedule, horizon, loss_bound, eta

    def step_size(self, d: int) -> float:
        if self.eta is not None:
            return self.eta
        rounds = self.horizon if self.schedule == "fixed" else self.t + 1
        return float(np.sqrt(8 * np.log(d) / rounds) / self.loss_bound)

    def policy(self) -> np.ndarray:
        logits = -self.step_size(self.cumulative.shape[1]) * self.cumulative
        logits -= logits.max(axis=1, keepdims=True)
        w = np.exp(logits)
        return w / w.sum(axis=1, keepdims=True)


class FTRLL2(_CumulativeLoss):
    r""":math:`\pi_t=\Pi_\Delta(\tfrac1d\mathbf 1-\eta L_t)`, the L2-regularised FTRL step."""

    def __init__(self, eta: float) -> None:
        if eta <= 0:
            raise ValueError(f"eta must be > 0, got {eta}")
        self.eta = eta

    def policy(self) -> np.ndarray:
        d = self.cumulative.shape[1]
        return project_to_simplex(1.0 / d - self.eta * self.cumulative)


class FTPL(_CumulativeLoss):
    r"""Follow the perturbed leader with Gaussian noise of scale :math:`\sigma\sqrt t`."""

    def __init__(self, scale: float = 1.0, n_samples: int = 64, seed: int = 0) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        self.scale, self.n_samples = scale, n_samples
        self.rng = np.random.default_rng(seed)

    def policy(self) -> np.ndarray:
        n, d = self.cumulative.shape
        z = self.rng.standard_normal((self.n_samples, n, d))
        leaders = np.argmin(self.cumulative[None] + self.scale * np.sqrt(self.t + 1) * z, axis=2)
        return np.stack([(leaders == a).mean(axis=0) for a in range(d)], axis=1)


class RegretMatching(_CumulativeLoss):
    r""":math:`\pi_t\propto[\mathrm{Reg}_t(a)]_+`, :math:`\mathrm{Reg}_t(a)=\sum_s\langle\ell_s,\pi_s\rangle-L_t(a)`."""

    def reset(self, n_sequences: int, n_actions: int) -> None:
        super().reset(n_sequences, n_actions)
        self.learner_loss = np.zeros((n_sequences, 1))
        self._last = np.full((n_sequences, n_actions), 1.0 / n_actions)

    def policy(self) -> np.ndarray:
        positive = np.maximum(self.learner_loss - self.cumulative, 0.0)
        total = positive.sum(axis=1, keepdims=True)
        d = positive.shape[1]
        self._last = np.where(total > 0, positive / np.maximum(total, 1e-300), 1.0 / d)
        return self._last

    def update(self, losses: np.ndarray) -> None:
        self.learner_loss = self.learner_loss + (self._last * losses).sum(axis=1, keepdims=True)
        super().update(losses)


def play_online(learner: OnlineLearner, losses: np.ndarray) -> np.ndarray:
    """Policies ``(S, T, d)`` of ``learner`` on the fixed (oblivious) ``losses`` ``(S, T, d)``."""
    losses = np.asarray(losses, dtype=float)
    if losses.ndim != 3:
        raise ValueError(f"losses must have shape (S, T, d), got {losses.shape}")
    n, horizon, d = losses.shape
    learner.reset(n, d)
    policies = np.empty_like(losses)
    for t in range(horizon):
        policies[:, t] = learner.policy()
        learner.update(losses[:, t])
    return policies


def play_adaptive_adversary(learner: OnlineLearner, n: int, horizon: int, d: int, rng: np.random.Generator,
                            bound: float = 1.0, noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """The adaptive adversary: loss ``B`` on the learner's most likely action (+ noise); returns (losses, policies)."""
    _check_shape(n, d, horizon)
    learner.reset(n, d)
    losses = np.empty((n, horizon, d))
    policies = np.empty((n, horizon, d))
    for t in range(horizon):
        pi = learner.policy()
        target = np.argmax(pi + 1e-9 * rng.random(pi.shape), axis=1)
        loss = np.zeros((n, d))
        loss[np.arange(n), target] = bound
        loss = np.clip(loss + noise * bound * rng.standard_normal((n, d)), 0.0, bound)
        learner.update(loss)
        losses[:, t], policies[:, t] = loss, pi
    return losses, policies


def external_regret(losses: np.ndarray, policies: np.ndarray) -> np.ndarray:
    r""":math:`\mathrm{Reg}_t` for every prefix: ``(..., T, d)`` inputs -> ``(..., T)``."""
    losses = np.asarray(losses, dtype=float)
    policies = np.asarray(policies, dtype=float)
    if losses.shape != policies.shape:
        raise ValueError(f"losses and policies must have the same shape, got {losses.shape} and {policies.shape}")
    learner = np.cumsum((losses * policies).sum(axis=-1), axis=-1)
    best = np.cumsum(losses, axis=-2).min(axis=-1)
    return learner - best


def hedge_regret_bound(horizon: int | np.ndarray, d: int, bound: float = 1.0,
                       schedule: Literal["fixed", "anytime"] = "fixed") -> np.ndarray:
    r"""Textbook bound: fixed :math:`B\sqrt{(T/2)\ln d}`; anytime :math:`B(2\sqrt{(T/2)\ln d}+\sqrt{\ln d/8})`."""
    horizon = np.asarray(horizon, dtype=float)
    base = bound * np.sqrt(horizon / 2 * np.log(d))
    if schedule == "fixed":
        return base
    return 2 * base + bound * np.sqrt(np.log(d) / 8)
