"""Paper 51 (trial-and-error makespan): determinism at smoke budget, claims that can fail, figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from latentlab.papers import trial_and_error_makespan as paper
from latentlab.repro.context import RunContext

SLUG = "trial-and-error-makespan"


def _run(seed: int) -> dict:
    config = paper.PAPER.budgets["smoke"].config
    return paper.run(config, seed, RunContext(SLUG, "smoke", seed))


@pytest.fixture(scope="module")
def smoke_result() -> dict:
    return _run(0)


def test_same_seed_gives_identical_metrics(smoke_result):
    again = _run(0)
    assert json.dumps(again, sort_keys=True) == json.dumps(smoke_result, sort_keys=True)


def test_metrics_are_json_and_carry_every_claim(smoke_result):
    text = json.dumps(smoke_result)  # no numpy types
    assert json.loads(text) == smoke_result
    for claim in paper.PAPER.claims:
        assert isinstance(smoke_result[claim.metric], (int, float))
    assert smoke_result["grid"]["worst_jump_process_gap"] < 1e-9


def _fabricated(good: bool, n: int = 5) -> list[dict]:
    values = {
        True: {"worst_relative_error": 0.002, "fraction_within_2se": 0.95, "classifier_auc": 0.93,
               "makespan_reduction": 0.2, "useless_declined": 1},
        False: {"worst_relative_error": 0.05, "fraction_within_2se": 0.3, "classifier_auc": 0.6,
                "makespan_reduction": 0.0, "useless_declined": 0},
    }[good]
    return [{**values, "seed": seed} for seed in range(n)]


@pytest.mark.parametrize(("good", "status"), [(True, "PASS"), (False, "FAIL")])
def test_check_can_pass_and_fail(good, status):
    verdicts = paper.check(_fabricated(good), "quick")
    assert [v.claim for v in verdicts] == [c.name for c in paper.PAPER.claims]
    assert {v.status for v in verdicts} == {status}


def test_check_without_runs_is_inconclusive():
    assert {v.status for v in paper.check([], "smoke")} == {"INCONCLUSIVE"}


def test_figures_are_written(smoke_result, tmp_path: Path):
    paths = paper.figures([{**smoke_result, "seed": 0}], tmp_path)
    assert len(paths) == 3
    for path in paths:
        assert path.exists() and path.suffix == ".png" and path.parent == tmp_path and path.stat().st_size > 0
