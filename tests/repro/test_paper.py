from dataclasses import dataclass

import pytest

from latentlab.repro.paper import Budget, Claim, Paper, Verdict, config_hash, config_to_dict


@dataclass(frozen=True)
class Cfg:
    n: int = 3
    xs: tuple[float, ...] = (1.0, 2.0)


def test_claim_pass_fail_inconclusive_for_greater_equal():
    claim = Claim("c", "x is large", "x", 1.0, ">=")
    assert claim.judge([2.0, 2.1, 1.9, 2.05], "quick").status == "PASS"
    assert claim.judge([0.1, 0.2, 0.15, 0.12], "quick").status == "FAIL"
    assert claim.judge([0.0, 2.0, 0.5, 1.6], "quick").status == "INCONCLUSIVE"


def test_claim_less_equal_direction():
    claim = Claim("c", "error is small", "err", 0.01, "<=")
    assert claim.judge([0.001, 0.002, 0.003], "quick").status == "PASS"
    assert claim.judge([0.5, 0.4, 0.6], "quick").status == "FAIL"


def test_claim_verdict_carries_ci_and_criterion():
    verdict = Claim("c", "s", "x", 0.5).judge([1.0, 1.0, 1.0], "smoke")
    assert verdict.value == verdict.ci_low == verdict.ci_high == 1.0
    assert verdict.criterion == "mean x >= 0.5"
    assert Verdict.from_dict(verdict.as_dict()) == verdict


def test_claim_with_non_finite_measurement_fails_and_empty_is_inconclusive():
    claim = Claim("c", "s", "x", 0.5)
    assert claim.judge([1.0, float("nan")], "quick").status == "FAIL"
    assert claim.judge([], "quick").status == "INCONCLUSIVE"
    assert claim.judge([], "quick").detail == "no finished runs"
    empty = claim.judge([], "quick", detail="ignored without numbers", missing="measured at the full budget only")
    assert (empty.status, empty.detail, empty.value) == ("INCONCLUSIVE", "measured at the full budget only", None)
    assert claim.judge([1.0, 1.0], "quick", missing="unused").status == "PASS"


def test_claim_validation():
    with pytest.raises(ValueError, match="direction"):
        Claim("c", "s", "x", 1.0, ">")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threshold"):
        Claim("c", "s", "x", float("inf"))


def test_paper_requires_three_budgets_and_unique_claims():
    budgets = {b: Budget(Cfg()) for b in ("smoke", "quick", "full")}
    claim = Claim("c", "s", "x", 1.0)
    Paper("p", 1, "", "t", "f", (claim,), budgets)
    with pytest.raises(ValueError, match="missing"):
        Paper("p", 1, "", "t", "f", (claim,), {"smoke": Budget(Cfg())})
    with pytest.raises(ValueError, match="unique"):
        Paper("p", 1, "", "t", "f", (claim, claim), budgets)


def test_budget_validation():
    with pytest.raises(ValueError, match="seeds"):
        Budget(Cfg(), seeds=0)
    with pytest.raises(TypeError, match="dataclass"):
        Budget({"n": 1})


def test_config_hash_is_stable_and_sensitive():
    assert config_hash(Cfg()) == config_hash(Cfg())
    assert config_hash(Cfg(n=4)) != config_hash(Cfg())
    assert config_to_dict(Cfg()) == {"n": 3, "xs": [1.0, 2.0]}


def test_smoke_fail_is_inconclusive_but_quick_fail_stays_fail():
    claim = Claim("c", "s", "x", 1.0)
    smoke = claim.judge([0.1, 0.2], "smoke")
    assert smoke.status == "INCONCLUSIVE" and "not evidence" in smoke.detail
    assert claim.judge([0.1, 0.2], "quick").status == "FAIL"
    assert claim.judge([0.1, 0.2], "full").status == "FAIL"


def test_paper_judge_uses_each_claims_metric():
    budgets = {b: Budget(Cfg()) for b in ("smoke", "quick", "full")}
    paper = Paper("p", 1, "", "t", "f", (Claim("a", "s", "x", 1.0), Claim("b", "s", "y", 0.0, "<=")), budgets)
    verdicts = paper.judge([{"x": 2.0, "y": -1.0}, {"x": 3.0, "y": -2.0}], "quick")
    assert [(v.claim, v.status) for v in verdicts] == [("a", "PASS"), ("b", "PASS")]
