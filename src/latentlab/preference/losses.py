r"""Preference losses as plain tensor functions (per-example values; the caller reduces).

Notation: :math:`u_w = \log\pi_\theta(y_w|x)`, :math:`u_l = \log\pi_\theta(y_l|x)` (sums of
token log-probs), :math:`u^{ref}_w, u^{ref}_l` the same under the reference, and the
log-ratio margin :math:`\Delta = (u_w - u^{ref}_w) - (u_l - u^{ref}_l)`.

* DPO (Rafailov et al., 2023): :math:`-\log\sigma(\beta\Delta)`.
* Flex-DPO (two temperatures, Yan et al., 2024):
  :math:`-\log\sigma\big(\beta_w(u_w-u^{ref}_w) - \beta_l(u_l-u^{ref}_l)\big)`.
* IPO (Azar et al., 2023) with TRL's length normalisation:
  :math:`\big(\tfrac{u_w-u^{ref}_w}{|y_w|} - \tfrac{u_l-u^{ref}_l}{|y_l|} - \tfrac1{2\beta}\big)^2`.
* SFT term: :math:`-\log\pi_\theta(y_w|x)` (per sequence), or TRL's token mean over a batch.
* XPO exploration term (Xie et al., 2024): :math:`\alpha\log\pi_\theta(\tilde y|x)` on responses
  :math:`\tilde y` of the sampling policy, *added* to the minimised loss.
* Bradley–Terry reward-model loss: :math:`-\log\sigma(r_w - r_l - m) + c\,(r_w + r_l)^2`.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

__all__ = [
    "DPOLossType",
    "dpo_margin",
    "dpo_loss",
    "sft_loss",
    "xpo_exploration_term",
    "bradley_terry_loss",
]

DPOLossType = Literal["sigmoid", "ipo"]


def dpo_margin(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor,
               ref_chosen: torch.Tensor, ref_rejected: torch.Tensor) -> torch.Tensor:
    r""":math:`\Delta = (u_w - u^{ref}_w) - (u_l - u^{ref}_l)`."""
    return (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
    loss_type: DPOLossType = "sigmoid",
    beta_rejected: float | None = None,
    chosen_lengths: torch.Tensor | None = None,
    rejected_lengths: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Per-pair DPO-family loss from sequence log-probs (all ``(B,)``).

    ``loss_type="sigmoid"``: :math:`-\log\sigma(\beta(u_w-u^{ref}_w) - \beta_l(u_l-u^{ref}_l))` with
    :math:`\beta_l` = ``beta_rejected`` (default ``beta``: vanilla DPO; otherwise Flex-DPO).
    ``loss_type="ipo"``: the squared IPO loss on length-normalised log-ratios (lengths default to 1).
    """
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    chosen_ratio = policy_chosen - ref_chosen
    rejected_ratio = policy_rejected - ref_rejected
    if loss_type == "sigmoid":
        b_l = beta if beta_rejected is None else beta_rejected
        if not b_l > 0:
            raise ValueError(f"beta_rejected must be > 0, got {beta_rejected}")
        return -F.logsigmoid(beta * chosen_ratio - b_l * rejected_ratio)
    if loss_type == "ipo":
        if beta_rejected is not None:
            raise ValueError("beta_rejected is only defined for loss_type='sigmoid'")
        if chosen_lengths is not None:
            chosen_ratio = chosen_ratio / chosen_lengths.to(chosen_ratio.dtype).clamp(min=1.0)
        if rejected_lengths is not None:
            rejected_ratio = rejected_ratio / rejected_lengths.to(rejected_ratio.dtype).clamp(min=1.0)
        return (chosen_ratio - rejected_ratio - 1.0 / (2.0 * beta)) ** 2
    raise ValueError(f"loss_type must be 'sigmoid' or 'ipo', got {loss_type!r}")


def sft_loss(chosen_token_logps: torch.Tensor, mask: torch.Tensor | None = None,
             reduction: Literal["sequence", "token_mean"] = "sequence") -> torch.Tensor:
    r"""Negative log-likelihood of the chosen responses.

    ``"sequence"``: :math:`-\sum_t\log\pi(y_{w,t}|\cdot)` per pair, ``(B,)``.
    ``"token_mean"``: TRL's ``"sft"`` loss, the mean over all unmasked chosen tokens of
    the batch (a scalar).
    """
    m = torch.ones_like(chosen_token_logps) if mask is None else mask.to(chosen_token_logps.dtype)
    if reduction == "sequence":
        return -(chosen_token_logps * m).sum(-1)
    if reduction == "token_mean":
        return -(chosen_token_logps * m).sum() / m.sum().clamp(min=1.0)
    raise ValueError(f"reduction must be 'sequence' or 'token_mean', got {reduction!r}")


def xpo_exploration_term(sampler_logps: torch.Tensor, alpha: float) -> torch.Tensor:
    r""":math:`\alpha\log\pi_\theta(\tilde y|x)` per sampled response (minimising it lowers the
    likelihood of what the sampling policy produces, i.e. pushes mass to unexplored responses)."""
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    return alpha * sampler_logps


def bradley_terry_loss(reward_chosen: torch.Tensor, reward_rejected: torch.Tensor, margin: float = 0.0,
                       center_coefficient: float = 0.0) -> torch.Tensor:
    r"""Per-pair reward-model loss :math:`-\log\sigma(r_w - r_l - m) + c\,(r_w + r_l)^2`."""
    if center_coefficient < 0:
        raise ValueError(f"center_coefficient must be >= 0, got {center_coefficient}")
    loss = -F.logsigmoid(reward_chosen - reward_rejected - margin)
    if center_coefficient:
        loss = loss + center_coefficient * (reward_chosen + reward_rejected) ** 2
    return loss
