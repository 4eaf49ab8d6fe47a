r"""Paper 20: Submodular reinforcement learning (SubPO on coverage tasks).

Prajapat, Mutný, Zeilinger & Krause, ICLR 2024, arXiv 2307.13372.

What the paper claims
---------------------
With a submodular set-function reward of the visited states (coverage, experiment
design), the greedy-style policy gradient SubPO, which rewards the marginal gain of each
new state, beats policy gradient on the additive (modular) reward, whose policies keep
revisiting high-weight states; the Markov variant with time input is close to the
history-conditioned one; under bandit-like/deterministic dynamics SubPO reaches the
:math:`(1-1/e)` constant of submodular maximisation.

What we run (spec, CPU scale)
-----------------------------
Per seed: a 15x15 deterministic grid (5 actions), horizon 30, start at the centre,
bimodal coverage weights (two Gaussian bumps at random cells, normalised), each visited
cell covering itself and its 4-neighbours
(:mod:`latentlab.tabular.submodular`).  Trained with REINFORCE (Adam, lr 0.01, batch
256, ``epochs`` updates, MLP 64-32 tanh): SubPO-M (input (s, h)), SubPO-NM (input also the
visited-cell indicator), ModPO (additive reward), and, unclaimed, SubPO with the released
code's weighting :math:`F(\tau_{0:h+1})`.  References: a uniform random policy and the
model-based greedy oracle.  A tiny 5x5 grid with H = 8 is solved exactly by enumerating all
:math:`5^8` action sequences.  Metric: mean F(τ) of 512 trajectories of the final
stochastic policy.

Claims and thresholds (the spec's pass criteria, fixed before running)
---------------------------------------------------------------------
* ``subpo-near-greedy``: F(SubPO-M) / F(greedy oracle) >= 0.9.
* ``subpo-beats-modpo``: F(SubPO-M) / F(ModPO) >= 1.3.
* ``markov-close-to-history-low`` / ``-high``: F(SubPO-M) / F(SubPO-NM) in [0.9, 1.1].
* ``approximation-guarantee``: on the 5x5, H = 8 instance, F(SubPO-M) >= (1 - 1/e) OPT in
  >= 90% of seeds (0/1 per seed).

Differences from the paper/spec
-------------------------------
The non-Markov policy gets the visited-cell indicator (a sufficient statistic of the
history for coverage) instead of the padded state sequence; a per-step batch-mean
baseline is subtracted (unbiased); the GP-entropy objective and the continuous-control
demos are not reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentlab.repro.context import RunContext
from latentlab.repro.paper import Budget, Claim, Paper, Verdict
from latentlab.repro.plotting import pyplot, save_figure
from latentlab.tabular.submodular import (
    SubPOConfig,
    bimodal_weights,
    brute_force_optimum,
    coverage_grid,
    evaluate_policy,
    greedy_oracle,
    prefix_values,
    train_subpo,
)

__all__ = ["Config", "PAPER", "run", "check", "figures"]


@dataclass(frozen=True)
class Config:
    size: int = 15
    horizon: int = 30
    epochs: int = 50
    batch: int = 256
    lr: float = 0.01
    eval_trajectories: int = 512
    tiny_size: int = 5
    tiny_horizon: int = 8
    tiny_epochs: int = 50
    compare_code_estimator: bool = True
    """Also train SubPO with the released code's weighting F(tau_{0:h+1}) (reported, not claimed)."""


CLAIMS = (
    Claim("subpo-near-greedy", "SubPO (Markov) reaches at least 0.9x the coverage of the model-based greedy oracle.",
          "subpo_over_greedy", 0.9, ">="),
    Claim("subpo-beats-modpo", "SubPO covers at least 1.3x more than policy gradient on the additive reward (ModPO).",
          "subpo_over_modpo", 1.3, ">="),
    Claim("markov-close-to-history-low", "The Markov SubPO is within 10% of the history-conditioned SubPO (>= 0.9x).",
          "markov_over_history", 0.9, ">="),
    Claim("markov-close-to-history-high", "The Markov SubPO is within 10% of the history-conditioned SubPO (<= 1.1x).",
          "markov_over_history", 1.1, "<="),
    Claim("approximation-guarantee", "On a tiny grid SubPO reaches (1 - 1/e) of the brute-force optimum "
          "(share of seeds).", "tiny_reaches_1_minus_1_over_e", 0.9, ">="),
)

PAPER = Paper(
    slug="submodular-rl",
    number=20,
    arxiv="2307.13372",
    title="Submodular Reinforcement Learning",
    family="tabular",
    claims=CLAIMS,
    budgets={
        "smoke": Budget(Config(size=7, horizon=10, epochs=5, batch=64, eval_trajectories=64, tiny_horizon=5,
                               tiny_epochs=5, compare_code_estimator=False), seeds=2,
                        note="seconds; verdicts may be INCONCLUSIVE"),
        "quick": Budget(Config(compare_code_estimator=False), seeds=5,
                        note="15x15 grid, H = 30, 50 epochs of 256 trajectories"),
        "full": Budget(Config(size=30, horizon=60, epochs=140, batch=500), seeds=10,
                       note="also trains SubPO with the released code's weighting (unclaimed comparison)"),
    },
    summary="Policy gradient with marginal-gain rewards (SubPO) for a coverage objective of the visited states, "
            "against additive-reward policy gradient, a greedy oracle and the brute-force optimum.",
)


def _train_and_evaluate(grid, config: Config, ctx: RunContext, key: int, **kwargs) -> tuple[float, list[float]]:
    sub = SubPOConfig(epochs=kwargs.pop("epochs", config.epochs), batch=config.batch, lr=config.lr, **kwargs)
    net, history = train_subpo(grid, sub, ctx.torch_generator(key))
    value = evaluate_policy(grid, net, sub.policy_input, ctx.torch_generator(key, 1), config.eval_trajectories)
    ctx.check_finite("coverage", value)
    return value, history


def _random_policy_value(grid, rng: np.random.Generator, n: int) -> float:
    s = np.full(n, grid.start)
    states = [s]
    for _ in range(grid.horizon):
        s = grid.next[s, rng.integers(0, 5, n)]
        states.append(s)
    return float(prefix_values(grid, np.stack(states, 1))[:, -1].mean())


def run(config: Config, seed: int, ctx: RunContext) -> dict:
    grid = coverage_grid(config.size, config.size, config.horizon,
                         bimodal_weights(config.size, config.size, ctx.rng(0)))
    greedy, path = greedy_oracle(grid)
    values, curves = {}, {}
    methods = {"subpo_m": dict(), "subpo_nm": dict(policy_input="history"), "modpo": dict(objective="modular")}
    if config.compare_code_estimator:
        methods["subpo_code"] = dict(estimator="code")
    for key, (name, kwargs) in enumerate(methods.items()):
        values[name], curves[name] = _train_and_evaluate(grid, config, ctx, key, **kwargs)
    values["random"] = _random_policy_value(grid, ctx.rng(1), config.eval_trajectories)

    tiny = coverage_grid(config.tiny_size, config.tiny_size, config.tiny_horizon,
                         bimodal_weights(config.tiny_size, config.tiny_size, ctx.rng(2)))
    opt = brute_force_optimum(tiny)
    tiny_value, _ = _train_and_evaluate(tiny, config, ctx, 10, epochs=config.tiny_epochs)
    return {
        "values": values,
        "greedy": greedy,
        "greedy_path": path.tolist(),
        "weights": grid.weights.tolist(),
        "size": config.size,
        "curves": curves,
        "subpo_over_greedy": values["subpo_m"] / greedy,
        "subpo_over_modpo": values["subpo_m"] / max(values["modpo"], 1e-12),
        "markov_over_history": values["subpo_m"] / max(values["subpo_nm"], 1e-12),
        "tiny_opt": opt,
        "tiny_subpo": tiny_value,
        "tiny_greedy": greedy_oracle(tiny)[0],
        "tiny_reaches_1_minus_1_over_e": float(tiny_value >= (1 - np.exp(-1)) * opt),
    }


def check(results: list[dict], budget: str) -> list[Verdict]:
    detail = "F per seed (SubPO-M / SubPO-NM / ModPO / random / greedy): " + "; ".join(
        "/".join(f"{r['values'][k]:.3f}" for k in ("subpo_m", "subpo_nm", "modpo", "random")) + f"/{r['greedy']:.3f}"
        for r in results if "values" in r)
    return PAPER.judge(results, budget, detail=detail)


def figures(results: list[dict], out_dir: Path) -> list[Path]:
    plt = pyplot()

    results = [r for r in results if "curves" in r]
    if not results:
        return []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for i, name in enumerate(results[0]["curves"]):
        curve = np.array([np.asarray(r["curves"][name]) / r["greedy"] for r in results])
        axes[0].plot(curve.mean(0), color=f"C{i}", label=name)
    axes[0].axhline(1.0, color="k", ls="--", label="greedy oracle")
    axes[0].axhline(np.mean([r["values"]["random"] / r["greedy"] for r in results]), color="gray", ls=":",
                    label="random policy")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("F(tau) / F(greedy)  (training batch mean)")
    axes[0].set_title(f"mean over {len(results)} seeds", fontsize=9)
    axes[0].legend(fontsize=8)
    first = results[0]
    size = first["size"]
    axes[1].imshow(np.asarray(first["weights"]).reshape(size, size), cmap="Greens")
    path = np.asarray(first["greedy_path"])
    axes[1].plot(path % size, path // size, "r.-", lw=1, label="greedy oracle path")
    axes[1].set_title(f"coverage weights (seed {first['seed']}) and the greedy path", fontsize=9)
    axes[1].legend(fontsize=8)
    return [save_figure(fig, out_dir, "coverage_training.png", dpi=100)]
