r"""Noise kernels: how data are perturbed at noise level :math:`\sigma`, and the prior at :math:`\sigma_{max}`.

Two kernels share one interface (:class:`NoiseKernel`):

* :class:`GaussianKernel` -- diffusion: :math:`p_\sigma(x\mid y) = \mathcal N(x; y, \sigma^2 I)`.
* :class:`PFGMppKernel` -- PFGM++ (Xu et al. 2023) with augmentation dimension :math:`D`:
  data in :math:`\mathbb R^N` are charges on the :math:`z=0` plane of :math:`\mathbb R^{N+D}`, and with
  :math:`r = \sigma\sqrt D`

  .. math::
      p_r(x\mid y) \propto \frac{1}{(\lVert x-y\rVert^2 + r^2)^{(N+D)/2}}.

  It is sampled as :math:`x = y + R\,u`, :math:`u` uniform on :math:`S^{N-1}`,
  :math:`R = r\sqrt{B/(1-B)}`, :math:`B\sim\mathrm{Beta}(N/2, D/2)` (so :math:`R^2/r^2 \sim
  \mathrm{BetaPrime}(N/2, D/2)`), and the prior at :math:`\sigma_{max}` is the same draw around 0.
  Normalised, the kernel is a multivariate Student-t with :math:`\nu = D` degrees of freedom and
  scale :math:`\sigma`:

  .. math::
      p_r(x\mid y) = \frac{\Gamma(\tfrac{N+D}{2})}{\pi^{N/2}\Gamma(\tfrac D2)}
      \frac{r^D}{(\lVert x-y\rVert^2+r^2)^{(N+D)/2}},

  whose per-coordinate variance is :math:`\sigma^2 D/(D-2)` and which tends to
  :math:`\mathcal N(y, \sigma^2 I)` as :math:`D\to\infty` (the diffusion limit).

The kernel changes training (the perturbation) and the prior; the sampler (the EDM ODE in
:math:`\sigma`, :math:`dx/d\sigma = (x - D(x,\sigma))/\sigma`) is the same for every kernel, since
:math:`dx/dr = (x - E[y\mid x])/r` and :math:`r = \sigma\sqrt D`.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

__all__ = ["NoiseKernel", "GaussianKernel", "PFGMppKernel", "exact_posterior_mean"]


@runtime_checkable
class NoiseKernel(Protocol):
    """Perturbation kernel at EDM noise level sigma (shape ``(B,)`` or scalar)."""

    def sample_noise(self, shape: tuple[int, ...], sigma: Tensor, generator: torch.Generator | None = None,
                     dtype: torch.dtype = torch.float32) -> Tensor:
        """Noise ``n`` such that ``y + n ~ p_sigma(. | y)``; ``shape = (B, *event)``."""
        ...

    def log_prob(self, x: Tensor, y: Tensor, sigma: Tensor | float) -> Tensor:
        """Normalised ``log p_sigma(x | y)`` of vectors (last axis; ``x``, ``y`` and sigma broadcast)."""
        ...

    def sample_prior(self, n: int, event_shape: tuple[int, ...], sigma_max: float,
                     generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
        """``n`` draws of the prior at ``sigma_max`` (the kernel around 0)."""
        ...


def _sigma_column(sigma: Tensor | float, batch: int, ndim: int, dtype: torch.dtype) -> Tensor:
    sigma = torch.as_tensor(sigma, dtype=dtype)
    if sigma.dim() == 0:
        sigma = sigma.expand(batch)
    if sigma.shape != (batch,):
        raise ValueError(f"sigma must be a scalar or have shape ({batch},), got {tuple(sigma.shape)}")
    if torch.any(sigma <= 0):
        raise ValueError("sigma must be > 0")
    return sigma.reshape((batch,) + (1,) * (ndim - 1))


class GaussianKernel:
    r"""Diffusion kernel :math:`\mathcal N(y, \sigma^2 I)` (PFGM++ with :math:`D\to\infty`)."""

    augmentation_dim = math.inf

    def sample_noise(self, shape, sigma, generator=None, dtype=torch.float32):
        s = _sigma_column(sigma, shape[0], len(shape), dtype)
        return s * torch.randn(shape, generator=generator, dtype=dtype)

    def log_prob(self, x, y, sigma):
        diff = x - y
        n = diff.shape[-1]
        sigma = torch.as_tensor(sigma, dtype=diff.dtype)
        return -0.5 * (diff**2).sum(-1) / sigma**2 - n * torch.log(sigma) - 0.5 * n * math.log(2 * math.pi)

    def sample_prior(self, n, event_shape, sigma_max, generator=None, dtype=torch.float32):
        return sigma_max * torch.randn((n, *event_shape), generator=generator, dtype=dtype)

    def __repr__(self) -> str:
        return "GaussianKernel()"


class PFGMppKernel:
    """PFGM++ kernel for augmentation dimension ``D`` (see the module docstring).

    ``beta_clip`` clips the Beta draw to ``[beta_clip, 1 - beta_clip]`` as the official code does
    (0 disables it; the known-answer tests use 0).
    """

    def __init__(self, augmentation_dim: float, beta_clip: float = 0.0) -> None:
        if not (augmentation_dim >= 1 and math.isfinite(augmentation_dim)):
            raise ValueError(f"augmentation_dim must be a finite number >= 1, got {augmentation_dim}")
        if not 0 <= beta_clip < 0.5:
            raise ValueError(f"beta_clip must be in [0, 0.5), got {beta_clip}")
        self.augmentation_dim = float(augmentation_dim)
        self.beta_clip = beta_clip

    def _radius(self, batch: int, n_dim: int, sigma: Tensor, generator, dtype) -> Tensor:
        # B ~ Beta(N/2, D/2) via two Gammas (torch's Beta has no generator argument).
        g1 = _gamma(torch.full((batch,), n_dim / 2, dtype=torch.float64), generator)
        g2 = _gamma(torch.full((batch,), self.augmentation_dim / 2, dtype=torch.float64), generator)
        beta = g1 / (g1 + g2)
        if self.beta_clip > 0:
            beta = beta.clamp(self.beta_clip, 1 - self.beta_clip)
        r = sigma.to(torch.float64) * math.sqrt(self.augmentation_dim)
        return (r * torch.sqrt(beta / (1 - beta))).to(dtype)

    def sample_noise(self, shape, sigma, generator=None, dtype=torch.float32):
        batch, n_dim = shape[0], math.prod(shape[1:])
        s = _sigma_column(sigma, batch, 1, dtype).reshape(batch)
        direction = torch.randn((batch, n_dim), generator=generator, dtype=dtype)
        direction = direction / direction.norm(dim=1, keepdim=True)
        radius = self._radius(batch, n_dim, s, generator, dtype)
        return (radius[:, None] * direction).reshape(shape)

    def log_prob(self, x, y, sigma):
        diff = x - y
        n, d = diff.shape[-1], self.augmentation_dim
        sigma = torch.as_tensor(sigma, dtype=diff.dtype)
        r2 = sigma**2 * d
        log_norm = math.lgamma((n + d) / 2) - math.lgamma(d / 2) - n / 2 * math.log(math.pi)
        return log_norm + d / 2 * torch.log(r2) - (n + d) / 2 * torch.log((diff**2).sum(-1) + r2)

    def sample_prior(self, n, event_shape, sigma_max, generator=None, dtype=torch.float32):
        return self.sample_noise((n, *event_shape), torch.tensor(sigma_max), generator, dtype)

    def radial_log_density(self, radius: Tensor, n_dim: int, sigma: float) -> Tensor:
        r"""Normalised log-density of :math:`R=\lVert x-y\rVert`: with :math:`t = R^2/r^2 \sim
        \mathrm{BetaPrime}(N/2, D/2)`, :math:`p(R) = p_t(R^2/r^2)\,2R/r^2`."""
        d = self.augmentation_dim
        r2 = sigma**2 * d
        t = radius**2 / r2
        log_beta = math.lgamma(n_dim / 2) + math.lgamma(d / 2) - math.lgamma((n_dim + d) / 2)
        log_pt = (n_dim / 2 - 1) * torch.log(t) - (n_dim + d) / 2 * torch.log1p(t) - log_beta
        return log_pt + torch.log(2 * radius / r2)

    def __repr__(self) -> str:
        return f"PFGMppKernel(augmentation_dim={self.augmentation_dim:g})"


def _gamma(concentration: Tensor, generator: torch.Generator | None) -> Tensor:
    """Gamma(concentration, 1) draws seeded from ``generator`` (torch's Gamma sampler takes no
    generator, and reseeding the global one is slow, so numpy draws them)."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    draws = np.random.default_rng(seed).standard_gamma(concentration.numpy())
    return torch.as_tensor(draws, dtype=torch.float64)


def exact_posterior_mean(kernel: NoiseKernel, data: Tensor, x: Tensor, sigma: Tensor | float,
                         chunk: int = 4096) -> Tensor:
    r"""Exact denoiser for an empirical data set :math:`\{y_i\}`: :math:`E[y\mid x] = \sum_i w_i y_i`,
    :math:`w_i \propto p_\sigma(x\mid y_i)` (for PFGM++ :math:`w_i \propto (\lVert x-y_i\rVert^2+r^2)^{-(N+D)/2}`).

    ``x`` has shape ``(B, N)``, ``data`` ``(M, N)``; computed in chunks of ``chunk`` rows of ``x``.
    Integrating the sampler ODE with this field memorises the data set (PFGM++ extra check ii).
    """
    if data.dim() != 2 or x.dim() != 2 or data.shape[1] != x.shape[1]:
        raise ValueError(f"data and x must be (M, N) and (B, N), got {tuple(data.shape)} and {tuple(x.shape)}")
    sigma = torch.as_tensor(sigma, dtype=x.dtype)
    out = []
    for start in range(0, x.shape[0], chunk):
        xb = x[start:start + chunk]
        sb = sigma[start:start + chunk, None] if sigma.dim() == 1 else sigma
        logits = kernel.log_prob(xb[:, None, :], data[None, :, :], sb)
        weights = torch.softmax(logits, dim=1)
        out.append(weights @ data)
    return torch.cat(out)
