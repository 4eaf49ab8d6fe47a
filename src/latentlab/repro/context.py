"""What a paper's ``run(config, seed, ctx)`` receives besides its config and seed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RunContext", "Diverged", "seed_sequence", "find_non_finite"]


class Diverged(RuntimeError):
    """Raised when a run produces NaN or infinity; the runner stores it as failed."""


def seed_sequence(seed: int, *keys: int) -> np.random.SeedSequence:
    """The root of all randomness of one run: ``SeedSequence([seed, *keys])``."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.SeedSequence([int(seed), *map(int, keys)])


@dataclass
class RunContext:
    """Per-run services: seeding, device, a scratch directory and divergence checks.

    ``rng(*keys)`` returns an independent numpy generator for each distinct ``keys``
    (use one key per purpose: data, model init, evaluation ...), so that adding a random
    draw in one place does not shift the numbers drawn in another.
    """

    paper: str
    budget: str
    seed: int
    device: str = "cpu"
    workdir: Path | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def rng(self, *keys: int) -> np.random.Generator:
        return np.random.default_rng(seed_sequence(self.seed, *keys))

    def torch_generator(self, *keys: int):  # -> torch.Generator
        import torch

        generator = torch.Generator(device="cpu")
        generator.manual_seed(int(seed_sequence(self.seed, 7919, *keys).generate_state(1, dtype=np.uint64)[0] >> 1))
        return generator

    def check_finite(self, name: str, value: Any) -> None:
        """Stop the run (:class:`Diverged`) if ``value`` holds NaN or infinity."""
        where = find_non_finite(value, name)
        if where is not None:
            raise Diverged(f"{where} is not finite (seed {self.seed}, {self.paper}/{self.budget})")


def find_non_finite(value: Any, path: str = "metrics") -> str | None:
    """Path of the first NaN/inf inside nested dicts, lists, arrays and scalars, or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            found = find_non_finite(item, f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = find_non_finite(item, f"{path}[{index}]")
            if found:
                return found
        return None
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
            return path
        return None
    if hasattr(value, "detach") and hasattr(value, "isfinite"):  # torch tensor, without importing torch
        return None if bool(value.isfinite().all()) else path
    if isinstance(value, (float, np.floating)) and not math.isfinite(float(value)):
        return path
    return None
