"""Shared by the benchmarks: where a step's time goes, from the torch profiler's self times."""

from __future__ import annotations

from collections.abc import Callable

GEMM_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


def self_time_per_call(step: Callable[[], object], calls: int) -> tuple[float, float]:
    """``(matrix-product self time, total self time)`` of one ``step()`` call, in microseconds
    (one warm-up call first, then ``calls`` profiled calls)."""
    from torch.profiler import profile

    step()
    with profile() as prof:
        for _ in range(calls):
            step()
    events = prof.key_averages()
    gemm = sum(e.self_cpu_time_total for e in events if e.key in GEMM_OPS)
    total = sum(e.self_cpu_time_total for e in events)
    return gemm / calls, total / calls
