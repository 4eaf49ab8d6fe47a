"""Paper 24 (PaRIS particle Gibbs): determinism at smoke, JSON metrics, claims that can pass and fail, figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from latentlab.papers import paris_particle_gibbs as paper
from latentlab.repro.context import RunContext

SLUG = "paris-particle-gibbs"


def _run(seed: int) -> dict:
    return paper.run(paper.PAPER.budgets["smoke"].config, seed, RunContext(SLUG, "smoke", seed))


@pytest.fixture(scope="module")
def smoke_result() -> dict:
    return _run(0)


def test_same_seed_gives_identical_metrics(smoke_result):
    assert json.dumps(_run(0), sort_keys=True) == json.dumps(smoke_result, sort_keys=True)


def test_metrics_are_json_and_carry_every_claim(smoke_result):
    assert json.loads(json.dumps(smoke_result)) == smoke_result
    for claim in paper.PAPER.claims:
        assert isinstance(smoke_result[claim.metric], float)
    # the exact value is the Kalman/RTS functional; both estimators land near it
    exact = smoke_result["smoothing"]["exact"][0]
    assert abs(smoke_result["smoothing"]["ppg"]["mean"][0] - exact) < 0.2 * abs(exact)


def _fabricated(good: bool, n: int = 5) -> list[dict]:
    values = {True: {"bias_ratio": 0.2, "mse_ratio": 0.5, "ppg_learning_gap": 0.01, "paris_over_ppg_gap": 5.0},
              False: {"bias_ratio": 1.5, "mse_ratio": 2.0, "ppg_learning_gap": 0.5, "paris_over_ppg_gap": 1.0}}[good]
    return [{**values, "seed": s} for s in range(n)]


@pytest.mark.parametrize(("good", "status"), [(True, "PASS"), (False, "FAIL")])
def test_check_can_pass_and_fail(good, status):
    verdicts = paper.check(_fabricated(good), "quick")
    assert [v.claim for v in verdicts] == [c.name for c in paper.PAPER.claims]
    assert {v.status for v in verdicts} == {status}


def test_figures_are_written(smoke_result, tmp_path: Path):
    paths = paper.figures([{**smoke_result, "seed": 0}], tmp_path)
    assert paths and all(p.exists() and p.stat().st_size > 0 for p in paths)
