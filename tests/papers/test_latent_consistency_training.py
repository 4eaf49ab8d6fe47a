"""sLCT paper module: tiny run, metrics, verdicts, figures."""

from __future__ import annotations

import dataclasses

from latentlab.papers import latent_consistency_training as paper
from latentlab.repro.context import RunContext


def test_tiny_run_checks_and_draws(tmp_path):
    config = dataclasses.replace(paper.PAPER.budgets["smoke"].config, n_train=300, n_eval=100, train_steps=20)
    results = [dict(paper.run(config, seed, RunContext("latent-consistency-training", "smoke", seed)), seed=seed)
               for seed in (0, 1)]
    for r in results:
        assert set(r["mmd"]) == {"ict", "cauchy", "slct"}
        assert r["ratio_slct_ict"] > 0 and r["data_kurtosis"] > 3  # heavy tails are present
    verdicts = paper.check(results, "smoke")
    assert [v.claim for v in verdicts] == [c.name for c in paper.PAPER.claims]
    assert all(v.status in ("PASS", "INCONCLUSIVE") for v in verdicts)
    assert all(p.is_file() for p in paper.figures(results, tmp_path))
