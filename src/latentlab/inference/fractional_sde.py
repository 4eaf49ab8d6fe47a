r"""Variational inference for an SDE driven by (Markov-approximated) fractional noise (torch).

Daems, Opper, Crevecoeur, Birdal (ICLR 2024).  Fractional noise :math:`B^H` is replaced by
:math:`\hat B^H=\sum_k\omega_k(H)Y_k`, :math:`dY_k=-\gamma_kY_kdt+dW`
(:func:`latentlab.inference.fbm.optimal_weights_torch`), so the fractional OU prior
:math:`dX=-\theta X\,dt+\sigma\,d\hat B^H` becomes the Markov SDE on :math:`Z=(X,Y_{1:K})`

.. math:: dY_k=-\gamma_kY_kdt+dW,\qquad
          dX=\big[-\theta X-\sigma\textstyle\sum_k\omega_k\gamma_kY_k\big]dt+\sigma\bar\omega\,dW,
          \quad\bar\omega=\sum_k\omega_k.

The posterior replaces :math:`dW` by :math:`u_\phi(Z_t,t,c)\,dt+dW` in every component (one
shared Brownian motion), and by Girsanov the ELBO is

.. math:: \mathcal L=E_Q\Big[\sum_i\log\mathcal N(y_i;X_{t_i},\sigma^2_{obs})\Big]
          -E_Q\Big[\int_0^T\tfrac12u_\phi^2dt\Big],

estimated by Euler–Maruyama with the running KL integral carried along.  :math:`\theta,\sigma`
and :math:`H=\mathrm{sigmoid}(\eta)` are learned with :math:`\phi`; the gradient in :math:`H`
flows through the closed-form weights.  :math:`c` is a per-path context (an MLP of the
path's observations).

Held-out likelihood: :func:`iwae` is the importance-weighted bound
:math:`\log\frac1S\sum_s p(y\mid X^s)\frac{dP}{dQ}(X^s)`, :math:`X^s\sim Q`, with the Girsanov
log-weight :math:`\log\frac{dP}{dQ}=-\sum_nu_n\Delta\tilde W_n-\frac12\sum_nu_n^2\Delta t` carried along
the Euler scheme (exact for the discretised SDEs); :func:`discretised_log_marginal` is the exact
:math:`\log p(y)` of the Euler-discretised prior (a linear Gaussian system), its known answer.  The
Brownian baseline is the same class with ``hurst=0.5, learn_hurst=False`` (then
:math:`\sum_k\omega_kY_k\approx W`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from latentlab.inference.fbm import optimal_weights_torch

__all__ = ["FractionalOUVI", "ObservedPaths", "discretised_log_marginal", "iwae", "ou_bank_feedback", "ou_bank_step",
           "simulate_fractional_ou"]


class LearnableHurst:
    r"""Mixin for an ``nn.Module`` driven by the Markov approximation of fBM: it holds ``hurst_logit``
    (:func:`hurst_parameter`) and the numpy copy ``_gammas_np`` of the OU rates, and gives
    :math:`H = \sigma(\mathrm{logit})` and the optimal weights :math:`\omega(H)`, differentiable in :math:`H`."""

    hurst_logit: nn.Parameter
    _gammas_np: np.ndarray

    @property
    def hurst(self) -> torch.Tensor:
        return torch.sigmoid(self.hurst_logit)

    def weights(self) -> torch.Tensor:
        return optimal_weights_torch(self.hurst.double(), self._gammas_np).float()


def hurst_parameter(hurst: float, learn: bool) -> nn.Parameter:
    """The logit of ``hurst`` in (0, 1) as a parameter (frozen unless ``learn``)."""
    return nn.Parameter(torch.tensor(float(np.log(hurst / (1 - hurst)))), requires_grad=learn)


def ou_bank_feedback(y: torch.Tensor, gammas: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    r""":math:`\sum_k\omega_k\gamma_kY_k` over the last axis of ``y (..., K)``: the drift part of
    :math:`d\hat B^H=\sum_k\omega_kdY_k=-\sum_k\omega_k\gamma_kY_kdt+\bar\omega(u\,dt+dW)`.  A state driven
    by :math:`\hat B^H` moves by
    :math:`dX=[b-\sigma\sum_k\omega_k\gamma_kY_k+\sigma\bar\omega u]dt+\sigma\bar\omega\,dW`."""
    return (y * (omega * gammas)).sum(-1)


def ou_bank_step(y: torch.Tensor, u: torch.Tensor, dw: torch.Tensor, gammas: torch.Tensor, dt: float) -> torch.Tensor:
    r"""Euler step of the controlled OU bank :math:`dY_k=(-\gamma_kY_k+u)dt+dW`, ``y (..., K)``, ``u, dw (...)``
    (one control and one Brownian increment shared by the K components)."""
    return y + (-gammas * y + u[..., None]) * dt + dw[..., None]


@dataclass(frozen=True)
class ObservedPaths:
    """``values (P, n_obs)`` observed at Euler-grid indices ``index (P, n_obs)`` (grid step ``dt``, ``n_steps``)."""

    values: np.ndarray
    index: np.ndarray
    dt: float
    n_steps: int


def simulate_fractional_ou(theta: float, sigma: float, hurst: float, n_paths: int, n_steps: int, n_obs: int,
                           obs_noise: float, rng: np.random.Generator) -> ObservedPaths:
    """fOU paths :math:`X_0=0` driven by *exact* Type II fBM on ``n_steps`` points of [0, 1] (Cholesky), Euler in
    :math:`X`, observed with Gaussian noise at ``n_obs`` distinct random grid points per path."""
    from latentlab.inference.fbm import sample_fbm

    if n_obs > n_steps:
        raise ValueError(f"n_obs must be <= n_steps, got {n_obs} > {n_steps}")
    dt = 1.0 / n_steps
    grid = dt * np.arange(1, n_steps + 1)
    fbm = sample_fbm(grid, hurst, n_paths, rng, kind="II")
    increments = np.diff(np.concatenate([np.zeros((n_paths, 1)), fbm], axis=1), axis=1)
    x = np.zeros((n_paths, n_steps + 1))
    for n in range(n_steps):
        x[:, n + 1] = x[:, n] - theta * x[:, n] * dt + sigma * increments[:, n]
    index = np.sort(np.stack([rng.choice(np.arange(1, n_steps + 1), n_obs, replace=False)
                              for _ in range(n_paths)]), axis=1)
    values = np.take_along_axis(x, index, axis=1) + obs_noise * rng.standard_normal((n_paths, n_obs))
    return ObservedPaths(values, index, dt, n_steps)


class FractionalOUVI(LearnableHurst, nn.Module):
    """Prior parameters (theta, sigma, H) and the posterior control network; :meth:`elbo` per path."""

    def __init__(self, gammas: np.ndarray, n_obs: int, obs_noise: float, hidden: int = 64, context: int = 16,
                 hurst: float = 0.5, learn_hurst: bool = True, theta: float = 0.5, sigma: float = 1.0) -> None:
        super().__init__()
        if not 0 < hurst < 1 or obs_noise <= 0 or theta <= 0 or sigma <= 0:
            raise ValueError("hurst must be in (0, 1) and obs_noise, theta, sigma > 0")
        self.register_buffer("gammas", torch.as_tensor(gammas, dtype=torch.float32))
        self._gammas_np = np.asarray(gammas, dtype=float)
        self.obs_noise = float(obs_noise)
        self.log_theta = nn.Parameter(torch.tensor(float(np.log(theta))))
        self.log_sigma = nn.Parameter(torch.tensor(float(np.log(sigma))))
        self.hurst_logit = hurst_parameter(hurst, learn_hurst)
        k = len(gammas)
        self.encoder = nn.Sequential(nn.Linear(2 * n_obs, hidden), nn.Tanh(), nn.Linear(hidden, context))
        self.control = nn.Sequential(nn.Linear(k + 2 + context, hidden), nn.Tanh(), nn.Linear(hidden, hidden),
                                     nn.Tanh(), nn.Linear(hidden, 1))

    def sample_paths(self, ctx: torch.Tensor | None, n_paths: int, n_steps: int, dt: float,
                     generator: torch.Generator, zero_control: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Euler–Maruyama paths of :math:`X` ``(n_paths, n_steps+1)`` under the posterior (prior if
        ``zero_control``) and the running KL :math:`\int\frac12u^2dt` ``(n_paths,)``."""
        path, kl, _ = self._euler(ctx, n_paths, n_steps, dt, generator, zero_control)
        return path, kl

    def _euler(self, ctx: torch.Tensor | None, n_paths: int, n_steps: int, dt: float, generator: torch.Generator,
               zero_control: bool = False, track_weight: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        r"""Paths, running KL and the Girsanov log-weight :math:`\log\frac{dP}{dQ}=-\sum_nu_n\Delta\tilde W_n
        -\frac12\sum_nu_n^2\Delta t` (``\Delta\tilde W`` the Brownian increments under the posterior; exact for
        the Euler-discretised SDEs, whose one-step noise is one scalar Gaussian; ``None`` unless ``track_weight``)."""
        omega = self.weights()
        theta, sigma = torch.exp(self.log_theta), torch.exp(self.log_sigma)
        g = self.gammas
        x, y, kl = torch.zeros(n_paths), torch.zeros(n_paths, len(g)), torch.zeros(n_paths)
        stochastic = torch.zeros(n_paths) if track_weight else None
        path = [x]
        sqrt_dt = float(np.sqrt(dt))
        for n in range(n_steps):
            if zero_control:
                u = torch.zeros_like(x)
            else:
                t = torch.full((n_paths, 1), n * dt)
                u = self.control(torch.cat([x[:, None], y, t, ctx], 1))[:, 0]
            dw = sqrt_dt * torch.randn(n_paths, generator=generator)
            drift_x = -theta * x - sigma * ou_bank_feedback(y, g, omega) + sigma * omega.sum() * u
            x = x + drift_x * dt + sigma * omega.sum() * dw
            y = ou_bank_step(y, u, dw, g, dt)
            kl = kl + 0.5 * u**2 * dt
            if track_weight:
                stochastic = stochastic + u * dw
            path.append(x)
        return torch.stack(path, dim=1), kl, (-stochastic - kl) if track_weight else None

    def elbo(self, data: ObservedPaths, generator: torch.Generator, n_samples: int = 1,
             zero_control: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-path ELBO estimate ``(P,)`` (mean over ``n_samples``) and the KL term ``(P,)``."""
        values = torch.as_tensor(data.values, dtype=torch.float32)
        index = torch.as_tensor(data.index, dtype=torch.long)
        p = values.shape[0]
        times = index.float() * data.dt
        ctx = self.encoder(torch.cat([values, times], dim=1)).repeat(n_samples, 1)
        states, kl = self.sample_paths(ctx, p * n_samples, data.n_steps, data.dt, generator, zero_control)
        observed = torch.gather(states.reshape(n_samples, p, -1), 2, index.expand(n_samples, -1, -1))
        log_lik = (-0.5 * ((values - observed) / self.obs_noise) ** 2
                   - np.log(self.obs_noise * np.sqrt(2 * np.pi))).sum(-1)
        return (log_lik - kl.reshape(n_samples, p)).mean(0), kl.reshape(n_samples, p).mean(0)

    def _log_likelihood(self, states: torch.Tensor, values: torch.Tensor, index: torch.Tensor,
                        n_samples: int) -> torch.Tensor:
        """``sum_i log N(y_i; X_{t_i}, obs_noise^2)`` ``(n_samples, P)`` from stacked paths ``(n_samples * P, T)``."""
        p = values.shape[0]
        observed = torch.gather(states.reshape(n_samples, p, -1), 2, index.expand(n_samples, -1, -1))
        return (-0.5 * ((values - observed) / self.obs_noise) ** 2
                - np.log(self.obs_noise * np.sqrt(2 * np.pi))).sum(-1)

    def log_importance_weights(self, data: ObservedPaths, generator: torch.Generator, n_samples: int = 64,
                               zero_control: bool = False) -> torch.Tensor:
        r"""Log importance weights ``(n_samples, P)``: :math:`\log p(y\mid X)+\log\frac{dP}{dQ}(X)` for
        ``n_samples`` posterior paths per observed path (prior paths if ``zero_control``)."""
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        values = torch.as_tensor(data.values, dtype=torch.float32)
        index = torch.as_tensor(data.index, dtype=torch.long)
        p = values.shape[0]
        times = index.float() * data.dt
        ctx = self.encoder(torch.cat([values, times], dim=1)).repeat(n_samples, 1)
        states, _, log_girsanov = self._euler(ctx, p * n_samples, data.n_steps, data.dt, generator, zero_control,
                                              track_weight=True)
        return self._log_likelihood(states, values, index, n_samples) + log_girsanov.reshape(n_samples, p)


def iwae(model: FractionalOUVI, observations: ObservedPaths, n_samples: int = 64,
         generator: torch.Generator | None = None, zero_control: bool = False) -> np.ndarray:
    r"""Importance-weighted bound on :math:`\log p(y)` per observed path, ``(P,)`` float64.

    :math:`\mathcal L_S=\log\frac1S\sum_{s=1}^S\exp\big(\log p(y\mid X^s)+\log\frac{dP}{dQ}(X^s)\big)`,
    :math:`X^s\sim Q` (the variational posterior SDE), vectorised over paths and samples.  Its
    expectation is :math:`\le\log p(y)`, non-decreasing in ``S`` and tends to :math:`\log p(y)` of the
    Euler-discretised prior as ``S`` grows (Burda et al. 2016).  With ``zero_control`` the proposal is the
    prior and the weights are the likelihoods.  No gradients are recorded.
    """
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    with torch.no_grad():
        log_w = model.log_importance_weights(observations, generator, n_samples, zero_control).double()
        return (torch.logsumexp(log_w, dim=0) - np.log(n_samples)).numpy()


def discretised_log_marginal(model: FractionalOUVI, observations: ObservedPaths) -> np.ndarray:
    r"""Exact :math:`\log p(y)` ``(P,)`` under the model's Euler-discretised *prior* (a linear Gaussian
    system: :math:`Z_{n+1}=MZ_n+v\,\Delta W_n`, :math:`Z_0=0`), float64 — the known answer for :func:`iwae`."""
    with torch.no_grad():
        omega = model.weights().double().numpy()
        theta, sigma = float(torch.exp(model.log_theta)), float(torch.exp(model.log_sigma))
    g = model.gammas.double().numpy()
    k, dt, n_steps = len(g), observations.dt, observations.n_steps
    drift = np.zeros((k + 1, k + 1))
    drift[0, 0] = -theta
    drift[0, 1:] = -sigma * omega * g
    drift[1:, 1:] = -np.diag(g)
    m = np.eye(k + 1) + dt * drift
    v = np.concatenate([[sigma * omega.sum()], np.ones(k)])
    # covariances Cov(Z_n, Z_n) and the propagators M^n, then Cov(X_a, X_b) = (M^{b-a} Cov_a)[0, 0] for a <= b
    covs, powers = [np.zeros((k + 1, k + 1))], [np.eye(k + 1)]
    for _ in range(n_steps):
        covs.append(m @ covs[-1] @ m.T + dt * np.outer(v, v))
        powers.append(m @ powers[-1])
    out = np.empty(observations.values.shape[0])
    for i, (y, idx) in enumerate(zip(observations.values, observations.index)):
        lo, hi = np.minimum.outer(idx, idx), np.maximum.outer(idx, idx)
        cov = np.array([[(powers[b - a] @ covs[a])[0, 0] for a, b in zip(r_lo, r_hi)] for r_lo, r_hi in zip(lo, hi)])
        cov = cov + model.obs_noise**2 * np.eye(len(idx))
        chol = np.linalg.cholesky(cov)
        alpha = np.linalg.solve(chol, y)
        out[i] = -0.5 * alpha @ alpha - np.log(np.diag(chol)).sum() - 0.5 * len(idx) * np.log(2 * np.pi)
    return out
