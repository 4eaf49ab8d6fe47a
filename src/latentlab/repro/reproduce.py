"""From "reproduce these papers at this budget" to jobs, runs, verdicts and an exit code.

The CLI is a thin shell over these functions; they are usable from Python too::

    targets = plan(["trial-and-error-makespan"], budget="quick")
    with RunStore("runs/latentlab.sqlite") as store:
        jobs = pending_jobs(targets, store)
        summary = run_jobs(jobs, LocalExecutor(2), store, version=version(), git_commit=git_commit())
        verdicts = {t.key: evaluate(t, store) for t in targets}
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentlab.repro.paper import BUDGETS, Verdict, config_hash
from latentlab.repro.provenance import git_commit, version
from latentlab.repro.registry import LoadedPaper, load
from latentlab.repro.runner import Job, RunSummary
from latentlab.repro.store import RunStore

__all__ = ["Target", "plan", "apply_overrides", "pending_jobs", "evaluate", "exit_code", "results_of"]

EXIT_OK, EXIT_CLAIM, EXIT_USAGE, EXIT_RUN_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@dataclass(frozen=True)
class Target:
    """One paper at one budget with its (possibly overridden) config and its seeds."""

    loaded: LoadedPaper
    budget: str
    config: Any
    config_hash: str
    seeds: tuple[int, ...]

    @property
    def slug(self) -> str:
        return self.loaded.paper.slug

    @property
    def key(self) -> tuple[str, str]:
        return (self.slug, self.budget)


def plan(
    slugs: Sequence[str],
    budget: str = "quick",
    seeds: int | None = None,
    first_seed: int = 0,
    overrides: Sequence[str] = (),
) -> list[Target]:
    """Targets for ``slugs``; raises ValueError naming the bad argument."""
    if budget not in BUDGETS:
        raise ValueError(f"--budget must be one of {', '.join(BUDGETS)}, got {budget!r}")
    if seeds is not None and seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {seeds}")
    if first_seed < 0:
        raise ValueError(f"--first-seed must be >= 0, got {first_seed}")
    targets = []
    for slug in slugs:
        loaded = load(slug)
        spec = loaded.paper.budgets[budget]
        config = apply_overrides(spec.config, overrides)
        n = seeds if seeds is not None else spec.seeds
        targets.append(Target(loaded, budget, config, config_hash(config), tuple(range(first_seed, first_seed + n))))
    return targets


def apply_overrides(config: Any, overrides: Sequence[str]) -> Any:
    """``config`` with ``field=value`` overrides applied (values parsed by the field's type)."""
    if not overrides:
        return config
    hints = typing.get_type_hints(type(config))
    changes: dict[str, Any] = {}
    for item in overrides:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise ValueError(f"--set expects FIELD=VALUE, got {item!r}")
        if name not in hints:
            raise ValueError(f"--set: {type(config).__name__} has no field {name!r}; fields: {', '.join(hints)}")
        changes[name] = _parse_value(name, hints[name], text.strip())
    return dataclasses.replace(config, **changes)


def _parse_value(name: str, kind: Any, text: str) -> Any:
    origin = typing.get_origin(kind)
    if origin is tuple:
        args = [a for a in typing.get_args(kind) if a is not Ellipsis]
        element = args[0] if args else str
        parts = [p for p in text.replace(" ", "").split(",") if p]
        return tuple(_parse_value(name, element, p) for p in parts)
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return lowered in ("true", "1", "yes")
        if kind in (int, float, str):
            return kind(text)
    except ValueError:
        raise ValueError(f"--set {name}: expected {getattr(kind, '__name__', kind)}, got {text!r}") from None
    raise ValueError(f"--set {name}: fields of type {kind} cannot be set from the command line")


def pending_jobs(
    targets: Sequence[Target],
    store: RunStore,
    *,
    force: bool = False,
    device: str = "cpu",
    workdir_root: Path | None = None,
) -> tuple[list[Job], int]:
    """Jobs still to run (all of them with ``force``) and how many were already finished."""
    jobs, skipped = [], 0
    for target in targets:
        done = set() if force else store.finished_seeds(target.slug, target.budget, target.config_hash)
        for seed in target.seeds:
            if seed in done:
                skipped += 1
                continue
            workdir = None
            if workdir_root is not None:
                workdir = str(workdir_root / target.slug / target.budget / target.config_hash / f"seed-{seed}")
            jobs.append(Job(target.slug, target.loaded.module, target.budget, seed, target.config,
                            target.config_hash, device, workdir))
    return jobs, skipped


def results_of(target: Target, store: RunStore) -> list[dict]:
    """Per-seed metrics of the target's finished runs, each with its ``seed`` added."""
    records = store.results(target.slug, target.budget, target.config_hash, target.seeds)
    return [{**(r.metrics or {}), "seed": r.seed} for r in records]


def evaluate(target: Target, store: RunStore) -> list[Verdict]:
    """Check every claim of the target on its stored runs and store the verdicts."""
    results = results_of(target, store)
    paper = target.loaded.paper
    if not results:
        verdicts = [c.inconclusive(target.budget, "no finished runs") for c in paper.claims]
    else:
        verdicts = list(target.loaded.check(results, target.budget))
        missing = {c.name for c in paper.claims} - {v.claim for v in verdicts}
        if missing:
            raise RuntimeError(f"{target.loaded.module}.check returned no verdict for claims {sorted(missing)}")
        if len(results) < len(target.seeds):
            note = f"only {len(results)} of {len(target.seeds)} seeds finished"
            verdicts = [dataclasses.replace(v, detail=f"{v.detail}; {note}" if v.detail else note) for v in verdicts]
    store.save_verdicts(target.slug, target.budget, target.config_hash, verdicts,
                        [r["seed"] for r in results], version(), git_commit())
    return verdicts


def exit_code(summary: RunSummary, verdicts: Sequence[Verdict], budget: str) -> int:
    """0 all runs finished and all claims PASS (INCONCLUSIVE allowed at smoke); 1 a claim
    FAILed or was INCONCLUSIVE at quick/full; 3 a run failed; 130 interrupted."""
    if summary.interrupted:
        return EXIT_INTERRUPTED
    if summary.failed:
        return EXIT_RUN_FAILED
    allowed = {"PASS", "INCONCLUSIVE"} if budget == "smoke" else {"PASS"}
    if any(v.status not in allowed for v in verdicts):
        return EXIT_CLAIM
    return EXIT_OK
