"""Paper 10 module: registry identity, a tiny run and the claim checks."""

from __future__ import annotations

import dataclasses

from latentlab.papers import stepmix_conservative_exploration as paper
from latentlab.repro.context import RunContext
from latentlab.repro.registry import entries


def test_identity_matches_registry():
    entry = next(e for e in entries() if e.slug == paper.PAPER.slug)
    assert (entry.number, entry.arxiv, entry.title) == (paper.PAPER.number, paper.PAPER.arxiv, paper.PAPER.title)


def test_tiny_run_and_check():
    config = dataclasses.replace(paper.Config(), S=4, A=3, H=4, n_episodes=80, early_episodes=40, n_rho=4)
    results = [dict(paper.run(config, seed, RunContext(paper.PAPER.slug, "smoke", seed)), seed=seed) for seed in (0, 1)]
    for r in results:
        assert r["stepmix_no_violation"] in (0.0, 1.0)
        assert len(r["ucbvi"]["regret_curve"]) == len(r["curve_k"])
    verdicts = paper.check(results, "smoke")
    assert [v.claim for v in verdicts] == [c.name for c in paper.PAPER.claims]
    assert all(v.status in ("PASS", "INCONCLUSIVE") for v in verdicts)
