from pathlib import Path

from bs4 import BeautifulSoup


def test_report_html_references_existing_images(cli, tmp_path):
    store = tmp_path / "runs" / "s.sqlite"
    assert cli("reproduce", "selftest", "--budget", "smoke", "--store", str(store)).returncode == 0
    assert cli("reproduce", "selftest", "--budget", "quick", "--store", str(store), "--set", "fail_seeds=0"
               ).returncode == 3
    proc = cli("report", "--store", str(store))
    assert proc.returncode == 0, proc.stderr
    out = store.parent / "report"
    index = BeautifulSoup((out / "index.html").read_text(), "html.parser")
    pages = [a["href"] for a in index.find_all("a")]
    assert "selftest.html" in pages
    page = BeautifulSoup((out / "selftest.html").read_text(), "html.parser")
    images = [img["src"] for img in page.find_all("img")]
    assert len(images) == 2  # one figure per budget
    for src in images:
        assert (out / src).is_file(), src
    text = page.get_text()
    for needle in ("PASS", "mean value >= 0.5", "quick budget", "smoke budget", "only 3 of 4 seeds finished"):
        assert needle in text, needle
    markdown = (out / "REPORT.md").read_text()
    assert "| value-positive | **PASS** |" in markdown
    for line in markdown.splitlines():
        if line.startswith("!["):
            assert (out / line.split("(")[1].rstrip(")")).is_file()


def test_report_without_store_is_a_usage_error(cli, tmp_path):
    proc = cli("report", "--store", str(tmp_path / "missing.sqlite"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert not Path(tmp_path / "missing.sqlite").exists()
