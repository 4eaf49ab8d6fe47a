r"""Training objectives: EDM denoising loss (any noise kernel) and consistency training (iCT / sLCT).

**Denoising** (EDM; PFGM++ only swaps the kernel):
:math:`\mathcal L = E_{\sigma,y,n}\,\lambda(\sigma)\lVert D_\theta(y+n,\sigma) - y\rVert^2`,
:math:`\ln\sigma\sim\mathcal N(P_{mean},P_{std}^2)`, :math:`n\sim p_\sigma(\cdot\mid 0)`,
:math:`\lambda(\sigma) = (\sigma^2+\sigma_d^2)/(\sigma\sigma_d)^2`.

**Consistency training** (improved CT, Song & Dhariwal 2023): Karras grid of :math:`N(k)+1` levels with
the curriculum :math:`N(k) = \min(s_0 2^{\lfloor k/K'\rfloor}, s_1)+1`,
:math:`K' = \lfloor K/(\log_2\lfloor s_1/s_0\rfloor+1)\rfloor`; index :math:`i` drawn with
:math:`p(i)\propto \mathrm{erf}(\frac{\ln\sigma_{i+1}-P_{mean}}{\sqrt2P_{std}}) -
\mathrm{erf}(\frac{\ln\sigma_i-P_{mean}}{\sqrt2P_{std}})`; loss
:math:`\lambda(\sigma_i)\,d(f_\theta(y+\sigma_{i+1}z,\sigma_{i+1}), \mathrm{sg}f_\theta(y+\sigma_iz,\sigma_i))`,
:math:`\lambda = 1/(\sigma_{i+1}-\sigma_i)`.  Distances (per sample, on the flattened residual
:math:`\delta`): ``l2`` :math:`\lVert\delta\rVert^2`, ``pseudo_huber``
:math:`\sqrt{\lVert\delta\rVert^2+c^2}-c`, ``cauchy`` :math:`\log(1+\lVert\delta\rVert^2/(2c^2))` (sLCT).
sLCT adds a diffusion loss :math:`\lVert f_\theta(y+\sigma z,\sigma)-y\rVert^2` on the low part of the
grid and pairs noise with data by minibatch optimal transport (:func:`ot_pairing`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from latentlab.generative.kernels import GaussianKernel, NoiseKernel
from latentlab.generative.schedules import EDMPreconditioning, karras_sigmas

__all__ = [
    "standard_normal_kl",
    "autoencoder_loss",
    "denoising_loss",
    "DISTANCES",
    "robust_distance",
    "ict_num_scales",
    "ict_sample_indices",
    "ot_pairing",
    "consistency_training_loss",
    "TDQuantileScale",
    "gaussian_consistency_function",
]


def denoising_loss(denoiser: Callable[[Tensor, Tensor], Tensor], y: Tensor, sigma: Tensor,
                   kernel: NoiseKernel | None = None, generator: torch.Generator | None = None,
                   sigma_data: float = 0.5) -> Tensor:
    """EDM-weighted denoising loss (mean over the batch) with perturbations from ``kernel``."""
    kernel = kernel or GaussianKernel()
    if sigma.shape != (y.shape[0],):
        raise ValueError(f"sigma must have shape ({y.shape[0]},), got {tuple(sigma.shape)}")
    noise = kernel.sample_noise(tuple(y.shape), sigma, generator, dtype=y.dtype)
    weight = EDMPreconditioning(sigma_data).loss_weight(sigma)
    residual = (denoiser(y + noise, sigma) - y).flatten(1)
    return (weight * (residual**2).mean(1)).mean()


def _l2(sq: Tensor, c: float) -> Tensor:
    return sq


def _pseudo_huber(sq: Tensor, c: float) -> Tensor:
    return torch.sqrt(sq + c**2) - c


def _cauchy(sq: Tensor, c: float) -> Tensor:
    return torch.log1p(sq / (2 * c**2))


DISTANCES: dict[str, Callable[[Tensor, float], Tensor]] = {"l2": _l2, "pseudo_huber": _pseudo_huber, "cauchy": _cauchy}


def robust_distance(a: Tensor, b: Tensor, kind: str, c: float) -> Tensor:
    """Per-sample distance ``d(a, b)`` of kind ``l2``, ``pseudo_huber`` or ``cauchy`` with scale ``c``."""
    if kind not in DISTANCES:
        raise ValueError(f"kind must be one of {sorted(DISTANCES)}, got {kind!r}")
    if not c > 0:
        raise ValueError(f"c must be > 0, got {c}")
    return DISTANCES[kind](((a - b).flatten(1) ** 2).sum(1), c)


def ict_num_scales(step: int, total_steps: int, s0: int = 10, s1: int = 1280) -> int:
    r"""iCT's exponential curriculum :math:`N(k)` (number of grid intervals at training step ``k``)."""
    if not 0 <= step:
        raise ValueError(f"step must be >= 0, got {step}")
    if total_steps < 1 or s0 < 1 or s1 < s0:
        raise ValueError(f"need total_steps >= 1 and 1 <= s0 <= s1, got {total_steps}, {s0}, {s1}")
    k_prime = max(1, math.floor(total_steps / (math.log2(math.floor(s1 / s0)) + 1)))
    return min(s0 * 2 ** (step // k_prime), s1) + 1


def ict_sample_indices(sigmas: Tensor, n: int, p_mean: float = -1.1, p_std: float = 2.0,
                       generator: torch.Generator | None = None) -> Tensor:
    r"""Indices :math:`i\in\{0..M-2\}` into an increasing grid ``sigmas`` (length M) with iCT's
    discretised log-normal probabilities (see module docstring)."""
    if sigmas.dim() != 1 or sigmas.numel() < 2 or torch.any(sigmas[1:] <= sigmas[:-1]):
        raise ValueError("sigmas must be an increasing 1-D grid of at least two levels")
    cdf = torch.erf((torch.log(sigmas.double()) - p_mean) / (math.sqrt(2) * p_std))
    probs = (cdf[1:] - cdf[:-1]).clamp_min(0)
    return torch.multinomial(probs / probs.sum(), n, replacement=True, generator=generator)


def ot_pairing(y: Tensor, z: Tensor) -> Tensor:
    r"""Permutation :math:`\pi` minimising :math:`\sum_i\lVert y_i - z_{\pi(i)}\rVert^2` (exact, Hungarian);
    returns ``z[pi]``, the noise re-ordered to pair with ``y``."""
    if y.shape != z.shape:
        raise ValueError(f"y and z must have the same shape, got {tuple(y.shape)} and {tuple(z.shape)}")
    cost = torch.cdist(y.flatten(1).double(), z.flatten(1).double()) ** 2
    rows, cols = linear_sum_assignment(cost.numpy())
    perm = np.empty_like(cols)
    perm[rows] = cols
    return z[torch.as_tensor(perm)]


def consistency_training_loss(model: Callable[[Tensor, Tensor], Tensor], y: Tensor, step: int, total_steps: int, *,
                              distance: str = "pseudo_huber", c: float | None = None, sigma_min: float = 0.002,
                              sigma_max: float = 80.0, rho: float = 7.0, s0: int = 10, s1: int = 1280,
                              p_mean: float = -1.1, p_std: float = 2.0, ot: bool = False,
                              diffusion_weight: float = 0.0, diffusion_fraction: float = 0.25,
                              generator: torch.Generator | None = None) -> tuple[Tensor, dict]:
    r"""One minibatch of (improved / sLCT) consistency training; returns ``(loss, stats)``.

    ``c`` defaults to iCT's :math:`0.00054\sqrt{\dim}`.  ``diffusion_weight > 0`` adds sLCT's
    diffusion loss on samples whose index lies in the lowest ``diffusion_fraction`` of the grid;
    ``ot`` pairs noise with data by minibatch OT.  ``stats`` holds the per-sample TD residual norms
    (for adaptive-c schedules) and the number of grid intervals.
    """
    batch, dim = y.shape[0], y[0].numel()
    c = 0.00054 * math.sqrt(dim) if c is None else c
    n_scales = ict_num_scales(step, total_steps, s0, s1)
    grid = karras_sigmas(n_scales, sigma_min, sigma_max, rho, append_zero=False).flip(0).to(y.dtype)  # increasing
    index = ict_sample_indices(grid.double(), batch, p_mean, p_std, generator)
    sigma_i, sigma_next = grid[index], grid[index + 1]
    z = torch.randn(y.shape, generator=generator, dtype=y.dtype)
    if ot:
        z = ot_pairing(y, z)
    col = (batch,) + (1,) * (y.dim() - 1)
    student = model(y + sigma_next.reshape(col) * z, sigma_next)
    with torch.no_grad():
        teacher = model(y + sigma_i.reshape(col) * z, sigma_i)
    weight = 1.0 / (sigma_next - sigma_i)
    per_sample = robust_distance(student, teacher, distance, c)
    loss = (weight * per_sample).mean()
    if diffusion_weight > 0:
        early = (index < max(1, int(diffusion_fraction * (n_scales - 1)))).to(y.dtype)
        diff = ((student - y).flatten(1) ** 2).mean(1)
        loss = loss + diffusion_weight * (early * diff).sum() / early.sum().clamp_min(1.0)
    td = (student - teacher).detach().flatten(1).norm(dim=1)
    return loss, {"td_norm": td, "n_scales": n_scales, "c": c}


class TDQuantileScale:
    r"""Adaptive robust-loss scale (our reconstruction of sLCT's adaptive-c idea; the paper's exact
    formula was not available): :math:`c_k` = exponential moving average (factor ``momentum``) of the
    ``quantile`` of the per-sample TD residual norms :math:`\lVert f_\theta(x_{\sigma_{i+1}}) -
    f_{sg}(x_{\sigma_i})\rVert` of the previous batches, started at ``initial`` and floored at
    ``minimum``.  Use as ``c_schedule`` of :func:`~latentlab.generative.training.train_consistency`."""

    def __init__(self, initial: float, quantile: float = 0.5, momentum: float = 0.9, minimum: float = 1e-4) -> None:
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must be in (0, 1), got {quantile}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if not initial > 0 or not minimum > 0:
            raise ValueError(f"initial and minimum must be > 0, got {initial}, {minimum}")
        self.value, self.quantile, self.momentum, self.minimum = initial, quantile, momentum, minimum

    def __call__(self, step: int, stats: dict | None) -> float:
        if stats is not None:
            observed = float(torch.quantile(stats["td_norm"].double(), self.quantile))
            self.value = max(self.minimum, self.momentum * self.value + (1 - self.momentum) * observed)
        return self.value


def gaussian_consistency_function(x: Tensor, sigma: Tensor | float, data_std: float,
                                  sigma_min: float = 0.002) -> Tensor:
    r"""Exact consistency function of the PF-ODE for data :math:`\mathcal N(0, s^2 I)`:
    :math:`f(x,\sigma) = x\sqrt{(s^2+\sigma_{min}^2)/(s^2+\sigma^2)}`
    (maps :math:`x_\sigma` to :math:`x_{\sigma_{min}}`)."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype)
    sigma = sigma.reshape(-1, *([1] * (x.dim() - 1))) if sigma.dim() == 1 else sigma
    return x * torch.sqrt((data_std**2 + sigma_min**2) / (data_std**2 + sigma**2))


def standard_normal_kl(mu: Tensor, log_var: Tensor) -> Tensor:
    r"""Per-sample :math:`KL(\mathcal N(\mu,\mathrm{diag}\,e^{\ell})\,\|\,\mathcal N(0,I)) =
    \tfrac12\sum_j(\mu_j^2 + e^{\ell_j} - 1 - \ell_j)`."""
    return 0.5 * (mu**2 + torch.exp(log_var) - 1.0 - log_var).sum(1)


def autoencoder_loss(model: Callable, x: Tensor, kl_weight: float, generator: torch.Generator | None = None,
                     ) -> tuple[Tensor, dict]:
    r"""Weak-KL autoencoder objective :math:`E\,[\lVert x - g(z)\rVert^2 + \beta\,KL(q(z\mid x)\|\mathcal N(0,I))]`,
    :math:`z = \mu + e^{\ell/2}\epsilon` (squared error summed over coordinates, mean over the batch);
    returns ``(loss, {"reconstruction", "kl"})``."""
    if not kl_weight >= 0:
        raise ValueError(f"kl_weight must be >= 0, got {kl_weight}")
    recon, mu, log_var = model(x, generator)
    rec = ((recon - x) ** 2).flatten(1).sum(1).mean()
    kl = standard_normal_kl(mu, log_var).mean()
    return rec + kl_weight * kl, {"reconstruction": rec.item(), "kl": kl.item()}
