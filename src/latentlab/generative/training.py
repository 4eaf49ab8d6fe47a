"""Minimal training loops for denoisers (EDM loss, any kernel), consistency models (iCT / sLCT) and the
weak-KL autoencoder of latent-space models."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from latentlab.generative.kernels import GaussianKernel, NoiseKernel
from latentlab.generative.losses import autoencoder_loss, consistency_training_loss, denoising_loss
from latentlab.generative.schedules import sample_lognormal_sigmas

__all__ = ["train_denoiser", "train_consistency", "train_autoencoder"]


def _batches(data: Tensor, batch: int, generator: torch.Generator):
    while True:
        yield data[torch.randint(0, data.shape[0], (batch,), generator=generator)]


def _check(steps: int, batch: int, lr: float) -> None:
    if steps < 1 or batch < 2 or not lr > 0:
        raise ValueError(f"need steps >= 1, batch >= 2 and lr > 0, got {steps}, {batch}, {lr}")


def _adam(model: nn.Module, data: Tensor, steps: int, batch: int, lr: float, generator: torch.Generator | None,
          batch_loss: Callable[[int, Tensor, torch.Generator], Tensor], cosine: bool,
          check: Callable[[str, float], None] | None) -> list[float]:
    """The loop every trainer here shares: ``steps`` Adam steps on ``batch_loss(step, minibatch, generator)``
    over minibatches drawn with replacement, optionally with a cosine learning-rate decay; returns the
    loss curve and calls ``check("loss", value)`` every 100 steps."""
    _check(steps, batch, lr)
    generator = generator or torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if cosine else None
    losses = []
    for step, minibatch in zip(range(steps), _batches(data, batch, generator)):
        loss = batch_loss(step, minibatch, generator)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss.item())
        if check is not None and step % 100 == 0:
            check("loss", losses[-1])
    return losses


def train_denoiser(model: nn.Module, data: Tensor, steps: int, batch: int = 256, lr: float = 1e-3,
                   kernel: NoiseKernel | None = None, p_mean: float = -1.2, p_std: float = 1.2,
                   generator: torch.Generator | None = None, check: Callable[[str, float], None] | None = None,
                   ) -> list[float]:
    """Adam on the EDM denoising loss with a cosine learning-rate decay; returns the loss curve
    (every step).  ``check(name, value)`` (e.g. ``ctx.check_finite``) is called every 100 steps."""
    kernel = kernel or GaussianKernel()

    def batch_loss(step: int, y: Tensor, generator: torch.Generator) -> Tensor:
        sigma = sample_lognormal_sigmas(y.shape[0], p_mean, p_std, generator, dtype=y.dtype)
        return denoising_loss(model, y, sigma, kernel, generator)

    return _adam(model, data, steps, batch, lr, generator, batch_loss, cosine=True, check=check)


def train_consistency(model: nn.Module, data: Tensor, steps: int, batch: int = 256, lr: float = 1e-3,
                      c_schedule: Callable[[int, dict | None], float | None] | None = None,
                      generator: torch.Generator | None = None, check: Callable[[str, float], None] | None = None,
                      **loss_options) -> list[float]:
    """Adam on :func:`~latentlab.generative.losses.consistency_training_loss`; ``c_schedule(step, last_stats)``
    returns the robust-loss scale ``c`` for the step (None: the loss's default)."""
    stats: dict | None = None

    def batch_loss(step: int, y: Tensor, generator: torch.Generator) -> Tensor:
        nonlocal stats
        c = c_schedule(step, stats) if c_schedule is not None else None
        loss, stats = consistency_training_loss(model, y, step, steps, c=c, generator=generator, **loss_options)
        return loss

    return _adam(model, data, steps, batch, lr, generator, batch_loss, cosine=False, check=check)


def train_autoencoder(model: nn.Module, data: Tensor, steps: int, batch: int = 256, lr: float = 1e-3,
                      kl_weight: float = 1e-3, generator: torch.Generator | None = None,
                      check: Callable[[str, float], None] | None = None) -> list[float]:
    """Adam with cosine decay on :func:`~latentlab.generative.losses.autoencoder_loss`; returns the loss curve."""
    return _adam(model, data, steps, batch, lr, generator,
                 lambda step, x, generator: autoencoder_loss(model, x, kl_weight, generator)[0], cosine=True,
                 check=check)
