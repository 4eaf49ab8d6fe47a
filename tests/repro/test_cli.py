import json

import pytest

from latentlab.repro import registry


def test_papers_json_lists_all_sixty(cli):
    proc = cli("papers", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert len(rows) == 60
    assert {"number", "slug", "family", "title", "arxiv", "status"} <= set(rows[0])


def test_papers_filters(cli):
    rows = json.loads(cli("papers", "--json", "--family", "inference").stdout)
    assert rows and all(r["family"] == "inference" for r in rows)
    rows = json.loads(cli("papers", "--json", "--status", "implemented").stdout)
    assert rows and all(r["status"] == "implemented" for r in rows)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["reproduce", "no-such-paper"], "unknown paper 'no-such-paper'"),
        (["reproduce", "selftest", "--budget", "huge"], "--budget must be one of smoke, quick, full"),
        (["reproduce", "selftest", "--seeds", "0"], "--seeds must be >= 1"),
        (["reproduce", "selftest", "--workers", "0"], "--workers must be >= 1"),
        (["reproduce", "selftest", "--first-seed", "-1"], "--first-seed must be >= 0"),
        (["reproduce", "selftest", "--executor", "slurm"], "--executor must be local or ray"),
        (["reproduce", "selftest", "--device", "tpu"], "--device must be cpu or cuda"),
        (["reproduce", "selftest", "--executor", "ray", "--ray-address", "127.0.0.1:1"], "unreachable"),
        (["reproduce", "selftest", "--set", "nope=1"], "has no field 'nope'"),
        (["reproduce", "selftest", "--set", "mean=abc"], "--set mean: expected float"),
        (["reproduce"], "exactly one of them"),
        (["papers", "--family", "cooking"], "--family must be one of"),
        (["show", "nope"], "unknown paper"),
    ],
)
def test_usage_errors_are_one_line_exit_2_and_write_nothing(cli, tmp_path, args, fragment):
    store = tmp_path / "runs" / "s.sqlite"
    extra = ["--store", str(store)] if args[0] == "reproduce" else []
    proc = cli(*args, *extra)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert not store.parent.exists()


def test_planned_paper_is_refused(cli, tmp_path):
    planned = next(e for e in registry.entries() if e.status == "planned")
    proc = cli("reproduce", planned.slug, "--store", str(tmp_path / "s.sqlite"))
    assert proc.returncode == 2 and "not implemented yet" in proc.stderr


def test_show_prints_claims_thresholds_budgets(cli):
    proc = cli("show", "trial-and-error-makespan")
    assert proc.returncode == 0, proc.stderr
    assert "Claims" in proc.stdout and "pass if" in proc.stdout and "quick:" in proc.stdout


def test_help_documents_exit_codes(cli):
    proc = cli("reproduce", "--help")
    assert proc.returncode == 0
    for code in ("0 ", "1 ", "2 ", "3 ", "130"):
        assert code in proc.stdout
