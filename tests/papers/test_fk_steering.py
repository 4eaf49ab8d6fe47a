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
