"""Bandit-suite throughput: agent-steps per second, vectorised over seeds vs a per-seed loop.

Instance: 1,000 seeds x 10 Bernoulli arms (BanditBench hard, gap 0.2) x T = 1,000 rounds
(``--quick``: 200 seeds x T = 300).  Agents: UCB (alpha 0.5), Thompson sampling, epsilon-greedy.

* ``vectorised``: :func:`latentlab.agents.run_bandit` on all seeds at once (one array
  operation per round for the whole batch).
* ``per-seed loop``: the same agent classes and the same ``run_bandit`` called once per seed
  (batch of one), i.e. what a user gets by looping over seeds.  It is timed on the first
  ``LOOP_SEEDS`` seeds and converted to agent-steps per second (the cost per seed does not
  depend on the seed).

Target (from the issue, set before measuring): the vectorised suite at least 50x the per-seed
loop's agent-steps per second, for every agent.
"""

from __future__ import annotations

import time

import numpy as np

from latentlab.agents import UCB, EpsilonGreedy, ThompsonSampling, bernoulli_bandit, run_bandit

TARGET = 50.0
AGENTS = {"UCB": lambda: UCB(0.5), "TS": ThompsonSampling, "eps-greedy": lambda: EpsilonGreedy(0.1)}


def _steps_per_second(instance, make, horizon: int) -> float:
    start = time.perf_counter()
    run_bandit(instance, make(), horizon, np.random.default_rng(0))
    return instance.n_instances * horizon / (time.perf_counter() - start)


def _loop_steps_per_second(instance, make, horizon: int, n_seeds: int) -> float:
    start = time.perf_counter()
    for i in range(n_seeds):
        run_bandit(instance.subset(slice(i, i + 1)), make(), horizon, np.random.default_rng(i))
    return n_seeds * horizon / (time.perf_counter() - start)


def run(quick: bool = False) -> dict:
    n_seeds, horizon, loop_seeds = (200, 300, 10) if quick else (1000, 1000, 20)
    instance = bernoulli_bandit(10, 0.2, n_seeds, np.random.default_rng(0))
    ratios, measurements = {}, {"seeds": n_seeds, "arms": 10, "horizon": horizon, "loop_seeds_timed": loop_seeds}
    for name, make in AGENTS.items():
        vectorised = _steps_per_second(instance, make, horizon)
        loop = _loop_steps_per_second(instance, make, horizon, loop_seeds)
        measurements[f"{name} vectorised agent-steps/s"] = vectorised
        measurements[f"{name} per-seed loop agent-steps/s"] = loop
        ratios[f"{name} vectorised / per-seed loop"] = {"value": vectorised / loop, "target": TARGET,
                                                        "better": "higher"}
    return {"ratios": ratios, "measurements": measurements}
