r"""An analytic Gaussian mixture: exact density, exact noised score and exact denoiser.

For :math:`p(y) = \sum_k \pi_k \mathcal N(y;\mu_k,\Sigma_k)` and Gaussian noise of level
:math:`\sigma`, the noised marginal is again a mixture,

.. math::
    p_\sigma(x) = \sum_k \pi_k\,\mathcal N(x;\mu_k,\Sigma_k+\sigma^2 I),

with responsibilities :math:`\gamma_k(x) \propto \pi_k\mathcal N(x;\mu_k,\Sigma_k+\sigma^2 I)`, score
:math:`\nabla\log p_\sigma(x) = -\sum_k\gamma_k(x)(\Sigma_k+\sigma^2I)^{-1}(x-\mu_k)` and exact denoiser
(Tweedie) :math:`D(x,\sigma) = E[y\mid x] = x + \sigma^2\nabla\log p_\sigma(x)`.  The posterior of the
clean sample is the mixture :math:`p(y\mid x) = \sum_k\gamma_k(x)\mathcal N(y; m_k, S_k)`,
:math:`S_k = (\Sigma_k^{-1}+\sigma^{-2}I)^{-1}`, :math:`m_k = \mu_k + \Sigma_k(\Sigma_k+\sigma^2I)^{-1}(x-\mu_k)`.

Tilting by a linear reward :math:`r(y) = a^\top y` with strength :math:`\lambda` gives the mixture
:math:`p(y)e^{\lambda a^\top y}/Z` with components :math:`\mathcal N(\mu_k+\lambda\Sigma_k a, \Sigma_k)` and
weights :math:`\propto \pi_k\exp(\lambda a^\top\mu_k + \tfrac12\lambda^2 a^\top\Sigma_k a)`.

All computations use the eigen-decomposition :math:`\Sigma_k = U_k\Lambda_kU_k^\top`, so a different
:math:`\sigma` per sample costs the same as one shared :math:`\sigma`, and singular covariances
(data on a subspace) are fine for every :math:`\sigma > 0`.  This class is the oracle of the tests
(samplers under the exact score) and the base model of FK steering.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["GaussianMixture"]


class GaussianMixture:
    """Mixture of full-covariance Gaussians in ``R^d`` (torch, float64 by default)."""

    def __init__(self, weights: Tensor, means: Tensor, covariances: Tensor, dtype: torch.dtype = torch.float64) -> None:
        weights = torch.as_tensor(weights, dtype=dtype)
        means = torch.as_tensor(means, dtype=dtype)
        covariances = torch.as_tensor(covariances, dtype=dtype)
        if means.dim() != 2:
            raise ValueError(f"means must have shape (K, d), got {tuple(means.shape)}")
        k, d = means.shape
        if weights.shape != (k,) or torch.any(weights < 0) or not torch.isclose(weights.sum(), weights.new_tensor(1.0)):
            raise ValueError(f"weights must be {k} non-negative numbers summing to 1")
        if covariances.shape != (k, d, d):
            raise ValueError(f"covariances must have shape ({k}, {d}, {d}), got {tuple(covariances.shape)}")
        eigvals, eigvecs = torch.linalg.eigh(0.5 * (covariances + covariances.transpose(1, 2)))
        if torch.any(eigvals < -1e-9 * eigvals.abs().max().clamp_min(1.0)):
            raise ValueError("covariances must be positive semi-definite")
        self.weights, self.means, self.covariances = weights, means, covariances
        self._eigvals, self._eigvecs = eigvals.clamp_min(0.0), eigvecs
        self.dtype = dtype

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def isotropic(cls, weights, means, std: float | Tensor) -> GaussianMixture:
        """Components ``N(mu_k, std_k^2 I)``."""
        means = torch.as_tensor(means, dtype=torch.float64)
        k, d = means.shape
        std = torch.as_tensor(std, dtype=torch.float64).expand(k)
        return cls(weights, means, std[:, None, None] ** 2 * torch.eye(d, dtype=torch.float64))

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    def mean(self) -> Tensor:
        return self.weights @ self.means

    def covariance(self) -> Tensor:
        """Total covariance: within-component plus between-component."""
        centred = self.means - self.mean()
        return (self.weights[:, None, None] * (self.covariances + centred[:, :, None] * centred[:, None, :])).sum(0)

    # ------------------------------------------------------------------ sampling and densities
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        comp = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn((n, self.dim), generator=generator, dtype=self.dtype)
        scaled = self._eigvecs[comp] @ (torch.sqrt(self._eigvals[comp]) * z)[:, :, None]
        return self.means[comp] + scaled[:, :, 0]

    def _component_terms(self, x: Tensor, sigma: Tensor | float) -> tuple[Tensor, Tensor, Tensor]:
        """Per-sample, per-component log N(x; mu_k, Sigma_k + s^2 I), projected residuals and variances."""
        x = torch.as_tensor(x, dtype=self.dtype)
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (B, {self.dim}), got {tuple(x.shape)}")
        s2 = torch.as_tensor(sigma, dtype=self.dtype) ** 2
        s2 = s2.reshape(-1, 1, 1) if s2.dim() == 1 else s2  # (B,1,1) or scalar
        variances = self._eigvals[None] + s2  # (B or 1, K, d)
        if torch.any(variances <= 0):
            raise ValueError("sigma must be > 0 for a singular mixture")
        proj = torch.einsum("kji,bkj->bki", self._eigvecs, x[:, None, :] - self.means[None])  # (B, K, d)
        log_norm = -0.5 * (torch.log(variances).sum(-1) + self.dim * math.log(2 * math.pi))
        log_comp = log_norm - 0.5 * (proj**2 / variances).sum(-1)
        return log_comp, proj, variances

    def log_prob(self, x: Tensor, sigma: Tensor | float = 0.0) -> Tensor:
        r"""Exact :math:`\log p_\sigma(x)` (``sigma=0``: the data density)."""
        log_comp, _, _ = self._component_terms(x, sigma)
        return torch.logsumexp(torch.log(self.weights) + log_comp, dim=1)

    def responsibilities(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        log_comp, _, _ = self._component_terms(x, sigma)
        return torch.softmax(torch.log(self.weights) + log_comp, dim=1)

    def score(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        r"""Exact :math:`\nabla_x\log p_\sigma(x)`; ``sigma`` scalar or shape ``(B,)``."""
        log_comp, proj, variances = self._component_terms(x, sigma)
        gamma = torch.softmax(torch.log(self.weights) + log_comp, dim=1)  # (B, K)
        whitened = proj / variances  # (B, K, d) in eigenbasis
        back = torch.einsum("kij,bkj->bki", self._eigvecs, whitened)
        return -(gamma[:, :, None] * back).sum(1)

    def denoise(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        r"""Exact denoiser :math:`E[y\mid x_\sigma = x] = x + \sigma^2\nabla\log p_\sigma(x)`."""
        x = torch.as_tensor(x, dtype=self.dtype)
        s2 = torch.as_tensor(sigma, dtype=self.dtype) ** 2
        s2 = s2[:, None] if s2.dim() == 1 else s2
        return x + s2 * self.score(x, sigma)

    def __call__(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        """The exact denoiser, so the mixture plugs into every sampler as ``denoiser(x, sigma)``."""
        return self.denoise(x, sigma).to(torch.as_tensor(x).dtype)

    def noised(self, sigma: float) -> GaussianMixture:
        """The mixture of :math:`x_\\sigma = y + \\sigma\\epsilon`."""
        eye = torch.eye(self.dim, dtype=self.dtype)
        return GaussianMixture(self.weights, self.means, self.covariances + sigma**2 * eye, self.dtype)

    def sample_posterior(self, x: Tensor, sigma: float, n_per: int = 1,
                         generator: torch.Generator | None = None) -> Tensor:
        r"""Draws of :math:`y\sim p(y\mid x_\sigma = x)`, shape ``(n_per, B, d)`` (exact; FK's many-sample reward)."""
        log_comp, proj, variances = self._component_terms(x, sigma)
        gamma = torch.softmax(torch.log(self.weights) + log_comp, dim=1)
        b = x.shape[0]
        comp = torch.multinomial(gamma, n_per, replacement=True, generator=generator).T  # (n_per, B)
        lam = self._eigvals[None].expand(b, -1, -1)
        shrink = lam / variances  # Sigma (Sigma + s^2)^-1 in eigenbasis
        post_var = lam * sigma**2 / variances
        batch = torch.arange(b)
        mean_eig = (shrink * proj)[batch[None], comp]  # (n_per, B, d)
        z = torch.randn(mean_eig.shape, generator=generator, dtype=self.dtype)
        eig = mean_eig + torch.sqrt(post_var[batch[None], comp]) * z
        return self.means[comp] + torch.einsum("nbij,nbj->nbi", self._eigvecs[comp], eig)

    def tilt_linear(self, direction: Tensor, strength: float) -> GaussianMixture:
        r"""The mixture :math:`\propto p(y)\exp(\lambda a^\top y)` (closed form; see module docstring)."""
        a = torch.as_tensor(direction, dtype=self.dtype)
        if a.shape != (self.dim,):
            raise ValueError(f"direction must have shape ({self.dim},), got {tuple(a.shape)}")
        shift = self.covariances @ a  # (K, d)
        log_w = torch.log(self.weights) + strength * self.means @ a + 0.5 * strength**2 * (shift @ a)
        return GaussianMixture(torch.softmax(log_w, 0), self.means + strength * shift, self.covariances, self.dtype)

    def __repr__(self) -> str:
        return f"GaussianMixture(K={self.n_components}, d={self.dim})"
