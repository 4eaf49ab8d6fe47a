"""StepMix / EpsMix / budget baseline: reductions with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from latentlab.tabular import UCBVI, random_mdp, run_learner
from latentlab.tabular.conservative import BudgetConservativeUCBVI, EpsMix, StepMix, softmax_baseline


@pytest.fixture
def setup():
    mdp = random_mdp(4, 3, 4, np.random.default_rng(0))
    baseline, _ = softmax_baseline(mdp.optimal().Q, lambda p: float(mdp.value(p)), 0.7 * mdp.optimal_value())
    return mdp, baseline, float(mdp.value(baseline))


def test_softmax_baseline_hits_the_target(setup):
    mdp, _, v_b = setup
    assert v_b == pytest.approx(0.7 * mdp.optimal_value(), rel=1e-6)
    with pytest.raises(ValueError, match="target"):
        softmax_baseline(mdp.optimal().Q, lambda p: float(mdp.value(p)), 2 * mdp.optimal_value())


@pytest.mark.parametrize("order", ["baseline_first", "optimistic_first"])
def test_stepmix_with_alpha_one_is_ucbvi(setup, order):
    mdp, baseline, v_b = setup
    K = 150
    ucbvi = run_learner(mdp, UCBVI(4, 4, 3, K, 2, bonus_scale=0.3), K, np.random.default_rng(1))
    mix = run_learner(mdp, StepMix(4, 4, 3, K, baseline, v_b, mdp.mu, 1.0, 2, bonus_scale=0.3, order=order), K,
                      np.random.default_rng(1))
    assert np.array_equal(ucbvi.played, mix.played)


def test_alpha_zero_with_optimal_baseline_always_plays_the_baseline():
    mdp = random_mdp(4, 3, 4, np.random.default_rng(2))
    optimal = mdp.optimal().policy
    v = mdp.optimal_value()
    K = 60
    for learner in (StepMix(4, 4, 3, K, optimal, v, mdp.mu, 0.0, 2, bonus_scale=0.3),
                    EpsMix(4, 4, 3, K, optimal, v, mdp.mu, 0.0, 2, bonus_scale=0.3, rng=np.random.default_rng(3))):
        curve = run_learner(mdp, learner, K, np.random.default_rng(4))
        assert np.allclose(curve.played, v)


def test_epsmix_epsilon_is_the_largest_feasible_weight(setup):
    mdp, baseline, v_b = setup
    learner = EpsMix(4, 4, 3, 10, baseline, v_b, mdp.mu, 0.2, 1, rng=np.random.default_rng(0))
    lower = np.array([0.0, 0.5 * v_b, 0.85 * v_b, 1.2 * v_b])
    eps = learner.epsilon(lower)
    # eps V_low + (1 - eps) V_b = (1 - alpha) V_b exactly when eps < 1
    assert np.allclose(eps[:2] * lower[:2] + (1 - eps[:2]) * v_b, 0.8 * v_b)
    assert np.allclose(eps[2:], 1.0)


def test_stepmix_candidates_are_certified_and_most_exploratory(setup):
    mdp, baseline, v_b = setup
    K = 400
    learner = StepMix(4, 4, 3, K, baseline, v_b, mdp.mu, 0.1, 1, bonus_scale=0.05, n_rho=6)
    run_learner(mdp, learner, K, np.random.default_rng(5))
    plan = learner.plan()
    cands = learner.candidates(learner.greedy_policy())
    lower = learner.lower_value(cands)[..., 0]
    certified = lower >= learner.threshold
    if certified.any():
        assert learner.last_exploration[0] == pytest.approx(learner._exploration[certified].max())
        assert learner.lower_value(plan.policy)[0] >= learner.threshold - 1e-9
    # the pessimistic value is a lower bound of the true value (w.h.p.) for every candidate
    true = mdp.value(cands[..., 0, :, :, :])
    assert np.mean(lower <= true + 1e-9) > 0.95


def test_budget_baseline_keeps_the_cumulative_constraint(setup):
    mdp, baseline, v_b = setup
    K = 300
    curve = run_learner(mdp, BudgetConservativeUCBVI(4, 4, 3, K, baseline, v_b, mdp.mu, 0.1, 2, bonus_scale=0.05), K,
                        np.random.default_rng(6))
    cum = np.cumsum(curve.played, axis=0)
    assert np.all(cum >= 0.9 * v_b * np.arange(1, K + 1)[:, None] - 1e-6)


def test_bad_inputs_raise(setup):
    mdp, baseline, v_b = setup
    with pytest.raises(ValueError, match="alpha"):
        StepMix(4, 4, 3, 10, baseline, v_b, mdp.mu, 1.5)
    with pytest.raises(ValueError, match="order"):
        StepMix(4, 4, 3, 10, baseline, v_b, mdp.mu, 0.1, order="sideways")
    with pytest.raises(ValueError, match="baseline"):
        StepMix(4, 4, 3, 10, baseline[:2], v_b, mdp.mu, 0.1)
