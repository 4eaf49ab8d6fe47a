r"""Feynman-Kac (FK) steering of diffusion samplers: an SMC particle system run as a sampler hook.

Target (Singhal et al. 2025): :math:`p_{target}(x_{0:T}) \propto p_\theta(x_{0:T})\prod_t G_t` with
:math:`\prod_t G_t = \exp(\lambda r(x_0))`, so the marginal of :math:`x_0` is the reward-tilted
:math:`p_\theta(x_0)e^{\lambda r(x_0)}/Z`.  The proposal is the base sampler's transition
(plus optional guidance, whose correction arrives in ``step.log_weight``); at the resampling steps
the incremental log weight is :math:`\log G_t` (+ correction), with intermediate rewards
:math:`r_\phi(x_t)` = the reward of the step's denoised prediction :math:`\hat x_0(x_t)` (or any
``intermediate`` callable).  Potentials (in log space, over the evaluated steps :math:`s` so far):

* ``diff``: :math:`\lambda(r_\phi(x_t) - r_\phi(x_{t+1}))`, starting from ``reward_min``
  (telescopes to :math:`\lambda(r(x_0) - r_{min})`);
* ``max``: :math:`\lambda\max_{s\ge t} r_\phi(x_s)`; ``sum``: :math:`\lambda\sum_{s\ge t}r_\phi(x_s)`;
  ``rt``: :math:`\lambda r_\phi(x_t)`; for these the last step uses
  :math:`\lambda r(x_0) - \sum_{t\ge1}\log G_t` (the running product of the lineage), so the product
  is exactly :math:`\exp(\lambda r(x_0))`.

Particles are laid out as ``n_systems`` independent systems of ``n_particles`` each (rows
``s*k .. s*k+k-1``); resampling is vectorised over systems.  At the last step the sampler's
``denoised`` equals ``x_next`` (the final step goes to :math:`\sigma=0`), so the last intermediate
reward is the reward of the sample.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from latentlab.generative.sampling import Step

__all__ = [
    "POTENTIALS",
    "multinomial_resample",
    "systematic_resample",
    "effective_sample_size",
    "FKSteering",
    "best_of_n",
    "fk_sample",
    "classifier_log_prob",
]

POTENTIALS = ("diff", "max", "sum", "rt")


def _normalised(log_weights: Tensor) -> Tensor:
    log_weights = torch.nan_to_num(log_weights, nan=-torch.inf)
    return torch.softmax(log_weights, dim=-1)


def multinomial_resample(log_weights: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Ancestor indices ``(S, k)`` drawn i.i.d. from each row's normalised weights (unbiased counts)."""
    if log_weights.dim() != 2:
        raise ValueError(f"log_weights must have shape (n_systems, n_particles), got {tuple(log_weights.shape)}")
    k = log_weights.shape[1]
    return torch.multinomial(_normalised(log_weights).float(), k, replacement=True, generator=generator)


def systematic_resample(log_weights: Tensor, generator: torch.Generator | None = None) -> Tensor:
    r"""Systematic resampling: one uniform :math:`u` per system, points :math:`(u+j)/k`."""
    if log_weights.dim() != 2:
        raise ValueError(f"log_weights must have shape (n_systems, n_particles), got {tuple(log_weights.shape)}")
    s, k = log_weights.shape
    cdf = torch.cumsum(_normalised(log_weights).double(), dim=1)
    cdf[:, -1] = 1.0
    points = (torch.rand((s, 1), generator=generator, dtype=torch.float64) + torch.arange(k)) / k
    return torch.searchsorted(cdf, points).clamp_max(k - 1)


def effective_sample_size(log_weights: Tensor) -> Tensor:
    r""":math:`1/\sum_i\bar w_i^2` per system (row)."""
    w = _normalised(log_weights)
    return 1.0 / (w**2).sum(-1)


RESAMPLERS: dict[str, Callable[[Tensor, torch.Generator | None], Tensor]] = {
    "multinomial": multinomial_resample,
    "systematic": systematic_resample,
}


class FKSteering:
    """The FK particle system as a sampler hook (see the module docstring).

    Parameters: ``reward`` maps a batch ``(B, ...)`` to rewards ``(B,)``; ``strength`` is
    :math:`\\lambda`; ``resample_steps`` are step indices after which to resample (the last step is
    always added); ``adaptive`` resamples only when ESS < ``ess_fraction * k`` (always at the last
    step); ``intermediate`` (default: ``reward(step.denoised)``) gives :math:`r_\\phi` from the step.

    After sampling, ``log_potential_sum`` holds each final particle's lineage sum of
    :math:`\\log G_t` and ``final_rewards`` its reward; ``history`` records ESS per resampling step.
    """

    def __init__(self, reward: Callable[[Tensor], Tensor], strength: float, n_systems: int, n_particles: int,
                 resample_steps: Sequence[int], potential: str = "diff", reward_min: float = 0.0,
                 resampler: str = "multinomial", adaptive: bool = False, ess_fraction: float = 0.5,
                 intermediate: Callable[[Step], Tensor] | None = None,
                 generator: torch.Generator | None = None) -> None:
        if potential not in POTENTIALS:
            raise ValueError(f"potential must be one of {POTENTIALS}, got {potential!r}")
        if resampler not in RESAMPLERS:
            raise ValueError(f"resampler must be one of {sorted(RESAMPLERS)}, got {resampler!r}")
        if n_systems < 1 or n_particles < 1:
            raise ValueError(f"n_systems and n_particles must be >= 1, got {n_systems}, {n_particles}")
        if not 0 < ess_fraction <= 1:
            raise ValueError(f"ess_fraction must be in (0, 1], got {ess_fraction}")
        self.reward, self.strength = reward, float(strength)
        self.n_systems, self.n_particles = n_systems, n_particles
        self.resample_steps = set(int(i) for i in resample_steps)
        self.potential, self.reward_min = potential, float(reward_min)
        self.resample = RESAMPLERS[resampler]
        self.adaptive, self.ess_fraction = adaptive, ess_fraction
        self.intermediate = intermediate or (lambda step: self.reward(step.denoised))
        self.generator = generator
        n = n_systems * n_particles
        self.prev_reward = torch.full((n,), self.reward_min, dtype=torch.float64)
        self.max_reward = torch.full((n,), -torch.inf, dtype=torch.float64)
        self.sum_reward = torch.zeros(n, dtype=torch.float64)
        self.log_potential_sum = torch.zeros(n, dtype=torch.float64)
        self.log_weights = torch.zeros(n, dtype=torch.float64)
        self.final_rewards: Tensor | None = None
        self.history: list[dict] = []

    def _log_potential(self, rewards: Tensor, last: bool) -> Tensor:
        lam = self.strength
        if self.potential == "diff":
            log_g = lam * (rewards - self.prev_reward)
        elif last:
            log_g = lam * rewards - self.log_potential_sum
        elif self.potential == "max":
            log_g = lam * torch.maximum(self.max_reward, rewards)
        elif self.potential == "sum":
            log_g = lam * (self.sum_reward + rewards)
        else:
            log_g = lam * rewards
        return log_g

    def __call__(self, step: Step) -> Step | None:
        last = step.is_last
        correction = step.log_weight.to(torch.float64) if step.log_weight is not None else 0.0
        if not (last or step.index in self.resample_steps):
            if step.log_weight is not None:
                self.log_weights = self.log_weights + correction
            return None
        rewards = self.intermediate(step).detach().to(torch.float64).reshape(-1)
        if rewards.shape[0] != self.prev_reward.shape[0]:
            raise ValueError(f"expected {self.prev_reward.shape[0]} particles, got {rewards.shape[0]}")
        log_g = self._log_potential(rewards, last)
        self.log_potential_sum = self.log_potential_sum + log_g
        self.log_weights = self.log_weights + log_g + correction
        self.prev_reward = rewards
        self.max_reward = torch.maximum(self.max_reward, rewards)
        self.sum_reward = self.sum_reward + rewards
        grouped = self.log_weights.view(self.n_systems, self.n_particles)
        ess = effective_sample_size(grouped)
        self.history.append({"index": step.index, "sigma_next": step.sigma_next, "ess": ess.mean().item()})
        if self.adaptive and not last and bool(torch.all(ess >= self.ess_fraction * self.n_particles)):
            return None
        if self.adaptive and not last:
            do = ess < self.ess_fraction * self.n_particles
        else:
            do = torch.ones(self.n_systems, dtype=torch.bool)
        local = self.resample(grouped, self.generator)
        keep = torch.arange(self.n_particles).expand(self.n_systems, -1)
        local = torch.where(do[:, None], local, keep)
        index = (local + self.n_particles * torch.arange(self.n_systems)[:, None]).reshape(-1)
        self._permute(index, do)
        if last:
            self.final_rewards = self.prev_reward.clone()
        return dataclasses.replace(step, x_next=step.x_next[index], denoised=step.denoised[index])

    def _permute(self, index: Tensor, resampled: Tensor) -> None:
        for name in ("prev_reward", "max_reward", "sum_reward", "log_potential_sum"):
            setattr(self, name, getattr(self, name)[index])
        weights = self.log_weights[index].view(self.n_systems, self.n_particles)
        self.log_weights = torch.where(resampled[:, None], torch.zeros_like(weights), weights).reshape(-1)


def classifier_log_prob(classifier: Callable[[Tensor], Tensor], target: int, low: float | None = None,
                        high: float | None = None) -> Callable[[Tensor], Tensor]:
    r"""Reward :math:`r(x) = \log p(c = \mathrm{target}\mid x) = \mathrm{logsoftmax}(\mathrm{classifier}(x))_{target}`
    from a frozen classifier returning logits ``(B, C)``; inputs are first clamped to ``[low, high]``
    when given (e.g. the data range of images).  Gradients are not tracked."""
    if target < 0:
        raise ValueError(f"target must be a class index >= 0, got {target}")

    def reward(x: Tensor) -> Tensor:
        with torch.no_grad():
            inputs = x.clamp(low, high) if low is not None or high is not None else x
            logits = classifier(inputs.float())
            if not target < logits.shape[1]:
                raise ValueError(f"target must be < the number of classes {logits.shape[1]}, got {target}")
            return torch.log_softmax(logits.double(), dim=1)[:, target]

    return reward


def best_of_n(samples: Tensor, rewards: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """Best-of-n baseline: group ``samples`` in consecutive blocks of ``n`` and keep each block's
    highest-reward sample; returns ``(best_samples, best_rewards)``."""
    if n < 1 or samples.shape[0] % n:
        raise ValueError(f"n must be >= 1 and divide the number of samples {samples.shape[0]}, got {n}")
    grouped = rewards.reshape(-1, n)
    pick = grouped.argmax(dim=1) + n * torch.arange(grouped.shape[0])
    return samples[pick], rewards[pick]


def fk_sample(denoiser: Callable[[Tensor, Tensor], Tensor], prior: Tensor, sigmas: Tensor | Sequence[float],
              reward: Callable[[Tensor], Tensor], strength: float, n_particles: int, method: str = "ancestral",
              potential: str = "diff", resample_steps: Sequence[int] | None = None, resample_every: int = 10,
              generator: torch.Generator | None = None, extra_hooks: Sequence = (),
              **options) -> tuple[Tensor, FKSteering]:
    """Run FK steering end to end: ``prior`` holds ``n_systems * n_particles`` starting points (rows
    grouped by system); default resampling every ``resample_every`` steps (and at the last).
    Returns ``(samples, hook)``; ``hook.final_rewards`` and ``hook.log_potential_sum`` describe the
    final particles.  ``options`` go to the sampler and the :class:`FKSteering` constructor."""
    from latentlab.generative.sampling import sample

    if prior.shape[0] % n_particles:
        raise ValueError(f"prior rows ({prior.shape[0]}) must be a multiple of n_particles ({n_particles})")
    n_steps = len(sigmas) - 1
    if resample_steps is None:
        if resample_every < 1:
            raise ValueError(f"resample_every must be >= 1, got {resample_every}")
        resample_steps = range(resample_every - 1, n_steps, resample_every)
    fk_keys = {"reward_min", "resampler", "adaptive", "ess_fraction", "intermediate"}
    fk_options = {k: v for k, v in options.items() if k in fk_keys}
    sampler_options = {k: v for k, v in options.items() if k not in fk_keys}
    hook = FKSteering(reward, strength, prior.shape[0] // n_particles, n_particles, resample_steps, potential,
                      generator=generator, **fk_options)
    x = sample(denoiser, prior, sigmas, method, hooks=[*extra_hooks, hook], generator=generator, **sampler_options)
    return x, hook
