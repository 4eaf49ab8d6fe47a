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
        # the smoke budget exercises the digits U-Net path (FD, KID, NFE sweep) with tiny sizes
        assert set(r["digits"]["fd"]) == {"64", "1e+07", "inf"} and set(r["digits"]["fd_nfe"]["64"]) == {"3", "5"}
        assert r["digits_robust_ratio"] > 0 and r["digits"]["fd_floor"] > 0
        assert set(r["digits"]["kid"]) == {"64", "1e+07", "inf"} and set(r["digits"]["fd_quant"]["inf"]) == {"8"}
    verdicts = paper.check(results, "smoke")
    assert [v.claim for v in verdicts] == [c.name for c in paper.PAPER.claims]
    assert all(v.status in ("PASS", "INCONCLUSIVE") for v in verdicts)
    assert all(p.is_file() for p in paper.figures(results, tmp_path))


def test_digits_claims_are_inconclusive_without_digits_data():
    results = [{"seed": 0, "mmd": {"8": {"0": 1.0}, "1e+07": {"0": 1.0}, "inf": {"0": 1.0}}, "mmd_floor": 0.1,
                "degradation": {}, "rel_gap_large_d": 0.0, "best_finite_rel": 1.0}]
    verdicts = {v.claim: v for v in paper.check(results, "quick")}
    for name in ("digits-large-d-matches-diffusion", "digits-small-d-more-robust", "digits-finite-d-not-worse"):
        assert verdicts[name].status == "INCONCLUSIVE" and "full budget" in verdicts[name].detail
    assert paper.PAPER.budgets["quick"].config.digits_train_steps == 0
    assert paper.PAPER.budgets["full"].config.digits_train_steps > 0
