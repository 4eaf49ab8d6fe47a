"""One intra-op thread per process unless the user asked otherwise.

On small CPUs, PyTorch's default of one OpenMP thread per core with busy-waiting makes
small models 15-70x slower than a single thread (see ``specs/ecosystem.md``).
Parallelism in latentlab comes from processes (one run per worker), so every process
uses one thread by default.

The user asks otherwise by setting ``LATENTLAB_NUM_THREADS`` (wins) or
``OMP_NUM_THREADS`` before importing latentlab.  The chosen number is written to
``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``OPENBLAS_NUM_THREADS`` so that worker
processes inherit it, and applied to torch if torch is already imported (a torch
imported later reads ``OMP_NUM_THREADS`` itself).
"""

from __future__ import annotations

import os
import sys

__all__ = ["configure_threads", "requested_threads"]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def requested_threads() -> int:
    """Threads per process: ``LATENTLAB_NUM_THREADS``, else ``OMP_NUM_THREADS``, else 1."""
    for variable in ("LATENTLAB_NUM_THREADS", "OMP_NUM_THREADS"):
        text = os.environ.get(variable, "").strip()
        if text:
            try:
                value = int(text)
            except ValueError:
                raise ValueError(f"{variable} must be a positive integer, got {text!r}") from None
            if value < 1:
                raise ValueError(f"{variable} must be a positive integer, got {text!r}")
            return value
    return 1


def configure_threads() -> int:
    """Apply :func:`requested_threads` to this process and to the environment of its children."""
    threads = requested_threads()
    os.environ["OMP_NUM_THREADS"] = str(threads)
    for variable in _THREAD_VARIABLES[1:]:
        os.environ.setdefault(variable, str(threads))
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
