r"""One policy interface over tabular and neural autoregressive policies.

A :class:`Policy` maps integer prompt ids ``(B,)`` and fixed-length responses ``(B, T)``
over ``vocab_size`` response tokens to the next-token log-distribution at every step,
:math:`\log\pi(\cdot|x, y_{<t})`, shape ``(B, T, V)`` (:meth:`Policy.position_log_probs`).
Everything else — token log-probs, sequence log-probs, sampling, beam search, the
per-prefix table of a small tree — is derived from that one method here, so a tabular
softmax (:class:`TabularPolicy`) and a causal LM (:mod:`latentlab.preference.lm`) are
interchangeable in trainers and metrics.
"""

from __future__ import annotations

import copy
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from latentlab.preference.tree import ResponseTree

__all__ = [
    "Policy",
    "TabularPolicy",
    "FeatureMLPPolicy",
    "token_logps",
    "sequence_logps",
    "sample",
    "beam_search",
    "prefix_log_probs",
    "frozen_copy",
]


@runtime_checkable
class Policy(Protocol):
    """What trainers and metrics need from a policy (an ``nn.Module``)."""

    vocab_size: int
    horizon: int

    def position_log_probs(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """``(B, T, V)``: :math:`\\log\\pi(\\cdot|x_b, y_{b,<t})` for every step of ``responses``."""
        ...


def _check_batch(prompts: torch.Tensor, responses: torch.Tensor, horizon: int | None = None) -> None:
    if prompts.ndim != 1:
        raise ValueError(f"prompts must be 1-D (B,), got shape {tuple(prompts.shape)}")
    if responses.ndim != 2 or responses.shape[0] != prompts.shape[0]:
        raise ValueError(f"responses must have shape (B={prompts.shape[0]}, T), got {tuple(responses.shape)}")
    if horizon is not None and responses.shape[1] > horizon:
        raise ValueError(f"responses may have at most horizon={horizon} steps, got {responses.shape[1]}")


def token_logps(policy: Policy, prompts: torch.Tensor, responses: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
    r""":math:`\log\pi(y_t|x, y_{<t})`, ``(B, T)``; positions where ``mask`` is 0 are set to 0."""
    logp = policy.position_log_probs(prompts, responses)
    out = logp.gather(-1, responses[..., None]).squeeze(-1)
    return out if mask is None else out * mask.to(out.dtype)


def sequence_logps(policy: Policy, prompts: torch.Tensor, responses: torch.Tensor,
                   mask: torch.Tensor | None = None) -> torch.Tensor:
    r""":math:`\log\pi(y|x) = \sum_t \log\pi(y_t|x, y_{<t})`, ``(B,)``."""
    return token_logps(policy, prompts, responses, mask).sum(-1)


@torch.no_grad()
def sample(policy: Policy, prompts: torch.Tensor, generator: torch.Generator | None = None,
           temperature: float = 1.0) -> torch.Tensor:
    """Ancestral sampling of ``(B, T)`` responses (one step per token: the algorithm is sequential)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    fast = getattr(policy, "sample", None)
    if callable(fast):
        return fast(prompts, generator=generator, temperature=temperature)
    responses = torch.zeros(prompts.shape[0], policy.horizon, dtype=torch.long)
    for t in range(policy.horizon):
        logp = policy.position_log_probs(prompts, responses[:, : t + 1])[:, t] / temperature
        responses[:, t] = torch.multinomial(torch.softmax(logp, -1), 1, generator=generator).squeeze(-1)
    return responses


@torch.no_grad()
def beam_search(policy: Policy, prompt: int, beams: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Beam search for :math:`\arg\max_y \log\pi(y|x)` with ``beams`` beams.

    Returns the ``beams`` final sequences ``(k, T)`` sorted by log-probability and their
    log-probabilities ``(k,)``; ``beams = 1`` is greedy decoding.  With a DPO policy
    :math:`\log\pi_\theta = \hat r/\beta + \log\pi_{ref}` summed over tokens, so this
    searches the KL-regularised implicit-reward objective (Rafailov et al., 2024).
    """
    if beams < 1:
        raise ValueError(f"beams must be >= 1, got {beams}")
    vocab = policy.vocab_size
    seqs = torch.zeros(1, 0, dtype=torch.long)
    scores = torch.zeros(1, dtype=torch.float64)
    for t in range(policy.horizon):
        padded = torch.cat([seqs, torch.zeros(seqs.shape[0], 1, dtype=torch.long)], 1)
        prompts = torch.full((seqs.shape[0],), int(prompt), dtype=torch.long)
        logp = policy.position_log_probs(prompts, padded)[:, t].double()
        cand = (scores[:, None] + logp).reshape(-1)
        top = torch.topk(cand, min(beams, cand.numel()))
        parent, token = top.indices // vocab, top.indices % vocab
        seqs = torch.cat([seqs[parent], token[:, None]], 1)
        scores = top.values
    return seqs, scores


def prefix_log_probs(policy: Policy, tree: ResponseTree, n_prompts: int) -> torch.Tensor:
    r"""The policy on every internal prefix of ``tree``: :math:`\log\pi(a|s)`, ``(P, N, V)``, in one batch.

    Evaluates the policy on one representative response per prefix and reads each
    prefix's distribution at its depth (differentiable).
    """
    if tree.vocab_size != policy.vocab_size or tree.horizon != policy.horizon:
        raise ValueError(
            f"tree (V={tree.vocab_size}, T={tree.horizon}) does not match policy "
            f"(V={policy.vocab_size}, T={policy.horizon})"
        )
    table = getattr(policy, "table_log_probs", None)
    if callable(table):
        return table()
    rows = torch.as_tensor(tree.node_prefixes)
    depth = torch.as_tensor(tree.node_depth)
    prompts = torch.arange(n_prompts).repeat_interleave(tree.n_nodes)
    responses = rows.repeat(n_prompts, 1)
    logp = policy.position_log_probs(prompts, responses)  # (P*N, T, V)
    picked = logp[torch.arange(logp.shape[0]), depth.repeat(n_prompts)]
    return picked.reshape(n_prompts, tree.n_nodes, tree.vocab_size)


class TabularPolicy(nn.Module):
    r"""A softmax per prefix: :math:`\pi_\theta(a|s) = \mathrm{softmax}(\theta_{x,s})_a`.

    ``logits`` has shape ``(P, N, V)`` over the internal prefixes of ``tree``; the
    policy is exact (no function approximation) and differentiable in every entry.
    """

    def __init__(self, tree: ResponseTree, n_prompts: int, logits: torch.Tensor | np.ndarray | None = None,
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        if n_prompts < 1:
            raise ValueError(f"n_prompts must be >= 1, got {n_prompts}")
        self.tree = tree
        self.vocab_size = tree.vocab_size
        self.horizon = tree.horizon
        self.n_prompts = n_prompts
        shape = (n_prompts, tree.n_nodes, tree.vocab_size)
        if logits is None:
            init = torch.zeros(shape, dtype=dtype)
        else:
            init = torch.as_tensor(np.asarray(logits) if not isinstance(logits, torch.Tensor) else logits,
                                   dtype=dtype).clone()
            if tuple(init.shape) != shape:
                raise ValueError(f"logits must have shape {shape}, got {tuple(init.shape)}")
        self.logits = nn.Parameter(init)

    @classmethod
    def from_log_probs(cls, tree: ResponseTree, log_probs: torch.Tensor) -> TabularPolicy:
        return cls(tree, int(log_probs.shape[0]), log_probs.detach())

    def table_log_probs(self) -> torch.Tensor:
        """``(P, N, V)`` log-probabilities of every prefix."""
        return torch.log_softmax(self.logits, dim=-1)

    def position_log_probs(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        _check_batch(prompts, responses, self.horizon)
        t = responses.shape[1]
        padded = torch.nn.functional.pad(responses, (0, self.horizon - t))
        nodes = self.tree.node_index(padded)[:, :t]
        return self.table_log_probs()[prompts[:, None], nodes]

    @torch.no_grad()
    def sample(self, prompts: torch.Tensor, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        table = self.table_log_probs() / temperature
        responses = torch.zeros(prompts.shape[0], self.horizon, dtype=torch.long)
        node = torch.zeros(prompts.shape[0], dtype=torch.long)
        offsets = self.tree.depth_offsets
        for t in range(self.horizon):
            probs = torch.softmax(table[prompts, node], -1)
            a = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            responses[:, t] = a
            if t + 1 < self.horizon:
                code = (node - int(offsets[t])) * self.vocab_size + a
                node = code + int(offsets[t + 1])
        return responses


class FeatureMLPPolicy(nn.Module):
    r"""A single-step policy over a finite response set with shared parameters.

    :math:`\pi_\theta(\cdot|x) = \mathrm{softmax}(\mathrm{MLP}_\theta(e_x))` with fixed prompt features
    :math:`e_x` (``(P, d)``): every prompt's logits move when any prompt is trained, the
    parameter sharing that separates it from :class:`TabularPolicy` (``horizon`` = 1).
    """

    def __init__(self, prompt_features: torch.Tensor, n_responses: int, hidden: int = 64,
                 generator: torch.Generator | None = None, output_scale: float = 1.0) -> None:
        super().__init__()
        if prompt_features.ndim != 2:
            raise ValueError(f"prompt_features must be 2-D (P, d), got {tuple(prompt_features.shape)}")
        if n_responses < 2 or hidden < 1:
            raise ValueError(f"need n_responses >= 2 and hidden >= 1, got {n_responses}, {hidden}")
        self.register_buffer("features", prompt_features.float(), persistent=False)
        self.vocab_size = n_responses
        self.horizon = 1
        d = prompt_features.shape[1]
        self.net = nn.Sequential(nn.Linear(d, hidden), nn.Tanh(), nn.Linear(hidden, n_responses))
        with torch.no_grad():
            for layer in (self.net[0], self.net[2]):
                bound = 1.0 / layer.in_features**0.5
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
            self.net[2].weight.mul_(output_scale)
            self.net[2].bias.mul_(output_scale)

    def table_log_probs(self) -> torch.Tensor:
        """``(P, 1, V)`` log-probabilities of every prompt (the tree of horizon 1 has one prefix)."""
        return torch.log_softmax(self.net(self.features), dim=-1)[:, None, :]

    def position_log_probs(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        _check_batch(prompts, responses, 1)
        return torch.log_softmax(self.net(self.features[prompts]), dim=-1)[:, None, :]


def frozen_copy(policy: nn.Module) -> nn.Module:
    """A deep copy with gradients off and eval mode (a reference policy)."""
    ref = copy.deepcopy(policy)
    ref.eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref
