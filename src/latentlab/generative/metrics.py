r"""Sample-quality metrics: sliced Wasserstein, MMD, Gaussian KL, Fréchet distance, digits classifier-FD.

* :func:`sliced_wasserstein`: :math:`SW_2(P,Q) = (E_\theta W_2^2(\theta_\# P, \theta_\# Q))^{1/2}` over
  random unit directions, each 1-D :math:`W_2` from matched quantiles (for unequal sizes, the larger
  sample's interpolated quantiles at the smaller sample's levels :math:`(i+\tfrac12)/m`).
* :func:`mmd`: :math:`\mathrm{MMD}^2 = E k(x,x') + E k(y,y') - 2E k(x,y)` with a sum of RBF kernels
  whose bandwidths are multiples of the median pairwise distance of the reference sample ``y``
  (so every method compared against the same reference gets the same kernel); ``unbiased`` drops
  the diagonal terms.
* :func:`gaussian_kl`: closed form :math:`KL(\mathcal N_0\|\mathcal N_1)`.
* :func:`frechet_distance`: :math:`\lVert\mu_1-\mu_2\rVert^2 + \mathrm{tr}(C_1+C_2-2(C_1C_2)^{1/2})`.
* :class:`DigitsFeatureNet` / :func:`digits_frechet_distance`: a small MLP classifier trained on
  scikit-learn's digits (about 97% held-out accuracy), cached under ``~/.cache/latentlab/generative``
  (or ``cache_dir``) and keyed by a hash of its training code and settings; the Fréchet distance is
  computed on its 64-d penultimate features.  Never downloaded.
* :func:`kernel_distance` / :func:`digits_kernel_distance`: KID, the unbiased :math:`\mathrm{MMD}^2`
  with the cubic polynomial kernel :math:`k(a,b) = (a^\top b/d + 1)^3` (Bińkowski et al. 2018),
  on raw features or on the digits classifier's features.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from scipy import linalg
from torch import Tensor, nn

__all__ = [
    "sliced_wasserstein",
    "mmd",
    "gaussian_kl",
    "frechet_distance",
    "DigitsFeatureNet",
    "load_digits_classifier",
    "digits_frechet_distance",
    "kernel_distance",
    "digits_kernel_distance",
]


def _as_2d(name: str, x: Tensor | np.ndarray) -> Tensor:
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"{name} must have shape (n >= 2, d), got {tuple(x.shape)}")
    return x


def sliced_wasserstein(x: Tensor, y: Tensor, n_projections: int = 256,
                       generator: torch.Generator | None = None) -> float:
    """Sliced 2-Wasserstein distance between two samples (sizes may differ: quantiles are matched)."""
    x, y = _as_2d("x", x), _as_2d("y", y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    if n_projections < 1:
        raise ValueError(f"n_projections must be >= 1, got {n_projections}")
    theta = torch.randn((x.shape[1], n_projections), generator=generator, dtype=torch.float64)
    theta = (theta / theta.norm(dim=0, keepdim=True)).numpy()
    # sort each projection along a contiguous axis (numpy; much faster than torch's sort over dim 0)
    px = np.sort(np.ascontiguousarray((x.numpy() @ theta).T), axis=1)
    py = np.sort(np.ascontiguousarray((y.numpy() @ theta).T), axis=1)
    if px.shape[1] != py.shape[1]:  # match the larger sample's quantiles to the smaller one's levels
        if px.shape[1] > py.shape[1]:
            px, py = py, px
        m, n = px.shape[1], py.shape[1]
        positions = np.clip((np.arange(m) + 0.5) / m * n - 0.5, 0, n - 1)
        lo = np.floor(positions).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        frac = positions - lo
        py = py[:, lo] * (1 - frac) + py[:, hi] * frac
    return float(np.sqrt(((px - py) ** 2).mean()))


def mmd(x: Tensor, y: Tensor, scales: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0), unbiased: bool = False,
        bandwidth: float | None = None) -> float:
    r"""MMD (square root of :math:`\mathrm{MMD}^2`, clipped at 0) with a multi-bandwidth RBF kernel
    :math:`k = \frac1{|S|}\sum_{s\in S}\exp(-\lVert a-b\rVert^2/(2 (s h)^2))`, :math:`h` = ``bandwidth`` or
    the median pairwise distance within ``y``."""
    x, y = _as_2d("x", x), _as_2d("y", y)
    if bandwidth is None:
        sub = y[: min(len(y), 1000)]
        d = torch.cdist(sub, sub)
        bandwidth = float(d[torch.triu(torch.ones_like(d, dtype=torch.bool), 1)].median())
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")

    def kernel(a: Tensor, b: Tensor) -> Tensor:
        d2 = torch.cdist(a, b) ** 2
        return sum(torch.exp(-d2 / (2 * (s * bandwidth) ** 2)) for s in scales) / len(scales)

    return float(torch.sqrt(_mmd2(kernel, x, y, unbiased).clamp_min(0)))


def _mmd2(kernel: Callable[[Tensor, Tensor], Tensor], x: Tensor, y: Tensor, unbiased: bool) -> Tensor:
    r""":math:`\mathrm{MMD}^2` of the samples ``x`` and ``y`` under ``kernel``: within-sample means (off-diagonal
    means :math:`\sum_{i\ne j}k/(n(n-1))` when ``unbiased``) minus twice the cross mean."""
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    if unbiased:
        n, m = len(x), len(y)
        value = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1)) + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    else:
        value = kxx.mean() + kyy.mean()
    return value - 2 * kxy.mean()


def gaussian_kl(mean0: Tensor, cov0: Tensor, mean1: Tensor, cov1: Tensor) -> float:
    r""":math:`KL(\mathcal N(m_0,C_0)\|\mathcal N(m_1,C_1)) = \tfrac12[\mathrm{tr}(C_1^{-1}C_0) +
    (m_1-m_0)^\top C_1^{-1}(m_1-m_0) - d + \ln\det C_1 - \ln\det C_0]`."""
    m0, m1 = torch.as_tensor(mean0, dtype=torch.float64), torch.as_tensor(mean1, dtype=torch.float64)
    c0, c1 = torch.as_tensor(cov0, dtype=torch.float64), torch.as_tensor(cov1, dtype=torch.float64)
    d = m0.shape[0]
    l1 = torch.linalg.cholesky(c1)
    solve = torch.cholesky_solve(c0, l1)
    diff = (m1 - m0)[:, None]
    maha = (diff * torch.cholesky_solve(diff, l1)).sum()
    logdet = 2 * torch.log(torch.diagonal(l1)).sum() - torch.linalg.slogdet(c0)[1]
    return float(0.5 * (torch.trace(solve) + maha - d + logdet))


def frechet_distance(feat1: Tensor | np.ndarray, feat2: Tensor | np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows are samples)."""
    a = np.asarray(_as_2d("feat1", feat1))
    b = np.asarray(_as_2d("feat2", feat2))
    mu1, mu2 = a.mean(0), b.mean(0)
    c1, c2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.real(linalg.sqrtm(c1 @ c2))
    return float(max(0.0, ((mu1 - mu2) ** 2).sum() + np.trace(c1 + c2 - 2 * root)))


class DigitsFeatureNet(nn.Module):
    """64 -> 256 -> 64 (features) -> 10 MLP classifier for 8x8 digits in [-1, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 256), nn.SiLU(), nn.Linear(256, 64), nn.SiLU())
        self.head = nn.Linear(64, 10)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x.reshape(x.shape[0], 64).float())

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


_CLASSIFIER_SETTINGS = {"epochs": 60, "batch": 128, "lr": 2e-3, "seed": 0, "noise": 0.1}


def _classifier_key() -> str:
    code = (inspect.getsource(DigitsFeatureNet) + inspect.getsource(_train_digits_classifier)
            + repr(_CLASSIFIER_SETTINGS))
    return hashlib.sha256(code.encode()).hexdigest()[:12]


def _train_digits_classifier() -> DigitsFeatureNet:
    from latentlab.generative.data import digits

    s = _CLASSIFIER_SETTINGS
    images, labels = digits()
    generator = torch.Generator().manual_seed(s["seed"])
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(s["seed"])
    net = DigitsFeatureNet()
    torch.random.set_rng_state(torch_state)
    opt = torch.optim.Adam(net.parameters(), lr=s["lr"])
    n = images.shape[0]
    for _ in range(s["epochs"]):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, s["batch"]):
            idx = order[start:start + s["batch"]]
            x = images[idx] + s["noise"] * torch.randn(images[idx].shape, generator=generator)
            loss = nn.functional.cross_entropy(net(x), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


def load_digits_classifier(cache_dir: str | Path | None = None) -> DigitsFeatureNet:
    """The digits classifier, trained once locally (a few seconds) and cached by code hash."""
    default = Path(os.environ.get("LATENTLAB_CACHE", Path.home() / ".cache" / "latentlab"))
    root = Path(cache_dir) if cache_dir else default
    path = root / "generative" / f"digits_classifier_{_classifier_key()}.pt"
    net = DigitsFeatureNet()
    if path.is_file():
        net.load_state_dict(torch.load(path, weights_only=True))
        return net.eval()
    net = _train_digits_classifier()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save(net.state_dict(), tmp)
    os.replace(tmp, path)
    return net


def digits_frechet_distance(samples: Tensor, reference: Tensor, classifier: DigitsFeatureNet | None = None) -> float:
    """Classifier-Fréchet distance between 8x8 digit samples and reference images (both in [-1, 1])."""
    net = classifier or load_digits_classifier()
    with torch.no_grad():
        return frechet_distance(net.features(samples).double(), net.features(reference).double())


def kernel_distance(feat1: Tensor | np.ndarray, feat2: Tensor | np.ndarray) -> float:
    r"""KID: the unbiased estimate of :math:`\mathrm{MMD}^2` with :math:`k(a,b) = (a^\top b/d+1)^3`,

    .. math:: \frac{\sum_{i\ne j}k(x_i,x_j)}{n(n-1)} + \frac{\sum_{i\ne j}k(y_i,y_j)}{m(m-1)}
              - \frac{2}{nm}\sum_{i,j}k(x_i,y_j)

    (unbiased, so it can be slightly negative when the two samples share a distribution)."""
    x, y = _as_2d("feat1", feat1), _as_2d("feat2", feat2)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feat1 and feat2 must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    d = x.shape[1]
    return float(_mmd2(lambda a, b: (a @ b.T / d + 1) ** 3, x, y, unbiased=True))


def digits_kernel_distance(samples: Tensor, reference: Tensor, classifier: DigitsFeatureNet | None = None) -> float:
    """KID (:func:`kernel_distance`) on the digits classifier's features (both inputs in [-1, 1])."""
    net = classifier or load_digits_classifier()
    with torch.no_grad():
        return kernel_distance(net.features(samples).double(), net.features(reference).double())
