"""Action grouping: lifted models, exact losses and the selection rule."""

from __future__ import annotations

import numpy as np
import pytest

from latentlab.tabular.grouping import (
    clustered_action_mdp,
    discounted_policy_value,
    discounted_vi,
    group_model,
    grouped_policy,
    grouping_errors,
    grouping_loss,
    nested_groupings,
    pilot_features,
    sample_lifted_model,
    select_grouping,
)


def _v_star(mdp):
    Q = discounted_vi(mdp.P, mdp.R, mdp.gamma, 600)
    best = Q.argmax(1)
    rows = np.arange(mdp.S)
    return discounted_policy_value(mdp.P[rows, best], mdp.R[rows, best], mdp.gamma)


def test_singleton_grouping_is_certainty_equivalence_vi():
    mdp = clustered_action_mdp(5, 12, 3, 0.3, 0.1, 0.8, np.random.default_rng(0))
    model = group_model(mdp.P, mdp.R, np.arange(mdp.A))
    assert np.allclose(model.P2, mdp.P) and np.allclose(model.r2, mdp.R)
    P_hat, r_hat, n = sample_lifted_model(model, 100_000, np.random.default_rng(1), obs_noise=0.0)
    pi = grouped_policy(discounted_vi(P_hat, r_hat, mdp.gamma, 300), np.arange(mdp.A))
    assert np.allclose(pi, np.eye(mdp.A)[discounted_vi(P_hat, r_hat, mdp.gamma, 300).argmax(1)])
    assert n.sum() == 100_000


def test_exact_loss_is_zero_for_the_optimal_policy_and_matches_vi():
    mdp = clustered_action_mdp(6, 10, 2, 0.2, 0.1, 0.9, np.random.default_rng(2))
    v_star = _v_star(mdp)
    Q = discounted_vi(mdp.P, mdp.R, mdp.gamma, 600)
    assert np.allclose(v_star, Q.max(1), atol=1e-6)
    assert grouping_loss(mdp, np.eye(mdp.A)[Q.argmax(1)], v_star) == pytest.approx(0.0, abs=1e-9)
    assert grouping_loss(mdp, np.full((6, 10), 0.1), v_star) > 0


def test_true_clusters_without_noise_have_zero_approximation_and_sqrt_b_estimation():
    mdp = clustered_action_mdp(8, 40, 4, 0.0, 0.0, 0.8, np.random.default_rng(3))
    v_star = _v_star(mdp)
    labels = mdp.cluster
    rng = np.random.default_rng(4)
    budgets = np.array([2_000, 20_000, 200_000])
    model = group_model(mdp.P, mdp.R, labels)
    # with exact lifted model the loss is 0: grouping the true clusters loses nothing
    exact = grouped_policy(discounted_vi(model.P2, model.r2, mdp.gamma, 400), labels)
    assert grouping_loss(mdp, exact, v_star) == pytest.approx(0.0, abs=1e-9)
    # the model error of the estimate scales as B^-1/2
    err = [np.mean([np.abs(sample_lifted_model(model, int(b), rng, 0.5)[0] - model.P2).sum(-1).mean()
                    for _ in range(5)]) for b in budgets]
    slope = np.polyfit(np.log(budgets), np.log(err), 1)[0]
    assert -0.65 < slope < -0.35


def test_ward_groupings_are_nested_and_recover_clusters():
    mdp = clustered_action_mdp(6, 60, 4, 0.02, 0.02, 0.9, np.random.default_rng(5))
    features = pilot_features(mdp, 200, np.random.default_rng(6))
    groupings = nested_groupings(features, (1, 4, 12, 60))
    for coarse, fine in ((1, 4), (4, 12), (12, 60)):
        # nested: every fine group lies inside one coarse group
        pairs = set(zip(groupings[fine], groupings[coarse]))
        assert len({f for f, _ in pairs}) == len(pairs)
    assert len(set(zip(groupings[4], mdp.cluster))) == 4
    errors = grouping_errors(features, groupings, mdp.S, 200)
    assert errors[60][1] == pytest.approx(0.0, abs=1e-9)
    assert errors[1][1] > errors[4][1]
    chosen, scores = select_grouping(errors, mdp.S, 10**7, mdp.gamma)
    assert chosen in (4, 12, 60) and set(scores) == {1, 4, 12, 60}


def test_validation():
    with pytest.raises(ValueError, match="sigma"):
        clustered_action_mdp(3, 4, 2, 1.5, 0.1, 0.9, np.random.default_rng(0))
    mdp = clustered_action_mdp(3, 4, 2, 0.1, 0.1, 0.9, np.random.default_rng(0))
    with pytest.raises(ValueError, match="budget"):
        sample_lifted_model(group_model(mdp.P, mdp.R, mdp.cluster), 0, np.random.default_rng(0))


def test_estimation_error_scales_as_sqrt_groups_over_budget():
    mdp = clustered_action_mdp(6, 64, 64, 0.5, 0.1, 0.9, np.random.default_rng(7))
    rng = np.random.default_rng(8)

    def model_error(groups: int, budget: int) -> float:
        model = group_model(mdp.P, mdp.R, np.arange(mdp.A) % groups)
        return float(np.mean([np.abs(sample_lifted_model(model, budget, rng)[0] - model.P2).sum(-1).mean()
                              for _ in range(6)]))

    # quadrupling G at fixed B doubles the error; quadrupling B with G halves it
    ratio_g = model_error(16, 20_000) / model_error(4, 20_000)
    ratio_b = model_error(4, 80_000) / model_error(4, 20_000)
    assert 1.7 < ratio_g < 2.3
    assert 0.43 < ratio_b < 0.58
