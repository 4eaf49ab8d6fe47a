"""The paper contract: :class:`Paper`, :class:`Claim`, :class:`Budget`, :class:`Verdict`.

A paper module ``latentlab.papers.<slug_with_underscores>`` defines::

    PAPER = Paper(slug=..., number=..., arxiv=..., title=..., family=...,
                  claims=(Claim(...), ...),
                  budgets={"smoke": Budget(Config(...), seeds=2), "quick": ..., "full": ...})

    def run(config, seed: int, ctx: RunContext) -> dict: ...        # one seed -> JSON metrics
    def check(results: list[dict], budget: str) -> list[Verdict]: ... # claims -> verdicts
    def figures(results: list[dict], out_dir: Path) -> list[Path]: ...

Every claim carries its threshold: it is written in the module before anything runs,
and :meth:`Claim.judge` turns per-seed measurements into a verdict with a bootstrap CI.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from latentlab.repro.stats import Interval, bootstrap_ci

__all__ = [
    "BUDGETS",
    "Budget",
    "Claim",
    "Paper",
    "Verdict",
    "VerdictStatus",
    "config_to_dict",
    "config_hash",
]

BUDGETS: tuple[str, ...] = ("smoke", "quick", "full")
VerdictStatus = Literal["PASS", "FAIL", "INCONCLUSIVE"]


@dataclass(frozen=True)
class Budget:
    """One size of a reproduction: the experiment's config and the default number of seeds.

    ``smoke`` runs in seconds (verdicts may be INCONCLUSIVE); ``quick`` runs in at most
    five minutes on two cores and must give a real verdict; ``full`` is paper-sized.
    """

    config: Any
    seeds: int = 3
    note: str = ""

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.config) or isinstance(self.config, type):
            raise TypeError(f"Budget.config must be a dataclass instance, got {type(self.config).__name__}")
        if self.seeds < 1:
            raise ValueError(f"Budget.seeds must be >= 1, got {self.seeds}")


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one claim on the runs of one budget."""

    claim: str
    status: VerdictStatus
    value: float | None
    ci_low: float | None
    ci_high: float | None
    criterion: str
    n_seeds: int
    budget: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.status:<12} {self.claim}: {self.detail}"
        return (
            f"{self.status:<12} {self.claim}: {self.value:.4g} "
            f"[{self.ci_low:.4g}, {self.ci_high:.4g}] vs {self.criterion} (n={self.n_seeds})"
        )


@dataclass(frozen=True)
class Claim:
    r"""A claim of the paper and its pass criterion, fixed before running.

    Each seed yields one number for ``metric``; the claim holds when the mean over seeds
    is ``direction`` ``threshold``.  :meth:`judge` decides with a 95% bootstrap CI:

    * PASS when the whole interval is on the claimed side of the threshold,
    * FAIL when the whole interval is on the other side,
    * INCONCLUSIVE when the interval straddles the threshold (more seeds needed).

    At ``smoke`` budget a FAIL is recorded as INCONCLUSIVE (with the measured interval and
    a note): smoke runs prove that the pipeline works, they are too small to be evidence
    against a claim.  ``quick`` and ``full`` verdicts are never softened.

    A proportion claim ("the rule declines in at least 90% of seeds") is the same thing
    with a 0/1 metric per seed.
    """

    name: str
    statement: str
    metric: str
    threshold: float
    direction: Literal[">=", "<="] = ">="
    statistic: Literal["mean", "median"] = "mean"

    def __post_init__(self) -> None:
        if self.direction not in (">=", "<="):
            raise ValueError(f"Claim.direction must be '>=' or '<=', got {self.direction!r}")
        if not math.isfinite(self.threshold):
            raise ValueError(f"Claim.threshold must be finite, got {self.threshold}")

    @property
    def criterion(self) -> str:
        return f"{self.statistic} {self.metric} {self.direction} {self.threshold:g}"

    def judge(self, per_seed: Sequence[float] | np.ndarray, budget: str, detail: str = "",
              missing: str = "no finished runs") -> Verdict:
        """Verdict from one measured number per seed (bootstrap CI over seeds); with no numbers at all,
        INCONCLUSIVE with the reason ``missing`` (e.g. "measured at the full budget only")."""
        values = np.asarray(per_seed, dtype=float).ravel()
        if values.size == 0:
            return self.inconclusive(budget, missing)
        if not np.all(np.isfinite(values)):
            return Verdict(self.name, "FAIL", None, None, None, self.criterion, int(values.size), budget,
                           f"non-finite measurement(s): {values.tolist()}")
        interval = bootstrap_ci(values, statistic=self.statistic)
        status = self.decide(interval)
        if status == "FAIL" and budget == "smoke":
            status = "INCONCLUSIVE"
            detail = "; ".join(filter(None, ["smoke budget: misses the criterion, but smoke is not evidence", detail]))
        return Verdict(
            claim=self.name,
            status=status,
            value=interval.estimate,
            ci_low=interval.low,
            ci_high=interval.high,
            criterion=self.criterion,
            n_seeds=interval.n,
            budget=budget,
            detail=detail,
        )

    def decide(self, interval: Interval) -> VerdictStatus:
        """PASS / FAIL / INCONCLUSIVE from where the interval lies relative to the threshold."""
        if self.direction == ">=":
            holds, fails = interval.low >= self.threshold, interval.high < self.threshold
        else:
            holds, fails = interval.high <= self.threshold, interval.low > self.threshold
        if holds:
            return "PASS"
        if fails:
            return "FAIL"
        return "INCONCLUSIVE"

    def inconclusive(self, budget: str, why: str, n_seeds: int = 0) -> Verdict:
        """A verdict that cannot be decided at this budget (say why)."""
        return Verdict(self.name, "INCONCLUSIVE", None, None, None, self.criterion, n_seeds, budget, why)


@dataclass(frozen=True)
class Paper:
    """Identity, claims and budgets of one reproduced paper."""

    slug: str
    number: int
    arxiv: str
    title: str
    family: str
    claims: tuple[Claim, ...]
    budgets: Mapping[str, Budget] = field(default_factory=dict)
    summary: str = ""

    def __post_init__(self) -> None:
        missing = [b for b in BUDGETS if b not in self.budgets]
        if missing:
            raise ValueError(f"Paper {self.slug!r} must define budgets {BUDGETS}; missing {missing}")
        unknown = [b for b in self.budgets if b not in BUDGETS]
        if unknown:
            raise ValueError(f"Paper {self.slug!r} has unknown budgets {unknown}; allowed: {BUDGETS}")
        names = [c.name for c in self.claims]
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"Paper {self.slug!r} needs at least one claim and unique claim names, got {names}")
        object.__setattr__(self, "claims", tuple(self.claims))

    def judge(self, results: Sequence[Mapping[str, Any]], budget: str, detail: str = "") -> list[Verdict]:
        """The default ``check``: each claim judged on ``result[claim.metric]`` over the seeds."""
        return [claim.judge([r[claim.metric] for r in results if claim.metric in r], budget, detail)
                for claim in self.claims]

    def claim(self, name: str) -> Claim:
        for claim in self.claims:
            if claim.name == name:
                return claim
        raise KeyError(f"paper {self.slug!r} has no claim {name!r}; claims: {[c.name for c in self.claims]}")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as plain JSON-compatible data (tuples become lists)."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config must be a dataclass instance, got {type(config).__name__}")
    return json.loads(json.dumps(dataclasses.asdict(config), sort_keys=True, default=_json_default))


def config_hash(config: Any) -> str:
    """A short, stable hash of the config's JSON form (the config's identity in the run store)."""
    text = json.dumps(config_to_dict(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"config field of type {type(value).__name__} is not JSON-serialisable")
