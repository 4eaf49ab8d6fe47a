"""The report: ``index.html`` (every paper, its claims and verdicts), one page per paper
with its figures, and ``REPORT.md`` with the same tables, all built from the run store.

Per claim: verdict, measured value with its 95% bootstrap CI, the criterion, seeds,
budget, runtime and commit.  Figures are drawn by the paper module's ``figures()`` from
the very runs the verdicts were computed on.
"""

from __future__ import annotations

import html
import json
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentlab.repro import registry
from latentlab.repro.provenance import version
from latentlab.repro.store import RunRecord, RunStore

__all__ = ["build_report", "PaperSection"]

_COLOURS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "INCONCLUSIVE": "#9a6700"}
_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1f2328}
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #d0d7de;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f6f8fa}.PASS{color:#1a7f37;font-weight:bold}
.FAIL{color:#cf222e;font-weight:bold}.INCONCLUSIVE{color:#9a6700;font-weight:bold}img{max-width:520px;
margin:4px;border:1px solid #d0d7de}code,pre{background:#f6f8fa}pre{padding:8px;overflow-x:auto;font-size:12px}
.note{color:#59636e;font-size:13px}
"""


@dataclass
class BudgetSection:
    budget: str
    verdicts: list[dict[str, Any]]
    runs: list[RunRecord]
    figures: list[Path] = field(default_factory=list)
    figure_error: str | None = None

    @property
    def commit(self) -> str:
        return self.verdicts[0]["git_commit"] if self.verdicts else ""

    @property
    def runtime_s(self) -> float:
        return float(sum(r.duration_s or 0.0 for r in self.runs if r.status == "finished"))


@dataclass
class PaperSection:
    slug: str
    number: int
    title: str
    arxiv: str
    family: str
    summary: str
    budgets: list[BudgetSection]

    @property
    def page(self) -> str:
        return f"{self.slug}.html"


def build_report(store: RunStore, out_dir: str | Path) -> Path:
    """Write the report for every paper with stored verdicts; returns the index path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sections = [s for s in (_section(store, slug, out) for slug in store.papers()) if s is not None]
    sections.sort(key=lambda s: s.number)
    for section in sections:
        (out / section.page).write_text(_paper_html(section), encoding="utf-8")
    index = out / "index.html"
    index.write_text(_index_html(sections), encoding="utf-8")
    (out / "REPORT.md").write_text(_markdown(sections), encoding="utf-8")
    return index


def _section(store: RunStore, slug: str, out: Path) -> PaperSection | None:
    latest = store.latest_verdicts(slug)
    if not latest:
        return None
    try:
        item = registry.entry(slug)
    except registry.UnknownPaper:
        return None
    loaded = None
    if item.status == "implemented" or slug == registry.SELFTEST:
        loaded = registry.load(slug)
    budgets = []
    for budget in ("full", "quick", "smoke"):
        if budget not in latest:
            continue
        verdicts = latest[budget]
        seeds = json.loads(verdicts[0]["seeds_json"])
        config_hash = verdicts[0]["config_hash"]
        runs = [r for r in store.runs(slug, budget) if r.config_hash == config_hash and r.seed in seeds]
        section = BudgetSection(budget, verdicts, runs)
        if loaded is not None:
            _draw_figures(section, store.results(slug, budget, config_hash, seeds), loaded, out / slug / budget)
        budgets.append(section)
    summary = loaded.paper.summary if loaded is not None else ""
    return PaperSection(slug, item.number, item.title, item.arxiv, item.family, summary, budgets)


def _draw_figures(section: BudgetSection, records: list[RunRecord], loaded: registry.LoadedPaper, where: Path) -> None:
    results = [{**(r.metrics or {}), "seed": r.seed} for r in records]
    if not results:
        return
    where.mkdir(parents=True, exist_ok=True)
    try:
        section.figures = [Path(p) for p in loaded.figures(results, where)]
    except Exception:  # noqa: BLE001 - a broken figure must not hide the verdicts
        section.figure_error = traceback.format_exc()


# ---------------------------------------------------------------------------------------
def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _ci(row: dict[str, Any]) -> str:
    if row["value"] is None:
        return "—"
    return f"{_fmt(row['value'])} [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"


def _counts(section: PaperSection) -> str:
    if not section.budgets:
        return ""
    rows = section.budgets[0].verdicts
    parts = [f"{sum(r['status'] == s for r in rows)} {s}" for s in ("PASS", "FAIL", "INCONCLUSIVE")]
    return ", ".join(p for p in parts if not p.startswith("0 "))


def _header(title: str) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p class='note'>latentlab {version()} · generated {stamp} · torch and BLAS run one thread per "
            "process by default; parallelism comes from worker processes.</p>")


def _index_html(sections: list[PaperSection]) -> str:
    rows = []
    for s in sections:
        budget = s.budgets[0] if s.budgets else None
        claims = "<br>".join(
            f"<span class='{html.escape(v['status'])}'>{html.escape(v['status'])}</span> {html.escape(v['claim'])}"
            for v in (budget.verdicts if budget else []))
        rows.append(f"<tr><td>{s.number}</td><td><a href='{html.escape(s.page)}'>{html.escape(s.slug)}</a></td>"
                    f"<td>{html.escape(s.title)}</td><td>{budget.budget if budget else ''}</td>"
                    f"<td>{claims}</td><td>{html.escape(_counts(s))}</td></tr>")
    empty = "<p>No verdicts stored yet: run <code>latentlab reproduce</code>.</p>"
    body = ("<table><tr><th>#</th><th>paper</th><th>title</th><th>budget</th><th>claims</th><th>summary</th></tr>"
            + "".join(rows) + "</table>") if rows else empty
    return _header("latentlab reproductions") + body + "</body></html>"


def _verdict_table_html(section: BudgetSection) -> str:
    head = ("<tr><th>claim</th><th>verdict</th><th>value [95% CI]</th><th>criterion</th><th>seeds</th>"
            "<th>budget</th><th>runtime</th><th>commit</th><th>detail</th></tr>")
    rows = "".join(
        f"<tr><td>{html.escape(v['claim'])}</td><td class='{v['status']}'>{v['status']}</td><td>{_ci(v)}</td>"
        f"<td>{html.escape(v['criterion'])}</td><td>{v['n_seeds']}</td><td>{section.budget}</td>"
        f"<td>{section.runtime_s:.1f} s</td><td><code>{html.escape(v['git_commit'][:12])}</code></td>"
        f"<td>{html.escape(v['detail'])}</td></tr>" for v in section.verdicts)
    return f"<table>{head}{rows}</table>"


def _runs_table_html(section: BudgetSection) -> str:
    rows = []
    for r in section.runs:
        error = (r.error or "").strip().splitlines()[-1:] if r.error else []
        rows.append(f"<tr><td>{r.seed}</td><td>{r.status}</td><td>{_fmt(r.duration_s)}</td><td>{r.executor}</td>"
                    f"<td>{html.escape(error[0] if error else '')}</td></tr>")
    return ("<details><summary>runs</summary><table><tr><th>seed</th><th>status</th><th>seconds</th>"
            "<th>executor</th><th>error</th></tr>" + "".join(rows) + "</table></details>")


def _paper_html(s: PaperSection) -> str:
    parts = [_header(f"#{s.number} {s.title}"),
             f"<p><a href='index.html'>all papers</a> · <code>{html.escape(s.slug)}</code> · family "
             f"{html.escape(s.family)}"]
    if s.arxiv:
        parts.append(f" · <a href='https://arxiv.org/abs/{html.escape(s.arxiv)}'>arXiv {html.escape(s.arxiv)}</a>")
    parts.append("</p>")
    if s.summary:
        parts.append(f"<p>{html.escape(s.summary)}</p>")
    for b in s.budgets:
        parts.append(f"<h2>{b.budget} budget</h2>")
        parts.append(_verdict_table_html(b))
        parts.append(_runs_table_html(b))
        for fig in b.figures:
            rel = f"{s.slug}/{b.budget}/{fig.name}"
            parts.append(f"<img src='{html.escape(rel)}' alt='{html.escape(fig.stem)}'>")
        if b.figure_error:
            parts.append(f"<p>Figures failed:</p><pre>{html.escape(b.figure_error)}</pre>")
    parts.append("</body></html>")
    return "".join(parts)


def _markdown(sections: list[PaperSection]) -> str:
    lines = ["# latentlab reproductions", "",
             f"latentlab {version()}; generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", ""]
    if not sections:
        lines.append("No verdicts stored yet.")
    for s in sections:
        lines += [f"## #{s.number} {s.title}", "", f"`{s.slug}` · family {s.family}"
                  + (f" · arXiv {s.arxiv}" if s.arxiv else ""), ""]
        for b in s.budgets:
            lines += [f"### {b.budget} budget", "",
                      "| claim | verdict | value [95% CI] | criterion | seeds | runtime | commit |",
                      "|---|---|---|---|---|---|---|"]
            lines += [f"| {v['claim']} | **{v['status']}** | {_ci(v)} | {v['criterion']} | {v['n_seeds']} | "
                      f"{b.runtime_s:.1f} s | `{v['git_commit'][:12]}` |" for v in b.verdicts]
            lines.append("")
            lines += [f"![{fig.stem}]({s.slug}/{b.budget}/{fig.name})" for fig in b.figures]
            lines.append("")
    return "\n".join(lines) + "\n"
