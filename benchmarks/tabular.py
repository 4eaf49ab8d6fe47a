"""Tabular core speed: UCBVI episodes per second and value-iteration throughput.

Instance: a random MDP with S=50, A=5, H=20 (Dirichlet(0.5) stage-dependent kernels).

* UCBVI: :class:`latentlab.tabular.UCBVI` (Hoeffding bonus) played through
  :func:`latentlab.tabular.rollout`, one learner, both implementations starting from the
  counts of 2000 uniform-policy episodes (so that planning touches visited pairs, as it
  does after the first few hundred episodes of a run), against a straightforward
  implementation that loops over steps, states and actions in Python (the same
  algorithm, the same bonus), measured in the same run.  rlberry's ``UCBVIAgent`` lives
  in ``rlberry-scool`` 0.7.3, which pins gymnasium 0.29 (we use 1.x), so it cannot be
  installed beside our stack; when a throwaway environment ``/tmp/rlb-venv`` with
  ``rlberry-scool`` exists, its agent (homogeneous model, simplified-Bernstein bonus,
  numba) is timed there from empty counts, next to ours from empty counts (reported as
  measurements, not as the target ratio).
* Value iteration: :func:`latentlab.tabular.value_iteration` against a per-state Python
  loop on the same arrays.

Targets (from the issue, set before measuring): UCBVI >= 10x faster than the loop
reference and than rlberry's UCBVI (when measurable); value iteration >= 50x.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import numpy as np

from latentlab.tabular import UCBVI, CountModel, random_mdp, rollout, value_iteration
from latentlab.tabular.learners import log_term

S, A, H = 50, 5, 20


def _loop_value_iteration(P: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Backward induction with explicit loops over steps, states and actions."""
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        for s in range(S):
            best = -np.inf
            for a in range(A):
                best = max(best, R[h, s, a] + P[h, s, a] @ V[h + 1])
            V[h, s] = best
    return V


def _burn_in(mdp, episodes: int = 2000) -> CountModel:
    """Counts from uniform-policy episodes, so that both implementations plan on a visited model."""
    traj = rollout(mdp, np.full((H, S, A), 1.0 / A), np.random.default_rng(2), n=episodes)
    pooled = CountModel(1, H, S, A)
    h = np.broadcast_to(np.arange(H), traj.actions.shape)
    s, a, s2 = traj.states[:, :-1], traj.actions, traj.states[:, 1:]
    np.add.at(pooled.N[0], (h, s, a, s2), 1.0)
    np.add.at(pooled.visits[0], (h, s, a), 1.0)
    np.add.at(pooled.reward_sum[0], (h, s, a), traj.rewards)
    return pooled


def _loop_ucbvi(mdp, episodes: int, rng: np.random.Generator, bonus_scale: float, L: float,
                start: CountModel) -> np.ndarray:
    """UCBVI (Hoeffding) written as per-state loops; returns the last optimistic Q."""
    counts = start.N[0].copy()
    visits = start.visits[0].copy()
    reward_sum = start.reward_sum[0].copy()
    for _ in range(episodes):
        Q = np.zeros((H, S, A))
        V = np.zeros((H + 1, S))
        for h in range(H - 1, -1, -1):
            for s in range(S):
                for a in range(A):
                    n = visits[h, s, a]
                    if n == 0:
                        Q[h, s, a] = H - h
                        continue
                    p = counts[h, s, a] / n
                    bonus = bonus_scale * (H - h) * np.sqrt(L / n)
                    Q[h, s, a] = min(H - h, reward_sum[h, s, a] / n + p @ V[h + 1] + bonus)
                V[h, s] = Q[h, s].max()
        s = rng.choice(S, p=mdp.mu)
        for h in range(H):
            a = int(np.argmax(Q[h, s]))
            r = float(rng.random() < mdp.R[h, s, a])
            s2 = rng.choice(S, p=mdp.P[h, s, a])
            visits[h, s, a] += 1
            reward_sum[h, s, a] += r
            counts[h, s, a, s2] += 1
            s = s2
    return Q


def _ours_ucbvi(mdp, episodes: int, rng: np.random.Generator, bonus_scale: float, start: CountModel,
                n: int = 1) -> None:
    learner = UCBVI(H, S, A, episodes, n, bonus_scale=bonus_scale)
    for name in ("N", "visits", "reward_sum"):
        setattr(learner.model, name, np.repeat(getattr(start, name), n, axis=0))
    learner.model.invalidate()
    for _ in range(episodes):
        learner.observe(rollout(mdp, learner.plan().policy, rng))


def _rate(fn, *args, min_seconds: float = 1.0) -> float:
    """Calls per second of ``fn(*args)``, repeated until ``min_seconds`` have passed."""
    calls, start = 0, time.perf_counter()
    while True:
        fn(*args)
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return calls / elapsed


RLBERRY_SCRIPT = r"""
import json, sys, time
import numpy as np
from rlberry.envs.finite_mdp import FiniteMDP
from rlberry_scool.agents import UCBVIAgent
data = np.load(sys.argv[1])
P, R, H, episodes = data["P"][0], data["R"][0], int(data["H"]), int(data["episodes"])
agent = UCBVIAgent(FiniteMDP(R, P, initial_state_distribution=0), horizon=H, gamma=1.0, stage_dependent=False)
agent.fit(budget=5)  # compile (numba) outside the timing
start = time.perf_counter()
agent.fit(budget=episodes)
print(json.dumps({"episodes_per_s": episodes / (time.perf_counter() - start)}))
"""


def _rlberry(mdp, episodes: int) -> dict | str:
    python = Path("/tmp/rlb-venv/bin/python")
    if not python.exists():
        return "not measured: no /tmp/rlb-venv (rlberry-scool does not install beside latentlab's stack)"
    with open("/tmp/rlb_mdp.npz", "wb") as handle:
        np.savez(handle, P=mdp.P, R=mdp.R, H=H, episodes=episodes)
    proc = subprocess.run([str(python), "-c", RLBERRY_SCRIPT, "/tmp/rlb_mdp.npz"], capture_output=True, text=True,
                          timeout=600)
    if proc.returncode != 0:
        return "failed: " + proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict:
    rng = np.random.default_rng(0)
    mdp = random_mdp(S, A, H, rng, homogeneous=True)
    episodes = 20 if quick else 100
    bonus_scale = 0.1
    L = log_term(S, A, H, episodes, 0.1)

    ours_vi = _rate(value_iteration, mdp.P, mdp.R)
    loop_vi = _rate(_loop_value_iteration, mdp.P, mdp.R)
    assert np.allclose(_loop_value_iteration(mdp.P, mdp.R), value_iteration(mdp.P, mdp.R).V)

    start = _burn_in(mdp)
    loop_episodes = max(episodes // 4, 1)  # the loop reference is slow: time fewer episodes per call
    loop_eps = loop_episodes * _rate(_loop_ucbvi, mdp, loop_episodes, np.random.default_rng(1), bonus_scale, L, start,
                                     min_seconds=0.1)
    ours_eps = episodes * _rate(_ours_ucbvi, mdp, episodes, np.random.default_rng(1), bonus_scale, start,
                                min_seconds=0.5)
    ours_cold = episodes * _rate(_ours_ucbvi, mdp, episodes, np.random.default_rng(1), bonus_scale,
                                 CountModel(1, H, S, A), min_seconds=0.5)
    seeds = 10
    ours_batch = seeds * episodes * _rate(_ours_ucbvi, mdp, episodes, np.random.default_rng(1), bonus_scale, start,
                                          seeds, min_seconds=0.5)
    measurements = {
        "instance": f"random MDP S={S}, A={A}, H={H}",
        "value iteration / s (ours)": ours_vi,
        "value iteration / s (per-state loop)": loop_vi,
        "UCBVI episodes / s (ours, 1 learner)": ours_eps,
        "UCBVI episodes / s (per-state loop)": loop_eps,
        f"UCBVI seed-episodes / s (ours, {seeds} seeds vectorised)": ours_batch,
        "UCBVI episodes / s (ours, 1 learner, from empty counts)": ours_cold,
        "rlberry-scool UCBVIAgent (from empty counts, homogeneous model)": _rlberry(mdp, episodes),
    }
    rlberry = measurements["rlberry-scool UCBVIAgent (from empty counts, homogeneous model)"]
    ratios = {
        "UCBVI ours / per-state loop": {"value": ours_eps / loop_eps, "target": 10.0, "better": "higher"},
        "value iteration ours / per-state loop": {"value": ours_vi / loop_vi, "target": 50.0, "better": "higher"},
    }
    if isinstance(rlberry, dict):  # the target, when the throwaway environment exists
        ratios["UCBVI ours / rlberry-scool (both from empty counts)"] = {
            "value": ours_cold / rlberry["episodes_per_s"], "target": 10.0, "better": "higher"}
    return {"ratios": ratios, "measurements": measurements}
