"""``latentlab``: list papers, show one, reproduce them, build the report, run benchmarks.

Exit codes of ``latentlab reproduce``:
  0    every run finished and every claim PASSed (INCONCLUSIVE allowed at smoke budget)
  1    a claim FAILed, or was INCONCLUSIVE at quick or full budget
  2    usage error (unknown paper, bad budget, seeds < 1, unreachable Ray address ...)
  3    a run failed (raised, produced NaN, or its worker died); the others went on
  130  interrupted (Ctrl-C); every finished run is kept and the next call resumes
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import latentlab  # noqa: F401  (sets one thread per process before anything imports torch)
from latentlab.repro import registry
from latentlab.repro.store import DEFAULT_STORE

EXIT_USAGE = 2


class UsageError(Exception):
    """A bad command line: printed as one line, exit code 2, nothing written."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="latentlab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    papers = commands.add_parser("papers", help="list the 60 papers and their status")
    papers.add_argument("--all", action="store_true",
                        help="also list the hidden, non-paper experiments (selftest, deeprl-baselines)")
    papers.add_argument("--family", help=f"one of: {', '.join(registry.families())}")
    papers.add_argument("--status", help="planned or implemented")
    papers.add_argument("--json", action="store_true", help="print a JSON list")

    show = commands.add_parser("show", help="claims, thresholds, budgets and last verdicts of one paper")
    show.add_argument("slug")
    show.add_argument("--store", type=Path, default=DEFAULT_STORE)

    rep = commands.add_parser("reproduce", help="run papers over seeds and check their claims",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    rep.add_argument("slugs", nargs="*", metavar="SLUG")
    rep.add_argument("--family", help="every implemented paper of this family")
    rep.add_argument("--all", action="store_true", help="every implemented paper")
    rep.add_argument("--budget", default="quick", help="smoke, quick (default) or full")
    rep.add_argument("--seeds", type=int, help="number of seeds (default: the budget's)")
    rep.add_argument("--first-seed", type=int, default=0)
    rep.add_argument("--workers", type=int, default=max(1, min(os.cpu_count() or 1, 2)),
                     help="worker processes (default: 2, or 1 on a one-core machine)")
    rep.add_argument("--executor", default="local", help="local (default) or ray")
    rep.add_argument("--ray-address", help="HOST:PORT of a running Ray cluster (default: start a local one)")
    rep.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    rep.add_argument("--store", type=Path, default=DEFAULT_STORE)
    rep.add_argument("--force", action="store_true", help="rerun seeds that already finished")
    rep.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                     help="override a config field (repeatable); changes the config hash")

    report = commands.add_parser("report", help="write the HTML and Markdown report from the run store")
    report.add_argument("--store", type=Path, default=DEFAULT_STORE)
    report.add_argument("--out", type=Path, help="output folder (default: report/ next to the store)")

    bench = commands.add_parser("bench", help="run the speed benchmarks in ./benchmarks")
    bench.add_argument("names", nargs="*", help="benchmark names (default: all)")
    bench.add_argument("--quick", action="store_true", help="smaller sizes")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download at run time
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler = {"papers": cmd_papers, "show": cmd_show, "reproduce": cmd_reproduce,
                   "report": cmd_report, "bench": cmd_bench}[args.command]
        return handler(args)
    except UsageError as exc:
        command = f" {args.command}" if "args" in locals() else ""
        print(f"latentlab{command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


# ---------------------------------------------------------------------------------------
def cmd_papers(args: argparse.Namespace) -> int:
    if args.family and args.family not in registry.families():
        raise UsageError(f"--family must be one of {', '.join(registry.families())}, got {args.family!r}")
    if args.status and args.status not in registry.STATUSES:
        raise UsageError(f"--status must be one of {', '.join(registry.STATUSES)}, got {args.status!r}")
    listed = registry.entries() + (registry.hidden_entries() if args.all else ())
    rows = [e.as_dict() for e in listed]
    rows = [r for r in rows if (not args.family or r["family"] == args.family)
            and (not args.status or r["status"] == args.status)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("#", "slug", "family", "status", "arXiv", "title", box=None)
    for r in rows:
        style = "green" if r["status"] == "implemented" else "dim"
        number = str(r["number"]) if r["number"] else "-"  # hidden experiments have number 0
        table.add_row(number, r["slug"], r["family"], f"[{style}]{r['status']}[/]", r["arxiv"], r["title"])
    Console().print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    try:
        item = registry.entry(args.slug)
    except registry.UnknownPaper as exc:
        raise UsageError(f"SLUG: {exc}") from None
    from rich.console import Console

    console = Console()
    console.print(f"[bold]#{item.number} {item.title}[/]  ({item.slug}, family {item.family}, arXiv {item.arxiv})")
    console.print(f"status: {item.status}")
    if item.status != "implemented" and item.slug != registry.SELFTEST:
        return 0
    loaded = registry.load(item.slug)
    paper = loaded.paper
    if paper.summary:
        console.print(paper.summary)
    console.print("\n[bold]Claims[/] (thresholds fixed in the module before running)")
    for claim in paper.claims:
        console.print(f"  {claim.name}: {claim.statement}\n      pass if {claim.criterion}")
    console.print("\n[bold]Budgets[/]")
    from latentlab.repro.paper import config_hash, config_to_dict

    for name, budget in paper.budgets.items():
        console.print(f"  {name}: {budget.seeds} seeds, config {config_hash(budget.config)} "
                      f"{json.dumps(config_to_dict(budget.config))}", soft_wrap=True)
    if args.store.exists():
        from latentlab.repro.store import RunStore

        with RunStore(args.store) as store:
            latest = store.latest_verdicts(item.slug)
        if latest:
            console.print("\n[bold]Last stored verdicts[/]")
            for budget, rows in latest.items():
                for row in rows:
                    value = "" if row["value"] is None else (
                        f"{row['value']:.4g} [{row['ci_low']:.4g}, {row['ci_high']:.4g}]")
                    console.print(f"  {budget:<6} {row['status']:<12} {row['claim']}: {value} "
                                  f"vs {row['criterion']} (n={row['n_seeds']}, {row['git_commit'][:12]})")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from latentlab.repro import reproduce as rp

    slugs = _select_slugs(args)
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.executor not in ("local", "ray"):
        raise UsageError(f"--executor must be local or ray, got {args.executor!r}")
    if args.ray_address and args.executor != "ray":
        raise UsageError("--ray-address needs --executor ray")
    if args.device not in ("cpu", "cuda"):
        raise UsageError(f"--device must be cpu or cuda, got {args.device!r}")
    try:
        targets = rp.plan(slugs, args.budget, args.seeds, args.first_seed, args.overrides)
    except (ValueError, registry.UnknownPaper) as exc:
        raise UsageError(str(exc)) from None
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is visible to torch on this machine")
    executor = _make_executor(args)

    from latentlab.repro.provenance import git_commit, version
    from latentlab.repro.runner import run_jobs
    from latentlab.repro.store import RunStore, StoreError

    try:
        store = RunStore(args.store)
    except StoreError as exc:
        executor.close()
        raise UsageError(str(exc)) from None
    with store:
        jobs, skipped = rp.pending_jobs(targets, store, force=args.force, device=args.device,
                                        workdir_root=args.store.parent / "artifacts")
        print(f"latentlab: {len(jobs)} runs to do, {skipped} already finished "
              f"(budget {args.budget}, executor {args.executor}, workers {args.workers}, store {args.store})",
              file=sys.stderr)
        with _Progress(len(jobs)) as progress:
            summary = run_jobs(jobs, executor, store, version=version(), git_commit=git_commit(),
                               on_event=progress.event)
        verdicts = []
        if not summary.interrupted:
            for target in targets:
                found = rp.evaluate(target, store)
                verdicts.extend(found)
                _print_verdicts(target, found)
    for label, error in summary.failures:
        last = error.strip().splitlines()[-1] if error.strip() else "unknown error"
        print(f"FAILED RUN {label}: {last}", file=sys.stderr)
    if summary.interrupted:
        print("latentlab: interrupted; finished runs are stored and the next call resumes", file=sys.stderr)
    code = rp.exit_code(summary, verdicts, args.budget)
    print(f"latentlab: {summary.finished} finished, {summary.failed} failed, {skipped} skipped; exit {code}",
          file=sys.stderr)
    return code


def _select_slugs(args: argparse.Namespace) -> list[str]:
    chosen = [bool(args.slugs), bool(args.family), bool(args.all)]
    if sum(chosen) != 1:
        raise UsageError("give paper SLUGs, or --family F, or --all (exactly one of them)")
    implemented = [e for e in registry.entries() if e.status == "implemented"]
    if args.all:
        return [e.slug for e in implemented]
    if args.family:
        if args.family not in registry.families():
            raise UsageError(f"--family must be one of {', '.join(registry.families())}, got {args.family!r}")
        return [e.slug for e in implemented if e.family == args.family]
    for slug in args.slugs:
        try:
            item = registry.entry(slug)
        except registry.UnknownPaper as exc:
            raise UsageError(f"SLUG: {exc}") from None
        if item.status != "implemented" and slug != registry.SELFTEST:
            raise UsageError(f"SLUG: paper {slug!r} is planned, not implemented yet; "
                             "`latentlab papers --status implemented` lists the ones that are")
    return list(dict.fromkeys(args.slugs))


def _make_executor(args: argparse.Namespace):
    from latentlab.repro.runner import LocalExecutor, RayExecutor, check_ray_address

    if args.executor == "local":
        return LocalExecutor(args.workers)
    if args.ray_address:
        try:
            check_ray_address(args.ray_address)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    try:
        return RayExecutor(args.workers, args.ray_address)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except ConnectionError as exc:
        raise UsageError(f"--ray-address {args.ray_address}: cannot connect ({exc})") from None


def _print_verdicts(target, verdicts) -> None:
    from rich.table import Table

    colour = {"PASS": "green", "FAIL": "red", "INCONCLUSIVE": "yellow"}
    table = Table("claim", "verdict", "value [95% CI]", "criterion", "seeds",
                  title=f"{target.slug} — {target.budget} (config {target.config_hash})", title_justify="left")
    for v in verdicts:
        value = "—" if v.value is None else f"{v.value:.4g} [{v.ci_low:.4g}, {v.ci_high:.4g}]"
        table.add_row(v.claim, f"[{colour[v.status]}]{v.status}[/]", value, v.criterion, str(v.n_seeds))
    _console().print(table)


def _console():
    """A rich console; wide enough for verdict tables when output goes to a file or pipe."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=160)


class _Progress:
    """Rich progress bar on a terminal; one line per finished run otherwise."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.start = time.monotonic()
        self._bar = None
        if total and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total} done, {task.fields[failed]} failed"),
                                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                 console=Console(stderr=True))
            self._task = self._bar.add_task("runs", total=total, failed=0)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def event(self, kind: str, job, result) -> None:
        if kind not in ("finished", "failed"):
            return
        self.done += 1
        self.failed += kind == "failed"
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, failed=self.failed)
            return
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        took = f"{result.duration_s:.1f}s" if result is not None else ""
        print(f"[{self.done}/{self.total}] {kind:<8} {job.label} {took} "
              f"(failed {self.failed}, elapsed {elapsed:.0f}s, ETA {eta:.0f}s)", file=sys.stderr, flush=True)


def cmd_report(args: argparse.Namespace) -> int:
    from latentlab.repro.report import build_report
    from latentlab.repro.store import RunStore, StoreError

    if not args.store.exists():
        raise UsageError(f"--store {args.store} does not exist; run `latentlab reproduce` first")
    out = args.out or args.store.parent / "report"
    try:
        with RunStore(args.store) as store:
            index = build_report(store, out)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    print(f"latentlab: report written to {index} and {index.parent / 'REPORT.md'}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    runner = Path("benchmarks") / "run.py"
    if not runner.exists():
        raise UsageError("no benchmarks/run.py here: run `latentlab bench` from the repository root")
    command = [sys.executable, str(runner), *args.names] + (["--quick"] if args.quick else [])
    return subprocess.call(command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
