"""Paper 40 (MDPO): the tabular closed form, metrics and determinism at smoke, claims that can fail."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from latentlab.deeprl.mdpo import md_closed_form, mdpo_tabular_step, policy_evaluation, random_tabular_mdp
from latentlab.papers import mdpo as paper
from latentlab.repro.context import RunContext


def test_tabular_mdpo_matches_exact_mirror_descent_and_the_reverse_kl_does_not():
    P, R, mu0 = random_tabular_mdp(10, 4, np.random.default_rng(3))
    pi = np.random.default_rng(4).dirichlet(np.ones(4), size=10)
    adv, V, rho = policy_evaluation(P, R, mu0, pi, 0.9)
    # A^pi has zero mean under pi; rho is a distribution
    np.testing.assert_allclose((pi * adv).sum(1), 0, atol=1e-10)
    assert rho.min() > 0 and rho.sum() == pytest.approx(1.0)
    exact = md_closed_form(pi, adv, 4.0)  # a large step: the policy moves by ~0.4
    assert np.abs(exact - pi).max() > 0.3
    ours = mdpo_tabular_step(pi, adv, rho, 4.0, m=500)
    assert np.abs(ours - exact).max() < 1e-3
    # the old-to-new KL (TRPO/PPO-KL direction) has a different maximiser
    logits = torch.tensor(np.log(pi), requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.05)
    p_old = torch.tensor(pi)
    for _ in range(600):
        p = torch.softmax(logits, -1)
        gain = (torch.tensor(rho)[:, None] * p * torch.tensor(adv)).sum()
        kl_old_new = (torch.tensor(rho) * (p_old * (p_old.log() - p.log())).sum(1)).sum()
        loss = -gain + kl_old_new / 4.0
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert np.abs(torch.softmax(logits, -1).detach().numpy() - exact).max() > 1e-2


def test_policy_evaluation_matches_bellman_equation():
    P, R, mu0 = random_tabular_mdp(5, 3, np.random.default_rng(0))
    pi = np.full((5, 3), 1 / 3)
    adv, V, _ = policy_evaluation(P, R, mu0, pi, 0.8)
    np.testing.assert_allclose(V, (pi * (R + 0.8 * P @ V)).sum(1))
    with pytest.raises(ValueError, match="gamma"):
        policy_evaluation(P, R, mu0, pi, 1.0)


@pytest.fixture(scope="module")
def smoke() -> dict:
    config = paper.PAPER.budgets["smoke"].config
    return paper.run(config, 0, RunContext("mdpo", "smoke", 0))


def test_smoke_metrics_json_and_deterministic(smoke):
    assert json.loads(json.dumps(smoke)) == smoke
    for claim in paper.PAPER.claims:
        if claim.metric not in paper._FULL_ONLY:
            assert isinstance(smoke[claim.metric], float), claim.metric
    assert smoke["tabular_max_error"] < 1e-3
    again = paper.run(paper.PAPER.budgets["smoke"].config, 0, RunContext("mdpo", "smoke", 0))
    assert json.dumps({k: v for k, v in again.items() if k != "runs"}, sort_keys=True) == \
        json.dumps({k: v for k, v in smoke.items() if k != "runs"}, sort_keys=True)


def _fabricated(good: bool) -> list[dict]:
    base = {"tabular_max_error": 1e-6 if good else 0.1, "mdpo_final_return": 500.0 if good else 100.0,
            "ppo_final_return": 490.0, "mdpo_over_ppo": 1.02 if good else 0.2, "m1_auc_lower": 1.0 if good else 0.0,
            "kl_late_over_early": 0.01 if good else 3.0,
            "runs": {"mdpo_m1": {"eval_auc": 1.0}, "mdpo": {"eval_auc": 2.0}}}
    return [dict(base, seed=s) for s in range(3)]


def test_claims_pass_on_good_numbers_and_fail_on_bad_ones():
    good = paper.check(_fabricated(True), "quick")
    bad = paper.check(_fabricated(False), "quick")
    measured = [v for v in good if v.value is not None]
    assert measured and all(v.status == "PASS" for v in measured)
    assert all(v.status == "FAIL" for v in bad if v.value is not None)
    assert {v.claim for v in good if v.value is None} == {"mdpo-off-pendulum"}


def test_baseline_claims_live_only_in_deeprl_baselines():
    from latentlab.deeprl import baselines

    names = {c.name for c in paper.PAPER.claims}
    assert names == {"tabular-closed-form", "mdpo-solves-cartpole", "mdpo-on-par-with-ppo",
                     "multi-step-beats-single-step", "kl-shrinks-as-penalty-grows", "mdpo-off-pendulum"}
    assert {"ppo-matches-zoo-cartpole", "ppo-matches-cleanrl-cartpole"} <= {c.name for c in baselines.PAPER.claims}


def test_figures(tmp_path, smoke):
    paths = paper.figures([dict(smoke, seed=0)], tmp_path)
    assert paths and all(p.is_file() for p in paths)
