"""Every implemented paper at smoke budget, end to end through the CLI, then its figures."""

import pytest
from bs4 import BeautifulSoup

from latentlab.repro import registry

IMPLEMENTED = [e.slug for e in registry.entries() if e.status == "implemented"]


@pytest.mark.parametrize("slug", IMPLEMENTED)
def test_paper_runs_at_smoke_budget_and_reports(cli, tmp_path, slug):
    store = tmp_path / "runs" / "s.sqlite"
    proc = cli("reproduce", slug, "--budget", "smoke", "--store", str(store), timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = cli("report", "--store", str(store))
    assert report.returncode == 0, report.stderr
    page = BeautifulSoup((store.parent / "report" / f"{slug}.html").read_text(), "html.parser")
    assert "Figures failed" not in page.get_text()
    images = [img["src"] for img in page.find_all("img")]
    assert images, "each paper draws at least one figure"
    for src in images:
        assert (store.parent / "report" / src).is_file()
