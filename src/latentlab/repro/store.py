"""SQLite run store: every run, its config, metrics, status, timings and provenance.

One row per attempt of a (paper, budget, seed, config hash) job.  A row is inserted as
``running`` when the job is dispatched and turned into ``finished`` (with its metrics) or
``failed`` (with its traceback) in a single transaction when the result arrives, so a
process killed mid-run leaves a ``running`` row that never reads as finished; a resumed
reproduction simply runs that seed again.  Rows are never deleted: ``--force`` adds new
rows and the newest finished row of a seed is the one that counts.

The database runs in WAL mode; only the driver process writes.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentlab.repro.paper import Verdict

__all__ = ["RunStore", "RunRecord", "SCHEMA_VERSION", "DEFAULT_STORE", "StoreError"]

SCHEMA_VERSION = 1
DEFAULT_STORE = Path("runs") / "latentlab.sqlite"
RUN_STATUSES = ("running", "finished", "failed", "interrupted")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    paper        TEXT    NOT NULL,
    budget       TEXT    NOT NULL,
    seed         INTEGER NOT NULL,
    config_hash  TEXT    NOT NULL,
    config_json  TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    git_commit   TEXT    NOT NULL,
    executor     TEXT    NOT NULL,
    device       TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN {RUN_STATUSES!r}),
    metrics_json TEXT,
    error        TEXT,
    started_at   REAL    NOT NULL,
    ended_at     REAL,
    duration_s   REAL
);
CREATE INDEX IF NOT EXISTS runs_job ON runs (paper, budget, config_hash, seed, status);
CREATE TABLE IF NOT EXISTS verdicts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    paper        TEXT    NOT NULL,
    budget       TEXT    NOT NULL,
    config_hash  TEXT    NOT NULL,
    claim        TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    value        REAL,
    ci_low       REAL,
    ci_high      REAL,
    criterion    TEXT    NOT NULL,
    n_seeds      INTEGER NOT NULL,
    detail       TEXT    NOT NULL,
    seeds_json   TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    git_commit   TEXT    NOT NULL,
    created_at   REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS verdicts_paper ON verdicts (paper, budget, created_at);
"""


class StoreError(RuntimeError):
    """The store file is unusable (wrong schema version, not a database ...)."""


@dataclass(frozen=True)
class RunRecord:
    id: int
    paper: str
    budget: str
    seed: int
    config_hash: str
    config: dict[str, Any]
    version: str
    git_commit: str
    executor: str
    device: str
    status: str
    metrics: dict[str, Any] | None
    error: str | None
    started_at: float
    ended_at: float | None
    duration_s: float | None


class RunStore:
    """The run database.  Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path = DEFAULT_STORE) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript("BEGIN IMMEDIATE;\n" + _SCHEMA + "\nCOMMIT;")
            with self._transaction():
                self._check_schema_version()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"--store {self.path}: not a usable latentlab run store ({exc})") from exc

    # -- plumbing ---------------------------------------------------------------------
    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self_inner):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self_inner, exc_type, exc, tb):
                db.execute("ROLLBACK" if exc_type else "COMMIT")
                return False

        return _Tx()

    def _check_schema_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise StoreError(
                f"--store {self.path}: schema version {row[0]}, this latentlab reads version {SCHEMA_VERSION}"
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])

    # -- runs -------------------------------------------------------------------------
    def start_run(
        self,
        *,
        paper: str,
        budget: str,
        seed: int,
        config_hash: str,
        config: dict[str, Any],
        version: str,
        git_commit: str,
        executor: str,
        device: str,
    ) -> int:
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO runs (paper, budget, seed, config_hash, config_json, version, git_commit,"
                " executor, device, status, started_at) VALUES (?,?,?,?,?,?,?,?,?, 'running', ?)",
                (paper, budget, seed, config_hash, json.dumps(config, sort_keys=True), version, git_commit,
                 executor, device, time.time()),
            )
            return int(cursor.lastrowid)

    def finish_run(self, run_id: int, metrics: dict[str, Any], duration_s: float) -> None:
        text = json.dumps(metrics, sort_keys=True, allow_nan=False)
        self._end_run(run_id, "finished", text, None, duration_s)

    def fail_run(self, run_id: int, error: str, duration_s: float | None = None, status: str = "failed") -> None:
        if status not in ("failed", "interrupted"):
            raise ValueError(f"status must be 'failed' or 'interrupted', got {status!r}")
        self._end_run(run_id, status, None, error, duration_s)

    def _end_run(self, run_id: int, status: str, metrics_json: str | None, error: str | None,
                 duration_s: float | None) -> None:
        with self._transaction():
            updated = self._db.execute(
                "UPDATE runs SET status=?, metrics_json=?, error=?, ended_at=?, duration_s=?"
                " WHERE id=? AND status='running'",
                (status, metrics_json, error, time.time(), duration_s, run_id),
            ).rowcount
            if updated != 1:
                raise StoreError(f"run {run_id} is not a running run in {self.path}")

    def finished_seeds(self, paper: str, budget: str, config_hash: str) -> set[int]:
        rows = self._db.execute(
            "SELECT DISTINCT seed FROM runs WHERE paper=? AND budget=? AND config_hash=? AND status='finished'",
            (paper, budget, config_hash),
        )
        return {int(r[0]) for r in rows}

    def runs(self, paper: str | None = None, budget: str | None = None, status: str | None = None) -> list[RunRecord]:
        """Every stored attempt (oldest first), optionally filtered."""
        clauses, params = [], []
        for column, value in (("paper", paper), ("budget", budget), ("status", status)):
            if value is not None:
                clauses.append(f"{column}=?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.execute(f"SELECT * FROM runs{where} ORDER BY id", params).fetchall()
        return [_record(row) for row in rows]

    def results(self, paper: str, budget: str, config_hash: str, seeds: Iterable[int] | None = None) -> list[RunRecord]:
        """The newest finished run of each seed for one (paper, budget, config)."""
        rows = self._db.execute(
            "SELECT * FROM runs WHERE id IN (SELECT MAX(id) FROM runs WHERE paper=? AND budget=? AND config_hash=?"
            " AND status='finished' GROUP BY seed) ORDER BY seed",
            (paper, budget, config_hash),
        ).fetchall()
        records = [_record(row) for row in rows]
        if seeds is not None:
            wanted = set(seeds)
            records = [r for r in records if r.seed in wanted]
        return records

    # -- verdicts ---------------------------------------------------------------------
    def save_verdicts(self, paper: str, budget: str, config_hash: str, verdicts: Sequence[Verdict],
                      seeds: Sequence[int], version: str, git_commit: str) -> None:
        now = time.time()
        with self._transaction():
            self._db.executemany(
                "INSERT INTO verdicts (paper, budget, config_hash, claim, status, value, ci_low, ci_high, criterion,"
                " n_seeds, detail, seeds_json, version, git_commit, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (paper, budget, config_hash, v.claim, v.status, v.value, v.ci_low, v.ci_high, v.criterion,
                     v.n_seeds, v.detail, json.dumps(sorted(seeds)), version, git_commit, now)
                    for v in verdicts
                ],
            )

    def latest_verdicts(self, paper: str) -> dict[str, list[dict[str, Any]]]:
        """Per budget, the verdicts of the newest check of ``paper`` (each a dict with provenance)."""
        out: dict[str, list[dict[str, Any]]] = {}
        budgets = [r[0] for r in self._db.execute("SELECT DISTINCT budget FROM verdicts WHERE paper=?", (paper,))]
        for budget in budgets:
            newest = self._db.execute(
                "SELECT MAX(created_at) FROM verdicts WHERE paper=? AND budget=?", (paper, budget)
            ).fetchone()[0]
            cursor = self._db.execute(
                "SELECT * FROM verdicts WHERE paper=? AND budget=? AND created_at=? ORDER BY id",
                (paper, budget, newest),
            )
            names = [d[0] for d in cursor.description]
            out[budget] = [dict(zip(names, row)) for row in cursor.fetchall()]
        return out

    def papers(self) -> list[str]:
        """Papers that have any stored run."""
        return [r[0] for r in self._db.execute("SELECT DISTINCT paper FROM runs ORDER BY paper")]


def _record(row: tuple) -> RunRecord:
    (run_id, paper, budget, seed, config_hash, config_json, version, git_commit, executor, device, status,
     metrics_json, error, started_at, ended_at, duration_s) = row
    return RunRecord(
        id=run_id, paper=paper, budget=budget, seed=seed, config_hash=config_hash,
        config=json.loads(config_json), version=version, git_commit=git_commit, executor=executor,
        device=device, status=status, metrics=json.loads(metrics_json) if metrics_json else None,
        error=error, started_at=started_at, ended_at=ended_at, duration_s=duration_s,
    )
