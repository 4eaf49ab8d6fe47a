r"""Submodular RL: policy gradients for set-function rewards on deterministic grids (SubPO).

Prajapat, Mutný, Zeilinger & Krause, *Submodular Reinforcement Learning* (ICLR 2024,
arXiv 2307.13372).

The return of a trajectory :math:`\tau = (s_0, a_0, \dots, s_H)` is a normalised monotone
submodular function of the visited states, :math:`F(\tau) = F(\{s_0,\dots,s_H\})`; here the
*coverage* :math:`F(V) = \sum_{c \in \cup_{s\in V} N(s)} w(c)` where :math:`N(s)` is the cell
and its 4-neighbours (:func:`coverage_value`).  SubPO is REINFORCE with the *marginal gains*
:math:`F(s_{j+1}|\tau_{0:j}) = F(\tau_{0:j+1}) - F(\tau_{0:j})` as rewards; by telescoping,

.. math:: \nabla J(\theta) = E\Big[\sum_{h=0}^{H-1}\nabla_\theta\log\pi_\theta(a_h|x_h)\,
          \big(F(\tau_{0:H}) - F(\tau_{0:h})\big)\Big].

``estimator="code"`` uses the released code's weight :math:`F(\tau_{0:h+1})` instead.
ModPO (``objective="modular"``) is REINFORCE on the additive reward
:math:`r_h = \sum_{c\in N(s_{h+1})} w(c)` (repeats counted).  The policy input :math:`x_h`
is :math:`(s_h, h)` for the Markov variant (``"markov"``) and additionally the visited-cell
indicator, a sufficient statistic of the history for coverage, for the non-Markov one
(``"history"``).  A batch-mean baseline per step reduces variance (unbiased).

Baselines with known answers: :func:`greedy_oracle` (moves to the neighbour with the
largest marginal gain) and :func:`brute_force_optimum` (enumerates all :math:`5^H` action
sequences, vectorised, for tiny grids).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from latentlab.tabular.mdp import grid_next_states

__all__ = [
    "CoverageGrid",
    "coverage_grid",
    "bimodal_weights",
    "coverage_value",
    "greedy_oracle",
    "brute_force_optimum",
    "SubPOConfig",
    "train_subpo",
    "evaluate_policy",
]


@dataclass(frozen=True)
class CoverageGrid:
    """A deterministic grid: ``next[s, a]`` (5 actions), coverage ``cover[s, c]`` and weights ``w[c]``."""

    rows: int
    cols: int
    next: np.ndarray
    cover: np.ndarray
    weights: np.ndarray
    start: int
    horizon: int

    @property
    def S(self) -> int:
        return self.rows * self.cols


def bimodal_weights(rows: int, cols: int, rng: np.random.Generator, width: float = 0.15) -> np.ndarray:
    """Two Gaussian bumps at random cells (widths ``width`` x grid size), normalised to sum 1."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    w = np.zeros(rows * cols)
    for _ in range(2):
        cr, cc = rng.uniform(0, rows - 1), rng.uniform(0, cols - 1)
        w += np.exp(-(((r - cr) / (width * rows)) ** 2 + ((c - cc) / (width * cols)) ** 2) / 2)
    return w / w.sum()


def coverage_grid(rows: int, cols: int, horizon: int, weights: np.ndarray, start: int | None = None) -> CoverageGrid:
    """A coverage task: each visited cell covers itself and its 4-neighbours."""
    if rows < 1 or cols < 1 or horizon < 1:
        raise ValueError(f"rows, cols and horizon must be >= 1, got {rows}, {cols}, {horizon}")
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (rows * cols,) or np.any(weights < 0):
        raise ValueError(f"weights must be non-negative with shape ({rows * cols},), got {weights.shape}")
    nxt = grid_next_states(rows, cols)
    cover = np.zeros((rows * cols, rows * cols), dtype=bool)
    cover[np.arange(rows * cols)[:, None], nxt] = True
    start = (rows // 2) * cols + cols // 2 if start is None else start
    return CoverageGrid(rows, cols, nxt, cover, weights, start, horizon)


def coverage_value(grid: CoverageGrid, visited: np.ndarray) -> np.ndarray:
    r""":math:`F(V) = \sum_c w(c)\,\mathbb 1\{c \in \cup_{s\in V}N(s)\}` for indicator rows ``visited[..., S]``."""
    covered = (np.asarray(visited, dtype=float) @ grid.cover) > 0
    return covered @ grid.weights


def greedy_oracle(grid: CoverageGrid) -> tuple[float, np.ndarray]:
    """Model-based greedy: at each step move to the neighbour with the largest marginal gain (first on ties)."""
    covered = grid.cover[grid.start].copy()
    s = grid.start
    path = [s]
    for _ in range(grid.horizon):
        candidates = grid.next[s]
        gains = ((grid.cover[candidates] & ~covered) * grid.weights).sum(1)
        s = int(candidates[np.argmax(gains)])
        covered |= grid.cover[s]
        path.append(s)
    return float(covered @ grid.weights), np.array(path)


def brute_force_optimum(grid: CoverageGrid, chunk: int = 1 << 16) -> float:
    """Exact :math:`\\max_\\tau F(\\tau)` over all :math:`5^H` action sequences (for ``S <= 62``)."""
    if grid.S > 62:
        raise ValueError(f"brute force needs S <= 62 (bit masks), got {grid.S}")
    masks = (grid.cover.astype(np.int64) << np.arange(grid.S, dtype=np.int64)[None, :]).sum(1)
    total = 5**grid.horizon
    best = 0.0
    bits = np.arange(grid.S, dtype=np.int64)
    for begin in range(0, total, chunk):
        codes = np.arange(begin, min(begin + chunk, total), dtype=np.int64)
        s = np.full(codes.size, grid.start)
        covered = np.full(codes.size, masks[grid.start])
        for _ in range(grid.horizon):
            s = grid.next[s, codes % 5]
            codes = codes // 5
            covered |= masks[s]
        values = ((covered[:, None] >> bits[None, :]) & 1) @ grid.weights
        best = max(best, float(values.max()))
    return best


@dataclass(frozen=True)
class SubPOConfig:
    objective: Literal["submodular", "modular"] = "submodular"
    policy_input: Literal["markov", "history"] = "markov"
    estimator: Literal["paper", "code"] = "paper"
    epochs: int = 50
    batch: int = 256
    lr: float = 0.01
    hidden: tuple[int, int] = (64, 32)


def _network(n_in: int, hidden: tuple[int, int], generator: torch.Generator) -> torch.nn.Module:
    layers: list[torch.nn.Module] = []
    sizes = (n_in, *hidden)
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.Tanh()]
    layers.append(torch.nn.Linear(sizes[-1], 5))
    net = torch.nn.Sequential(*layers)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * (1.0 / np.sqrt(max(p.shape[-1], 1))))
    return net


def _features(grid: CoverageGrid, s: torch.Tensor, h: int, visited: torch.Tensor, policy_input: str) -> torch.Tensor:
    onehot = torch.nn.functional.one_hot(s, grid.S).float()
    time = torch.full((s.shape[0], 1), h / grid.horizon)
    parts = [onehot, time] + ([visited] if policy_input == "history" else [])
    return torch.cat(parts, dim=1)


def _rollout(grid: CoverageGrid, net: torch.nn.Module, batch: int, policy_input: str, generator: torch.Generator,
             greedy: bool = False):
    """Sample ``batch`` trajectories; returns log-probs [B, H], visited-state sequence [B, H+1]."""
    nxt = torch.as_tensor(grid.next)
    s = torch.full((batch,), grid.start, dtype=torch.long)
    visited = torch.zeros(batch, grid.S)
    visited[:, grid.start] = 1.0
    states, logps = [s], []
    for h in range(grid.horizon):
        logits = net(_features(grid, s, h, visited, policy_input))
        logp_all = torch.log_softmax(logits, dim=1)
        a = logits.argmax(1) if greedy else torch.multinomial(logp_all.exp(), 1, generator=generator)[:, 0]
        logps.append(logp_all.gather(1, a[:, None])[:, 0])
        s = nxt[s, a]
        visited = visited.clone()
        visited[torch.arange(batch), s] = 1.0
        states.append(s)
    return torch.stack(logps, 1), torch.stack(states, 1)


def prefix_values(grid: CoverageGrid, states: np.ndarray) -> np.ndarray:
    r""":math:`F(\tau_{0:h})` for ``h = 0..H``, shape ``[B, H+1]`` (cumulative coverage along each path)."""
    covered = np.zeros((states.shape[0], grid.S), dtype=bool)
    out = np.zeros(states.shape, dtype=float)
    for h in range(states.shape[1]):
        covered |= grid.cover[states[:, h]]
        out[:, h] = covered @ grid.weights
    return out


def step_weights(grid: CoverageGrid, states: np.ndarray, objective: str, estimator: str) -> np.ndarray:
    r"""Per-step REINFORCE weights ``[B, H]``: return-to-go of marginal gains (paper), the code's
    :math:`F(\tau_{0:h+1})`, or the additive reward-to-go (modular)."""
    if objective == "modular":
        rewards = grid.cover[states[:, 1:]].astype(float) @ grid.weights  # [B, H]
        return np.cumsum(rewards[:, ::-1], axis=1)[:, ::-1]
    prefix = prefix_values(grid, states)
    if estimator == "code":
        return prefix[:, 1:]
    return prefix[:, -1:] - prefix[:, :-1]


def train_subpo(grid: CoverageGrid, config: SubPOConfig,
                generator: torch.Generator) -> tuple[torch.nn.Module, list[float]]:
    """REINFORCE with the chosen weights; returns the policy network and the mean F per epoch."""
    if config.objective not in ("submodular", "modular") or config.policy_input not in ("markov", "history"):
        raise ValueError(f"objective must be submodular|modular and policy_input markov|history, got {config}")
    if config.estimator not in ("paper", "code"):
        raise ValueError(f"estimator must be 'paper' or 'code', got {config.estimator!r}")
    n_in = grid.S + 1 + (grid.S if config.policy_input == "history" else 0)
    net = _network(n_in, config.hidden, generator)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    history = []
    for _ in range(config.epochs):
        logp, states = _rollout(grid, net, config.batch, config.policy_input, generator)
        states_np = states.numpy()
        weights = step_weights(grid, states_np, config.objective, config.estimator)
        weights = weights - weights.mean(0, keepdims=True)
        loss = -(logp * torch.as_tensor(weights, dtype=torch.float32)).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(float(prefix_values(grid, states_np)[:, -1].mean()))
    return net, history


def evaluate_policy(grid: CoverageGrid, net: torch.nn.Module, policy_input: str, generator: torch.Generator,
                    n: int = 512) -> float:
    """Mean :math:`F(\\tau)` over ``n`` sampled trajectories of the stochastic policy."""
    with torch.no_grad():
        _, states = _rollout(grid, net, n, policy_input, generator)
    return float(prefix_values(grid, states.numpy())[:, -1].mean())
