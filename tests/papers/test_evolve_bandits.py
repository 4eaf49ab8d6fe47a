"""evolve-bandits paper module: smoke run, claim wiring, environments, figure."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from latentlab.papers import evolve_bandits as paper
from latentlab.repro.context import RunContext


def test_smoke_run_and_check(tmp_path):
    config = paper.PAPER.budgets["smoke"].config
    results = [dict(paper.run(config, seed, RunContext("evolve-bandits", "smoke", seed)), seed=seed) for seed in (0, 1)]
    for r in results:
        assert set(r["win_rates"]) == {"UCB", "TS", "Greedy", "eps-greedy", "Random"}
        assert r["win_rates"]["Random"] <= r["win_rates"]["TS"]
        assert r["contextual"]["LinUCB"] < r["contextual"]["UCB"]
    verdicts = paper.check(results, "smoke")
    assert [v.claim for v in verdicts] == [c.name for c in paper.PAPER.claims]
    assert all(p.exists() for p in paper.figures(results, tmp_path))


def test_environments_follow_banditbench():
    inst = paper.make_environment("bernoulli-5-hard", 10, np.random.default_rng(0))
    assert np.allclose(np.ptp(inst.means, axis=1), 0.2)
    gauss = paper.make_environment("gaussian-20-hard", 10, np.random.default_rng(0))
    assert gauss.n_arms == 20 and gauss.noise_std == 3.0
    with pytest.raises(ValueError):
        paper.make_environment("poisson-5-hard", 10, np.random.default_rng(0))


def test_same_seed_same_numbers():
    config = dataclasses.replace(paper.PAPER.budgets["smoke"].config, n_trials=5, horizons=(30, 30), cb_trials=3,
                                 cb_horizon=10)
    a = paper.run(config, 2, RunContext("evolve-bandits", "smoke", 2))
    b = paper.run(config, 2, RunContext("evolve-bandits", "smoke", 2))
    assert a["ts_over_ucb_hard"] == b["ts_over_ucb_hard"] and a["fit_accuracy"] == b["fit_accuracy"]
