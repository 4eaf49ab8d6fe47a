"""PFGM++ paper module: tiny run, metrics, verdicts, figures."""

from __future__ import annotations

import dataclasses

from latentlab.papers import pfgm_pp as paper
from latentlab.repro.context import RunContext


def test_tiny_run_checks_and_draws(tmp_path):
    config = dataclasses.replace(paper.PAPER.budgets["smoke"].config, ambient_dim=16, sub_dim=4, n_train=200,
                                 n_eval=100, train_steps=30, n_steps=4)
    results = [dict(paper.run(config, seed, RunContext("pfgm-pp", "smoke", seed)), seed=seed) for seed in (0, 1)]
    for r in results:
        assert set(r["mmd"]) == {"8", "64", "1e+07", "inf"}
        assert r["rel_gap_large_d"] >= 0 and r["robust_ratio"] > 0
    verdicts = paper.check(results, "smoke")
    assert [v.claim for v in verdicts] == [c.name for c in paper.PAPER.claims]
    assert all(v.status in ("PASS", "INCONCLUSIVE") for v in verdicts)
    assert all(p.is_file() for p in paper.figures(results, tmp_path))
