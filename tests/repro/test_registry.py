import re

import pytest

from latentlab.repro import registry
from latentlab.repro.status_table import render_status_table, update_readme
from tests.conftest import REPO

FAMILIES = {"tabular", "offline", "deeprl", "preference", "agents", "multiagent", "generative", "inference"}


def test_all_sixty_papers_are_registered():
    entries = registry.entries()
    assert [e.number for e in entries] == list(range(1, 61))
    assert len({e.slug for e in entries}) == 60
    assert {e.family for e in entries} == FAMILIES
    for e in entries:
        assert re.fullmatch(r"\d{4}\.\d{4,5}", e.arxiv), e
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", e.slug), e
        assert e.status in registry.STATUSES


def test_registry_matches_the_shared_paper_list_when_present():
    shared = REPO.parent / "shared" / "papers.tsv"
    if not shared.exists():
        pytest.skip("shared/papers.tsv is not beside this checkout")
    rows = [line.split("\t") for line in shared.read_text().strip().splitlines()[1:]]
    expected = [(int(n), slug, family, title) for n, slug, family, title in rows]
    assert [(e.number, e.slug, e.family, e.title) for e in registry.entries()] == expected


def test_every_implemented_module_matches_its_entry():
    implemented = [e for e in registry.entries() if e.status == "implemented"]
    assert implemented, "at least one paper is implemented"
    for e in implemented:
        loaded = registry.load(e.slug)
        paper = loaded.paper
        assert (paper.slug, paper.number, paper.family, paper.arxiv, paper.title) == (
            e.slug, e.number, e.family, e.arxiv, e.title)
        assert paper.claims and set(paper.budgets) == {"smoke", "quick", "full"}


def test_unknown_and_planned_slugs_are_refused():
    with pytest.raises(registry.UnknownPaper, match="unknown paper"):
        registry.entry("no-such-paper")
    planned = next(e for e in registry.entries() if e.status == "planned")
    with pytest.raises(registry.UnknownPaper, match="not implemented"):
        registry.load(planned.slug)


def test_readme_status_table_is_current():
    readme = (REPO / "README.md").read_text()
    assert update_readme(readme) == readme, "README status table is stale: run `make readme`"
    assert render_status_table().count("\n| ") == 60
