"""KID (unbiased polynomial-kernel MMD^2) against closed forms, and the classifier log-prob reward."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from latentlab.generative import classifier_log_prob, kernel_distance


def _gaussian_moments(mean: float, std: float) -> np.ndarray:
    return np.array([mean, mean**2 + std**2, mean**3 + 3 * mean * std**2])


def test_kid_matches_an_explicit_double_loop():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 1.0, size=(5, 3))
    k = lambda a, b: (a @ b / 3 + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    yy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / (5 * 4)
    xy = sum(k(x[i], y[j]) for i in range(7) for j in range(5)) / 35
    assert kernel_distance(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


@pytest.mark.parametrize("p, q", [((0.0, 1.0), (0.5, 1.3)), ((0.3, 0.7), (0.3, 0.7))])
def test_kid_is_unbiased_for_the_closed_form_gaussian_mmd(p, q):
    # d = 1, k(a, b) = (ab + 1)^3 = a^3 b^3 + 3 a^2 b^2 + 3 ab + 1, so for independent draws
    # MMD^2 = (m3_P - m3_Q)^2 + 3 (m2_P - m2_Q)^2 + 3 (m1_P - m1_Q)^2 (raw moments m_j).
    diff = _gaussian_moments(*p) - _gaussian_moments(*q)
    exact = diff[2] ** 2 + 3 * diff[1] ** 2 + 3 * diff[0] ** 2
    rng = np.random.default_rng(1)
    reps = np.array([kernel_distance(rng.normal(p[0], p[1], (40, 1)), rng.normal(q[0], q[1], (30, 1)))
                     for _ in range(600)])
    se = reps.std(ddof=1) / math.sqrt(len(reps))
    assert abs(reps.mean() - exact) < 4 * se + 1e-12
    if p == q:
        assert reps.min() < 0 < reps.max()  # unbiased: negative values occur


def test_kid_rejects_mismatched_dimensions():
    with pytest.raises(ValueError, match="same dimension"):
        kernel_distance(np.zeros((4, 2)), np.zeros((4, 3)))


def test_classifier_log_prob_is_the_clamped_log_softmax():
    net = torch.nn.Linear(2, 3)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]]))
        net.bias.zero_()
    x = torch.tensor([[0.5, -0.5], [3.0, 0.0]])
    reward = classifier_log_prob(net, 1, low=-1.0, high=1.0)
    clamped = np.array([[0.5, -0.5], [1.0, 0.0]])
    logits = clamped @ np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]]).T
    expected = logits[:, 1] - np.log(np.exp(logits).sum(1))
    np.testing.assert_allclose(reward(x).numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="target"):
        classifier_log_prob(net, 3)(x)
    with pytest.raises(ValueError, match="target"):
        classifier_log_prob(net, -1)
