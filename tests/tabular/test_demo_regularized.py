"""Behaviour cloning and KL-regularised optimistic RL: closed forms and limits."""

from __future__ import annotations

import numpy as np
import pytest

from latentlab.tabular import random_mdp, rollout, run_learner, soft_value_iteration, trajectory_kl
from latentlab.tabular.demo_regularized import (
    DemoRegularizedUCBVI,
    behaviour_cloning,
    regularisation_from_demos,
    regularised_value,
)


@pytest.fixture
def mdp():
    return random_mdp(4, 3, 4, np.random.default_rng(0))


def test_bc_is_laplace_smoothing(mdp):
    demos = rollout(mdp, mdp.optimal().policy, np.random.default_rng(1), n=50)
    bc = behaviour_cloning(demos, mdp.S, mdp.A, kappa=0.5)
    counts = np.zeros((mdp.H, mdp.S, mdp.A))
    for i in range(50):  # independent per-trajectory loop as the reference
        for h in range(mdp.H):
            counts[h, demos.states[i, h], demos.actions[i, h]] += 1
    assert np.allclose(bc, (counts + 0.5) / (counts.sum(-1, keepdims=True) + 1.5))
    with pytest.raises(ValueError, match="kappa"):
        behaviour_cloning(demos, mdp.S, mdp.A, kappa=0)


def test_bc_kl_decays_like_one_over_n(mdp):
    rng = np.random.default_rng(2)
    expert = 0.8 * mdp.optimal().policy + 0.2 / mdp.A
    ns = np.array([200, 2000, 20000])
    kl = [np.mean([trajectory_kl(mdp.P, mdp.mu, expert, behaviour_cloning(rollout(mdp, expert, rng, n=int(n)),
                                                                          mdp.S, mdp.A)) for _ in range(4)])
          for n in ns]
    slope = np.polyfit(np.log(ns), np.log(kl), 1)[0]
    assert -1.25 < slope < -0.8


def test_regularised_value_matches_soft_vi(mdp):
    rng = np.random.default_rng(3)
    ref = rng.dirichlet(np.ones(mdp.A), size=(mdp.H, mdp.S))
    sol = soft_value_iteration(mdp.P, mdp.R, ref, 0.4)
    direct = float(mdp.value(sol.policy)) - 0.4 * float(trajectory_kl(mdp.P, mdp.mu, sol.policy, ref))
    assert float(regularised_value(mdp.P, mdp.R, mdp.mu, sol.policy, ref, 0.4)) == pytest.approx(direct)
    assert sol.V[0] @ mdp.mu == pytest.approx(direct)


def test_large_lambda_returns_bc_and_small_lambda_is_optimistic_vi(mdp):
    rng = np.random.default_rng(4)
    ref = rng.dirichlet(np.ones(mdp.A), size=(mdp.H, mdp.S))
    K = 200
    big = DemoRegularizedUCBVI(mdp.H, mdp.S, mdp.A, K, ref, 1e6, mdp.mu, 0.1, bonus_scale=0.2)
    run_learner(mdp, big, 30, np.random.default_rng(5))
    assert np.allclose(big.plan().policy[0], ref, atol=1e-4)
    uniform = np.full((mdp.H, mdp.S, mdp.A), 1.0 / mdp.A)
    small = DemoRegularizedUCBVI(mdp.H, mdp.S, mdp.A, K, uniform, 1e-4, mdp.mu, 0.1, bonus_scale=0.2)
    run_learner(mdp, small, 100, np.random.default_rng(6))
    from latentlab.tabular import UCBVI

    ucbvi = UCBVI(mdp.H, mdp.S, mdp.A, K, 1, bonus_scale=0.2)
    ucbvi.model = small.model
    Q, _ = ucbvi.optimistic()
    pi = small.plan().policy
    # with lambda -> 0 and a uniform reference the soft policy is supported on UCBVI's greedy actions
    assert np.all(pi[Q < Q.max(-1, keepdims=True) - 1e-6] < 1e-6)


def test_lambda_rule_and_validation():
    lam = regularisation_from_demos(np.array([100, 1000]), 10, 2, 5, 0.1)
    assert np.allclose(lam, [0.1 * 100 / 200, 0.1 * 1000 / 200])
    with pytest.raises(ValueError, match="n_demos"):
        regularisation_from_demos(0, 10, 2, 5, 0.1)
    with pytest.raises(ValueError, match="lam"):
        DemoRegularizedUCBVI(2, 2, 2, 10, np.full((2, 2, 2), 0.5), -1.0, np.array([1.0, 0.0]), 0.1)
