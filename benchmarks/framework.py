"""Framework overhead per run: 1,000 seeds of the trivial ``selftest`` paper.

Measured per run, in the same process and run:
* ``direct``: calling ``selftest.run`` in a plain loop (the work itself);
* ``bare pool``: the same 1,000 calls through a bare ``ProcessPoolExecutor`` (the
  reference cost of process-level parallelism, no store);
* ``latentlab local``: ``run_jobs`` with the local executor into a fresh SQLite store
  (dispatch, two transactions per run, retries bookkeeping);
* ``bare ray`` / ``latentlab ray``: the same with Ray tasks on a local 2-CPU cluster.

Targets (set before measuring): latentlab's local runner costs at most 3x the bare pool
per run; latentlab on Ray at most 3x bare Ray tasks.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from latentlab.repro import selftest
from latentlab.repro.context import RunContext
from latentlab.repro.paper import config_hash
from latentlab.repro.runner import Job, LocalExecutor, RayExecutor, execute_job, run_jobs
from latentlab.repro.store import RunStore

WORKERS = 2


def _jobs(n: int) -> list[Job]:
    config = selftest.PAPER.budgets["smoke"].config
    digest = config_hash(config)
    return [Job("selftest", "latentlab.repro.selftest", "smoke", seed, config, digest) for seed in range(n)]


def _per_run(seconds: float, n: int) -> float:
    return seconds / n * 1e3  # ms


def _direct(n: int) -> float:
    config = selftest.PAPER.budgets["smoke"].config
    start = time.perf_counter()
    for seed in range(n):
        selftest.run(config, seed, RunContext("selftest", "smoke", seed))
    return time.perf_counter() - start


def _bare_pool(jobs: list[Job]) -> float:
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(WORKERS, mp_context=context) as pool:
        list(pool.map(execute_job, jobs[:WORKERS]))  # start-up excluded, as for the runner below
        start = time.perf_counter()
        list(pool.map(execute_job, jobs))
        return time.perf_counter() - start


def _latentlab(executor, jobs: list[Job]) -> float:
    with tempfile.TemporaryDirectory() as tmp, RunStore(Path(tmp) / "s.sqlite") as store:
        warm = _jobs(WORKERS)
        run_jobs([Job(j.paper, j.module, "quick", j.seed, j.config, j.config_hash) for j in warm], _NoClose(executor),
                 store, version="bench", git_commit="bench")
        start = time.perf_counter()
        summary = run_jobs(jobs, _NoClose(executor), store, version="bench", git_commit="bench")
        elapsed = time.perf_counter() - start  # start-up and shut-down excluded, as for the bare references
        executor.close()
        assert summary.finished == len(jobs), summary
        return elapsed


class _NoClose:
    """Keeps the executor alive across ``run_jobs`` calls (warm-up, then the timed run)."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def close(self) -> None:
        pass


def _bare_ray(jobs: list[Job]) -> float:
    import ray

    remote = ray.remote(num_cpus=1)(execute_job)
    ray.get([remote.remote(j) for j in jobs[:WORKERS]])
    start = time.perf_counter()
    ray.get([remote.remote(j) for j in jobs])
    return time.perf_counter() - start


def run(quick: bool = False) -> dict:
    n = 100 if quick else 1000
    jobs = _jobs(n)
    direct = _direct(n)
    bare = _bare_pool(jobs)
    local = _latentlab(LocalExecutor(WORKERS), jobs)
    measurements = {
        "runs": n,
        "direct ms/run": _per_run(direct, n),
        "bare pool ms/run": _per_run(bare, n),
        "latentlab local ms/run": _per_run(local, n),
    }
    ratios = {"latentlab local / bare pool": {"value": local / bare, "target": 3.0, "better": "lower"}}
    try:
        import ray  # noqa: F401
    except ImportError:
        measurements["ray"] = "not installed"
    else:
        executor = RayExecutor(WORKERS)
        try:
            ray_bare = _bare_ray(jobs)
            ray_ours = _latentlab(executor, jobs)
        finally:
            executor.close()
        measurements["bare ray ms/run"] = _per_run(ray_bare, n)
        measurements["latentlab ray ms/run"] = _per_run(ray_ours, n)
        measurements["latentlab ray / latentlab local"] = ray_ours / local
        ratios["latentlab ray / bare ray"] = {"value": ray_ours / ray_bare, "target": 3.0, "better": "lower"}
    return {"measurements": measurements, "ratios": ratios}
