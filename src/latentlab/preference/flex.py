r"""Closed-form gradients of Flex-DPO (two temperatures), the known answers its sweep is tested against.

Flex-DPO (Yan et al., 2024; the loss itself is :func:`latentlab.preference.dpo_loss` with
``beta=β_w, beta_rejected=β_l``):

.. math:: \mathcal L = -\log\sigma(z),\qquad
          z = \beta_w(u_w - u^{ref}_w) - \beta_l(u_l - u^{ref}_l),\qquad u = \log\pi_\theta(y|x).

**(i) Probability gradients.**  :math:`\partial\mathcal L/\partial u_w = -\beta_w\sigma(-z)` and
:math:`\partial\mathcal L/\partial u_l = \beta_l\sigma(-z)`, so with :math:`u = \log\pi`

.. math:: \frac{\partial\mathcal L}{\partial\pi(y_w)} = -\frac{\beta_w\sigma(-z)}{\pi(y_w)},\qquad
          \frac{\partial\mathcal L}{\partial\pi(y_l)} = \frac{\beta_l\sigma(-z)}{\pi(y_l)},\qquad
          \Big|\frac{\partial\mathcal L/\partial\pi(y_l)}{\partial\mathcal L/\partial\pi(y_w)}\Big|
          = \frac{\beta_l}{\beta_w}\,\frac{\pi(y_w)}{\pi(y_l)}.

**(ii) Tabular softmax** (one prompt, logits :math:`\theta`, :math:`u_k = \theta_k - \log Z`).
:math:`z = \beta_w\theta_w - \beta_l\theta_l + (\beta_l - \beta_w)\log Z + \text{const}`, hence

.. math:: \frac{\partial\mathcal L}{\partial\theta_k}
          = -\sigma(-z)\big(\beta_w[k=w] - \beta_l[k=l] + (\beta_l - \beta_w)\,\pi_k\big).

With :math:`\beta_l = \beta_w` (vanilla DPO) the log-partition cancels and every logit other
than :math:`\theta_w, \theta_l` gets exactly zero gradient; with :math:`\beta_l > \beta_w` every
other logit gets :math:`-\sigma(-z)(\beta_l-\beta_w)\pi_k < 0`, i.e. gradient descent *raises*
the responses absent from the pair (dispersion built into the loss), and lowers them when
:math:`\beta_l < \beta_w`.
"""

from __future__ import annotations

import torch

__all__ = ["flex_dpo_probability_gradients", "flex_dpo_logit_gradient"]


def _check_temperatures(beta_w: float, beta_l: float) -> None:
    if not beta_w > 0:
        raise ValueError(f"beta_w must be > 0, got {beta_w}")
    if not beta_l > 0:
        raise ValueError(f"beta_l must be > 0, got {beta_l}")


def flex_dpo_probability_gradients(pi_w: torch.Tensor, pi_l: torch.Tensor, z: torch.Tensor, beta_w: float,
                                   beta_l: float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""(i): :math:`(\partial\mathcal L/\partial\pi(y_w), \partial\mathcal L/\partial\pi(y_l))
    = (-\beta_w\sigma(-z)/\pi(y_w),\ \beta_l\sigma(-z)/\pi(y_l))` (elementwise)."""
    _check_temperatures(beta_w, beta_l)
    if (pi_w <= 0).any() or (pi_l <= 0).any():
        raise ValueError("pi_w and pi_l must be probabilities in (0, 1]")
    weight = torch.sigmoid(-z)
    return -beta_w * weight / pi_w, beta_l * weight / pi_l


def flex_dpo_logit_gradient(logits: torch.Tensor, ref_logits: torch.Tensor, chosen: int, rejected: int,
                            beta_w: float, beta_l: float) -> torch.Tensor:
    r"""(ii): :math:`\partial\mathcal L/\partial\theta` of one pair under a tabular softmax, ``(V,)``.

    ``logits`` and ``ref_logits`` are the policy's and the reference's logits of one prompt.
    """
    _check_temperatures(beta_w, beta_l)
    if logits.ndim != 1 or logits.shape != ref_logits.shape:
        raise ValueError(f"logits and ref_logits must both be (V,), got {tuple(logits.shape)}, "
                         f"{tuple(ref_logits.shape)}")
    vocab = logits.shape[0]
    if not (0 <= chosen < vocab and 0 <= rejected < vocab) or chosen == rejected:
        raise ValueError(f"chosen and rejected must be distinct indices in [0, {vocab}), got {chosen}, {rejected}")
    u = torch.log_softmax(logits, -1)
    u_ref = torch.log_softmax(ref_logits, -1)
    z = beta_w * (u[chosen] - u_ref[chosen]) - beta_l * (u[rejected] - u_ref[rejected])
    dz = (beta_l - beta_w) * u.exp()
    dz[chosen] += beta_w
    dz[rejected] -= beta_l
    return -torch.sigmoid(-z) * dz
