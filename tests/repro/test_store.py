import sqlite3
import subprocess
import sys
import textwrap

import pytest

from latentlab.repro.paper import Claim
from latentlab.repro.store import SCHEMA_VERSION, RunStore, StoreError

KEY = dict(paper="selftest", budget="smoke", config_hash="abc", config={"a": 1}, version="0", git_commit="x",
           executor="local", device="cpu")


def test_schema_version_and_wal(tmp_path):
    with RunStore(tmp_path / "s.sqlite") as store:
        assert store.schema_version == SCHEMA_VERSION
    db = sqlite3.connect(tmp_path / "s.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_wrong_schema_version_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    RunStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema version 999"):
        RunStore(path)


def test_not_a_database_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    path.write_text("hello, I am not SQLite" * 100)
    with pytest.raises(StoreError, match="not a usable"):
        RunStore(path)


def test_lifecycle_running_finished_failed(tmp_path):
    with RunStore(tmp_path / "s.sqlite") as store:
        a = store.start_run(seed=0, **KEY)
        b = store.start_run(seed=1, **KEY)
        c = store.start_run(seed=2, **KEY)
        store.finish_run(a, {"x": 1.0}, 0.5)
        store.fail_run(b, "Traceback: boom")
        assert store.finished_seeds("selftest", "smoke", "abc") == {0}
        statuses = {r.seed: r.status for r in store.runs()}
        assert statuses == {0: "finished", 1: "failed", 2: "running"}
        with pytest.raises(StoreError):
            store.finish_run(a, {"x": 2.0}, 0.1)  # a finished row is never rewritten
        with pytest.raises(ValueError, match="allow_nan|Out of range|NaN"):
            store.finish_run(c, {"x": float("nan")}, 0.1)
        assert store.runs(status="running")[0].id == c


def test_results_take_the_newest_finished_row_per_seed(tmp_path):
    with RunStore(tmp_path / "s.sqlite") as store:
        for value in (1.0, 2.0):
            store.finish_run(store.start_run(seed=0, **KEY), {"x": value}, 0.1)
        store.finish_run(store.start_run(seed=1, **KEY), {"x": 5.0}, 0.1)
        records = store.results("selftest", "smoke", "abc")
        assert [(r.seed, r.metrics["x"]) for r in records] == [(0, 2.0), (1, 5.0)]
        assert [r.seed for r in store.results("selftest", "smoke", "abc", seeds=[1])] == [1]


def test_latest_verdicts(tmp_path):
    claim = Claim("c", "s", "x", 0.5)
    with RunStore(tmp_path / "s.sqlite") as store:
        store.save_verdicts("selftest", "quick", "abc", [claim.judge([0.1, 0.2], "quick")], [0, 1], "0", "x")
        store.save_verdicts("selftest", "quick", "abc", [claim.judge([1.0, 1.1], "quick")], [0, 1], "0", "y")
        latest = store.latest_verdicts("selftest")
        assert [row["status"] for row in latest["quick"]] == ["PASS"]
        assert latest["quick"][0]["git_commit"] == "y"


def test_process_killed_mid_run_never_reads_as_finished(tmp_path):
    path = tmp_path / "s.sqlite"
    script = textwrap.dedent(f"""
        import os, signal
        from latentlab.repro.store import RunStore
        store = RunStore({str(path)!r})
        run = store.start_run(paper="selftest", budget="smoke", seed=0, config_hash="abc", config={{}},
                              version="0", git_commit="x", executor="local", device="cpu")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9
    with RunStore(path) as store:
        assert [r.status for r in store.runs()] == ["running"]
        assert store.finished_seeds("selftest", "smoke", "abc") == set()
