"""Every implemented paper at smoke budget, end to end through the CLI, then the report.

One ``reproduce --all --budget smoke`` call (the worker pool and imports are paid once),
then per paper: every run finished, every claim has a verdict, the figures exist.
Verdicts themselves are not asserted here: at smoke budget a claim may be undecided.
"""

import json

import pytest
from bs4 import BeautifulSoup

from latentlab.repro import registry
from latentlab.repro.store import RunStore
from tests.conftest import run_cli

IMPLEMENTED = [e.slug for e in registry.entries() if e.status == "implemented"]


@pytest.fixture(scope="module")
def smoke_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("smoke") / "runs" / "s.sqlite"
    proc = run_cli("reproduce", "--all", "--budget", "smoke", "--store", str(store), timeout=1200)
    report = run_cli("report", "--store", str(store))
    return store, proc, report


def test_smoke_reproduction_exits_without_usage_or_run_errors(smoke_store):
    _, proc, report = smoke_store
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 2 usage, 3 a run failed
    assert report.returncode == 0, report.stderr


@pytest.mark.parametrize("slug", IMPLEMENTED)
def test_paper_runs_at_smoke_budget_and_reports(smoke_store, slug):
    store, proc, _ = smoke_store
    loaded = registry.load(slug)
    with RunStore(store) as s:
        runs = s.runs(paper=slug, budget="smoke")
        verdicts = s.latest_verdicts(slug).get("smoke", [])
    failed = [(r.seed, (r.error or "").strip().splitlines()[-1:]) for r in runs if r.status != "finished"]
    assert runs and not failed, failed
    assert len({r.seed for r in runs}) == loaded.paper.budgets["smoke"].seeds
    assert {v["claim"] for v in verdicts} == {c.name for c in loaded.paper.claims}
    for v in verdicts:
        assert v["status"] in ("PASS", "FAIL", "INCONCLUSIVE")
        json.loads(v["seeds_json"])
    out = store.parent / "report"
    page = BeautifulSoup((out / f"{slug}.html").read_text(), "html.parser")
    assert "Figures failed" not in page.get_text()
    images = [img["src"] for img in page.find_all("img")]
    assert images, "each paper draws at least one figure"
    for src in images:
        assert (out / src).is_file(), src
