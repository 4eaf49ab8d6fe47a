r"""Exact tools for small response trees (token MDPs with deterministic transitions).

A response is a sequence of ``horizon`` = :math:`T` tokens over a vocabulary of size
:math:`V` (fixed length: a task that needs early stopping adds an absorbing EOS token).
The state :math:`s_t = (x, a_1..a_{t-1})` is a *prefix*; internal prefixes of depth
:math:`d < T` are numbered depth by depth, in lexicographic order inside a depth:

.. math:: \text{node}(a_{1:d}) = \frac{V^d - 1}{V - 1} + \sum_{i=1}^{d} a_i V^{d-i}.

Per-prefix arrays therefore have shape ``(P, N, V)`` with :math:`P` prompts and
:math:`N = (V^T-1)/(V-1)` internal prefixes, and every exact quantity (soft values,
KL, :math:`J_\beta`) is a handful of gathers and reductions over the :math:`V^T` leaves.
Enumeration is meant for :math:`V^T \lesssim 10^5`.

Soft-value dynamic programming follows Rafailov et al. (2024), with the reference
log-probability folded into the reward:

.. math::
    Q^*(s_t,a_t) = r(s_t,a_t) + \beta\log\pi_{\text{ref}}(a_t|s_t) + V^*(s_{t+1}),\qquad
    V^*(s_t) = \beta\log\sum_a e^{Q^*(s_t,a)/\beta},\qquad
    \pi^*(a_t|s_t) = e^{(Q^*(s_t,a_t) - V^*(s_t))/\beta},

with :math:`V^*(\text{leaf}) = 0`; :math:`\pi^*` maximises
:math:`J_\beta(\pi) = \mathbb E_\pi[\sum_t r] - \beta\,\mathrm{KL}(\pi\|\pi_{\text{ref}})`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

__all__ = [
    "ResponseTree",
    "SoftSolution",
    "soft_value_iteration",
    "sequence_reward_to_token_reward",
    "leaf_log_probs",
    "leaf_returns",
    "exact_kl",
    "exact_objective",
    "expected_return",
    "total_variation",
]

MAX_LEAVES = 2_000_000


@dataclass(frozen=True)
class ResponseTree:
    """All responses of length ``horizon`` over ``vocab_size`` tokens, and their prefixes."""

    vocab_size: int
    horizon: int

    def __post_init__(self) -> None:
        if self.vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {self.vocab_size}")
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {self.horizon}")
        if self.vocab_size**self.horizon > MAX_LEAVES:
            raise ValueError(
                f"vocab_size**horizon must be <= {MAX_LEAVES} for exact enumeration, "
                f"got {self.vocab_size}**{self.horizon}"
            )

    @property
    def n_leaves(self) -> int:
        return self.vocab_size**self.horizon

    @cached_property
    def depth_offsets(self) -> np.ndarray:
        """``offsets[d]`` = index of the first prefix of depth ``d``; ``offsets[T]`` = N."""
        return np.concatenate([[0], np.cumsum(self.vocab_size ** np.arange(self.horizon))]).astype(np.int64)

    @property
    def n_nodes(self) -> int:
        """Number of internal prefixes (depth 0 .. T-1)."""
        return int(self.depth_offsets[-1])

    @cached_property
    def leaves(self) -> np.ndarray:
        """All responses, ``(V^T, T)`` int64, in lexicographic order."""
        codes = np.arange(self.n_leaves, dtype=np.int64)
        powers = self.vocab_size ** np.arange(self.horizon - 1, -1, -1, dtype=np.int64)
        return (codes[:, None] // powers[None, :]) % self.vocab_size

    def node_index(self, responses: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Prefix index of every step of ``responses`` ``(..., T)`` -> ``(..., T)`` in ``[0, N)``."""
        is_torch = isinstance(responses, torch.Tensor)
        y = responses if is_torch else np.asarray(responses, dtype=np.int64)
        if y.shape[-1] != self.horizon:
            raise ValueError(f"responses must have last dimension horizon={self.horizon}, got {tuple(y.shape)}")
        # code of prefix a_{1:t}: c_0 = 0, c_t = c_{t-1} V + a_t
        codes = [y[..., :1] * 0]
        for t in range(1, self.horizon):
            codes.append(codes[-1] * self.vocab_size + y[..., t - 1 : t])
        stacked = torch.cat(codes, dim=-1) if is_torch else np.concatenate(codes, axis=-1)
        offsets = self.depth_offsets[: self.horizon]
        return stacked + (torch.as_tensor(offsets, device=y.device) if is_torch else offsets)

    @cached_property
    def leaf_nodes(self) -> np.ndarray:
        """``node_index(leaves)``, ``(V^T, T)``."""
        return self.node_index(self.leaves)

    @cached_property
    def node_depth(self) -> np.ndarray:
        """Depth of each internal prefix, ``(N,)``."""
        return np.repeat(np.arange(self.horizon), self.vocab_size ** np.arange(self.horizon))

    @cached_property
    def node_prefixes(self) -> np.ndarray:
        """One representative response through each internal prefix (prefix + zeros), ``(N, T)``.

        Position ``depth(n)`` of row ``n`` is where the prefix's next-token distribution
        is read off when a model is evaluated on these rows.
        """
        rows = np.zeros((self.n_nodes, self.horizon), dtype=np.int64)
        for d in range(1, self.horizon):
            lo, hi = self.depth_offsets[d], self.depth_offsets[d + 1]
            codes = np.arange(hi - lo, dtype=np.int64)
            powers = self.vocab_size ** np.arange(d - 1, -1, -1, dtype=np.int64)
            rows[lo:hi, :d] = (codes[:, None] // powers[None, :]) % self.vocab_size
        return rows


def _as_tensor(x: np.ndarray | torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return x.to(dtype) if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x), dtype=dtype)


def _check_prefix_array(name: str, x: torch.Tensor, tree: ResponseTree) -> None:
    if x.ndim != 3 or x.shape[1:] != (tree.n_nodes, tree.vocab_size):
        raise ValueError(
            f"{name} must have shape (P, {tree.n_nodes}, {tree.vocab_size}) = (prompts, prefixes, vocab), "
            f"got {tuple(x.shape)}"
        )


@dataclass(frozen=True)
class SoftSolution:
    """Optimal soft values of a KL-regularised token MDP (all ``(P, N, V)`` or ``(P, N)``)."""

    q: torch.Tensor
    """:math:`Q^*(s,a)` including :math:`\\beta\\log\\pi_{ref}(a|s)`."""
    v: torch.Tensor
    """:math:`V^*(s)` on internal prefixes."""
    log_policy: torch.Tensor
    """:math:`\\log\\pi^*(a|s)`."""
    next_v: torch.Tensor
    """:math:`V^*(s')` of the child reached by each action (0 at leaves)."""


def soft_value_iteration(
    token_reward: np.ndarray | torch.Tensor,
    ref_log_probs: np.ndarray | torch.Tensor,
    beta: float,
    tree: ResponseTree,
) -> SoftSolution:
    r"""Backward soft-value DP on the prefix tree (one vectorised step per depth).

    ``token_reward[p, n, a]`` is :math:`r(s,a)` at prefix ``n`` of prompt ``p``;
    ``ref_log_probs`` the reference :math:`\log\pi_{ref}(a|s)`; both ``(P, N, V)``.
    """
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    r = _as_tensor(token_reward)
    ref = _as_tensor(ref_log_probs)
    _check_prefix_array("token_reward", r, tree)
    _check_prefix_array("ref_log_probs", ref, tree)
    n_prompts, vocab = r.shape[0], tree.vocab_size
    v = torch.zeros(n_prompts, tree.n_nodes, dtype=r.dtype)
    next_v = torch.zeros_like(r)
    offsets = tree.depth_offsets
    child_values = torch.zeros(n_prompts, vocab**tree.horizon, dtype=r.dtype)  # leaves
    for d in range(tree.horizon - 1, -1, -1):
        lo, hi = int(offsets[d]), int(offsets[d + 1])
        next_v[:, lo:hi] = child_values.reshape(n_prompts, hi - lo, vocab)
        q_d = r[:, lo:hi] + beta * ref[:, lo:hi] + next_v[:, lo:hi]
        v[:, lo:hi] = beta * torch.logsumexp(q_d / beta, dim=-1)
        child_values = v[:, lo:hi]
    q = r + beta * ref + next_v
    log_policy = (q - v[..., None]) / beta
    return SoftSolution(q=q, v=v, log_policy=log_policy, next_v=next_v)


def sequence_reward_to_token_reward(sequence_reward: np.ndarray | torch.Tensor, tree: ResponseTree) -> torch.Tensor:
    """A sequence-level reward ``(P, V^T)`` over leaves as a token reward ``(P, N, V)`` paid at the last step."""
    seq = _as_tensor(sequence_reward)
    if seq.ndim != 2 or seq.shape[1] != tree.n_leaves:
        raise ValueError(f"sequence_reward must have shape (P, {tree.n_leaves}), got {tuple(seq.shape)}")
    out = torch.zeros(seq.shape[0], tree.n_nodes, tree.vocab_size, dtype=seq.dtype)
    lo = int(tree.depth_offsets[tree.horizon - 1])
    out[:, lo:] = seq.reshape(seq.shape[0], -1, tree.vocab_size)
    return out


def _gather_leaves(prefix_array: torch.Tensor, tree: ResponseTree) -> torch.Tensor:
    """``prefix_array[p, node(y_{<t}), y_t]`` for every leaf and step -> ``(P, V^T, T)``."""
    nodes = torch.as_tensor(tree.leaf_nodes, device=prefix_array.device)
    actions = torch.as_tensor(tree.leaves, device=prefix_array.device)
    flat = prefix_array.reshape(prefix_array.shape[0], -1)
    return flat[:, nodes * tree.vocab_size + actions]


def leaf_log_probs(log_probs: np.ndarray | torch.Tensor, tree: ResponseTree) -> torch.Tensor:
    r""":math:`\log\pi(y|x) = \sum_t \log\pi(y_t|s_t)` for every leaf, ``(P, V^T)`` (differentiable)."""
    lp = log_probs if isinstance(log_probs, torch.Tensor) else _as_tensor(log_probs)
    _check_prefix_array("log_probs", lp, tree)
    return _gather_leaves(lp, tree).sum(-1)


def leaf_returns(token_reward: np.ndarray | torch.Tensor, tree: ResponseTree) -> torch.Tensor:
    r""":math:`\sum_t r(s_t, y_t)` for every leaf, ``(P, V^T)``."""
    r = token_reward if isinstance(token_reward, torch.Tensor) else _as_tensor(token_reward)
    _check_prefix_array("token_reward", r, tree)
    return _gather_leaves(r, tree).sum(-1)


def exact_kl(log_probs: torch.Tensor, ref_log_probs: torch.Tensor, tree: ResponseTree) -> torch.Tensor:
    r"""Sequence-level :math:`\mathrm{KL}(\pi(\cdot|x)\|\pi_{ref}(\cdot|x))` per prompt, ``(P,)``."""
    lp = leaf_log_probs(log_probs, tree)
    ref = leaf_log_probs(ref_log_probs, tree).to(lp.dtype)
    return (lp.exp() * (lp - ref)).sum(-1)


def expected_return(log_probs: torch.Tensor, token_reward: torch.Tensor, tree: ResponseTree) -> torch.Tensor:
    r""":math:`\mathbb E_{y\sim\pi(\cdot|x)}[\sum_t r]` per prompt, ``(P,)``."""
    lp = leaf_log_probs(log_probs, tree)
    return (lp.exp() * leaf_returns(token_reward, tree).to(lp.dtype)).sum(-1)


def exact_objective(
    log_probs: torch.Tensor, ref_log_probs: torch.Tensor, token_reward: torch.Tensor, beta: float, tree: ResponseTree
) -> torch.Tensor:
    r""":math:`J_\beta(\pi; x) = \mathbb E_\pi[\sum_t r] - \beta\,\mathrm{KL}(\pi\|\pi_{ref})` per prompt, ``(P,)``."""
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    return expected_return(log_probs, token_reward, tree) - beta * exact_kl(log_probs, ref_log_probs, tree)


def total_variation(log_probs: torch.Tensor, other_log_probs: torch.Tensor, tree: ResponseTree) -> torch.Tensor:
    r"""Sequence-level :math:`\mathrm{TV}(\pi(\cdot|x), \pi'(\cdot|x)) = \frac12\sum_y|\pi(y)-\pi'(y)|`, ``(P,)``."""
    a = leaf_log_probs(log_probs, tree).exp()
    b = leaf_log_probs(other_log_probs, tree).exp().to(a.dtype)
    return 0.5 * (a - b).abs().sum(-1)
