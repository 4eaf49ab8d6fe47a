"""Paper 26 (PMOE): router closed form, metrics/determinism at smoke, claims that can fail, figures."""

from __future__ import annotations

import json

import numpy as np
import torch

from latentlab.deeprl.sac import router_regression_loss
from latentlab.papers import pmoe as paper
from latentlab.repro.context import RunContext


def test_router_loss_minimiser_is_the_winning_frequency():
    # E||e_k - w||^2 over k ~ p is minimised at w = p: the gradient vanishes there and not elsewhere
    p = torch.tensor([0.1, 0.6, 0.3])
    winners = torch.multinomial(p, 30_000, replacement=True, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(winners, minlength=3).float() / winners.numel()
    w = freq.clone().requires_grad_(True)
    router_regression_loss(w.expand(winners.numel(), 3), winners).backward()
    assert w.grad.abs().max() < 1e-6
    w2 = torch.tensor([1 / 3, 1 / 3, 1 / 3], requires_grad=True)
    router_regression_loss(w2.expand(winners.numel(), 3), winners).backward()
    assert w2.grad.abs().max() > 1e-2


def test_router_frequency_check_recovers_p():
    config = paper.Config(router_samples=8000, router_epochs=10)
    out = paper.router_frequency_check(config, np.random.default_rng(0), torch.Generator().manual_seed(0))
    assert out["max_error_to_empirical"] < 0.02
    assert out["max_error"] < 0.05


def _no_wall(x):
    if isinstance(x, dict):
        return {k: _no_wall(v) for k, v in x.items() if k != "wall_s"}
    return x


def test_smoke_metrics_json_deterministic_and_figures(tmp_path):
    config = paper.PAPER.budgets["smoke"].config
    a = paper.run(config, 0, RunContext("pmoe", "smoke", 0))
    b = paper.run(config, 0, RunContext("pmoe", "smoke", 0))
    assert json.dumps(_no_wall(a), sort_keys=True) == json.dumps(_no_wall(b), sort_keys=True)
    assert json.loads(json.dumps(a)) == a
    for claim in paper.PAPER.claims[:4]:
        assert isinstance(a[claim.metric], float)
    assert len(a["runs"]["pmoe"]["multigoal"]["start_weights"]) == config.n_components
    paths = paper.figures([dict(a, seed=0)], tmp_path)
    assert paths and all(p.is_file() for p in paths)


def _fabricated(good: bool) -> list[dict]:
    rows = []
    for s in range(3):
        rows.append({"seed": s, "router_max_error": 0.005 if good else 0.2, "pmoe_goals": 4.0 if good else 1.0,
                     "sac_goals": 1.0 if good else 4.0, "return_gap": 0.05 if good else -0.5,
                     "pmoe_return": -5.0, "sac_return": -5.2,
                     "runs": {"sac": {"multigoal": {"goal_shares": [1, 0, 0, 0]}},
                              "pmoe": {"multigoal": {"goal_shares": [0.25] * 4}}}})
    return rows


def test_claims_pass_on_good_numbers_and_fail_on_bad_ones():
    good = paper.check(_fabricated(True), "quick")
    bad = paper.check(_fabricated(False), "quick")
    assert all(v.status == "PASS" for v in good if v.value is not None)
    assert all(v.status == "FAIL" for v in bad if v.value is not None)
    assert [v.claim for v in good if v.value is None] == ["pendulum-auc-vs-sac"]
