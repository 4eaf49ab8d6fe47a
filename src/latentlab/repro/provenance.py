"""Where a result came from: package version and git commit."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

import latentlab

__all__ = ["version", "git_commit"]


def version() -> str:
    return latentlab.__version__


@lru_cache(maxsize=1)
def git_commit() -> str:
    """HEAD of the repository holding the package source (``+dirty`` if modified), else 'unknown'."""
    source = Path(latentlab.__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")
