"""Flex-DPO (two temperatures): closed-form gradients vs autograd of ``dpo_loss(..., beta_rejected=...)``."""

from __future__ import annotations

import pytest
import torch

from latentlab.preference import dpo_loss, flex_dpo_logit_gradient, flex_dpo_probability_gradients

TEMPERATURES = [(0.1, 0.1), (0.1, 0.4), (0.3, 0.05)]


@pytest.mark.parametrize(("beta_w", "beta_l"), TEMPERATURES)
def test_probability_gradients_and_ratio_match_autograd(beta_w, beta_l):
    g = torch.Generator().manual_seed(0)
    pi = torch.rand(2, 5, generator=g, dtype=torch.float64) * 0.9 + 0.05
    ref = torch.rand(2, 5, generator=g, dtype=torch.float64) * 0.9 + 0.05
    pi_w, pi_l = pi[0].clone().requires_grad_(), pi[1].clone().requires_grad_()
    loss = dpo_loss(pi_w.log(), pi_l.log(), ref[0].log(), ref[1].log(), beta_w, beta_rejected=beta_l)
    loss.sum().backward()
    z = beta_w * (pi[0].log() - ref[0].log()) - beta_l * (pi[1].log() - ref[1].log())
    g_w, g_l = flex_dpo_probability_gradients(pi[0], pi[1], z, beta_w, beta_l)
    torch.testing.assert_close(pi_w.grad, g_w)
    torch.testing.assert_close(pi_l.grad, g_l)
    # extra check (i), generalised: |dL/dpi_l| / |dL/dpi_w| = (beta_l / beta_w) pi_w / pi_l exactly
    torch.testing.assert_close(pi_l.grad.abs() / pi_w.grad.abs(), beta_l / beta_w * pi[0] / pi[1])


@pytest.mark.parametrize(("beta_w", "beta_l"), TEMPERATURES)
def test_tabular_logit_gradient_matches_autograd(beta_w, beta_l):
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(7, generator=g, dtype=torch.float64)
    ref_logits = torch.randn(7, generator=g, dtype=torch.float64)
    w, rej = 2, 5
    theta = logits.clone().requires_grad_()
    u, u_ref = torch.log_softmax(theta, -1), torch.log_softmax(ref_logits, -1)
    dpo_loss(u[w], u[rej], u_ref[w], u_ref[rej], beta_w, beta_rejected=beta_l).backward()
    closed = flex_dpo_logit_gradient(logits, ref_logits, w, rej, beta_w, beta_l)
    torch.testing.assert_close(theta.grad, closed)
    assert abs(float(closed.sum())) < 1e-12  # softmax is shift-invariant
    unseen = closed[[k for k in range(7) if k not in (w, rej)]]
    if beta_w == beta_l:  # extra check (ii): the log-partition cancels, unseen logits get exactly zero
        assert torch.all(unseen == 0)
    else:  # beta_l > beta_w raises the unseen logits under descent (negative gradient), beta_l < beta_w lowers them
        assert torch.all(torch.sign(unseen) == (-1.0 if beta_l > beta_w else 1.0))


def test_flex_gradients_reject_bad_input():
    x = torch.tensor([0.5])
    with pytest.raises(ValueError, match="beta_l"):
        flex_dpo_probability_gradients(x, x, x, 0.1, 0.0)
    with pytest.raises(ValueError, match="pi_w and pi_l"):
        flex_dpo_probability_gradients(torch.tensor([0.0]), x, x, 0.1, 0.1)
    with pytest.raises(ValueError, match="distinct"):
        flex_dpo_logit_gradient(torch.zeros(3), torch.zeros(3), 1, 1, 0.1, 0.1)
    with pytest.raises(ValueError, match="beta_w"):
        flex_dpo_logit_gradient(torch.zeros(3), torch.zeros(3), 0, 1, -1.0, 0.1)
