r"""Samplers in EDM :math:`\sigma` that emit per-step records and accept hooks.

A *denoiser* is any callable ``denoiser(x, sigma) -> E[y | x_sigma = x]`` with ``x`` of shape
``(B, ...)`` and ``sigma`` a 0-d tensor (a trained :class:`~latentlab.generative.nets.Denoiser`, the
exact :class:`~latentlab.generative.gmm.GaussianMixture`, or a guided wrapper).  A sampler walks a
decreasing grid :math:`\sigma_0 > \dots > \sigma_{n-1} > \sigma_n = 0` and at every step builds a
:class:`Step` record.  Transitions (with :math:`D = D(x,\sigma_i)`, :math:`\hat\epsilon = (x-D)/\sigma_i`):

* ``euler``: :math:`x' = x + (\sigma_{i+1}-\sigma_i)\hat\epsilon` (probability-flow ODE, deterministic);
* ``heun``: Euler plus the trapezoidal correction with :math:`D(x', \sigma_{i+1})` unless
  :math:`\sigma_{i+1}=0` (EDM Algorithm 1; 2n-1 evaluations);
* ``ddim`` with :math:`\eta\in[0,1]`: :math:`x' = D + \sqrt{\sigma_{i+1}^2 - s^2}\,\hat\epsilon + s z`,
  :math:`s = \eta\,\sigma_{i+1}\sqrt{1-\sigma_{i+1}^2/\sigma_i^2}`.  This is DDIM's update written in
  :math:`x_\sigma = x_t/\sqrt{\bar\alpha_t}`; :math:`\eta=0` is Euler, :math:`\eta=1` is the DDPM
  ancestral step (the exact Gaussian posterior :math:`q(x_{\sigma'}\mid x_\sigma, y=D)`), available
  as ``ancestral``;
* ``consistency``: multistep consistency sampling, :math:`x' = f(x,\sigma_i) +
  \sqrt{\sigma_{i+1}^2-\sigma_{min}^2}\,z` (with ``denoiser`` the consistency function :math:`f`).

Stochastic transitions are Gaussian, :math:`x' \sim \mathcal N(m, s^2 I)`, and the record carries
the mean, the std and the noise, so :func:`transition_log_prob` is exact (the quantity RL
fine-tuning and FK importance weights need).

A *hook* is a callable ``hook(step) -> Step | None``; hooks run in order after each transition and
may return a modified record (the next state is ``step.x_next``): SMC resampling
(:class:`~latentlab.generative.steering.FKSteering`), noise injection for robustness tests
(:class:`NoiseInjection`), gradient guidance (:class:`GradientGuidance`) and logging
(:class:`StepRecorder`) are hooks, not forks of the sampler.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor

__all__ = [
    "Denoiser",
    "Step",
    "Hook",
    "SAMPLERS",
    "iterate",
    "sample",
    "transition_log_prob",
    "StepRecorder",
    "NoiseInjection",
    "GradientGuidance",
    "nfe_per_sample",
]

Denoiser = Callable[[Tensor, Tensor], Tensor]


@dataclass
class Step:
    """One transition ``x (at sigma) -> x_next (at sigma_next)``.

    ``mean``/``std``/``noise`` describe the Gaussian proposal (``std == 0`` for ODE steps, then
    ``noise`` is None); ``log_weight`` is an extra per-sample log importance weight that hooks may
    set (guidance sets ``log p_base(x_next) - log p_proposal(x_next)``); ``nfe`` counts denoiser calls.
    """

    index: int
    n_steps: int
    sigma: float
    sigma_next: float
    x: Tensor
    denoised: Tensor
    mean: Tensor
    std: float
    noise: Tensor | None
    x_next: Tensor
    nfe: int
    log_weight: Tensor | None = None
    extras: dict = field(default_factory=dict)

    @property
    def is_last(self) -> bool:
        return self.index == self.n_steps - 1


class Hook(Protocol):
    def __call__(self, step: Step) -> Step | None: ...


def transition_log_prob(step: Step, x_next: Tensor | None = None) -> Tensor:
    r"""Exact per-sample :math:`\log\mathcal N(x'; m, s^2 I)` of a stochastic step (summed over event dims)."""
    if step.std <= 0:
        raise ValueError("transition_log_prob needs a stochastic step (std > 0); ODE steps have no density")
    value = step.x_next if x_next is None else x_next
    diff = (value - step.mean).flatten(1)
    k = diff.shape[1]
    return -0.5 * (diff**2).sum(1) / step.std**2 - k * math.log(step.std) - 0.5 * k * math.log(2 * math.pi)


def _sigma(value: float, like: Tensor) -> Tensor:
    return torch.tensor(value, dtype=like.dtype, device=like.device)


def _euler(denoiser: Denoiser, x: Tensor, sigma: float, sigma_next: float, generator, **_) -> tuple:
    denoised = denoiser(x, _sigma(sigma, x))
    mean = x + (sigma_next - sigma) * (x - denoised) / sigma
    return denoised, mean, 0.0, None, mean, 1


def _heun(denoiser: Denoiser, x: Tensor, sigma: float, sigma_next: float, generator, **_) -> tuple:
    denoised = denoiser(x, _sigma(sigma, x))
    slope = (x - denoised) / sigma
    proposal = x + (sigma_next - sigma) * slope
    if sigma_next == 0:
        return denoised, proposal, 0.0, None, proposal, 1
    slope_next = (proposal - denoiser(proposal, _sigma(sigma_next, x))) / sigma_next
    mean = x + (sigma_next - sigma) * 0.5 * (slope + slope_next)
    return denoised, mean, 0.0, None, mean, 2


def _ddim(denoiser: Denoiser, x: Tensor, sigma: float, sigma_next: float, generator, eta: float = 1.0, **_) -> tuple:
    denoised = denoiser(x, _sigma(sigma, x))
    std = eta * sigma_next * math.sqrt(max(0.0, 1.0 - (sigma_next / sigma) ** 2))
    mean = denoised + math.sqrt(max(0.0, sigma_next**2 - std**2)) * (x - denoised) / sigma
    if std == 0:
        return denoised, mean, 0.0, None, mean, 1
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return denoised, mean, std, noise, mean + std * noise, 1


def _ancestral(denoiser: Denoiser, x: Tensor, sigma: float, sigma_next: float, generator, **_) -> tuple:
    return _ddim(denoiser, x, sigma, sigma_next, generator, eta=1.0)


def _consistency(denoiser: Denoiser, x: Tensor, sigma: float, sigma_next: float, generator,
                 sigma_min: float = 0.002, **_) -> tuple:
    denoised = denoiser(x, _sigma(sigma, x))
    if sigma_next <= sigma_min:
        return denoised, denoised, 0.0, None, denoised, 1
    std = math.sqrt(sigma_next**2 - sigma_min**2)
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return denoised, denoised, std, noise, denoised + std * noise, 1


SAMPLERS: dict[str, Callable[..., tuple]] = {
    "euler": _euler,
    "heun": _heun,
    "ddim": _ddim,
    "ancestral": _ancestral,
    "consistency": _consistency,
}


def _check_grid(sigmas: Tensor | Sequence[float]) -> list[float]:
    grid = [float(s) for s in (sigmas.tolist() if isinstance(sigmas, Tensor) else sigmas)]
    if len(grid) < 2:
        raise ValueError(f"sigmas must hold at least two levels, got {len(grid)}")
    if any(b >= a for a, b in zip(grid, grid[1:])) or grid[-1] < 0:
        raise ValueError("sigmas must be strictly decreasing and end at a level >= 0")
    return grid


def iterate(denoiser: Denoiser, x: Tensor, sigmas: Tensor | Sequence[float], method: str = "heun",
            hooks: Sequence[Hook] = (), generator: torch.Generator | None = None, **options) -> Iterator[Step]:
    """Yield one :class:`Step` per transition (after the hooks ran); the last ``x_next`` is the sample.

    ``options``: ``eta`` for ``ddim``, ``sigma_min`` for ``consistency``.
    """
    if method not in SAMPLERS:
        raise ValueError(f"method must be one of {sorted(SAMPLERS)}, got {method!r}")
    if "eta" in options and not 0 <= options["eta"] <= 1:
        raise ValueError(f"eta must be in [0, 1], got {options['eta']}")
    grid = _check_grid(sigmas)
    transition = SAMPLERS[method]
    n_steps = len(grid) - 1
    for i in range(n_steps):
        denoised, mean, std, noise, x_next, nfe = transition(denoiser, x, grid[i], grid[i + 1], generator, **options)
        step = Step(i, n_steps, grid[i], grid[i + 1], x, denoised, mean, std, noise, x_next, nfe)
        for hook in hooks:
            step = hook(step) or step
        x = step.x_next
        yield step


def sample(denoiser: Denoiser, x: Tensor, sigmas: Tensor | Sequence[float], method: str = "heun",
           hooks: Sequence[Hook] = (), generator: torch.Generator | None = None, **options) -> Tensor:
    """Run :func:`iterate` to the end and return the final state (no gradient tracking)."""
    with torch.no_grad():
        for step in iterate(denoiser, x, sigmas, method, hooks, generator, **options):
            x = step.x_next
    return x


def nfe_per_sample(method: str, n_steps: int) -> int:
    """Denoiser evaluations per sample for ``n_steps`` transitions ending at sigma = 0."""
    if method not in SAMPLERS:
        raise ValueError(f"method must be one of {sorted(SAMPLERS)}, got {method!r}")
    return 2 * n_steps - 1 if method == "heun" else n_steps


class StepRecorder:
    """Logging hook: keeps the chosen fields of every step (tensors detached and cloned)."""

    def __init__(self, fields: Sequence[str] = ("sigma", "x_next", "denoised"), log_prob: bool = False) -> None:
        self.fields = tuple(fields)
        self.log_prob = log_prob
        self.records: list[dict] = []

    def __call__(self, step: Step) -> None:
        record = {}
        for name in self.fields:
            value = getattr(step, name)
            record[name] = value.detach().clone() if isinstance(value, Tensor) else value
        if self.log_prob and step.std > 0:
            record["log_prob"] = transition_log_prob(step).detach()
        self.records.append(record)


class NoiseInjection:
    r"""Robustness hook (PFGM++'s protocol): after each step :math:`x' \leftarrow x' + \alpha\sigma_i\epsilon`,
    except after the last step."""

    def __init__(self, alpha: float, generator: torch.Generator | None = None) -> None:
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.alpha, self.generator = alpha, generator

    def __call__(self, step: Step) -> Step | None:
        if self.alpha == 0 or step.is_last:
            return None
        eps = torch.randn(step.x_next.shape, generator=self.generator, dtype=step.x_next.dtype)
        return dataclasses.replace(step, x_next=step.x_next + self.alpha * step.sigma * eps)


class GradientGuidance:
    r"""Guidance hook for stochastic steps: shift the proposal mean by :math:`s^2\,w\,\nabla_x r(D)`
    evaluated at the step's denoised prediction, redraw :math:`x' = m + \Delta + s z` with the same
    :math:`z`, and record the importance correction :math:`\log p(x'\mid x) - \log\tau(x'\mid x)` in
    ``step.log_weight`` (FK steering's :math:`p_\theta/\tau`)."""

    def __init__(self, reward_grad: Callable[[Tensor], Tensor], scale: float) -> None:
        self.reward_grad, self.scale = reward_grad, scale

    def __call__(self, step: Step) -> Step | None:
        if step.std <= 0 or self.scale == 0:
            return None
        shift = self.scale * step.std**2 * self.reward_grad(step.denoised)
        proposal_mean = step.mean + shift
        x_next = proposal_mean + step.std * step.noise
        base = transition_log_prob(step, x_next)
        proposal = transition_log_prob(dataclasses.replace(step, mean=proposal_mean), x_next)
        weight = base - proposal if step.log_weight is None else step.log_weight + base - proposal
        return dataclasses.replace(step, x_next=x_next, log_weight=weight)
