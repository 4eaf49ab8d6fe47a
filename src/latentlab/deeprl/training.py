"""Learning curves returned by every learner (plain JSON data for the run store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["TrainingResult", "curve_auc"]


def curve_auc(steps: list[float] | np.ndarray, values: list[float] | np.ndarray) -> float:
    """Trapezoid area under ``values`` over ``steps``, divided by the step span (a mean level)."""
    x, y = np.asarray(steps, float), np.asarray(values, float)
    if x.size == 0:
        return float("nan")
    if x.size == 1 or x[-1] == x[0]:
        return float(y.mean())
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2 / (x[-1] - x[0]))


@dataclass
class TrainingResult:
    """Training episodes, periodic deterministic evaluations and per-update diagnostics."""

    episodes: list[tuple[int, float, int]] = field(default_factory=list)
    """(env steps when it ended, episodic return, length) of every training episode."""
    evals: list[tuple[int, float, float]] = field(default_factory=list)
    """(env steps, mean return, std of returns) of every evaluation."""
    updates: list[dict[str, float]] = field(default_factory=list)
    """Diagnostics of every update (PPO iteration or every ``log_every`` SAC updates)."""
    total_steps: int = 0
    n_updates: int = 0
    wall_s: float = 0.0

    def final_return(self, last: int = 20) -> float:
        """Mean return of the last ``last`` training episodes (CleanRL-style number)."""
        if not self.episodes:
            return float("nan")
        return float(np.mean([r for _, r, _ in self.episodes[-last:]]))

    def final_eval(self) -> float:
        return self.evals[-1][1] if self.evals else float("nan")

    def eval_auc(self) -> float:
        return curve_auc([s for s, _, _ in self.evals], [m for _, m, _ in self.evals])

    def to_dict(self, max_episodes: int = 400) -> dict[str, Any]:
        """JSON metrics; the training-episode curve is thinned to at most ``max_episodes`` points
        (each point the mean of a block of consecutive episodes)."""
        eps = np.array([[s, r, n] for s, r, n in self.episodes], float).reshape(-1, 3)
        if len(eps) > max_episodes:
            blocks = np.array_split(eps, max_episodes)
            eps = np.array([[b[-1, 0], b[:, 1].mean(), b[:, 2].mean()] for b in blocks])
        return {
            "curve_steps": eps[:, 0].astype(int).tolist(),
            "curve_returns": eps[:, 1].tolist(),
            "eval_steps": [int(s) for s, _, _ in self.evals],
            "eval_returns": [float(m) for _, m, _ in self.evals],
            "eval_stds": [float(sd) for _, _, sd in self.evals],
            "final_return": self.final_return(),
            "final_eval": self.final_eval(),
            "eval_auc": self.eval_auc(),
            "n_episodes": len(self.episodes),
            "total_steps": int(self.total_steps),
            "n_updates": int(self.n_updates),
            "wall_s": float(self.wall_s),
        }
