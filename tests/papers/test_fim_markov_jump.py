"""Paper 15 (FIM for MJPs): determinism at smoke, JSON metrics, claims that can pass and fail, figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from latentlab.papers import fim_markov_jump as paper
from latentlab.repro.context import RunContext

SLUG = "fim-markov-jump"


def _run(seed: int) -> dict:
    return paper.run(paper.PAPER.budgets["smoke"].config, seed, RunContext(SLUG, "smoke", seed))


@pytest.fixture(scope="module")
def smoke_result() -> dict:
    return _run(0)


def _comparable(result: dict) -> dict:
    timing = ("train_seconds", "fim_seconds_per_dataset", "mle_seconds_per_dataset", "speedup")
    return {k: v for k, v in result.items() if k not in timing}


def test_same_seed_gives_identical_metrics(smoke_result):
    assert json.dumps(_comparable(_run(0)), sort_keys=True) == json.dumps(_comparable(smoke_result), sort_keys=True)


def test_metrics_are_json_and_carry_the_quick_claims(smoke_result):
    assert json.loads(json.dumps(smoke_result)) == smoke_result
    assert smoke_result["rmse_ratio"] > 0 and smoke_result["speedup"] > 0
    assert "dfr_stationary_l1" not in smoke_result  # only with max_states >= 6


def _fabricated(good: bool, n: int = 4) -> list[dict]:
    values = {True: {"rmse_ratio": 1.0, "speedup": 500.0, "dfr_stationary_l1": 0.01, "dfr_hellinger_excess": 0.0},
              False: {"rmse_ratio": 3.0, "speedup": 5.0, "dfr_stationary_l1": 0.3, "dfr_hellinger_excess": 0.1}}[good]
    extra = {"rmse_fim": 0.1, "rmse_mle": 0.1, "mle_seconds_per_dataset": 0.01, "fim_seconds_per_dataset": 1e-4}
    return [{**values, **extra, "seed": s} for s in range(n)]


@pytest.mark.parametrize(("good", "status"), [(True, "PASS"), (False, "FAIL")])
def test_check_can_pass_and_fail(good, status):
    verdicts = paper.check(_fabricated(good), "full")
    assert {v.status for v in verdicts} == {status}


def test_dfr_claims_are_inconclusive_without_dfr_runs(smoke_result):
    verdicts = {v.claim: v.status for v in paper.check([{**smoke_result, "seed": 0}], "smoke")}
    assert verdicts["dfr-stationary-l1"] == "INCONCLUSIVE"


def test_figures_are_written(smoke_result, tmp_path: Path):
    paths = paper.figures([{**smoke_result, "seed": 0}], tmp_path)
    assert paths and all(p.exists() for p in paths)
