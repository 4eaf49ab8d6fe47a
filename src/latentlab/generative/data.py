r"""Data for the generative papers: 2-D toys, analytic mixtures, sklearn digits, heavy-tailed latents.

All generators take a numpy ``Generator`` (from ``ctx.rng(...)``) and return float32 torch tensors
of shape ``(n, d)``; nothing is downloaded (scikit-learn's 8x8 digits ship with the package).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from latentlab.generative.gmm import GaussianMixture

__all__ = [
    "TOYS",
    "toy",
    "eight_gaussians",
    "eight_gaussians_mixture",
    "moons",
    "checkerboard",
    "swiss_roll",
    "embedded_clusters_mixture",
    "digits",
    "impulsive_latents",
]


def _check_n(n: int) -> None:
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")


def eight_gaussians_mixture(radius: float = 2.0, std: float = 0.2) -> GaussianMixture:
    """Eight equal-weight isotropic Gaussians on a circle (the analytic form of the 8-Gaussians toy)."""
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return GaussianMixture.isotropic(torch.full((8,), 1 / 8, dtype=torch.float64), means, std)


def eight_gaussians(n: int, rng: np.random.Generator, radius: float = 2.0, std: float = 0.2) -> Tensor:
    _check_n(n)
    angles = rng.integers(0, 8, n) * (2 * math.pi / 8)
    points = radius * np.stack([np.cos(angles), np.sin(angles)], 1) + std * rng.standard_normal((n, 2))
    return torch.as_tensor(points, dtype=torch.float32)


def moons(n: int, rng: np.random.Generator, noise: float = 0.05) -> Tensor:
    """scikit-learn's two moons, centred and scaled to unit-ish spread."""
    from sklearn.datasets import make_moons

    _check_n(n)
    points, _ = make_moons(n, noise=noise, random_state=int(rng.integers(2**31)))
    return torch.as_tensor((points - [0.5, 0.25]) * 1.5, dtype=torch.float32)


def checkerboard(n: int, rng: np.random.Generator, squares: int = 4, size: float = 4.0) -> Tensor:
    """Uniform on the black squares of a ``squares x squares`` board of side ``size`` centred at 0."""
    _check_n(n)
    if squares < 2 or squares % 2:
        raise ValueError(f"squares must be an even number >= 2, got {squares}")
    cell = size / squares
    ij = rng.integers(0, squares, (n, 2))
    ij[:, 1] = 2 * rng.integers(0, squares // 2, n) + ij[:, 0] % 2
    points = (ij + rng.random((n, 2))) * cell - size / 2
    return torch.as_tensor(points, dtype=torch.float32)


def swiss_roll(n: int, rng: np.random.Generator, noise: float = 0.3) -> Tensor:
    """scikit-learn's swiss roll projected on its (x, z) plane, scaled by 1/5."""
    from sklearn.datasets import make_swiss_roll

    _check_n(n)
    points, _ = make_swiss_roll(n, noise=noise, random_state=int(rng.integers(2**31)))
    return torch.as_tensor(points[:, [0, 2]] / 5.0, dtype=torch.float32)


TOYS = {"eight_gaussians": eight_gaussians, "moons": moons, "checkerboard": checkerboard, "swiss_roll": swiss_roll}


def toy(name: str, n: int, rng: np.random.Generator) -> Tensor:
    if name not in TOYS:
        raise ValueError(f"name must be one of {sorted(TOYS)}, got {name!r}")
    return TOYS[name](n, rng)


def embedded_clusters_mixture(ambient_dim: int, rng: np.random.Generator, sub_dim: int = 10,
                              offset: float = 1.0, std: float = 0.2) -> GaussianMixture:
    """PFGM++'s toy: two isotropic clusters (means ``+-offset * 1``, std ``std``) in a ``sub_dim``-d
    subspace, embedded in ``R^ambient_dim`` by a random orthonormal map (rank-deficient covariance)."""
    if not 1 <= sub_dim <= ambient_dim:
        raise ValueError(f"sub_dim must be in [1, ambient_dim={ambient_dim}], got {sub_dim}")
    basis, _ = np.linalg.qr(rng.standard_normal((ambient_dim, sub_dim)))
    centre = basis @ np.full(sub_dim, offset)
    means = np.stack([centre, -centre])
    cov = std**2 * basis @ basis.T
    return GaussianMixture(torch.tensor([0.5, 0.5]), torch.as_tensor(means), torch.as_tensor(np.stack([cov, cov])))


def digits(binarize: bool = False) -> tuple[Tensor, Tensor]:
    """scikit-learn's 1,797 8x8 digits as ``(images (n, 64) in [-1, 1] or {0,1}, labels (n,))``."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = bunch.data.astype(np.float32)
    images = (pixels > 8).astype(np.float32) if binarize else pixels / 8.0 - 1.0
    return torch.as_tensor(images), torch.as_tensor(bunch.target, dtype=torch.long)


def impulsive_latents(n: int, rng: np.random.Generator, dim: int = 16, n_clusters: int = 4,
                      cluster_std: float = 0.3, outlier_fraction: float = 0.01, outlier_df: float = 1.5,
                      outlier_scale: float = 1.0) -> tuple[Tensor, Tensor]:
    r"""Synthetic "latent" data with impulsive outliers (sLCT's regime): a ``dim``-d Gaussian mixture
    (means drawn once from a fixed stream, :math:`\pm1` scale) in which each coordinate is, with
    probability ``outlier_fraction``, replaced by a Student-t(``outlier_df``) draw times ``outlier_scale``.

    Returns ``(samples, outlier_mask)`` (the mask marks the replaced coordinates).
    """
    _check_n(n)
    if not 0 <= outlier_fraction < 1:
        raise ValueError(f"outlier_fraction must be in [0, 1), got {outlier_fraction}")
    centres = np.random.default_rng(1234).choice([-1.0, 1.0], size=(n_clusters, dim))
    labels = rng.integers(0, n_clusters, n)
    clean = centres[labels] + cluster_std * rng.standard_normal((n, dim))
    mask = rng.random((n, dim)) < outlier_fraction
    outliers = outlier_scale * rng.standard_t(outlier_df, (n, dim))
    samples = np.where(mask, outliers, clean)
    return torch.as_tensor(samples, dtype=torch.float32), torch.as_tensor(mask)
