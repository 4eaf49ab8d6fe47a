r"""Denoiser networks: a residual MLP for vectors, a tiny U-Net for 8x8 images, and the
preconditioning wrapper that turns a raw network :math:`F_\theta` into a denoiser

.. math::  D_\theta(x,\sigma) = c_{skip}(\sigma)\,x + c_{out}(\sigma)\,F_\theta(c_{in}(\sigma)\,x,\ c_{noise}(\sigma))

(EDM preconditioning, or the consistency-model one that meets :math:`f(x,\sigma_{min}) = x`; see
:mod:`latentlab.generative.schedules`).  ``norm="nsln"`` selects LayerNorm without the learnable
scale (sLCT's "non-scaling LayerNorm"; it keeps the bias).  :class:`MLPAutoencoder` is the small
weak-KL autoencoder whose latents the latent-space models are trained on; :func:`quantize_weights` is
post-training uniform weight quantisation (PFGM++'s robustness protocol).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn

from latentlab.generative.schedules import ConsistencyPreconditioning, EDMPreconditioning

__all__ = ["FourierEmbedding", "MLPNet", "TinyUNet", "Denoiser", "NonScalingLayerNorm", "MLPAutoencoder",
           "quantize_weights"]


class FourierEmbedding(nn.Module):
    """Random Fourier features of the scalar noise input ``c_noise``."""

    def __init__(self, dim: int, scale: float = 4.0) -> None:
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"dim must be an even number >= 2, got {dim}")
        self.register_buffer("freqs", torch.randn(dim // 2) * scale)

    def forward(self, c_noise: Tensor) -> Tensor:
        angles = 2 * math.pi * c_noise[:, None] * self.freqs[None]
        return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)


class NonScalingLayerNorm(nn.LayerNorm):
    """LayerNorm with the bias but no learnable scale."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim, elementwise_affine=False)
        self.bias_term = nn.Parameter(torch.zeros(dim))

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x) + self.bias_term


def _norm(kind: str, dim: int) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if kind == "layernorm":
        return nn.LayerNorm(dim)
    if kind == "nsln":
        return NonScalingLayerNorm(dim)
    raise ValueError(f"norm must be 'none', 'layernorm' or 'nsln', got {kind!r}")


class _ResBlock(nn.Module):
    def __init__(self, width: int, emb_dim: int, norm: str) -> None:
        super().__init__()
        self.norm = _norm(norm, width)
        self.film = nn.Linear(emb_dim, 2 * width)
        self.fc1, self.fc2 = nn.Linear(width, width), nn.Linear(width, width)

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        scale, shift = self.film(emb).chunk(2, dim=1)
        z = self.fc1(nn.functional.silu(self.norm(h)) * (1 + scale) + shift)
        return h + self.fc2(nn.functional.silu(z))


class MLPNet(nn.Module):
    """Raw network :math:`F(x_{in}, c_{noise})` for vectors: input layer, ``depth`` residual FiLM blocks
    of ``width``, output layer; optional conditioning vector ``cond`` of size ``cond_dim``."""

    def __init__(self, dim: int, width: int = 256, depth: int = 3, emb_dim: int = 64, norm: str = "none",
                 cond_dim: int = 0) -> None:
        super().__init__()
        if dim < 1 or width < 1 or depth < 0:
            raise ValueError(f"dim, width must be >= 1 and depth >= 0, got {dim}, {width}, {depth}")
        self.embed = FourierEmbedding(emb_dim)
        self.emb_mlp = nn.Sequential(nn.Linear(emb_dim + cond_dim, emb_dim), nn.SiLU())
        self.inp = nn.Linear(dim, width)
        self.blocks = nn.ModuleList(_ResBlock(width, emb_dim, norm) for _ in range(depth))
        self.out_norm = _norm(norm, width)
        self.out = nn.Linear(width, dim)
        self.cond_dim = cond_dim

    def forward(self, x: Tensor, c_noise: Tensor, cond: Tensor | None = None) -> Tensor:
        """``c_noise`` has shape ``(B,)`` or ``(1,)`` (one level for the whole batch, broadcast)."""
        emb = self.embed(c_noise)
        if self.cond_dim:
            if cond is None:
                raise ValueError("this network needs a conditioning vector 'cond'")
            emb = torch.cat([emb, cond], dim=1)
        emb = self.emb_mlp(emb)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(nn.functional.silu(self.out_norm(h)))


class _ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int = 8) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(min(groups, c_in), c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * c_out)
        self.norm2, self.conv2 = nn.GroupNorm(min(groups, c_out), c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        z = self.conv1(nn.functional.silu(self.norm1(h)))
        z = self.conv2(nn.functional.silu(self.norm2(z) * (1 + scale) + shift))
        return self.skip(h) + z


class TinyUNet(nn.Module):
    """Two-resolution U-Net for ``(B, channels*side*side)`` flattened images (default 1x8x8 digits):
    channels (32, 64), one FiLM residual block per level and side, noise embedding as in :class:`MLPNet`."""

    def __init__(self, side: int = 8, channels: int = 1, widths: tuple[int, int] = (32, 64), emb_dim: int = 64) -> None:
        super().__init__()
        if side % 2:
            raise ValueError(f"side must be even, got {side}")
        self.side, self.channels = side, channels
        c1, c2 = widths
        self.embed = FourierEmbedding(emb_dim)
        self.emb_mlp = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU())
        self.inp = nn.Conv2d(channels, c1, 3, padding=1)
        self.down1 = _ConvBlock(c1, c1, emb_dim)
        self.pool = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.mid = _ConvBlock(c2, c2, emb_dim)
        self.upsample = nn.ConvTranspose2d(c2, c1, 2, stride=2)
        self.up1 = _ConvBlock(2 * c1, c1, emb_dim)
        self.out = nn.Conv2d(c1, channels, 3, padding=1)

    def forward(self, x: Tensor, c_noise: Tensor, cond: Tensor | None = None) -> Tensor:
        b = x.shape[0]
        emb = self.emb_mlp(self.embed(c_noise))
        h0 = self.down1(self.inp(x.reshape(b, self.channels, self.side, self.side)), emb)
        h1 = self.mid(self.pool(h0), emb)
        h = self.up1(torch.cat([self.upsample(h1), h0], dim=1), emb)
        return self.out(h).reshape(b, -1)


class Denoiser(nn.Module):
    r"""Preconditioned denoiser :math:`D_\theta(x,\sigma)` around a raw network (``MLPNet`` or ``TinyUNet``).

    ``precond`` is :class:`EDMPreconditioning` (diffusion, PFGM++) or :class:`ConsistencyPreconditioning`
    (consistency models).  ``sigma`` may be a scalar or have shape ``(B,)``.
    """

    def __init__(self, net: nn.Module, precond: EDMPreconditioning | ConsistencyPreconditioning | None = None) -> None:
        super().__init__()
        self.net = net
        self.precond = precond or EDMPreconditioning()

    def forward(self, x: Tensor, sigma: Tensor | float, cond: Tensor | None = None) -> Tensor:
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        if sigma.dim() == 0 and cond is None:
            # one shared level (samplers): the noise embedding is computed once and broadcast
            sigma = sigma.reshape(1)
        elif sigma.dim() == 0:
            sigma = sigma.expand(x.shape[0])
        c_skip, c_out, c_in, c_noise = self.precond.coefficients(sigma)
        col = (sigma.shape[0],) + (1,) * (x.dim() - 1)
        scaled = c_in.reshape(col) * x
        out = self.net(scaled, c_noise, cond) if cond is not None else self.net(scaled, c_noise)
        return c_skip.reshape(col) * x + c_out.reshape(col) * out


class MLPAutoencoder(nn.Module):
    r"""Gaussian encoder :math:`q(z\mid x) = \mathcal N(\mu(x), \mathrm{diag}\,e^{\ell(x)})` and deterministic
    decoder :math:`x \approx g(z)`, both MLPs (``depth`` hidden SiLU layers of ``width``); the latent space of
    the latent-consistency experiments (trained with :func:`~latentlab.generative.losses.autoencoder_loss`)."""

    def __init__(self, dim: int, code_dim: int = 16, width: int = 256, depth: int = 2) -> None:
        super().__init__()
        if dim < 1 or code_dim < 1 or width < 1 or depth < 1:
            raise ValueError(f"dim, code_dim, width and depth must be >= 1, got {dim}, {code_dim}, {width}, {depth}")

        def mlp(n_in: int, n_out: int) -> nn.Sequential:
            layers: list[nn.Module] = []
            for i in range(depth):
                layers += [nn.Linear(n_in if i == 0 else width, width), nn.SiLU()]
            return nn.Sequential(*layers, nn.Linear(width, n_out))

        self.code_dim = code_dim
        self.encoder, self.decoder = mlp(dim, 2 * code_dim), mlp(code_dim, dim)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r"""``(mu, log_var)`` of :math:`q(z\mid x)`, each ``(B, code_dim)``."""
        mu, log_var = self.encoder(x).chunk(2, dim=1)
        return mu, log_var

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Reparameterised pass: ``(g(mu + e^{l/2} eps), mu, log_var)``."""
        mu, log_var = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        return self.decode(mu + torch.exp(0.5 * log_var) * eps), mu, log_var


def quantize_weights(model: nn.Module, bits: int) -> nn.Module:
    r"""A copy of ``model`` whose parameters are rounded to a uniform per-tensor grid of :math:`2^b` levels,
    :math:`w \mapsto m + \Delta\,\mathrm{round}((w-m)/\Delta)`, :math:`m = \min w`,
    :math:`\Delta = (\max w - m)/(2^b-1)` (post-training quantisation; buffers are kept)."""
    if not 1 <= bits <= 24:
        raise ValueError(f"bits must be in [1, 24], got {bits}")
    quantized = copy.deepcopy(model)
    with torch.no_grad():
        for param in quantized.parameters():
            low, high = param.min(), param.max()
            if high > low:
                step = (high - low) / (2**bits - 1)
                param.copy_(low + step * torch.round((param - low) / step))
    return quantized
