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
        # the smoke budget exercises the digits path: autoencoder latents, ladder, pixel space, decoded FD
        digits = r["digits"]
        assert set(digits["latent"]) == {"ict", "cauchy", "slct"} and set(digits["pixel"]) == {"ict", "cauchy"}
        assert digits["latent_kurtosis"] > 0 and r["digits_ratio_slct_ict"] > 0
        assert "digits_cauchy_ratio_latent_minus_pixel" in r
    verdicts = paper.check(results, "smoke")
    assert [v.claim for v in verdicts] == [c.name for c in paper.PAPER.claims]
    assert all(v.status in ("PASS", "INCONCLUSIVE") for v in verdicts)
    assert all(p.is_file() for p in paper.figures(results, tmp_path))


def test_kurtosis_of_gaussian_data_is_three():
    import torch

    x = torch.randn(200_000, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert abs(paper._kurtosis(x) - 3.0) < 0.05


def test_digits_claims_are_inconclusive_without_digits_data():
    results = [{"seed": 0, "mmd": {"ict": {"1": 1.0, "2": 1.0}}, "mmd_floor": 0.1, "ratio_slct_ict": 0.5}]
    verdicts = {v.claim: v for v in paper.check(results, "quick")}
    for name in ("digits-slct-beats-ict", "digits-cauchy-alone-helps", "digits-cauchy-gain-latent-over-pixel",
                 "digits-two-steps-not-worse"):
        assert verdicts[name].status == "INCONCLUSIVE" and "full budget" in verdicts[name].detail
    assert paper.PAPER.budgets["quick"].config.digits_train_steps == 0
