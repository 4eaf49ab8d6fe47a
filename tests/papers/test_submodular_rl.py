"""Paper module submodular_rl: registry identity, a tiny run and the claim checks."""

from __future__ import annotations

from latentlab.papers import submodular_rl as paper
from latentlab.repro.context import RunContext
from latentlab.repro.registry import entries


def test_identity_matches_registry():
    entry = next(e for e in entries() if e.slug == paper.PAPER.slug)
    assert (entry.number, entry.arxiv, entry.title) == (paper.PAPER.number, paper.PAPER.arxiv, paper.PAPER.title)


def test_smoke_config_runs_and_checks():
    config = paper.PAPER.budgets["smoke"].config
    results = [dict(paper.run(config, 0, RunContext(paper.PAPER.slug, "smoke", 0)), seed=0)]
    verdicts = paper.check(results, "smoke")
    assert [v.claim for v in verdicts] == [c.name for c in paper.PAPER.claims]
    assert all(v.status in ("PASS", "INCONCLUSIVE") for v in verdicts)
    assert all(c.metric in results[0] for c in paper.PAPER.claims)
