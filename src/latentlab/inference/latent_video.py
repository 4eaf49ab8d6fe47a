r"""A tiny latent-SDE video model driven by Brownian or Markov-approximated fractional noise (torch).

The video experiment of Daems et al. (ICLR 2024), at toy scale.

**Data** (:func:`sliding_digit_video`): an 8 x 8 scikit-learn digit (``load_digits``, bundled, no
download; pixel values / 16) slides on a 16 x 16 canvas.  Its top-left corner per axis is
:math:`\mathrm{round}(\mathrm{fold}(x_0+s\,B^H(t)))` at frame times :math:`t_i=i/(T-1)`, with
:math:`x_0\sim U[0,8]`, :math:`B^H` exact Type II fBM (:func:`latentlab.inference.fbm.sample_fbm`,
one per axis) and ``fold`` the reflection into :math:`[0,8]` (:func:`reflect`);
:func:`render_frames` pastes the digit at those integer positions.

**Model** (:class:`LatentVideoSDE`): latent :math:`Z\in\mathbb R^d`, each coordinate driven by its own
Markov-approximated fBM :math:`\hat B^H_j=\sum_k\omega_k(H)Y_{jk}` (weights
:func:`latentlab.inference.fbm.optimal_weights_torch`, Euler steps
:func:`latentlab.inference.fractional_sde.ou_bank_feedback` and
:func:`~latentlab.inference.fractional_sde.ou_bank_step`):

.. math:: dY_{jk}=(-\gamma_kY_{jk}+u_j)dt+dW_j,\qquad
          dZ_j=\big[f_\theta(Z)_j-\sigma_j\textstyle\sum_k\omega_k\gamma_kY_{jk}+\sigma_j\bar\omega u_j\big]dt
          +\sigma_j\bar\omega\,dW_j,

prior :math:`u\equiv0`, :math:`Z_0\sim\mathcal N(0,I)`; posterior :math:`Z_0\sim q(Z_0\mid
x_{1:n_c})=\mathcal N(\mu,\mathrm{diag}\,s^2)` (an MLP of the first :math:`n_c` frames) and control
:math:`u_\phi(Z,Y,t,c)`, :math:`c` an MLP of the whole clip.  Frames are decoded independently,
:math:`p(x_i\mid Z_{t_i})=\mathcal N(x_i;g_\psi(Z_{t_i}),\sigma_{px}^2I)`.  ELBO (Girsanov):

.. math:: \mathcal L=E_Q\Big[\sum_i\log p(x_i\mid Z_{t_i})\Big]-E_Q\Big[\int_0^1\tfrac12\|u\|^2dt\Big]
          -\mathrm{KL}\big(q(Z_0)\,\|\,\mathcal N(0,I)\big).

The Brownian model is the same class with ``hurst=0.5, learn_hurst=False``.  Prediction
(:meth:`LatentVideoSDE.predict`): :math:`Z_0\sim q(Z_0\mid x_{1:n_c})`, then the *prior* SDE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from latentlab.inference.fbm import sample_fbm
from latentlab.inference.fractional_sde import LearnableHurst, hurst_parameter, ou_bank_feedback, ou_bank_step

__all__ = [
    "DIGIT",
    "LatentVideoSDE",
    "VideoClips",
    "fit_video_sde",
    "heldout_elbo",
    "load_digit_images",
    "prediction_error",
    "reflect",
    "render_frames",
    "sliding_digit_video",
]

DIGIT = 8  # side of a scikit-learn digit image


@dataclass(frozen=True)
class VideoClips:
    """``frames (N, T, C, C)`` float32 in [0, 1], digit corners ``rows, cols (N, T)`` and frame ``times (T,)``."""

    frames: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    times: np.ndarray


def load_digit_images() -> np.ndarray:
    """scikit-learn's bundled 8 x 8 digits ``(1797, 8, 8)``, scaled to [0, 1] (no download)."""
    from sklearn.datasets import load_digits

    return (load_digits().images / 16.0).astype(np.float32)


def reflect(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fold ``x`` into ``[lo, hi]`` by reflection at both ends (a triangle wave of period ``2 (hi - lo)``)."""
    if not hi > lo:
        raise ValueError(f"need hi > lo, got lo={lo}, hi={hi}")
    width = hi - lo
    y = np.mod(np.asarray(x, float) - lo, 2 * width)
    return lo + np.where(y > width, 2 * width - y, y)


def render_frames(digits: np.ndarray, rows: np.ndarray, cols: np.ndarray, canvas: int = 16) -> np.ndarray:
    """Paste digit ``n`` at top-left corner ``(rows[n, t], cols[n, t])`` of a blank ``canvas`` x ``canvas`` frame.

    ``digits (N, 8, 8)``, integer ``rows, cols (N, T)`` in ``[0, canvas - 8]``; returns ``(N, T, canvas, canvas)``.
    """
    digits = np.asarray(digits, np.float32)
    rows, cols = np.asarray(rows), np.asarray(cols)
    if digits.ndim != 3 or digits.shape[1:] != (DIGIT, DIGIT):
        raise ValueError(f"digits must be (N, {DIGIT}, {DIGIT}), got {digits.shape}")
    if canvas < DIGIT:
        raise ValueError(f"canvas must be >= {DIGIT}, got {canvas}")
    if rows.shape != cols.shape or rows.ndim != 2 or rows.shape[0] != digits.shape[0]:
        raise ValueError(f"rows and cols must both be (N={digits.shape[0]}, T), got {rows.shape}, {cols.shape}")
    if not (np.issubdtype(rows.dtype, np.integer) and np.issubdtype(cols.dtype, np.integer)):
        raise ValueError("rows and cols must be integer pixel positions")
    for name, pos in (("rows", rows), ("cols", cols)):
        if pos.min() < 0 or pos.max() > canvas - DIGIT:
            raise ValueError(f"{name} must lie in [0, {canvas - DIGIT}], got [{pos.min()}, {pos.max()}]")
    n, t = rows.shape
    out = np.zeros((n, t, canvas, canvas), np.float32)
    offset = np.arange(DIGIT)
    ii = rows[:, :, None, None] + offset[:, None]  # (N, T, 8, 1)
    jj = cols[:, :, None, None] + offset[None, :]  # (N, T, 1, 8)
    out[np.arange(n)[:, None, None, None], np.arange(t)[None, :, None, None], ii, jj] = digits[:, None]
    return out


def sliding_digit_video(digits: np.ndarray, n_frames: int, hurst: float, scale: float, rng: np.random.Generator,
                        canvas: int = 16) -> VideoClips:
    r"""One clip per digit: corner :math:`\mathrm{round}(\mathrm{reflect}(x_0+s\,B^H(t_i),0,C-8))` per axis,
    :math:`x_0\sim U[0,C-8]`, :math:`t_i=i/(T-1)`, :math:`B^H` exact Type II fBM (independent per axis)."""
    if n_frames < 2:
        raise ValueError(f"n_frames must be >= 2, got {n_frames}")
    if scale < 0:
        raise ValueError(f"scale must be >= 0, got {scale}")
    digits = np.asarray(digits, np.float32)
    n, top = digits.shape[0], canvas - DIGIT
    times = np.linspace(0.0, 1.0, n_frames)
    start = rng.uniform(0, top, size=(2 * n, 1))
    noise = np.concatenate([np.zeros((2 * n, 1)), sample_fbm(times[1:], hurst, 2 * n, rng)], axis=1)
    corners = np.rint(reflect(start + scale * noise, 0.0, top)).astype(np.int64)
    rows, cols = corners[:n], corners[n:]
    return VideoClips(render_frames(digits, rows, cols, canvas), rows, cols, times)


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class LatentVideoSDE(LearnableHurst, nn.Module):
    """Encoder of the first frames -> :math:`Z_0`; MA-fBM (or BM) driven latent SDE; per-frame decoder."""

    def __init__(self, gammas: np.ndarray, n_frames: int, n_context: int = 3, latent: int = 6, hidden: int = 64,
                 context: int = 16, hurst: float = 0.5, learn_hurst: bool = True, pixel_noise: float = 0.1,
                 steps_per_frame: int = 12, canvas: int = 16) -> None:
        super().__init__()
        if not 0 < hurst < 1:
            raise ValueError(f"hurst must be in (0, 1), got {hurst}")
        if not 1 <= n_context <= n_frames or n_frames < 2:
            raise ValueError(f"need n_frames >= 2 and 1 <= n_context <= n_frames, got {n_frames}, {n_context}")
        if latent < 1 or hidden < 1 or context < 1 or steps_per_frame < 1:
            raise ValueError("latent, hidden, context and steps_per_frame must be >= 1")
        if pixel_noise <= 0:
            raise ValueError(f"pixel_noise must be > 0, got {pixel_noise}")
        gammas = np.asarray(gammas, dtype=float)
        self.register_buffer("gammas", torch.as_tensor(gammas, dtype=torch.float32))
        self._gammas_np = gammas
        self.n_frames, self.n_context, self.latent = n_frames, n_context, latent
        self.pixel_noise, self.steps_per_frame = float(pixel_noise), steps_per_frame
        self.dt = 1.0 / ((n_frames - 1) * steps_per_frame)
        pixels = self.pixels = canvas * canvas
        self.hurst_logit = hurst_parameter(hurst, learn_hurst)
        self.log_sigma = nn.Parameter(torch.zeros(latent))
        self.z0_encoder = _mlp([n_context * pixels, hidden, 2 * latent])
        self.clip_encoder = _mlp([n_frames * pixels, hidden, context])
        self.drift = _mlp([latent, hidden, latent])
        self.control = _mlp([latent * (1 + len(gammas)) + 1 + context, hidden, latent])
        self.decoder = _mlp([latent, hidden, hidden, pixels])

    def _flat(self, frames: torch.Tensor) -> torch.Tensor:
        frames = torch.as_tensor(frames, dtype=torch.float32)
        if frames.ndim != 4 or frames.shape[1] != self.n_frames:
            raise ValueError(f"frames must be (N, T={self.n_frames}, C, C), got {tuple(frames.shape)}")
        return frames.flatten(2)

    def encode_z0(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-std ``(N, d)`` of :math:`q(Z_0\\mid x_{1:n_c})`."""
        mean, log_std = self.z0_encoder(flat[:, : self.n_context].flatten(1)).chunk(2, dim=-1)
        return mean, log_std.clamp(-6.0, 2.0)

    def simulate(self, z0: torch.Tensor, clip_context: torch.Tensor | None, generator: torch.Generator,
                 zero_control: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Euler–Maruyama latent paths at the frame times ``(N, T, d)`` and the path KL
        :math:`\int\frac12\|u\|^2dt` ``(N,)`` under the posterior (the prior if ``zero_control``)."""
        if clip_context is None and not zero_control:
            raise ValueError("clip_context is required for the posterior (zero_control=False)")
        omega = self.weights()
        g, sigma = self.gammas, torch.exp(self.log_sigma)
        n = z0.shape[0]
        z, y, kl = z0, z0.new_zeros(n, self.latent, len(g)), z0.new_zeros(n)
        frames, sqrt_dt = [z], float(np.sqrt(self.dt))
        for step in range((self.n_frames - 1) * self.steps_per_frame):
            if zero_control:
                u = torch.zeros_like(z)
            else:
                t = z0.new_full((n, 1), step * self.dt)
                u = self.control(torch.cat([z, y.flatten(1), t, clip_context], 1))
            dw = sqrt_dt * torch.randn(n, self.latent, generator=generator)
            drift = self.drift(z) - sigma * ou_bank_feedback(y, g, omega) + sigma * omega.sum() * u
            z = z + drift * self.dt + sigma * omega.sum() * dw
            y = ou_bank_step(y, u, dw, g, self.dt)
            kl = kl + 0.5 * (u**2).sum(-1) * self.dt
            if (step + 1) % self.steps_per_frame == 0:
                frames.append(z)
        return torch.stack(frames, dim=1), kl

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel means in (0, 1), ``(..., C * C)``."""
        return torch.sigmoid(self.decoder(z))

    def _log_lik(self, flat: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
        """:math:`\\sum_{i,p}\\log\\mathcal N(x_{ip};\\hat x_{ip},\\sigma_{px}^2)` per clip, ``(N,)``."""
        return (-0.5 * ((flat - means) / self.pixel_noise) ** 2
                - np.log(self.pixel_noise * np.sqrt(2 * np.pi))).sum((-2, -1))

    def elbo(self, frames, generator: torch.Generator, zero_control: bool = False
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One-sample ELBO per clip ``(N,)`` and its parts (``log_lik``, ``kl_path``, ``kl_z0``)."""
        flat = self._flat(frames)
        mean, log_std = self.encode_z0(flat)
        z0 = mean + torch.exp(log_std) * torch.randn(mean.shape, generator=generator)
        clip_context = self.clip_encoder(flat.flatten(1))
        states, kl_path = self.simulate(z0, clip_context, generator, zero_control)
        log_lik = self._log_lik(flat, self.decode(states))
        kl_z0 = 0.5 * (mean**2 + torch.exp(2 * log_std) - 1 - 2 * log_std).sum(-1)
        return log_lik - kl_path - kl_z0, {"log_lik": log_lik, "kl_path": kl_path, "kl_z0": kl_z0}

    def predict(self, frames, generator: torch.Generator, n_samples: int = 1) -> torch.Tensor:
        """Decoded frames ``(n_samples, N, T, C * C)``: :math:`Z_0\\sim q(Z_0\\mid x_{1:n_c})`, then the prior SDE
        (only the first ``n_context`` frames of ``frames`` are read)."""
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        mean, log_std = self.encode_z0(self._flat(frames))
        mean, log_std = mean.repeat(n_samples, 1), log_std.repeat(n_samples, 1)
        z0 = mean + torch.exp(log_std) * torch.randn(mean.shape, generator=generator)
        states, _ = self.simulate(z0, None, generator, zero_control=True)
        return self.decode(states).reshape(n_samples, -1, self.n_frames, self.pixels)


def fit_video_sde(model: LatentVideoSDE, frames: np.ndarray, n_steps: int, batch_size: int, lr: float,
                  generator: torch.Generator, check_finite=None) -> dict[str, list[float]]:
    """Adam on the mean one-sample ELBO over minibatches of clips; returns the per-step ``elbo`` and ``hurst``."""
    if n_steps < 0 or batch_size < 1 or lr <= 0:
        raise ValueError(f"need n_steps >= 0, batch_size >= 1, lr > 0; got {n_steps}, {batch_size}, {lr}")
    data = torch.as_tensor(frames, dtype=torch.float32)
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    trace: dict[str, list[float]] = {"elbo": [], "hurst": []}
    for _ in range(n_steps):
        batch = data[torch.randint(len(data), (min(batch_size, len(data)),), generator=generator)]
        elbo, _ = model.elbo(batch, generator)
        loss = -elbo.mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if check_finite is not None:
            check_finite("loss", loss.detach())
        trace["elbo"].append(float(elbo.mean().detach()))
        trace["hurst"].append(float(model.hurst.detach()))
    return trace


def heldout_elbo(model: LatentVideoSDE, frames: np.ndarray, n_samples: int, generator: torch.Generator) -> np.ndarray:
    """Per-clip ELBO ``(N,)`` averaged over ``n_samples`` posterior draws (no gradients), float64."""
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    with torch.no_grad():
        return np.mean([model.elbo(frames, generator)[0].double().numpy() for _ in range(n_samples)], axis=0)


def prediction_error(model: LatentVideoSDE, frames: np.ndarray, n_samples: int, generator: torch.Generator
                     ) -> np.ndarray:
    """Mean squared pixel error per clip and frame ``(N, T)`` of :meth:`LatentVideoSDE.predict` (averaged over
    ``n_samples`` predictions); frames after the first ``n_context`` are forecasts."""
    with torch.no_grad():
        pred = model.predict(frames, generator, n_samples)
        target = torch.as_tensor(frames, dtype=torch.float32).flatten(2)
        return ((pred - target) ** 2).mean(-1).mean(0).double().numpy()
