"""FK steering paper module: tiny run, metrics, verdicts, figures."""

from __future__ import annotations

import dataclasses

from latentlab.papers import fk_steering as paper
from latentlab.repro.context import RunContext


def test_tiny_run_checks_and_draws(tmp_path):
    config = dataclasses.replace(paper.PAPER.budgets["smoke"].config, n_pooled=128, n_steps=12, n_reference=500,
                                 n_projections=32)
    results = [dict(paper.run(config, seed, RunContext("fk-steering", "smoke", seed)), seed=seed) for seed in (0, 1)]
    for r in results:
        assert 0 < r["rare_radius"] and 0 <= r["rare_hit_fk"] <= 1
        assert r["sw_base_target"] > 0 and set(r["potentials"]) == {"diff", "max", "sum"}
        # the smoke budget exercises the digits U-Net path: FK vs best-of-4 on log p(rare digit)
        digits = r["digits"]
        assert 0 <= digits["rare_class"] <= 9 and set(digits["fk"]) == set(digits["bon"]) == {"4"}
        assert digits["fk"]["4"]["reward"] <= 0 and r["digits_fd_ratio_fk_bon"] > 0
    verdicts = paper.check(results, "smoke")
    assert [v.claim for v in verdicts] == [c.name for c in paper.PAPER.claims]
    assert all(v.status in ("PASS", "INCONCLUSIVE") for v in verdicts)  # smoke never FAILs
    assert all(p.is_file() for p in paper.figures(results, tmp_path))


def test_rare_region_holds_one_percent_of_base_mass():
    config = paper.PAPER.budgets["quick"].config
    base = paper._base_model(config)
    centre, radius = paper._rare_region(base, config)
    import torch

    draws = base.sample(200_000, torch.Generator().manual_seed(7))
    mass = ((draws - centre).norm(dim=1) <= radius).double().mean().item()
    assert abs(mass - paper.RARE_MASS) < 0.002


def test_digits_claims_are_inconclusive_without_digits_data():
    config = dataclasses.replace(paper.PAPER.budgets["smoke"].config, n_pooled=64, n_steps=6, n_reference=200,
                                 n_projections=16, digits_train_steps=0)
    results = [dict(paper.run(config, 0, RunContext("fk-steering", "quick", 0)), seed=0)]
    assert "digits" not in results[0]
    verdicts = {v.claim: v for v in paper.check(results, "quick")}
    for name in ("digits-reward-vs-best-of-n", "digits-fd-vs-best-of-n"):
        assert verdicts[name].status == "INCONCLUSIVE" and "full budget" in verdicts[name].detail
    assert paper.PAPER.budgets["quick"].config.digits_train_steps == 0
