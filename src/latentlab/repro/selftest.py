"""A trivial paper for the framework's own tests and benchmarks (slug ``selftest``).

Each seed draws ``value ~ N(mean, noise^2)``; the one claim is ``mean value >= 0.5``.
Config fields make chosen seeds fail, return NaN, sleep or kill their worker, so the
runner's failure isolation, resume and interruption can be exercised for real:
``latentlab reproduce selftest --set fail_seeds=2,3``.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from latentlab.repro.context import RunContext
from latentlab.repro.paper import Budget, Claim, Paper, Verdict
from latentlab.repro.plotting import pyplot, save_figure


@dataclass(frozen=True)
class Config:
    mean: float = 1.0
    """True mean of the measured value."""
    noise: float = 0.1
    """Standard deviation of the measured value across seeds."""
    sleep_s: float = 0.0
    """Seconds each run sleeps (to test interruption)."""
    fail_seeds: tuple[int, ...] = ()
    """Seeds whose run raises an exception."""
    nan_seeds: tuple[int, ...] = ()
    """Seeds whose run returns NaN (a diverged run)."""
    kill_seeds: tuple[int, ...] = ()
    """Seeds whose run kills its own worker process."""
    use_torch: bool = False
    """Also compute a seeded torch number (to test torch determinism across workers)."""


PAPER = Paper(
    slug="selftest",
    number=0,
    arxiv="",
    title="Framework self-test (a trivial experiment)",
    family="repro",
    claims=(Claim("value-positive", "The measured value is at least 0.5 on average.", "value", 0.5, ">="),),
    budgets={
        "smoke": Budget(Config(), seeds=2),
        "quick": Budget(Config(), seeds=4),
        "full": Budget(Config(), seeds=8),
    },
    summary="A trivial experiment that exercises the reproduction framework.",
)


def run(config: Config, seed: int, ctx: RunContext) -> dict:
    if config.sleep_s > 0:
        time.sleep(config.sleep_s)
    if seed in config.kill_seeds:
        os.kill(os.getpid(), signal.SIGKILL)
    if seed in config.fail_seeds:
        raise RuntimeError(f"selftest: seed {seed} fails on purpose")
    value = config.mean + config.noise * float(ctx.rng(0).standard_normal())
    metrics = {"value": float("nan") if seed in config.nan_seeds else value}
    if config.use_torch:
        import torch

        metrics["torch_value"] = float(torch.randn(3, generator=ctx.torch_generator(0)).sum())
    return metrics


def check(results: list[dict], budget: str) -> list[Verdict]:
    return PAPER.judge(results, budget)


def figures(results: list[dict], out_dir: Path) -> list[Path]:
    fig, ax = pyplot().subplots(figsize=(4, 3))
    ax.plot([r["seed"] for r in results], [r["value"] for r in results], "o")
    ax.axhline(PAPER.claims[0].threshold, color="k", ls="--", label="threshold")
    ax.set_xlabel("seed")
    ax.set_ylabel("value")
    ax.legend()
    return [save_figure(fig, out_dir, "values.png", dpi=80)]
