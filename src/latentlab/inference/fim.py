r"""Foundation inference model (FIM) for Markov jump processes (Berghaus et al. 2024), small CPU version.

An amortised estimator of rate matrices: a network reads a *set* of :math:`P` noisy,
discretely observed paths of one MJP and outputs, for each off-diagonal rate, a log-mean
:math:`\mu_{ij}` and a log-variance :math:`s_{ij}` (a Gaussian over the rate), trained on
processes drawn from a synthetic prior (:class:`MJPPrior`) and applied zero-shot.

Architecture (:class:`FIMNet`): per observation, a sine/cosine encoding of the normalised
time :math:`t/t_{\text{norm}}` concatenated with the one-hot state; path encoder
:math:`\psi_1` = bidirectional LSTM (last states of both directions; ``encoder="lstm"``, the
paper's) or, ``encoder="pairs"`` (ours, ~100x cheaper on CPU), the mean over consecutive
observation pairs of an MLP of (one-hot of the transition :math:`x_l\to x_{l+1}`, time code of
:math:`t_l`, gap :math:`\Delta_l/t_{\text{norm}}`); path aggregation
:math:`\Omega_1` = attention with one learnable query over the :math:`P` path vectors; the
scalar :math:`P/100` appended; head :math:`\phi_1` = MLP to :math:`2(C^2-C)` numbers.  Rates
are de-normalised, :math:`\hat f_{ij}=e^{\mu_{ij}}/t_{\text{norm}}`.

Loss (:func:`fim_loss`): Gaussian NLL of the true normalised rates
:math:`\tilde f=f\,t_{\text{norm}}` under :math:`\mathcal N(e^{\mu},e^{s})` on existing edges, plus
the missing-link penalty :math:`e^{2\mu}+e^{s}` on absent edges (including edges of padded states).
The initial-distribution head of the paper is not implemented.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from latentlab.inference.mjp import flip_noise, gillespie, rate_matrix_from_offdiagonal

__all__ = ["MJPPrior", "MJPBatch", "FIMNet", "sample_batch", "fim_loss", "predict_rates", "train_fim"]


@dataclass(frozen=True)
class MJPPrior:
    r"""Our synthetic prior (the paper's hyper-priors are not transcribed; this one is ours).

    :math:`C\sim U(\text{states})`; every off-diagonal edge exists w.p. ``edge_probability``
    (each state keeps at least one exit); existing rates :math:`f_{ij}=\text{rate\_scale}\cdot
    \mathrm{Beta}(\alpha,\beta)` with :math:`\alpha,\beta\sim U(\text{beta\_range})` per process;
    :math:`X_0\sim\mathrm{Dirichlet}(1)`; ``n_paths`` paths on :math:`[0,t_{\text{end}}]` observed on a
    regular grid of ``n_obs`` points with flip noise ``noise``.
    """

    states: tuple[int, ...] = (2, 3)
    max_states: int = 3
    edge_probability: float = 0.8
    beta_range: tuple[float, float] = (0.5, 3.0)
    rate_scale: float = 1.0
    t_end: float = 10.0
    n_paths: int = 100
    n_obs: int = 50
    noise: float = 0.01

    def __post_init__(self) -> None:
        if min(self.states) < 2 or max(self.states) > self.max_states:
            raise ValueError(f"states must lie in [2, max_states={self.max_states}], got {self.states}")
        if not 0 < self.edge_probability <= 1:
            raise ValueError(f"edge_probability must be in (0, 1], got {self.edge_probability}")

    def grid(self) -> np.ndarray:
        return np.linspace(0.0, self.t_end, self.n_obs)

    def sample_rates(self, rng: np.random.Generator) -> np.ndarray:
        """One rate matrix ``(C, C)`` from the prior."""
        c = int(rng.choice(self.states))
        a, b = rng.uniform(*self.beta_range, size=2)
        rates = self.rate_scale * rng.beta(a, b, size=(c, c))
        edges = rng.random((c, c)) < self.edge_probability
        np.fill_diagonal(edges, False)
        for i in range(c):  # every state keeps an exit
            if not edges[i].any():
                edges[i, rng.choice([j for j in range(c) if j != i])] = True
        return rate_matrix_from_offdiagonal(np.where(edges, np.maximum(rates, 1e-3), 0.0))


@dataclass(frozen=True)
class MJPBatch:
    """Observed states ``(B, P, L)``, times ``(L,)``, true padded rate matrices ``(B, Cmax, Cmax)``, sizes ``(B,)``."""

    states: np.ndarray
    times: np.ndarray
    rates: np.ndarray
    n_states: np.ndarray


def sample_batch(prior: MJPPrior, batch_size: int, rng: np.random.Generator) -> MJPBatch:
    """Simulate ``batch_size`` processes from the prior (Gillespie, noisy grid observations)."""
    grid = prior.grid()
    states = np.empty((batch_size, prior.n_paths, prior.n_obs), dtype=np.int64)
    rates = np.zeros((batch_size, prior.max_states, prior.max_states))
    sizes = np.empty(batch_size, dtype=np.int64)
    for b in range(batch_size):
        F = prior.sample_rates(rng)
        c = F.shape[0]
        paths = gillespie(F, rng.dirichlet(np.ones(c)), prior.t_end, prior.n_paths, rng)
        states[b] = flip_noise(paths.state_at(grid), c, prior.noise, rng)
        rates[b, :c, :c] = F
        sizes[b] = c
    return MJPBatch(states, grid, rates, sizes)


class FIMNet(nn.Module):
    """BiLSTM path encoder, learnable-query attention over paths, MLP head (see module docstring)."""

    def __init__(self, max_states: int = 3, hidden: int = 64, head: int = 128, n_freq: int = 8,
                 t_norm: float = 10.0, encoder: str = "lstm") -> None:
        super().__init__()
        if max_states < 2 or hidden < 1 or head < 1 or n_freq < 1 or t_norm <= 0:
            raise ValueError("max_states must be >= 2 and hidden, head, n_freq, t_norm > 0")
        if encoder not in ("lstm", "pairs"):
            raise ValueError(f"encoder must be 'lstm' or 'pairs', got {encoder!r}")
        self.max_states, self.t_norm, self.encoder = max_states, float(t_norm), encoder
        self.register_buffer("freq", torch.pi * 2.0 ** torch.arange(n_freq, dtype=torch.float32) / 2)
        if encoder == "lstm":
            self.lstm = nn.LSTM(max_states + 2 * n_freq, hidden, batch_first=True, bidirectional=True)
        else:
            self.pair_mlp = nn.Sequential(nn.Linear(max_states**2 + 2 * n_freq + 1, 2 * hidden), nn.GELU(),
                                          nn.Linear(2 * hidden, 2 * hidden))
        self.query = nn.Parameter(torch.randn(1, 1, 2 * hidden) * 0.1)
        self.attention = nn.MultiheadAttention(2 * hidden, num_heads=4, batch_first=True)
        n_out = 2 * (max_states * max_states - max_states)
        self.head = nn.Sequential(nn.Linear(2 * hidden + 1, head), nn.GELU(), nn.Linear(head, head), nn.GELU(),
                                  nn.Linear(head, n_out))

    def forward(self, states: torch.Tensor, times: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``states (B, P, L)`` long, ``times (L,)`` -> normalised log-mean and log-variance ``(B, C^2-C)`` each."""
        b, p, length = states.shape
        phase = (times / self.t_norm)[:, None] * self.freq[None, :]
        time_code = torch.cat([torch.sin(phase), torch.cos(phase)], dim=-1)  # (L, 2F)
        if self.encoder == "lstm":
            onehot = nn.functional.one_hot(states, self.max_states).float()  # (B, P, L, C)
            x = torch.cat([onehot, time_code.expand(b, p, length, -1)], dim=-1).reshape(b * p, length, -1)
            _, (h, _) = self.lstm(x)
            paths = torch.cat([h[0], h[1]], dim=-1).reshape(b, p, -1)
        else:  # mean over consecutive pairs of an MLP of (transition one-hot, time code, normalised gap)
            # the MLP input takes only C^2 x (L-1) distinct values: evaluate it once per value, then gather
            n_pairs = self.max_states**2
            gap = (torch.diff(times) / self.t_norm)[:, None]
            extra = torch.cat([time_code[:-1], gap], dim=-1)  # (L-1, 2F+1)
            code = torch.eye(n_pairs)[:, None, :].expand(-1, length - 1, -1)
            table = self.pair_mlp(torch.cat([code, extra.expand(n_pairs, -1, -1)], dim=-1))  # (C^2, L-1, H)
            pair = states[..., :-1] * self.max_states + states[..., 1:]  # (B, P, L-1)
            onehot = nn.functional.one_hot(pair, n_pairs).float().reshape(b, p, -1)  # (B, P, (L-1) C^2)
            paths = onehot @ table.transpose(0, 1).reshape(-1, table.shape[-1]) / (length - 1)
        pooled, _ = self.attention(self.query.expand(b, -1, -1), paths, paths)
        features = torch.cat([pooled[:, 0], torch.full((b, 1), p / 100.0)], dim=-1)
        log_mean, log_var = self.head(features).chunk(2, dim=-1)
        return log_mean, log_var


def _offdiag_mask(max_states: int) -> np.ndarray:
    return ~np.eye(max_states, dtype=bool)


def fim_loss(log_mean: torch.Tensor, log_var: torch.Tensor, true_rates: np.ndarray, t_norm: float) -> torch.Tensor:
    """Gaussian NLL on existing edges + missing-link penalty on absent ones (normalised rates)."""
    target = torch.as_tensor(true_rates[:, _offdiag_mask(true_rates.shape[-1])] * t_norm, dtype=torch.float32)
    exists = target > 0
    mean, var = torch.exp(log_mean), torch.exp(log_var)
    nll = 0.5 * (log_var + (target - mean) ** 2 / var)
    missing = mean**2 + var
    return torch.where(exists, nll, missing).mean()


@torch.no_grad()
def predict_rates(net: FIMNet, states: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """De-normalised rate matrices ``(B, C, C)`` and rate variances ``(B, C^2-C)`` for a batch of data sets."""
    net.eval()
    log_mean, log_var = net(torch.as_tensor(states, dtype=torch.long), torch.as_tensor(times, dtype=torch.float32))
    c = net.max_states
    rates = np.zeros((states.shape[0], c, c))
    rates[:, _offdiag_mask(c)] = np.exp(log_mean.numpy().astype(float)) / net.t_norm
    variance = np.exp(log_var.numpy().astype(float)) / net.t_norm**2
    return rate_matrix_from_offdiagonal(rates), variance


def train_fim(net: FIMNet, prior: MJPPrior, steps: int, batch_size: int, rng: np.random.Generator,
              lr: float = 1e-3, callback=None) -> list[float]:
    """Adam on batches simulated on the fly from ``prior``; returns the loss per step."""
    if steps < 1 or batch_size < 1:
        raise ValueError("steps and batch_size must be >= 1")
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    times = torch.as_tensor(prior.grid(), dtype=torch.float32)
    losses = []
    net.train()
    for step in range(steps):
        batch = sample_batch(prior, batch_size, rng)
        log_mean, log_var = net(torch.as_tensor(batch.states), times)
        loss = fim_loss(log_mean, log_var, batch.rates, net.t_norm)
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if callback is not None:
            callback(step, float(loss))
    return losses
