r"""Noise levels in one convention (EDM :math:`\sigma`), with converters and preconditioning.

Everything in :mod:`latentlab.generative` measures noise by the EDM noise level
:math:`\sigma` (Karras et al. 2022): a noisy sample is :math:`x_\sigma = y + n`, with
:math:`n \sim \mathcal N(0, \sigma^2 I)` for diffusion (or PFGM++'s heavy-tailed kernel of the
same :math:`\sigma`, see :mod:`latentlab.generative.kernels`).  Variance-preserving (DDPM)
quantities convert at the boundary:

.. math::

    \sigma = \sqrt{(1-\bar\alpha_t)/\bar\alpha_t}, \qquad x_\sigma = x_t / \sqrt{\bar\alpha_t}.

Predictions convert between the denoiser :math:`D(x,\sigma) \approx E[y\mid x_\sigma=x]`,
the noise :math:`\hat\epsilon = (x-D)/\sigma`, the score :math:`\nabla\log p_\sigma(x) =
(D-x)/\sigma^2` (Tweedie) and the VP velocity :math:`v = \sqrt{\bar\alpha}\,\epsilon -
\sqrt{1-\bar\alpha}\,x_0`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "EDMSchedule",
    "karras_sigmas",
    "sample_lognormal_sigmas",
    "sigma_from_alpha_bar",
    "alpha_bar_from_sigma",
    "vp_to_edm",
    "edm_to_vp",
    "vp_alpha_bars",
    "eps_from_denoised",
    "score_from_denoised",
    "denoised_from_eps",
    "v_from_denoised",
    "EDMPreconditioning",
    "ConsistencyPreconditioning",
]


def _check_positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value}")


def karras_sigmas(n: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0,
                  append_zero: bool = True, dtype: torch.dtype = torch.float64) -> Tensor:
    r"""The EDM step grid :math:`\sigma_i = (\sigma_{max}^{1/\rho} + \tfrac{i}{n-1}(\sigma_{min}^{1/\rho}
    - \sigma_{max}^{1/\rho}))^\rho`, :math:`i = 0..n-1`, decreasing, with a final 0 appended."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    _check_positive("sigma_min", sigma_min)
    _check_positive("rho", rho)
    if not sigma_max > sigma_min:
        raise ValueError(f"sigma_max must be > sigma_min={sigma_min}, got {sigma_max}")
    ramp = torch.linspace(0, 1, n, dtype=dtype) if n > 1 else torch.zeros(1, dtype=dtype)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    if append_zero:
        sigmas = torch.cat([sigmas, sigmas.new_zeros(1)])
    return sigmas


def sample_lognormal_sigmas(n: int, p_mean: float = -1.2, p_std: float = 1.2,
                            generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    r"""Training noise levels :math:`\ln\sigma \sim \mathcal N(P_{mean}, P_{std}^2)` (EDM: -1.2, 1.2)."""
    _check_positive("p_std", p_std)
    return torch.exp(p_mean + p_std * torch.randn(n, generator=generator, dtype=dtype))


@dataclass(frozen=True)
class EDMSchedule:
    """Noise range and step grid of an EDM sampler (defaults: images; toys use sigma_max=20)."""

    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    sigma_data: float = 0.5

    def __post_init__(self) -> None:
        _check_positive("sigma_min", self.sigma_min)
        _check_positive("sigma_data", self.sigma_data)
        if not self.sigma_max > self.sigma_min:
            raise ValueError(f"sigma_max must be > sigma_min={self.sigma_min}, got {self.sigma_max}")

    def sigmas(self, n: int, dtype: torch.dtype = torch.float64) -> Tensor:
        """``n`` decreasing noise levels from ``sigma_max`` to ``sigma_min``, then 0."""
        return karras_sigmas(n, self.sigma_min, self.sigma_max, self.rho, dtype=dtype)


def sigma_from_alpha_bar(alpha_bar: Tensor) -> Tensor:
    r""":math:`\sigma = \sqrt{(1-\bar\alpha)/\bar\alpha}`."""
    alpha_bar = torch.as_tensor(alpha_bar)
    if torch.any((alpha_bar <= 0) | (alpha_bar > 1)):
        raise ValueError("alpha_bar must lie in (0, 1]")
    return torch.sqrt((1 - alpha_bar) / alpha_bar)


def alpha_bar_from_sigma(sigma: Tensor) -> Tensor:
    r""":math:`\bar\alpha = 1/(1+\sigma^2)`."""
    return 1.0 / (1.0 + torch.as_tensor(sigma) ** 2)


def vp_to_edm(x_t: Tensor, alpha_bar: Tensor) -> tuple[Tensor, Tensor]:
    r"""A VP state :math:`x_t = \sqrt{\bar\alpha}y + \sqrt{1-\bar\alpha}\epsilon` as ``(x_sigma, sigma)``."""
    alpha_bar = torch.as_tensor(alpha_bar, dtype=x_t.dtype)
    return x_t / torch.sqrt(alpha_bar), sigma_from_alpha_bar(alpha_bar)


def edm_to_vp(x_sigma: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
    """Inverse of :func:`vp_to_edm`: ``(x_t, alpha_bar)``."""
    alpha_bar = alpha_bar_from_sigma(torch.as_tensor(sigma, dtype=x_sigma.dtype))
    return x_sigma * torch.sqrt(alpha_bar), alpha_bar


def vp_alpha_bars(n: int, kind: str = "linear", beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    r""":math:`\bar\alpha_t` of a discrete DDPM schedule (``linear``, ``scaled_linear`` or ``cosine``)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if kind == "linear":
        betas = torch.linspace(beta_start, beta_end, n, dtype=torch.float64)
    elif kind == "scaled_linear":
        betas = torch.linspace(beta_start**0.5, beta_end**0.5, n, dtype=torch.float64) ** 2
    elif kind == "cosine":
        s = 0.008
        t = torch.arange(n + 1, dtype=torch.float64) / n
        f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
        betas = torch.clamp(1 - f[1:] / f[:-1], max=0.999)
    else:
        raise ValueError(f"kind must be 'linear', 'scaled_linear' or 'cosine', got {kind!r}")
    return torch.cumprod(1 - betas, dim=0)


def _bcast(sigma: Tensor | float, like: Tensor) -> Tensor:
    sigma = torch.as_tensor(sigma, dtype=like.dtype, device=like.device)
    return sigma.reshape(sigma.shape + (1,) * (like.dim() - sigma.dim())) if sigma.dim() else sigma


def eps_from_denoised(x: Tensor, denoised: Tensor, sigma: Tensor | float) -> Tensor:
    r""":math:`\hat\epsilon = (x - D)/\sigma`."""
    return (x - denoised) / _bcast(sigma, x)


def denoised_from_eps(x: Tensor, eps: Tensor, sigma: Tensor | float) -> Tensor:
    r""":math:`D = x - \sigma\hat\epsilon`."""
    return x - _bcast(sigma, x) * eps


def score_from_denoised(x: Tensor, denoised: Tensor, sigma: Tensor | float) -> Tensor:
    r"""Tweedie: :math:`\nabla_x \log p_\sigma(x) = (D - x)/\sigma^2`."""
    return (denoised - x) / _bcast(sigma, x) ** 2


def v_from_denoised(x: Tensor, denoised: Tensor, sigma: Tensor | float) -> Tensor:
    r"""VP velocity :math:`v = \sqrt{\bar\alpha}\epsilon - \sqrt{1-\bar\alpha}x_0`, with
    :math:`\bar\alpha = 1/(1+\sigma^2)`."""
    s = _bcast(sigma, x)
    eps = (x - denoised) / s
    return (eps - s * denoised) / torch.sqrt(1 + s**2)


@dataclass(frozen=True)
class EDMPreconditioning:
    r"""EDM's network wrapper :math:`D(x,\sigma) = c_{skip}x + c_{out}F(c_{in}x, c_{noise})` with

    .. math::
        c_{skip} = \frac{\sigma_d^2}{\sigma^2+\sigma_d^2},\quad
        c_{out} = \frac{\sigma\sigma_d}{\sqrt{\sigma^2+\sigma_d^2}},\quad
        c_{in} = \frac{1}{\sqrt{\sigma^2+\sigma_d^2}},\quad c_{noise} = \tfrac14\ln\sigma,

    and loss weight :math:`\lambda(\sigma) = (\sigma^2+\sigma_d^2)/(\sigma\sigma_d)^2`.
    """

    sigma_data: float = 0.5

    def coefficients(self, sigma: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        sd2 = self.sigma_data**2
        total = sigma**2 + sd2
        return sd2 / total, sigma * self.sigma_data / torch.sqrt(total), 1 / torch.sqrt(total), torch.log(sigma) / 4

    def loss_weight(self, sigma: Tensor) -> Tensor:
        return (sigma**2 + self.sigma_data**2) / (sigma * self.sigma_data) ** 2


@dataclass(frozen=True)
class ConsistencyPreconditioning:
    r"""Consistency-model wrapper (Song et al. 2023) that meets :math:`f(x,\sigma_{min}) = x` exactly:

    .. math::
        c_{skip} = \frac{\sigma_d^2}{(\sigma-\sigma_{min})^2+\sigma_d^2},\quad
        c_{out} = \frac{\sigma_d(\sigma-\sigma_{min})}{\sqrt{\sigma^2+\sigma_d^2}},\quad
        c_{in} = \frac{1}{\sqrt{\sigma^2+\sigma_d^2}}.
    """

    sigma_data: float = 0.5
    sigma_min: float = 0.002

    def coefficients(self, sigma: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        sd2 = self.sigma_data**2
        shifted = sigma - self.sigma_min
        c_skip = sd2 / (shifted**2 + sd2)
        c_out = self.sigma_data * shifted / torch.sqrt(sigma**2 + sd2)
        return c_skip, c_out, 1 / torch.sqrt(sigma**2 + sd2), torch.log(sigma) / 4
