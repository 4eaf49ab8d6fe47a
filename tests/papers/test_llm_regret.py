"""llm-regret paper module: smoke run, claim wiring, figure."""

from __future__ import annotations

import dataclasses

from latentlab.papers import llm_regret as paper
from latentlab.repro.context import RunContext


def test_smoke_run_and_check(tmp_path):
    config = dataclasses.replace(paper.PAPER.budgets["smoke"].config, steps=40, eval_horizon=40,
                                 eval_sequences=32)
    results = [dict(paper.run(config, seed, RunContext("llm-regret", "smoke", seed)), seed=seed) for seed in (0, 1)]
    for r in results:
        assert r["ftl_slope_alternating"] > 0.8  # FTL is (close to) linear on alternating losses already at T = 40
        assert r["hedge_bound_margin"] >= 0
    verdicts = paper.check(results, "smoke")
    assert [v.claim for v in verdicts] == [c.name for c in paper.PAPER.claims]
    paths = paper.figures(results, tmp_path)
    assert paths and all(p.exists() for p in paths)


def test_same_seed_same_numbers():
    config = dataclasses.replace(paper.PAPER.budgets["smoke"].config, steps=10, eval_horizon=20, eval_sequences=8)
    a = paper.run(config, 3, RunContext("llm-regret", "smoke", 3))
    b = paper.run(config, 3, RunContext("llm-regret", "smoke", 3))
    assert a["trained_slope_alternating"] == b["trained_slope_alternating"]
    assert a["ftrl_alignment"] == b["ftrl_alignment"]
