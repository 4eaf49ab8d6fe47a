r"""Paper 59: A Dataset Perspective on Offline Reinforcement Learning (Schweighofer et al., CoLLAs 2022).

What the paper claims
---------------------
Two cheap numbers describe an offline dataset D: its Trajectory Quality (how good the
behaviour was) and its State-Action Coverage (how much it explored),

.. math::

    \mathrm{TQ}(D)=\frac{\bar R(D)-R_\text{random}}{R_\text{online,max}-R_\text{random}},\qquad
    \mathrm{SACo}(D)=\frac{U(D)}{U(D_\text{replay})},

(:math:`\bar R` mean episode return in D, :math:`R_\text{random}` that of the Random dataset,
:math:`R_\text{online,max}` the best evaluation return of the online behaviour run, U the number
of unique state-action pairs with continuous state coordinates put into 100 equal bins between
the Replay dataset's min and max).  Across 9 discrete offline algorithms x 5 dataset types x 6
environments, these two numbers explain which algorithm family works: off-policy Q-learning
(DQN family) needs high SACo and fails on Expert data; policy-constrained methods (BCQ, CRR,
CQL) do well when both TQ and SACo are high; behaviour cloning tracks TQ.

Method (see :mod:`latentlab.offline.datasets`, :mod:`latentlab.offline.metrics`,
:mod:`latentlab.offline.discrete`)
----------------------------------------------------------------------------------
1. Behaviour run: online epsilon-greedy DQN for ``transitions`` steps; its every transition is
   the **Replay** dataset.
2. Five datasets of ``transitions`` transitions each: **Random** (uniform actions), **Mixed**
   (80% random + 20% expert transitions), **Replay**, **Noisy** (final greedy policy with
   epsilon = 0.2), **Expert** (final greedy policy).
3. TQ and SACo of every dataset (exact unique counts; HyperLogLog as a cross-check).
4. Offline learners with greedy evaluation every ``eval_every`` updates; performance of a run =
   max over evaluation points of the mean return, normalised like TQ; the final evaluation is
   reported too.  Datasets of one algorithm are trained together as one batched ensemble
   (independent members; same updates as separate runs).

What we reproduce (CPU scale)
-----------------------------
CartPole-v1; a 30k-step behaviour run, the five datasets of 30k transitions, BC and DQN on all
five datasets and BCQ (tau = 0.3) and CQL (alpha = 0.1) on Noisy at ``quick`` (5k offline
updates each, greedy evaluation every 1000); ``full`` runs 100k transitions, all four algorithms
on all five datasets for 50k updates, and MountainCar-v0 as a second environment (reported, not
judged).

Claims and thresholds (fixed before running; the spec's pass criteria)
-----------------------------------------------------------------------
* ``definitions-exact``: max(|TQ(Random)|, |SACo(Replay) - 1|) <= 1e-9 (criterion 1).
* ``tq-expert-high``: TQ(Expert) >= 0.9 (criterion 1).
* ``saco-ordering``: SACo(Expert) < SACo(Noisy) < SACo(Replay), measured as the margin
  min(SACo(Noisy) - SACo(Expert), SACo(Replay) - SACo(Noisy)) >= 0 (criterion 1).
* ``hll-matches-exact``: HyperLogLog (p = 14) within 2% of the exact count on every dataset,
  max relative error <= 0.02 (extra check a).
* ``bc-tracks-tq``: Spearman rank correlation across the five datasets between BC performance
  and TQ >= 0.8 (criterion 2).
* ``dqn-fails-on-expert``: DQN performance on Expert <= 0.5 x DQN performance on Replay,
  measured as perf(Expert) - 0.5 perf(Replay) <= 0 (criterion 3; robust when perf(Replay) <= 0).
* ``bcq-good-on-noisy`` / ``cql-good-on-noisy``: normalised performance on Noisy >= 0.8
  (criterion 3).

What differs from the paper
---------------------------
CartPole only at ``quick`` (the paper: 6 environments incl. MiniGrid and MinAtar); 30k instead
of 100k behaviour transitions at ``quick``.  The behaviour DQN uses RL-Baselines3-Zoo's tuned
CartPole hyper-parameters (lr 2.3e-3, batch 64, 2x256, gamma 0.99, 128 updates every 256 steps,
target sync every 128 updates, epsilon 1 -> 0.04 over 16%) instead of the paper's (batch 32,
lr 1e-4, gamma 0.95, one update per step, 2x64): our first quick run used one update per step,
lr 1e-3 and gamma 0.95, and that DQN did not learn CartPole in 30k steps (best evaluation ~210,
final greedy policy ~120), while the paper's analysis presupposes a behaviour run that learns
the task; docs/papers/dataset-perspective.md gives both runs' verdicts.  Offline training runs
5k updates at ``quick`` (the spec's quick plan says 10k; halved to fit 4 seeds in the 5-minute
budget) and 50k at ``full`` instead of 5 x the online transitions, with learning rate 1e-3
instead of 1e-4 to make up for it; 5 evaluation points per offline run at ``quick`` (10 at
``full``) and 20 in the online run instead of every transitions/500 steps; 2x64 ReLU MLPs for
the offline learners.  Only BC, DQN, BCQ and CQL are implemented (not BVE, MCE, QR-DQN, REM,
CRR).  Unique counts are exact (HyperLogLog is computed and compared, not used for the claims).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentlab.offline.datasets import dqn_behaviour_datasets
from latentlab.offline.discrete import DiscreteConfig, fit
from latentlab.offline.dynamics import spearman
from latentlab.offline.metrics import dataset_summary, normalized_entropy
from latentlab.repro.context import RunContext
from latentlab.repro.paper import Budget, Claim, Paper, Verdict
from latentlab.repro.plotting import pyplot, save_figure

__all__ = ["Config", "PAPER", "run", "check", "figures", "DATASETS"]

DATASETS = ("random", "mixed", "replay", "noisy", "expert")


@dataclass(frozen=True)
class Config:
    envs: tuple[str, ...] = ("CartPole-v1",)
    """Claims are judged on the first env; the others are reported."""
    transitions: int = 30_000
    # --- behaviour (online DQN; RL-Zoo's CartPole hyper-parameters, see DiscreteConfig.online_dqn)
    online_lr: float = 2.3e-3
    online_batch: int = 64
    online_hidden: tuple[int, ...] = (256, 256)
    online_gamma: float = 0.99
    online_train_freq: int = 256
    online_gradient_steps: int = 128
    online_target_update: int = 128
    online_eps_fraction: float = 0.16
    online_eps_end: float = 0.04
    online_learning_starts: int = 1000
    online_eval_points: int = 20
    gamma: float = 0.95
    """Discount of the offline learners (the spec's CartPole value)."""
    # --- offline learners
    algos: tuple[str, ...] = ("bc", "dqn")
    """Trained on all five datasets."""
    noisy_algos: tuple[str, ...] = ("bcq", "cql")
    """Trained on the Noisy dataset only (criterion 3b)."""
    n_updates: int = 5000
    lr: float = 1e-3
    batch_size: int = 128
    target_update: int = 100
    cql_alpha: float = 0.1
    bcq_threshold: float = 0.3
    eval_every: int = 1000
    eval_episodes: int = 10
    # --- measures
    bins: int = 100
    hll_p: int = 14
    entropy_states: int = 5000


CLAIMS = (
    Claim("definitions-exact",
          "By construction TQ(Random) = 0 and SACo(Replay) = 1 (max deviation <= 1e-9).",
          metric="definition_error", threshold=1e-9, direction="<="),
    Claim("tq-expert-high",
          "The Expert dataset (final greedy policy of the behaviour run) has TQ >= 0.9.",
          metric="tq_expert", threshold=0.9, direction=">="),
    Claim("saco-ordering",
          "SACo(Expert) < SACo(Noisy) < SACo(Replay): margin min(Noisy - Expert, Replay - Noisy) >= 0.",
          metric="saco_order_margin", threshold=0.0, direction=">="),
    Claim("hll-matches-exact",
          "HyperLogLog (p = 14) counts unique state-action pairs within 2% of the exact count on every dataset.",
          metric="hll_max_rel_error", threshold=0.02, direction="<="),
    Claim("bc-tracks-tq",
          "Across the five datasets, BC's normalised performance is rank-correlated with TQ (Spearman >= 0.8).",
          metric="spearman_bc_tq", threshold=0.8, direction=">="),
    Claim("dqn-fails-on-expert",
          "Offline DQN on Expert data reaches at most half its performance on Replay data "
          "(perf(Expert) - 0.5 perf(Replay) <= 0).",
          metric="dqn_expert_minus_half_replay", threshold=0.0, direction="<="),
    Claim("bcq-good-on-noisy",
          "BCQ (tau = 0.3) reaches normalised performance >= 0.8 on the Noisy dataset.",
          metric="bcq_noisy", threshold=0.8, direction=">="),
    Claim("cql-good-on-noisy",
          "CQL (alpha = 0.1) reaches normalised performance >= 0.8 on the Noisy dataset.",
          metric="cql_noisy", threshold=0.8, direction=">="),
)

PAPER = Paper(
    slug="dataset-perspective",
    number=59,
    arxiv="2111.04714",
    title="A Dataset Perspective on Offline Reinforcement Learning",
    family="offline",
    claims=CLAIMS,
    budgets={
        "smoke": Budget(Config(transitions=1500, online_learning_starts=200, online_eval_points=3, n_updates=100,
                               eval_every=50, eval_episodes=2, entropy_states=300),
                        seeds=2, note="seconds; verdicts INCONCLUSIVE"),
        "quick": Budget(Config(), seeds=4,
                        note="CartPole, 30k-step DQN behaviour run, 5 datasets, BC + DQN on all, BCQ + CQL on Noisy, "
                             "5k updates"),
        "full": Budget(Config(envs=("CartPole-v1", "MountainCar-v0"), transitions=100_000,
                              algos=("bc", "dqn", "bcq", "cql"), noisy_algos=(), n_updates=50_000, eval_every=5000),
                       seeds=3,
                       note="CartPole + MountainCar, 100k transitions, 4 algorithms x 5 datasets, 50k updates"),
    },
    summary="TQ and SACo of five offline datasets from one DQN behaviour run, and how BC, DQN, BCQ and CQL "
            "perform on them.",
)


# --------------------------------------------------------------------------- run


def _seed(ctx: RunContext, *keys: int) -> int:
    return int(ctx.rng(*keys).integers(2**31 - 1))


def _env_run(config: Config, env_id: str, env_key: int, ctx: RunContext) -> dict:
    online_cfg = DiscreteConfig.online_dqn(
        lr=config.online_lr, batch_size=config.online_batch, hidden=config.online_hidden, gamma=config.online_gamma,
        train_freq=config.online_train_freq, gradient_steps=config.online_gradient_steps,
        target_update=config.online_target_update, eps_fraction=config.online_eps_fraction,
        eps_end=config.online_eps_end, learning_starts=config.online_learning_starts)
    sets = dqn_behaviour_datasets(env_id, config.transitions, _seed(ctx, env_key, 1), cache=False, config=online_cfg,
                                  eval_points=config.online_eval_points, eval_episodes=config.eval_episodes)
    replay = sets["replay"]
    r_random, r_max = replay.metadata["ref_min_score"], replay.metadata["ref_max_score"]
    out: dict = {"env_id": env_id, "r_random": r_random, "r_online_max": r_max,
                 "online_evals": replay.metadata["online_evals"]}
    if r_max <= r_random:
        out["degenerate"] = f"online run never beat the random policy (max eval {r_max} <= {r_random})"
        return out
    summaries = {name: dataset_summary(d, replay, r_random, r_max, config.bins, config.hll_p)
                 for name, d in sets.items()}
    out["datasets"] = summaries

    def norm(x: float) -> float:
        return (x - r_random) / (r_max - r_random)

    perf: dict[str, dict[str, dict]] = {}
    jobs = [(a, DATASETS) for a in config.algos] + [(a, ("noisy",)) for a in config.noisy_algos]
    for key, (algo, names) in enumerate(jobs):
        cfg = DiscreteConfig(algo=algo, lr=config.lr, batch_size=config.batch_size, gamma=config.gamma,
                             target_update=config.target_update, n_updates=config.n_updates,
                             cql_alpha=config.cql_alpha, bcq_threshold=config.bcq_threshold,
                             eval_every=config.eval_every, eval_episodes=config.eval_episodes)
        results = fit([sets[n] for n in names], cfg, seed=_seed(ctx, env_key, 10 + key), env_id=env_id,
                      check_finite=ctx.check_finite)
        for name, res in zip(names, results):
            entry = {"perf": norm(res.max_eval), "perf_final": norm(res.final_eval), "max_eval": res.max_eval,
                     "final_eval": res.final_eval, "eval_steps": [s for s, _, _ in res.evals],
                     "eval_returns": [m for _, m, _ in res.evals], "wall_s": res.wall_s}
            if algo == "bc":
                obs = sets[name].observations
                idx = ctx.rng(env_key, 99).choice(len(obs), size=min(config.entropy_states, len(obs)), replace=False)
                entry["bc_entropy"] = normalized_entropy(res.agent.behaviour_probs(obs[idx], member=res.member))
            perf.setdefault(algo, {})[name] = entry
    out["perf"] = perf
    return out


def _spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rho, 0 (no association) when either side is constant."""
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return spearman(x, y)


def run(config: Config, seed: int, ctx: RunContext) -> dict:
    envs = {env_id: _env_run(config, env_id, k + 1, ctx) for k, env_id in enumerate(config.envs)}
    main = envs[config.envs[0]]
    metrics: dict = {"envs": envs}
    if "degenerate" in main:
        return metrics
    ds, perf = main["datasets"], main["perf"]
    metrics["definition_error"] = max(abs(ds["random"]["tq"]), abs(ds["replay"]["saco"] - 1.0))
    metrics["tq_expert"] = ds["expert"]["tq"]
    metrics["saco_order_margin"] = min(ds["noisy"]["saco"] - ds["expert"]["saco"],
                                       ds["replay"]["saco"] - ds["noisy"]["saco"])
    metrics["hll_max_rel_error"] = max(abs(d["unique_hll"] - d["unique_exact"]) / d["unique_exact"]
                                       for d in ds.values())
    tqs = [ds[n]["tq"] for n in DATASETS]
    if "bc" in perf and len(perf["bc"]) == len(DATASETS):
        metrics["spearman_bc_tq"] = _spearman([perf["bc"][n]["perf"] for n in DATASETS], tqs)
        metrics["spearman_bc_tq_final"] = _spearman([perf["bc"][n]["perf_final"] for n in DATASETS], tqs)
    if "dqn" in perf and {"expert", "replay"} <= set(perf["dqn"]):
        metrics["dqn_expert_minus_half_replay"] = perf["dqn"]["expert"]["perf"] - 0.5 * perf["dqn"]["replay"]["perf"]
        metrics["dqn_expert_over_replay"] = perf["dqn"]["expert"]["perf"] / max(perf["dqn"]["replay"]["perf"], 1e-9)
    for algo in ("bcq", "cql"):
        if "noisy" in perf.get(algo, {}):
            metrics[f"{algo}_noisy"] = perf[algo]["noisy"]["perf"]
            metrics[f"{algo}_noisy_final"] = perf[algo]["noisy"]["perf_final"]
    return metrics


# --------------------------------------------------------------------------- check


def check(results: list[dict], budget: str) -> list[Verdict]:
    verdicts = []
    degenerate = [r["envs"][next(iter(r["envs"]))].get("degenerate") for r in results
                  if "definition_error" not in r and "envs" in r]
    for claim in PAPER.claims:
        values = [r[claim.metric] for r in results if claim.metric in r]
        detail = _detail(claim.metric, results)
        if degenerate:
            detail = "; ".join(filter(None, [detail, f"{len(degenerate)} seed(s) degenerate: {degenerate[0]}"]))
        if not values:
            verdicts.append(claim.inconclusive(budget, detail or "not measured at this budget"))
            continue
        verdicts.append(claim.judge(values, budget, detail=detail))
    return verdicts


def _main(r: dict) -> dict:
    return r["envs"][next(iter(r["envs"]))]


def _detail(metric: str, results: list[dict]) -> str:
    ok = [r for r in results if "definition_error" in r]
    if not ok:
        return ""
    if metric in ("tq_expert", "saco_order_margin"):
        key = "tq" if metric == "tq_expert" else "saco"
        return f"{key.upper()} per seed (" + "/".join(DATASETS) + "): " + "; ".join(
            "/".join(f"{_main(r)['datasets'][n][key]:.3f}" for n in DATASETS) for r in ok)
    if metric == "spearman_bc_tq":
        return "BC perf per seed (" + "/".join(DATASETS) + "): " + "; ".join(
            "/".join(f"{_main(r)['perf']['bc'][n]['perf']:.2f}" for n in DATASETS) for r in ok
            if "bc" in _main(r)["perf"])
    if metric == "dqn_expert_minus_half_replay":
        return "DQN perf Expert vs Replay per seed: " + ", ".join(
            f"{_main(r)['perf']['dqn']['expert']['perf']:.2f} vs {_main(r)['perf']['dqn']['replay']['perf']:.2f}"
            for r in ok if "dqn" in _main(r)["perf"])
    if metric in ("bcq_noisy", "cql_noisy"):
        return "final-evaluation perf per seed: " + ", ".join(
            f"{r[metric + '_final']:.2f}" for r in ok if metric + "_final" in r)
    return ""


# --------------------------------------------------------------------------- figures


def figures(results: list[dict], out_dir: Path) -> list[Path]:
    plt = pyplot()
    ok = [r for r in results if "definition_error" in r]
    if not ok:
        return []
    paths = []
    algos = list(dict.fromkeys(a for r in ok for a in _main(r)["perf"]))
    fig, axes = plt.subplots(1, len(algos), figsize=(4.2 * len(algos), 3.8), squeeze=False)
    markers = dict(zip(DATASETS, "os^Dv"))
    for ax, algo in zip(axes[0], algos):
        sc = None
        for r in ok:
            m = _main(r)
            for name, entry in m["perf"].get(algo, {}).items():
                d = m["datasets"][name]
                sc = ax.scatter(d["tq"], d["saco"], c=[entry["perf"]], cmap="viridis", vmin=0, vmax=1,
                                marker=markers[name], s=55, edgecolors="k", linewidths=0.4)
        for name in DATASETS:
            ax.scatter([], [], marker=markers[name], color="grey", label=name)
        ax.set_xlabel("TQ (trajectory quality)")
        ax.set_ylabel("SACo (state-action coverage)")
        ax.set_title(f"{algo.upper()}: colour = normalised performance (max over evals)", fontsize=8)
        ax.legend(fontsize=6, loc="best")
        if sc is not None:
            fig.colorbar(sc, ax=ax, fraction=0.046)
    fig.suptitle(f"{_main(ok[0])['env_id']}: datasets in the (TQ, SACo) plane, {len(ok)} seeds", fontsize=9)
    path = save_figure(fig, out_dir, "tq_saco_plane.png", dpi=100)
    paths.append(path)

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for j, r in enumerate(ok):
        ev = np.asarray(_main(r)["online_evals"], float)
        axes[0].plot(ev[:, 0], ev[:, 1], "o-", ms=3, alpha=0.7, label=f"seed {r.get('seed', j)}")
    axes[0].set_xlabel("online environment steps")
    axes[0].set_ylabel("greedy evaluation return")
    axes[0].set_title("behaviour DQN run (every transition = Replay dataset)", fontsize=8)
    axes[0].legend(fontsize=6)
    ax = axes[1]
    width = 0.8 / max(1, len(algos))
    for i, algo in enumerate(algos):
        means = [np.mean([_main(r)["perf"][algo][n]["perf"] for r in ok if n in _main(r)["perf"].get(algo, {})])
                 if any(n in _main(r)["perf"].get(algo, {}) for r in ok) else np.nan for n in DATASETS]
        ax.bar(np.arange(len(DATASETS)) + i * width, means, width, label=algo.upper())
    ax.set_xticks(np.arange(len(DATASETS)) + 0.4 - width / 2)
    ax.set_xticklabels(DATASETS)
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_ylabel("normalised performance (mean over seeds)")
    ax.legend(fontsize=7)
    path = save_figure(fig, out_dir, "performance.png", dpi=100)
    paths.append(path)
    return paths
