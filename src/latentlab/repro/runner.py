"""Run (paper, budget, seed) jobs in worker processes, locally or on Ray, into the run store.

The driver (this module, in the user's process) is the only writer of the store:

1. a row is inserted as ``running`` when a job is handed to a worker;
2. the worker runs ``paper.run(config, seed, ctx)`` and returns a :class:`JobResult`
   (metrics, or the traceback of the exception; NaN/inf metrics count as a failure);
3. the driver turns the row into ``finished`` or ``failed`` in one transaction.

A worker process that dies (killed, out of memory) breaks the local pool; the jobs that
were in flight are then retried one at a time, so the job that killed its worker is
identified and stored as failed while the innocent ones finish.  Ctrl-C terminates the
workers and stores the in-flight rows as ``interrupted``; every finished row stays.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import random
import signal
import socket
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from latentlab.repro.context import Diverged, RunContext, find_non_finite, seed_sequence
from latentlab.repro.store import RunStore

__all__ = [
    "Job",
    "JobResult",
    "execute_job",
    "LocalExecutor",
    "RayExecutor",
    "Executor",
    "RunSummary",
    "run_jobs",
    "check_ray_address",
]

WORKER_DIED = "worker process died while running this job"
# Jobs in flight per worker (dispatched, so stored as running): keeps workers busy while the
# driver writes the store; Ray's per-task latency is higher, so it gets a deeper queue.
QUEUE_PER_WORKER = 4
RAY_QUEUE_PER_WORKER = 16


@dataclass(frozen=True)
class Job:
    """One seed of one paper at one budget, with everything a worker needs to run it."""

    paper: str
    module: str
    budget: str
    seed: int
    config: Any
    config_hash: str
    device: str = "cpu"
    workdir: str | None = None

    @property
    def label(self) -> str:
        return f"{self.paper}/{self.budget}/seed={self.seed}"


@dataclass(frozen=True)
class JobResult:
    status: str  # "finished" | "failed" | "worker_died"
    metrics: dict[str, Any] | None
    error: str | None
    duration_s: float
    pid: int = 0


def execute_job(job: Job) -> JobResult:
    """Worker side: run one job and return its metrics or its traceback (never raises)."""
    start = time.perf_counter()
    try:
        module = importlib.import_module(job.module)
        _seed_globals(job.seed)
        workdir = Path(job.workdir) if job.workdir else None
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
        ctx = RunContext(paper=job.paper, budget=job.budget, seed=job.seed, device=job.device, workdir=workdir)
        metrics = module.run(job.config, job.seed, ctx)
        if not isinstance(metrics, dict):
            raise TypeError(f"{job.module}.run must return a dict of metrics, got {type(metrics).__name__}")
        bad = find_non_finite(metrics)
        if bad is not None:
            raise Diverged(f"{bad} is not finite")
        metrics = _json_roundtrip(metrics)
        return JobResult("finished", metrics, None, time.perf_counter() - start, os.getpid())
    except Exception:  # noqa: BLE001 - a failing run is data, stored with its traceback
        return JobResult("failed", None, traceback.format_exc(), time.perf_counter() - start, os.getpid())


def _seed_globals(seed: int) -> None:
    """Seed the global generators too, for code that (wrongly) uses them."""
    state = seed_sequence(seed, 104729).generate_state(2)
    random.seed(int(state[0]))
    np.random.seed(int(state[1]))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(int(state[0]))


def _json_roundtrip(metrics: dict[str, Any]) -> dict[str, Any]:
    import json

    try:
        return json.loads(json.dumps(metrics, allow_nan=False, default=_to_builtin))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metrics must be JSON-serialisable: {exc}") from exc


def _to_builtin(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"object of type {type(value).__name__} is not JSON-serialisable")


def _worker_init() -> None:
    """Workers leave Ctrl-C to the driver, which terminates them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import latentlab  # noqa: F401  (one thread per process)


# ---------------------------------------------------------------------------------------
# Executors
# ---------------------------------------------------------------------------------------
class Executor(Protocol):
    name: str
    capacity: int

    def submit(self, job: Job) -> Any: ...

    def wait_any(self, handles: Iterable[Any], timeout: float) -> list[tuple[Any, JobResult]]: ...

    def isolate(self) -> None: ...

    def abort(self) -> None: ...

    def close(self) -> None: ...


class LocalExecutor:
    """A pool of ``workers`` processes on this machine (forkserver on Linux, else spawn)."""

    name = "local"

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.capacity = self.window = workers * QUEUE_PER_WORKER
        method = "forkserver" if sys.platform.startswith("linux") else "spawn"
        self._context = multiprocessing.get_context(method)
        if method == "forkserver":
            self._context.set_forkserver_preload(["latentlab.repro.runner"])
        self._pool: ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=self._context, initializer=_worker_init)
        return self._pool

    def submit(self, job: Job) -> Future:
        try:
            return self._ensure_pool().submit(execute_job, job)
        except BrokenProcessPool:
            self._replace_pool()
            return self._ensure_pool().submit(execute_job, job)

    def wait_any(self, handles: Iterable[Future], timeout: float) -> list[tuple[Future, JobResult]]:
        done, _ = wait(list(handles), timeout=timeout, return_when=FIRST_COMPLETED)
        out = []
        for future in done:
            try:
                out.append((future, future.result()))
            except BrokenProcessPool:
                out.append((future, JobResult("worker_died", None, WORKER_DIED, 0.0)))
        if any(result.status == "worker_died" for _, result in out):
            self._replace_pool()
        return out

    def isolate(self) -> None:
        """After a worker death: the next jobs go one at a time until :meth:`release`."""
        self.capacity = 1

    def release(self) -> None:
        self.capacity = self.window

    def _replace_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def abort(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for process in list(getattr(pool, "_processes", {}).values()):
            if process.is_alive():
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def check_ray_address(address: str) -> None:
    """Raise ValueError unless ``address`` (host:port, or 'auto') answers on TCP."""
    if address == "auto":
        return
    text = address.split("://", 1)[-1]
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--ray-address must be HOST:PORT or 'auto', got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=3.0):
            pass
    except OSError as exc:
        raise ValueError(f"--ray-address {address} is unreachable ({exc.strerror or exc})") from None


class RayExecutor:
    """The same jobs as Ray tasks: on ``address`` or on a local cluster started on demand."""

    name = "ray"

    def __init__(self, workers: int, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise ValueError("--executor ray needs Ray: pip install 'latentlab[distributed]'") from None
        self._ray = ray
        self.workers = workers
        self.capacity = self.window = workers * RAY_QUEUE_PER_WORKER
        env = {var: os.environ[var] for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
               if var in os.environ}
        env.setdefault("OMP_NUM_THREADS", "1")
        self._started_here = not ray.is_initialized()
        if self._started_here:
            kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, configure_logging=False,
                                          runtime_env={"env_vars": env})
            if address:
                kwargs["address"] = address
            else:
                kwargs["num_cpus"] = workers
            ray.init(**kwargs)
        self._remote = ray.remote(num_cpus=1, max_retries=0)(execute_job)

    def submit(self, job: Job) -> Any:
        return self._remote.remote(job)

    def wait_any(self, handles: Iterable[Any], timeout: float) -> list[tuple[Any, JobResult]]:
        refs = list(handles)
        ready, rest = self._ray.wait(refs, num_returns=1, timeout=timeout)
        if ready and rest:  # collect whatever else is already done, without waiting
            more, _ = self._ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        out = []
        for ref in ready:
            try:
                out.append((ref, self._ray.get(ref)))
            except self._ray.exceptions.RayError as exc:  # worker crashed, task cancelled ...
                out.append((ref, JobResult("worker_died", None, f"{WORKER_DIED}: {exc}", 0.0)))
        return out

    def isolate(self) -> None:
        self.capacity = 1

    def release(self) -> None:
        self.capacity = self.window

    def abort(self) -> None:
        self.close()

    def close(self) -> None:
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()


# ---------------------------------------------------------------------------------------
# The driver loop
# ---------------------------------------------------------------------------------------
@dataclass
class RunSummary:
    finished: int = 0
    failed: int = 0
    skipped: int = 0
    interrupted: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)  # (job label, error)


@dataclass
class _InFlight:
    job: Job
    run_id: int
    attempt: int


def run_jobs(
    jobs: Iterable[Job],
    executor: Any,
    store: RunStore,
    *,
    version: str,
    git_commit: str,
    on_event: Callable[[str, Job, JobResult | None], None] | None = None,
    poll_s: float = 0.2,
) -> RunSummary:
    """Run ``jobs`` on ``executor``, recording each in ``store``; returns counts.

    ``on_event(kind, job, result)`` is called with kind ``"start"``, ``"finished"``,
    ``"failed"`` or ``"retry"`` (for progress displays).
    """
    from latentlab.repro.paper import config_to_dict

    notify = on_event or (lambda kind, job, result: None)
    config_dicts: dict[str, dict[str, Any]] = {}
    pending: deque[tuple[Job, int]] = deque((job, 1) for job in jobs)
    suspects: deque[tuple[Job, int]] = deque()
    inflight: dict[Any, _InFlight] = {}
    summary = RunSummary()
    starting: int | None = None  # a run stored as running but not yet handed to the executor
    try:
        while pending or suspects or inflight:
            queue = suspects if suspects else pending
            if suspects:
                executor.isolate()
            elif hasattr(executor, "release") and not inflight:
                executor.release()
            while queue and len(inflight) < executor.capacity:
                job, attempt = queue.popleft()
                if job.config_hash not in config_dicts:
                    config_dicts[job.config_hash] = config_to_dict(job.config)
                run_id = starting = store.start_run(
                    paper=job.paper, budget=job.budget, seed=job.seed, config_hash=job.config_hash,
                    config=config_dicts[job.config_hash], version=version, git_commit=git_commit,
                    executor=executor.name, device=job.device,
                )
                inflight[executor.submit(job)] = _InFlight(job, run_id, attempt)
                starting = None
                notify("start", job, None)
            if not inflight:
                continue
            for handle, result in executor.wait_any(list(inflight), timeout=poll_s):
                item = inflight.pop(handle)
                _record(store, item, result, summary, suspects, notify)
    except KeyboardInterrupt:
        summary.interrupted = True
        executor.abort()
        for run_id in [item.run_id for item in inflight.values()] + ([starting] if starting is not None else []):
            store.fail_run(run_id, "interrupted by the user (Ctrl-C)", status="interrupted")
        inflight.clear()
    finally:
        executor.close()
    return summary


def _record(store: RunStore, item: _InFlight, result: JobResult, summary: RunSummary,
            suspects: deque, notify: Callable) -> None:
    if result.status == "finished":
        store.finish_run(item.run_id, result.metrics or {}, result.duration_s)
        summary.finished += 1
        notify("finished", item.job, result)
        return
    if result.status == "worker_died" and item.attempt == 1:
        # Innocent bystanders of another job's crash are retried, one at a time.
        store.fail_run(item.run_id, f"{result.error} (retried alone)")
        suspects.append((item.job, 2))
        notify("retry", item.job, result)
        return
    store.fail_run(item.run_id, result.error or "unknown error", result.duration_s)
    summary.failed += 1
    summary.failures.append((item.job.label, result.error or ""))
    notify("failed", item.job, result)
