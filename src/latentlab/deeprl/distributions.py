r"""Action distributions with one interface and closed-form KL divergences.

Every distribution is batched over leading dimensions and offers ``sample(generator)``,
``log_prob(x)``, ``entropy()``, ``mode()`` and ``kl(other)`` = :math:`\mathrm{KL}(\text{self}\,\|\,\text{other})`
(so MDPO's new-to-old Bregman term is ``new.kl(old)``).  Sampling always takes an explicit
``torch.Generator`` so that a run is reproducible bit for bit; the reparameterised samplers also
accept the standard-normal ``noise`` (and :meth:`Categorical.sample` its ``uniforms``) drawn
beforehand, which is how a compiled graph, which cannot hold a generator, gets the same draws.

* :class:`Categorical` — :math:`\mathrm{KL}(p\|q)=\sum_a p_a\log(p_a/q_a)`.
* :class:`DiagGaussian` — :math:`\mathrm{KL}(\mathcal N_1\|\mathcal N_0)=\sum_i\log\frac{\sigma_{0,i}}{\sigma_{1,i}}
  +\frac{\sigma_{1,i}^2+(\mu_{1,i}-\mu_{0,i})^2}{2\sigma_{0,i}^2}-\frac12`.
* :class:`TanhGaussian` — :math:`a=\tanh(u)`, :math:`u\sim\mathcal N(\mu,\sigma)`, with
  :math:`\log\pi(a)=\sum_i[\log\mathcal N(u_i)-\log(1-\tanh^2u_i)]` evaluated in the stable form
  :math:`\log(1-\tanh^2u)=2(\log 2-u-\operatorname{softplus}(-2u))`.  Because ``tanh`` is a
  bijection, the KL between two tanh-Gaussians equals the KL between their pre-squash
  Gaussians (KL is invariant under a common invertible map), so :meth:`TanhGaussian.kl` is
  exact; :meth:`TanhGaussian.kl_mc` is the sample estimate it is tested against.
* :class:`MixtureGaussian` — weights :math:`w(s)` over K diagonal Gaussians, optionally squashed by
  ``tanh`` (PMOE's actor).  The KL between two mixtures has no closed form; :meth:`MixtureGaussian.kl`
  returns the closed-form KL of the joint (component, action) laws,
  :math:`\mathrm{KL}(w\|w')+\sum_k w_k\,\mathrm{KL}(\mathcal N_k\|\mathcal N'_k)`, which is an
  upper bound on the mixture KL (chain rule + data processing) and equals it when the
  components coincide; :meth:`MixtureGaussian.kl_mc` estimates the mixture KL itself.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["Categorical", "DiagGaussian", "TanhGaussian", "MixtureGaussian", "tanh_log_det", "pick_component"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _randn(shape: torch.Size, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    # draw on the CPU with the run's generator, then move: same numbers on every device
    return torch.randn(shape, generator=generator, dtype=like.dtype).to(like.device)


def tanh_log_det(u: torch.Tensor) -> torch.Tensor:
    r""":math:`\sum_i\log(1-\tanh^2 u_i)` in a numerically stable form (last axis summed)."""
    return (2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))).sum(-1)


class Categorical:
    """Categorical over the last axis of ``logits``."""

    def __init__(self, logits: torch.Tensor) -> None:
        self.logits = torch.log_softmax(logits, dim=-1)  # one fused op (logits - logsumexp is 3-7x slower)

    @property
    def probs(self) -> torch.Tensor:
        return self.logits.exp()

    def sample(self, generator: torch.Generator | None = None, uniforms: torch.Tensor | None = None) -> torch.Tensor:
        """One draw per row; ``uniforms`` (..., 1) in [0, 1) replace the generator's draw."""
        # inverse CDF with one uniform per draw (cheaper than torch.multinomial for small batches): the
        # first k with cdf_k >= u * cdf_K; since u < 1 that k exists, so no clamp is needed
        with torch.no_grad():
            cdf = self.probs.cumsum(-1)
            u = (torch.rand((*cdf.shape[:-1], 1), generator=generator, dtype=cdf.dtype).to(cdf.device)
                 if uniforms is None else uniforms)
            return torch.searchsorted(cdf, u * cdf[..., -1:]).squeeze(-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return self.logits.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        return -(self.probs * self.logits).sum(-1)

    def mode(self) -> torch.Tensor:
        return self.logits.argmax(-1)

    def kl(self, other: Categorical) -> torch.Tensor:
        return (self.probs * (self.logits - other.logits)).sum(-1)


class DiagGaussian:
    """Diagonal Gaussian; ``log_std`` broadcasts against ``mean`` (state-independent log-std)."""

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor) -> None:
        self.mean = mean
        self.log_std = log_std.expand_as(mean)

    @property
    def std(self) -> torch.Tensor:
        return self.log_std.exp()

    def rsample(self, generator: torch.Generator | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
        """``mean + std * noise`` with standard-normal ``noise`` (drawn from ``generator`` when not given)."""
        if noise is None:
            noise = _randn(self.mean.shape, self.mean, generator)
        return self.mean + self.std * noise

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        with torch.no_grad():
            return self.rsample(generator)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.mean) / self.std
        return (-0.5 * z.pow(2) - self.log_std - _HALF_LOG_2PI).sum(-1)

    def entropy(self) -> torch.Tensor:
        return (self.log_std + 0.5 + _HALF_LOG_2PI).sum(-1)

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl(self, other: DiagGaussian) -> torch.Tensor:
        var, other_var = (2 * self.log_std).exp(), (2 * other.log_std).exp()
        return (other.log_std - self.log_std + (var + (self.mean - other.mean).pow(2)) / (2 * other_var) - 0.5).sum(-1)


class TanhGaussian:
    r"""``a = tanh(u)``, ``u ~ N(mean, exp(log_std))``: SAC's squashed Gaussian."""

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor) -> None:
        self.base = DiagGaussian(mean, log_std)

    @property
    def mean(self) -> torch.Tensor:
        return self.base.mean

    @property
    def log_std(self) -> torch.Tensor:
        return self.base.log_std

    def rsample_with_log_prob(self, generator: torch.Generator | None = None, noise: torch.Tensor | None = None
                              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised action and its log-density (from the pre-squash sample, no atanh)."""
        u = self.base.rsample(generator, noise)
        return torch.tanh(u), self.base.log_prob(u) - tanh_log_det(u)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.tanh(self.base.sample(generator))

    def log_prob(self, actions: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
        u = torch.atanh(actions.clamp(-1 + eps, 1 - eps))
        return self.base.log_prob(u) - tanh_log_det(u)

    def mode(self) -> torch.Tensor:
        return torch.tanh(self.mean)

    def kl(self, other: TanhGaussian) -> torch.Tensor:
        """Exact: KL is invariant under the common bijection ``tanh``."""
        return self.base.kl(other.base)

    def kl_mc(self, other: TanhGaussian, n_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Monte Carlo estimate of KL(self || other) from ``n_samples`` draws of self."""
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        shape = (n_samples, *self.mean.shape)
        base = DiagGaussian(self.mean.expand(shape), self.log_std.expand(shape))
        u = base.sample(generator)
        a = torch.tanh(u)
        own = base.log_prob(u) - tanh_log_det(u)
        return (own - other.log_prob(a, eps=1e-7)).mean(0)


class MixtureGaussian:
    r"""Mixture of K diagonal Gaussians, optionally ``tanh``-squashed (PMOE's actor).

    Shapes: ``logits`` (..., K) (``None`` means K = 1), ``means``/``log_stds`` (..., K, A).
    """

    def __init__(self, logits: torch.Tensor | None, means: torch.Tensor, log_stds: torch.Tensor,
                 squash: bool = True) -> None:
        if means.dim() < 2:
            raise ValueError(f"means must have shape (..., K, A), got {tuple(means.shape)}")
        self._logits = logits
        self._router: Categorical | None = None
        self.squash = squash
        self.components: TanhGaussian | DiagGaussian = (TanhGaussian if squash else DiagGaussian)(means, log_stds)
        self.n_components = means.shape[-2]

    @property
    def router(self) -> Categorical:
        """The component law :math:`w(s)` (built on first use: a K = 1 actor never needs it in training)."""
        if self._router is None:
            means = self.components.mean
            logits = self._logits if self._logits is not None else torch.zeros(
                means.shape[:-1], dtype=means.dtype, device=means.device)
            self._router = Categorical(logits)
        return self._router

    @property
    def weights(self) -> torch.Tensor:
        return self.router.probs

    def rsample_all(self, generator: torch.Generator | None = None, noise: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One reparameterised action per component, (..., K, A), and each component's log-density (..., K)."""
        if self.squash:
            return self.components.rsample_with_log_prob(generator, noise)  # type: ignore[union-attr]
        x = self.components.rsample(generator, noise)  # type: ignore[union-attr]
        return x, self.components.log_prob(x)

    def sample(self, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``k ~ Cat(w)``, then ``a`` from component k: returns ``(a, k)`` (K = 1: no draw for k)."""
        with torch.no_grad():
            k = None if self.n_components == 1 else self.router.sample(generator)
            a = pick_component(self.components.sample(generator), k)
            return a, (self._single_component() if k is None else k)

    def _single_component(self) -> torch.Tensor:
        return torch.zeros(self.components.mean.shape[:-2], dtype=torch.long, device=self.components.mean.device)

    def component_log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """log-density of ``actions`` (..., A) under every component: (..., K)."""
        return self.components.log_prob(actions.unsqueeze(-2))

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self.router.logits + self.component_log_prob(actions), dim=-1)

    def mode(self, k: torch.Tensor | None = None) -> torch.Tensor:
        """Component mean (squashed) of component ``k`` (default: the most probable one)."""
        if k is None:
            k = self._single_component() if self.n_components == 1 else self.router.mode()
        return pick_component(self.components.mode(), k)

    def kl(self, other: MixtureGaussian) -> torch.Tensor:
        """Closed-form KL of the joint (component, action) laws: an upper bound on the mixture KL."""
        return self.router.kl(other.router) + (self.weights * self.components.kl(other.components)).sum(-1)  # type: ignore[arg-type]

    def kl_mc(self, other: MixtureGaussian, n_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Monte Carlo estimate of the mixture KL(self || other)."""
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        total = torch.zeros(self.weights.shape[:-1], dtype=self.weights.dtype)
        for _ in range(n_samples):
            a, _ = self.sample(generator)
            if self.squash:
                a = a.clamp(-1 + 1e-6, 1 - 1e-6)
            total = total + self.log_prob(a) - other.log_prob(a)
        return total / n_samples


def pick_component(per_component: torch.Tensor, k: torch.Tensor | None, axis: int = -2) -> torch.Tensor:
    """Component ``k`` (batch,) along the component ``axis``: -2 for ``(..., K, A)``, -1 for ``(..., K)``.

    ``k=None`` means K = 1: a view of component 0, no gather."""
    if k is None:
        return per_component.select(axis, 0)
    k = k.long()
    index = k.unsqueeze(-1) if axis == -1 else k.reshape(*k.shape, 1, 1).expand(*k.shape, 1, per_component.shape[-1])
    return per_component.gather(axis, index).squeeze(axis)
