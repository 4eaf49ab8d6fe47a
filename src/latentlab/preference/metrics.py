r"""Metrics: implicit rewards, preference accuracy, win rate, likelihood tracking.

* Implicit token reward of a DPO policy (Rafailov et al., 2024):
  :math:`\hat r_t = \beta\log\frac{\pi_\theta(y_t|x,y_{<t})}{\pi_{ref}(y_t|x,y_{<t})}`;
  the implicit sequence reward (DPO's implicit reward model) is :math:`\sum_t\hat r_t`.
* Preference accuracy of a scorer: :math:`\frac1n\sum_i\mathbb 1[s(x_i,y_{w,i}) > s(x_i,y_{l,i})]`
  (ties count 1/2), with a bootstrap CI over pairs.
* Win rate of responses ``a`` over ``b`` under the true reward (ties 1/2).
* Dispersion: probability mass a policy puts on responses absent from the data.
"""

from __future__ import annotations

import numpy as np
import torch

from latentlab.preference.policy import Policy, token_logps
from latentlab.preference.tasks import SequenceTask
from latentlab.repro.stats import Interval, bootstrap_ci

__all__ = [
    "implicit_token_rewards",
    "implicit_sequence_rewards",
    "preference_accuracy",
    "pairwise_correct",
    "win_rate",
    "unseen_mass",
]


@torch.no_grad()
def implicit_token_rewards(policy: Policy, reference: Policy, prompts: torch.Tensor, responses: torch.Tensor,
                           beta: float) -> torch.Tensor:
    r""":math:`\hat r_t = \beta(\log\pi_\theta(y_t|s_t) - \log\pi_{ref}(y_t|s_t))`, ``(B, T)``."""
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    return beta * (token_logps(policy, prompts, responses) - token_logps(reference, prompts, responses))


def implicit_sequence_rewards(policy: Policy, reference: Policy, prompts: torch.Tensor, responses: torch.Tensor,
                              beta: float) -> torch.Tensor:
    r"""DPO's implicit reward model :math:`\beta\log\frac{\pi_\theta(y|x)}{\pi_{ref}(y|x)}`, ``(B,)``."""
    return implicit_token_rewards(policy, reference, prompts, responses, beta).sum(-1)


def pairwise_correct(score_chosen: np.ndarray | torch.Tensor, score_rejected: np.ndarray | torch.Tensor) -> np.ndarray:
    """Per pair: 1 if the chosen response scores higher, 1/2 on a tie, else 0."""
    a = np.asarray(score_chosen, dtype=float)
    b = np.asarray(score_rejected, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"score_chosen and score_rejected must have the same shape, got {a.shape} and {b.shape}")
    return np.where(a > b, 1.0, np.where(a < b, 0.0, 0.5))


def preference_accuracy(score_chosen: np.ndarray | torch.Tensor, score_rejected: np.ndarray | torch.Tensor,
                        confidence: float = 0.95) -> Interval:
    """Preference accuracy with a bootstrap CI over pairs."""
    return bootstrap_ci(pairwise_correct(score_chosen, score_rejected), confidence=confidence, n_boot=2000)


def win_rate(task: SequenceTask, prompts: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of prompts where response ``a`` has higher true reward than ``b`` (ties 1/2)."""
    return float(pairwise_correct(task.sequence_reward(prompts, a), task.sequence_reward(prompts, b)).mean())


def unseen_mass(leaf_log_probs: torch.Tensor, seen: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Probability mass per prompt on responses not marked ``seen`` (both ``(P, L)``) -> ``(P,)``."""
    mask = torch.as_tensor(np.asarray(seen) if not isinstance(seen, torch.Tensor) else seen, dtype=torch.bool)
    if mask.shape != leaf_log_probs.shape:
        raise ValueError(f"seen must have the shape of leaf_log_probs {tuple(leaf_log_probs.shape)}, "
                         f"got {tuple(mask.shape)}")
    return (leaf_log_probs.exp() * (~mask).to(leaf_log_probs.dtype)).sum(-1)
