r"""Regret-loss training of a single-layer linear self-attention learner (Park et al., 2025).

The learner maps the loss history to a policy.  Tokens are :math:`z_s=(\ell_s,1)\in\mathbb R^{d+1}`
for :math:`s<t` and the query is the constant :math:`z_q=(0,1)`.  One linear self-attention
layer (no softmax) with value :math:`V\in\mathbb R^{d\times(d+1)}` and key-query product
:math:`u=K^\top Qz_q\in\mathbb R^{d+1}` (only this product enters the output) gives

.. math:: \pi_t=\Pi_\Delta\Big(\tfrac1d\mathbf 1+\frac{1}{\sqrt{t-1}}\sum_{s<t}Vz_s\,(u^\top z_s)\Big),

with :math:`\Pi_\Delta` the (differentiable, sort-based) Euclidean projection onto the simplex.
The :math:`1/\sqrt{t-1}` normalisation (``time_scaling="sqrt"``, the default) is *our* choice:
without it (``time_scaling="none"``, the literal single-layer model) the recovered rule is FTRL
with a *fixed* step tuned to the training horizon, whose regret on the alternating sequence
grows like :math:`\eta t/4` — linear beyond the training horizon.  With it the recovered rule is
anytime FTRL, :math:`\eta_t=c/\sqrt{t-1}`.
Writing :math:`V=[V_\ell\,|\,v_c]`, :math:`u=(u_\ell,u_c)`, the output is a sum of a
*linear* term :math:`M\sum_{s<t}\ell_s` with :math:`M=u_cV_\ell+v_cu_\ell^\top`, a quadratic
term :math:`\sum_s V_\ell\ell_s\,u_\ell^\top\ell_s` and a drift :math:`(t-1)u_cv_c`.  FTRL with
the L2 regulariser is :math:`\Pi_\Delta(\tfrac1d\mathbf 1-\eta_t L_t)`, i.e. :math:`M=-c I`;
the paper's theorem says that minimising the regret-loss over this class with i.i.d.
symmetric losses recovers this step, so :func:`ftrl_alignment` measures the cosine between
:math:`PMP` and :math:`-P` (:math:`P=I-\mathbf 1\mathbf 1^\top/d`, the centred subspace on
which the projection depends).

Regret-loss (no action labels), with :math:`R_\theta(\ell)=\sum_t\langle\ell_t,\pi_t\rangle-\min_a\sum_t\ell_t(a)`
over a batch of :math:`N` sequences:

.. math:: \mathcal L(\theta;k)=\frac{\sum_j h(R_j)f(R_j,k)}{\sum_j f(R_j,k)},\quad R_j=R_\theta(\ell^{(j)}),
   \qquad h(x)=\max(0,x)^2,\ f(x,k)=e^{kx}.

:math:`k=0` is the mean of :math:`h`, :math:`k\to\infty` the maximum.  torch is imported by this
module only (not by :mod:`latentlab.agents`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = [
    "project_simplex_torch",
    "LinearAttentionLearner",
    "regret_loss",
    "sequence_regret",
    "RegretLossConfig",
    "train_regret_loss",
    "ftrl_alignment",
    "LinearAttentionOnline",
]


def project_simplex_torch(x: torch.Tensor) -> torch.Tensor:
    """Euclidean projection of the last axis onto the simplex (differentiable almost everywhere)."""
    d = x.shape[-1]
    u, _ = torch.sort(x, dim=-1, descending=True)
    css = torch.cumsum(u, dim=-1) - 1.0
    k = torch.arange(1, d + 1, dtype=x.dtype, device=x.device)
    cond = (u - css / k) > 0
    rho = d - 1 - torch.argmax(cond.flip(-1).to(torch.int64), dim=-1)
    tau = torch.gather(css, -1, rho.unsqueeze(-1)) / (rho.unsqueeze(-1) + 1).to(x.dtype)
    return torch.clamp(x - tau, min=0.0)


class LinearAttentionLearner(nn.Module):
    r"""Single-layer linear self-attention online learner (see the module docstring)."""

    def __init__(self, n_actions: int, init_scale: float = 0.01, generator: torch.Generator | None = None,
                 time_scaling: str = "sqrt") -> None:
        super().__init__()
        if n_actions < 2:
            raise ValueError(f"n_actions must be >= 2, got {n_actions}")
        if time_scaling not in ("none", "sqrt"):
            raise ValueError(f"time_scaling must be 'none' or 'sqrt', got {time_scaling!r}")
        self.time_scaling = time_scaling
        if init_scale < 0:
            raise ValueError(f"init_scale must be >= 0, got {init_scale}")
        d = n_actions
        self.n_actions = d
        self.value = nn.Parameter(init_scale * torch.randn(d, d + 1, generator=generator))
        self.key_query = nn.Parameter(init_scale * torch.randn(d + 1, generator=generator))

    def forward(self, losses: torch.Tensor) -> torch.Tensor:
        """Policies ``(B, T, d)`` for losses ``(B, T, d)``: round ``t`` sees ``losses[:, :t]``."""
        if losses.ndim != 3 or losses.shape[-1] != self.n_actions:
            raise ValueError(f"losses must have shape (B, T, {self.n_actions}), got {tuple(losses.shape)}")
        tokens = torch.cat([losses, torch.ones_like(losses[..., :1])], dim=-1)  # (B, T, d+1)
        scores = tokens @ self.key_query  # (B, T)
        attended = torch.cumsum(tokens * scores.unsqueeze(-1), dim=1)  # sum_{s<=t} z_s (u.z_s)
        previous = torch.cat([torch.zeros_like(attended[:, :1]), attended[:, :-1]], dim=1)  # s < t
        if self.time_scaling == "sqrt":  # divide round t's sum over t-1 past tokens by sqrt(t-1)
            n_past = torch.arange(losses.shape[1], dtype=losses.dtype, device=losses.device)
            previous = previous / torch.sqrt(torch.clamp(n_past, min=1.0)).view(1, -1, 1)
        raw = 1.0 / self.n_actions + previous @ self.value.T
        return project_simplex_torch(raw)

    def linear_map(self) -> np.ndarray:
        r""":math:`M=u_cV_\ell+v_cu_\ell^\top` (the coefficient of :math:`\sum_s\ell_s`)."""
        d = self.n_actions
        v = self.value.detach().cpu().double().numpy()
        u = self.key_query.detach().cpu().double().numpy()
        return u[d] * v[:, :d] + np.outer(v[:, d], u[:d])

    def quadratic_norm(self) -> float:
        r""":math:`\|V_\ell\|_F\|u_\ell\|` (size of the quadratic term)."""
        d = self.n_actions
        v = self.value.detach().double()
        u = self.key_query.detach().double()
        return float(torch.linalg.norm(v[:, :d]) * torch.linalg.norm(u[:d]))


def sequence_regret(losses: torch.Tensor, policies: torch.Tensor) -> torch.Tensor:
    r""":math:`R(\ell)=\sum_t\langle\ell_t,\pi_t\rangle-\min_a\sum_t\ell_t(a)` per sequence, ``(B,)``."""
    return (losses * policies).sum(dim=(1, 2)) - losses.sum(dim=1).min(dim=-1).values


def regret_loss(regrets: torch.Tensor, k: float = 0.0) -> torch.Tensor:
    r""":math:`\sum_j h(R_j)e^{kR_j}/\sum_j e^{kR_j}`, :math:`h(x)=\max(0,x)^2`."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    weights = torch.softmax(k * regrets, dim=0)
    return (weights * torch.clamp(regrets, min=0.0) ** 2).sum()


@dataclass(frozen=True)
class RegretLossConfig:
    n_actions: int = 2
    horizon: int = 25
    batch_size: int = 256
    steps: int = 1500
    lr: float = 1e-2
    k: float = 0.0
    loss_bound: float = 1.0
    time_scaling: str = "sqrt"

    def __post_init__(self) -> None:
        for name, low in (("n_actions", 2), ("horizon", 2), ("batch_size", 1), ("steps", 1)):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be >= {low}, got {getattr(self, name)}")
        if self.lr <= 0 or self.loss_bound <= 0 or self.k < 0:
            raise ValueError("lr and loss_bound must be > 0 and k >= 0")


def train_regret_loss(config: RegretLossConfig,
                      generator: torch.Generator) -> tuple[LinearAttentionLearner, list[float]]:
    """Adam on the regret-loss with fresh i.i.d. uniform :math:`[0,B]^d` sequences each step."""
    model = LinearAttentionLearner(config.n_actions, generator=generator, time_scaling=config.time_scaling)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    history: list[float] = []
    shape = (config.batch_size, config.horizon, config.n_actions)
    for _ in range(config.steps):
        losses = config.loss_bound * torch.rand(shape, generator=generator)
        loss = regret_loss(sequence_regret(losses, model(losses)), config.k)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        history.append(float(loss.detach()))
    return model, history


def ftrl_alignment(linear_map: np.ndarray) -> float:
    r"""Cosine between :math:`PMP` and :math:`-P` (Frobenius), :math:`P=I-\mathbf 1\mathbf 1^\top/d`."""
    m = np.asarray(linear_map, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"linear_map must be square, got shape {m.shape}")
    d = m.shape[0]
    p = np.eye(d) - np.ones((d, d)) / d
    pmp = p @ m @ p
    norm = np.linalg.norm(pmp) * np.linalg.norm(p)
    return float(np.sum(pmp * -p) / norm) if norm > 0 else 0.0


class LinearAttentionOnline:
    """A trained :class:`LinearAttentionLearner` as an :class:`~latentlab.agents.online.OnlineLearner`."""

    def __init__(self, model: LinearAttentionLearner) -> None:
        self.model = model

    def reset(self, n_sequences: int, n_actions: int) -> None:
        if n_actions != self.model.n_actions:
            raise ValueError(f"n_actions must be {self.model.n_actions}, got {n_actions}")
        self.history: list[np.ndarray] = []
        self.n = n_sequences

    def policy(self) -> np.ndarray:
        d = self.model.n_actions
        past = self.history + [np.zeros((self.n, d))]  # the last (unseen) row is never attended
        with torch.no_grad():
            pis = self.model(torch.as_tensor(np.stack(past, axis=1), dtype=torch.float32))
        return pis[:, -1].double().numpy()

    def update(self, losses: np.ndarray) -> None:
        self.history.append(np.asarray(losses, dtype=float))
