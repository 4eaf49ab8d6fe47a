"""The registry of all 60 papers, and loading of the paper modules that implement them.

The list (number, slug, family, arXiv id, title) ships as ``papers.tsv`` next to this
file.  A paper is ``implemented`` when ``latentlab.papers.<slug_with_underscores>``
exists, ``planned`` otherwise.  Hidden experiments (:data:`HIDDEN`: ``selftest``, a trivial
experiment used by the framework's own tests and benchmarks, and ``deeprl-baselines``, our
PPO/SAC against published CleanRL / RL-Zoo numbers) load like any paper but are not among
the 60 (``latentlab papers --all`` lists them).
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from latentlab.repro.paper import Paper, Verdict

__all__ = [
    "PaperEntry",
    "LoadedPaper",
    "UnknownPaper",
    "entries",
    "entry",
    "families",
    "load",
    "module_name",
    "SELFTEST",
    "HIDDEN",
    "hidden_entries",
]

SELFTEST = "selftest"
# Hidden, non-paper experiments: slug -> (module, family, title); number 0, no arXiv id.
HIDDEN: dict[str, tuple[str, str, str]] = {
    SELFTEST: ("latentlab.repro.selftest", "repro", "Framework self-test (a trivial experiment)"),
    "deeprl-baselines": ("latentlab.deeprl.baselines", "deeprl",
                         "Deep-RL core vs published CleanRL / RL-Zoo baselines"),
}
STATUSES = ("planned", "implemented")


class UnknownPaper(KeyError):
    """A slug that is not in the registry."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class PaperEntry:
    number: int
    slug: str
    family: str
    arxiv: str
    title: str

    @property
    def module(self) -> str:
        return module_name(self.slug)

    @property
    def status(self) -> str:
        return "implemented" if _module_exists(self.module) else "planned"

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "slug": self.slug,
            "family": self.family,
            "title": self.title,
            "arxiv": self.arxiv,
            "status": self.status,
        }


def module_name(slug: str) -> str:
    if slug in HIDDEN:
        return HIDDEN[slug][0]
    return "latentlab.papers." + slug.replace("-", "_")


@cache
def _module_exists(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


@lru_cache(maxsize=1)
def entries() -> tuple[PaperEntry, ...]:
    """All registered papers, in the numbering of ``papers.tsv``."""
    path = Path(__file__).with_name("papers.tsv")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return tuple(
        PaperEntry(int(row["number"]), row["slug"], row["family"], row["arxiv"], row["title"]) for row in rows
    )


def families() -> tuple[str, ...]:
    return tuple(sorted({e.family for e in entries()}))


def hidden_entries() -> tuple[PaperEntry, ...]:
    """The hidden experiments (:data:`HIDDEN`) as registry entries (number 0)."""
    return tuple(PaperEntry(0, slug, family, "", title) for slug, (_, family, title) in HIDDEN.items())


def entry(slug: str) -> PaperEntry:
    """The registry entry of ``slug`` (hidden experiments included); :class:`UnknownPaper` otherwise."""
    for item in hidden_entries():
        if item.slug == slug:
            return item
    for item in entries():
        if item.slug == slug:
            return item
    raise UnknownPaper(f"unknown paper {slug!r}; see `latentlab papers` for the 60 slugs")


@dataclass(frozen=True)
class LoadedPaper:
    """A paper module's contract: its :class:`Paper` record and its three functions."""

    paper: Paper
    module: str
    run: Callable[..., dict]
    check: Callable[[list[dict], str], list[Verdict]]
    figures: Callable[..., list[Path]]


def load(slug: str) -> LoadedPaper:
    """Import the module implementing ``slug`` and check it against its registry entry."""
    item = entry(slug)
    if item.status != "implemented" and slug not in HIDDEN:
        raise UnknownPaper(f"paper {slug!r} is registered but not implemented yet (status: planned)")
    module = importlib.import_module(item.module)
    paper = _validate(module, item)
    return LoadedPaper(paper, item.module, module.run, module.check, getattr(module, "figures", _no_figures))


def _validate(module: ModuleType, item: PaperEntry) -> Paper:
    paper = getattr(module, "PAPER", None)
    if not isinstance(paper, Paper):
        raise TypeError(f"{module.__name__} must define PAPER = Paper(...)")
    for name in ("run", "check"):
        if not callable(getattr(module, name, None)):
            raise TypeError(f"{module.__name__} must define {name}()")
    expected = (item.slug, item.number, item.family)
    found = (paper.slug, paper.number, paper.family)
    if found != expected:
        raise ValueError(f"{module.__name__}: PAPER (slug, number, family) = {found}, registry says {expected}")
    return paper


def _no_figures(results: list[dict], out_dir: Path) -> list[Path]:
    return []
