r"""Paper 21: The Edge-of-Reach Problem in Offline Model-Based Reinforcement Learning
(Sims, Lu, Foerster, Teh; NeurIPS 2024; arXiv 2402.12527).

What the paper claims
---------------------
Offline model-based RL (MBPO/MOPO-style: k-step rollouts of the policy in a model, started from
dataset states, then SAC on real + model transitions) needs pessimism, but *not* mainly because
of model error: with the **true** dynamics in place of the learned model these methods still
collapse.  The cause is rollout truncation: states reached only at the last rollout step k are
Bellman *targets* but never *inputs*, so their Q-values are never corrected ("bootstrapping from
the void"); the policy steers towards them and the values explode.  RAVL (an EDAC critic
ensemble: min over N critics + gradient-diversity regulariser, no dynamics penalty) detects those
edge-of-reach states and works with learned and with perfect dynamics.

What we reproduce (CPU scale, spec §4)
--------------------------------------
``EdgeOfReach2D`` (``latentlab/EdgeOfReach2D-v0``; :mod:`latentlab.offline.envs`): a 2-D point
mass, :math:`s'=\mathrm{clip}(s+0.1a)`, :math:`r=1-\|s'-g\|/(2\sqrt2)\in[0,1]`, horizon 50, γ 0.99,
so every true value is in [0, R_max/(1−γ)] = [0, 100].  Dataset: 200 noisy behaviour episodes
walking away from g along a narrow band.  Arms (one :class:`~latentlab.offline.rollouts.ModelRolloutTrainer`
each, deeprl's SAC as the learner, the true dynamics as the rollout model unless noted):

* **A** — SAC-2 on k = 5 true-dynamics rollouts from dataset states (= MBPO, = MOPO with u ≡ 0,
  = arm C of the spec);
* **D** — RAVL: SAC with N = 10 critics, η = 1 (``SACConfig.ravl``), same rollouts as A;
* **F** — SAC-2 with full-horizon (H = 50) true-dynamics rollouts from the true start
  distribution (no truncation, hence no edge);
* full budget only: **B** — MOPO (λ = 1, max-aleatoric penalty) with a learned Gaussian ensemble
  (``GaussianEnsembleDynamics``, 7 members / 5 elites); **E** — RAVL with the same learned model.

Free knobs, fixed ONCE here before any experiment was run (never retuned after seeing results)
------------------------------------------------------------------------------------------------
* env: goal g = (0.8, 0.8), start :math:`s_0\sim U([-0.05,0.05]^2)`;
* data band: behaviour :math:`a_x=\mathrm{clip}(-0.2+0.3\epsilon)`,
  :math:`a_y=\mathrm{clip}(-5s_y+0.2\epsilon)` — :math:`|s_y|\lesssim0.05`, :math:`s_x\in[-1,0.05]`;
  with k = 5 every state reachable from the data is within L∞ distance 0.5 of the band, the goal is
  at L∞ distance ≥ 0.75 from it;
* k = 5, real ratio ρ = 0.05, model buffer R = 5 epochs, batch 256, 1000 updates per epoch,
  rollout batch 5000 start states (A, D) / 500 full-horizon rollouts (F, the same 25 000 model
  transitions per epoch);
* networks 64-64 ReLU (actor and every critic) at smoke/quick, 128-128 at full; γ 0.99, auto-α
  (target −|A|), log-std clipped to [−5, 2] for every arm; arm D adds EDAC's initialisation
  (``SACConfig.ravl``).  τ and the learning rate: see "Budget" (changed from the spec's 5e-3 / 3e-4
  on 2026-11-24 after pilot runs on seeds 1000+, before the quick verdicts below were measured).

Budget (quick: 5 000 updates per arm, 2 seeds, arms A, D, F; τ = 0.05, lr 1e-3)
-------------------------------------------------------------------------------
The first quick version (τ 5e-3, lr 3e-4, 5k updates) measured nothing: with Polyak targets the
values can only move by about one Bellman backup per 1/τ updates, so U updates give ≈ τU
backups and :math:`Q\approx(1-\gamma^{\tau U})Q^\pi`.  τU = 25 at 5k updates (Q at ~22% of its
value: every arm *under*-estimated, ratio ≈ 1 at every rollout step), and even the spec's 10k
give only 40%.  Pilot runs on seed 1000 (64 wide, 1000 updates per epoch; not claim seeds):

* τ = 0.05 gives τU = 250 backups in 5k updates (γ^250 ≈ 0.08).  The untruncated arm F then
  converges within ~3k updates (seed 1000: batch-mean Q 94.7 / 95.9 / 96.1 at 3k / 4k / 5k against
  a Monte-Carlo soft value ≈ 93.5, normalised return 0.95), so "does not converge yet" can no
  longer explain a missing divergence — the point of the change.
* lr 1e-3 (actor, critics, α) rather than 3e-4: at 3e-4 α decays too slowly (0.23 after 5k
  updates) and F's *soft* Q, which includes the entropy bonus α·H(π), sits at ≈ 128 > 100 although
  F does not diverge; the R_max/(1−γ) bound of the claims is for the reward-only value, so α must
  have decayed (1e-3: α ≈ 0.01 at 5k) for the bound to be a fair test.
* cost (seed 1000, this shared 2-core machine, one process): A ≈ 35 s, D ≈ 66 s, F ≈ 29 s per 5k
  updates, so 3 arms x 5k fit one seed per worker, both seeds in parallel, within ~5 minutes.
  The spec's 10k per arm does not fit.  The thresholds are the spec's, unchanged.

Metrics and claims (thresholds from the spec, fixed before running)
-------------------------------------------------------------------
Bound: :math:`R_{\max}/(1-\gamma)=100`.  "Batch-mean Q" = the mean over a training batch of the
critics' mean Q (logged every update).  Returns: the deterministic policy's mean undiscounted
50-step return from 100 fixed start states in the true env, normalised as
:math:`(R-R_{\rm random})/(R_{\rm expert}-R_{\rm random})` (uniform-random policy = 0, the
straight-to-goal controller = 1; :func:`~latentlab.offline.envs.edge_of_reach_reference_returns`).

* ``mbpo-true-dynamics-q-explodes`` (criterion 1a): arm A's largest batch-mean Q exceeds
  10 × bound; metric :math:`\log_{10}(\max Q_A/100)\ge1`.
* ``mbpo-return-collapses`` (1b): A's final normalised return ≤ 0.3 × D's; metric
  :math:`\mathrm{norm}_A-0.3\,\mathrm{norm}_D\le0`.
* ``ravl-q-within-range`` (2a): arm D's largest batch-mean Q ≤ bound (metric ratio ≤ 1).
* ``no-truncation-no-divergence`` (4a): arm F's largest batch-mean Q ≤ bound (ratio ≤ 1).
* ``edge-states-carry-the-error`` (4b): for arm A, mean |Q − Q_true| over states first seen at
  rollout step k divided by that over dataset (step-0) states ≥ 5; Q = min over critics at
  a ~ π(s), Q_true = the Monte-Carlo soft value of the current policy in the true dynamics; the
  per-seed number is the median of the ratio over the per-epoch diagnostic checkpoints.
* ``ravl-learned-matches-true`` (2b, full only): D's final normalised return ≥ 0.8 × E's; metric
  :math:`\mathrm{norm}_D-0.8\,\mathrm{norm}_E\ge0`.
* ``mopo-paradox`` (3, full only): B (MOPO, learned model) ≥ 0.5 normalised *and* C (= A: MOPO
  with the true model, u ≡ 0) ≤ 0.3 × B; metric
  :math:`\min(\mathrm{norm}_B-0.5,\ 0.3\,\mathrm{norm}_B-\mathrm{norm}_A)\ge0`.

Q divergence is the measured phenomenon, so large Q values are recorded, not treated as a failed
run; a trainer stops an arm only at NaN or |Q| > 1e8 and records why.

What differs from the paper
---------------------------
The paper's own toy environment is not transcribed; this one is our re-creation of its idea.
No D4RL / MuJoCo, no Pendulum arms (spec's full budget lists Pendulum A/B/D/E: not implemented
yet), no V-D4RL.  The spec's "oracle patch" extra check is not run.  5k (not 10k) updates at
quick, with τ = 0.05 and lr 1e-3 instead of 5e-3 / 3e-4 (see Budget).

Quick verdicts (2026-11-24, seeds 0-1, 248 s wall): A diverges (max batch-mean Q 276 / 335 > 100)
while untruncated F converges (94 / 96, PASS) — the paper's mechanism — but A stays below the
spec's 10 × bound (FAIL), its return does not collapse (FAIL), the error is not localised at the
edge (ratio 1.07, FAIL), and RAVL diverges too (FAIL): its 10 critics have almost no spread at the
edge-of-reach states of this 2-D toy (std ≈ 0.3-1.8 on Q ≈ 500-1000), so min over N adds no
pessimism there; no implementation bug was found.  Details: ``docs/papers/edge-of-reach.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from latentlab.deeprl import SAC, SACConfig
from latentlab.offline.envs import (
    EdgeOfReach2D,
    EdgeOfReach2DDynamics,
    edge_of_reach_dataset,
    edge_of_reach_reference_returns,
)
from latentlab.offline.rollouts import ModelRolloutTrainer, RolloutConfig
from latentlab.repro.context import RunContext
from latentlab.repro.paper import Budget, Claim, Paper, Verdict
from latentlab.repro.plotting import pyplot, save_figure

__all__ = ["Config", "PAPER", "run", "check", "figures", "BOUND"]

GAMMA = 0.99
BOUND = 100.0  # R_max / (1 - gamma) with R_max = 1, gamma = 0.99


@dataclass(frozen=True)
class Config:
    arms: tuple[str, ...] = ("A", "D", "F")
    """Subset of A, B, D, E, F (see the module docstring)."""
    hidden: tuple[int, ...] = (64, 64)
    epochs: int = 5
    updates_per_epoch: int = 1000
    rollout_batch: int = 5000
    rollout_length: int = 5
    retain_epochs: int = 5
    real_ratio: float = 0.05
    batch_size: int = 256
    tau: float = 0.05
    """Polyak rate of the target critics (spec/RAVL: 5e-3; see "Budget" in the module docstring)."""
    lr: float = 1e-3
    """Adam learning rate of actor, critics and α (spec/RAVL: 3e-4; see "Budget")."""
    n_critics: int = 10
    eta: float = 1.0
    horizon: int = 50
    n_episodes: int = 200
    diag_states: int = 128
    diag_mc_samples: int = 4
    diag_mc_horizon: int = 460
    eval_episodes: int = 100
    # learned-model arms (B, E)
    mopo_lambda: float = 1.0
    dynamics_hidden: tuple[int, ...] = (64, 64, 64, 64)
    dynamics_members: int = 7
    dynamics_elites: int = 5
    dynamics_max_epochs: int = 100


CLAIMS = (
    Claim("mbpo-true-dynamics-q-explodes",
          "Arm A (SAC-2 on k=5 TRUE-dynamics rollouts from dataset states) diverges: its largest batch-mean Q "
          "exceeds 10 x R_max/(1-gamma) = 1000 (metric log10(max Q / 100) >= 1).",
          metric="a_log10_q_over_bound", threshold=1.0, direction=">="),
    Claim("mbpo-return-collapses",
          "Arm A's final normalised return is <= 0.3 x RAVL's (arm D) (metric norm_A - 0.3 norm_D <= 0).",
          metric="a_minus_03_d_return", threshold=0.0, direction="<="),
    Claim("ravl-q-within-range",
          "RAVL (N=10, eta=1) with the true dynamics keeps Q within the achievable range: largest batch-mean Q "
          "<= R_max/(1-gamma) (ratio <= 1).",
          metric="d_max_q_over_bound", threshold=1.0, direction="<="),
    Claim("no-truncation-no-divergence",
          "Without truncation (arm F: full-horizon rollouts from the true start distribution) SAC-2 does not "
          "diverge: largest batch-mean Q <= R_max/(1-gamma) (ratio <= 1).",
          metric="f_max_q_over_bound", threshold=1.0, direction="<="),
    Claim("edge-states-carry-the-error",
          "In arm A, |Q - Q_true| on states first seen at rollout step k is >= 5x that on dataset states "
          "(median over diagnostic checkpoints).",
          metric="a_edge_error_ratio", threshold=5.0, direction=">="),
    Claim("ravl-learned-matches-true",
          "Full budget: RAVL with the true dynamics (D) reaches >= 0.8 x the normalised return of RAVL with the "
          "learned model (E) (metric norm_D - 0.8 norm_E >= 0).",
          metric="d_minus_08_e_return", threshold=0.0, direction=">="),
    Claim("mopo-paradox",
          "Full budget: MOPO with a learned model (B) reaches >= 0.5 normalised while the same method with the true "
          "model (C = A, u = 0) gets <= 0.3 x B (metric min(norm_B - 0.5, 0.3 norm_B - norm_A) >= 0).",
          metric="mopo_paradox_margin", threshold=0.0, direction=">="),
)

_FULL_ONLY = {"d_minus_08_e_return", "mopo_paradox_margin"}
_ARM_KEY = {"A": 0, "D": 1, "F": 2, "B": 3, "E": 4}

PAPER = Paper(
    slug="edge-of-reach",
    number=21,
    arxiv="2402.12527",
    title="The Edge-of-Reach Problem in Offline Model-Based Reinforcement Learning",
    family="offline",
    claims=CLAIMS,
    budgets={
        "smoke": Budget(Config(epochs=1, updates_per_epoch=60, rollout_batch=300, diag_states=16, diag_mc_samples=1,
                               diag_mc_horizon=40, eval_episodes=8, n_episodes=20),
                        seeds=2, note="seconds; verdicts INCONCLUSIVE"),
        "quick": Budget(Config(), seeds=2,
                        note="arms A, D, F; 64-wide; 5k updates per arm; tau 0.05, lr 1e-3 (see Budget)"),
        "full": Budget(Config(arms=("A", "B", "D", "E", "F"), hidden=(128, 128), epochs=30), seeds=3,
                       note="all arms incl. the learned-model arms B and E; 128-wide; 30k updates"),
    },
    summary="Truncated model rollouts with the TRUE dynamics: SAC-2 values explode at edge-of-reach states, RAVL's "
            "critic ensemble keeps them in range, full-horizon rollouts do not diverge.",
)


# --------------------------------------------------------------------------- run


def _sac_config(config: Config, arm: str) -> SACConfig:
    common = dict(hidden=tuple(config.hidden), batch_size=config.batch_size, gamma=GAMMA, tau=config.tau,
                  actor_lr=config.lr, critic_lr=config.lr, alpha_lr=config.lr, log_std_bounds=(-5.0, 2.0),
                  log_std_mode="clip")
    if arm in ("D", "E"):
        return SACConfig.ravl(n_critics=config.n_critics, critic_diversity_coef=config.eta, **common)
    return SACConfig(**common)


def _rollout_config(config: Config, arm: str) -> RolloutConfig:
    full = arm == "F"
    steps = config.horizon if full else config.rollout_length
    return RolloutConfig(
        epochs=config.epochs, updates_per_epoch=config.updates_per_epoch,
        rollout_batch=max(1, config.rollout_batch * config.rollout_length // steps),
        rollout_length=config.rollout_length, retain_epochs=config.retain_epochs, real_ratio=config.real_ratio,
        batch_size=config.batch_size, full_horizon=full, horizon=config.horizon,
        diag_every=config.epochs if full else 1, diag_states=config.diag_states,
        diag_mc_samples=config.diag_mc_samples, diag_mc_horizon=config.diag_mc_horizon,
        eval_every=1, eval_episodes=config.eval_episodes, eval_horizon=config.horizon)


def _learned_model(config: Config, data: Any, seed: int, ctx: RunContext) -> tuple[Any, dict]:
    from latentlab.offline.dynamics import EnsembleDynamicsConfig, GaussianEnsembleDynamics

    model = GaussianEnsembleDynamics(2, 2, EnsembleDynamicsConfig(
        n_members=config.dynamics_members, n_elites=config.dynamics_elites, hidden=tuple(config.dynamics_hidden),
        max_epochs=config.dynamics_max_epochs), seed=seed)
    fit = model.fit(data, seed=seed, check_finite=ctx.check_finite)
    return model, {"epochs": fit.epochs, "best_holdout_mse": fit.best_holdout_mse, "wall_s": fit.wall_s}


def _normalise(ret: float, ref: tuple[float, float]) -> float:
    return (ret - ref[0]) / (ref[1] - ref[0])


def _edge_ratio(history: dict, k: int) -> float:
    ratios = []
    for d in history["edge"]:
        if 0 in d["steps"] and k in d["steps"]:
            e0, ek = d["abs_error"][d["steps"].index(0)], d["abs_error"][d["steps"].index(k)]
            ratios.append(ek / max(e0, 1e-9))
    return float(np.median(ratios)) if ratios else float("nan")


def _edge_spread(history: dict, k: int) -> tuple[float, float]:
    """Ensemble spread (std of Q over the critics) on dataset (step 0) and edge (step k) states, median over the
    diagnostic checkpoints."""
    s0, sk = [], []
    for d in history["edge"]:
        if 0 in d["steps"] and k in d["steps"] and "q_std" in d:
            s0.append(d["q_std"][d["steps"].index(0)])
            sk.append(d["q_std"][d["steps"].index(k)])
    return (float(np.median(s0)), float(np.median(sk))) if s0 else (float("nan"), float("nan"))


def run(config: Config, seed: int, ctx: RunContext) -> dict:
    unknown = sorted(set(config.arms) - set(_ARM_KEY))
    if unknown:
        raise ValueError(f"arms must be among {sorted(_ARM_KEY)}, got unknown {unknown}")
    env = EdgeOfReach2D()
    dyn = EdgeOfReach2DDynamics()
    data_seed = int(ctx.rng(1).integers(2**31 - 1))
    data = edge_of_reach_dataset(config.n_episodes, seed=data_seed, horizon=config.horizon)
    ref = edge_of_reach_reference_returns(dyn, horizon=config.horizon)
    arms: dict[str, dict] = {}
    model = None
    metrics: dict[str, Any] = {"ref_random_return": ref[0], "ref_expert_return": ref[1], "bound": BOUND}
    for arm in config.arms:
        i = _ARM_KEY[arm]  # seeds keyed by arm name: adding arms does not reseed the others
        rollout_model: Any = dyn
        penalty = None
        if arm in ("B", "E"):
            if model is None:
                model, fit = _learned_model(config, data, int(ctx.rng(2).integers(2**31 - 1)), ctx)
                metrics["dynamics_fit"] = fit
            rollout_model = model
            if arm == "B":
                penalty = model.penalty("max_aleatoric", config.mopo_lambda)
        agent = SAC(env.observation_space, env.action_space, _sac_config(config, arm),
                    seed=int(ctx.rng(10 + i).integers(2**31 - 1)))
        trainer = ModelRolloutTrainer(agent, data, rollout_model, _rollout_config(config, arm), penalty=penalty,
                                      true_dynamics=dyn, start_sampler=dyn.sample_initial,
                                      seed=int(ctx.rng(20 + i).integers(2**31 - 1)))
        history = trainer.train().to_dict()
        finite = [q for q in history["q_batch_mean_max"] if math.isfinite(q)]
        history["max_batch_mean_q"] = max(finite) if finite else 0.0
        history["final_return"] = history["returns"][-1][1] if history["returns"] else ref[0]
        history["final_norm_return"] = _normalise(history["final_return"], ref)
        # JSON-safe: a NaN epoch (training stopped there) is stored as None
        for key in ("q_mean", "q_batch_mean_max", "q_max", "critic_loss"):
            history[key] = [v if math.isfinite(v) else None for v in history[key]]
        arms[arm] = history
    metrics["arms"] = arms
    k = config.rollout_length
    if "A" in arms:
        metrics["a_log10_q_over_bound"] = math.log10(max(arms["A"]["max_batch_mean_q"], 1e-3) / BOUND)
        metrics["a_edge_error_ratio"] = _edge_ratio(arms["A"], k)
        if not math.isfinite(metrics["a_edge_error_ratio"]):
            del metrics["a_edge_error_ratio"]
    if "A" in arms and "D" in arms:
        metrics["a_minus_03_d_return"] = arms["A"]["final_norm_return"] - 0.3 * arms["D"]["final_norm_return"]
    if "D" in arms:
        metrics["d_max_q_over_bound"] = arms["D"]["max_batch_mean_q"] / BOUND
        metrics["d_edge_error_ratio"] = _edge_ratio(arms["D"], k)
        if not math.isfinite(metrics["d_edge_error_ratio"]):
            del metrics["d_edge_error_ratio"]
        std0, stdk = _edge_spread(arms["D"], k)
        if math.isfinite(std0):
            metrics["d_q_std_dataset"], metrics["d_q_std_edge"] = std0, stdk
    if "F" in arms:
        metrics["f_max_q_over_bound"] = arms["F"]["max_batch_mean_q"] / BOUND
    if "D" in arms and "E" in arms:
        metrics["d_minus_08_e_return"] = arms["D"]["final_norm_return"] - 0.8 * arms["E"]["final_norm_return"]
    if "A" in arms and "B" in arms:
        b, a = arms["B"]["final_norm_return"], arms["A"]["final_norm_return"]
        metrics["mopo_paradox_margin"] = min(b - 0.5, 0.3 * b - a)
    for arm, h in arms.items():
        metrics[f"{arm.lower()}_final_norm_return"] = h["final_norm_return"]
        metrics[f"{arm.lower()}_max_batch_mean_q"] = h["max_batch_mean_q"]
    return metrics


# --------------------------------------------------------------------------- check


def check(results: list[dict], budget: str) -> list[Verdict]:
    verdicts = []
    for claim in PAPER.claims:
        values = [r[claim.metric] for r in results if claim.metric in r]
        missing = ("needs the learned-model arms B/E (full budget only)" if claim.metric in _FULL_ONLY
                   else "no finished runs")
        verdicts.append(claim.judge(values, budget, detail=_detail(claim.metric, results), missing=missing))
    return verdicts


def _detail(metric: str, results: list[dict]) -> str:
    def per_seed(fmt: str, *keys: str) -> str:
        return ", ".join(fmt.format(*[r.get(k, float("nan")) for k in keys]) for r in results)

    if metric == "a_log10_q_over_bound":
        return "max batch-mean Q per seed, A / D / F: " + per_seed(
            "{:.3g} / {:.3g} / {:.3g}", "a_max_batch_mean_q", "d_max_batch_mean_q", "f_max_batch_mean_q")
    if metric == "a_minus_03_d_return":
        return "final normalised return per seed, A / D / F: " + per_seed(
            "{:.2f} / {:.2f} / {:.2f}", "a_final_norm_return", "d_final_norm_return", "f_final_norm_return")
    if metric == "a_edge_error_ratio":
        return "same ratio for RAVL (D) per seed: " + per_seed("{:.2f}", "d_edge_error_ratio")
    if metric == "d_max_q_over_bound":
        return "RAVL's ensemble spread std_j Q_j on dataset / edge (step k) states per seed: " + per_seed(
            "{:.3g} / {:.3g}", "d_q_std_dataset", "d_q_std_edge")
    return ""


# --------------------------------------------------------------------------- figures


def figures(results: list[dict], out_dir: Path) -> list[Path]:
    plt = pyplot()
    results = [r for r in results if "arms" in r]
    if not results:
        return []
    colors = {"A": "C3", "B": "C1", "D": "C0", "E": "C2", "F": "C7"}
    labels = {"A": "A: SAC-2, true dyn., k=5", "B": "B: MOPO, learned model", "D": "D: RAVL N=10, true dyn.",
              "E": "E: RAVL, learned model", "F": "F: SAC-2, full horizon"}
    fig, (ax_q, ax_edge, ax_ret) = plt.subplots(1, 3, figsize=(15, 4.2))
    for arm in labels:
        for j, r in enumerate(results):
            if arm not in r["arms"]:
                continue
            h = r["arms"][arm]
            q = np.array([v if v is not None else np.nan for v in h["q_batch_mean_max"]], dtype=float)
            ax_q.plot(h["updates"][:len(q)], np.maximum(np.abs(q), 1e-2), "o-", color=colors[arm], ms=3, lw=1,
                      alpha=0.8, label=labels[arm] if j == 0 else None)
            if h["returns"]:
                steps, rets = zip(*h["returns"])
                ref = (r["ref_random_return"], r["ref_expert_return"])
                ax_ret.plot(steps, [_normalise(x, ref) for x in rets], "o-", color=colors[arm], ms=3, lw=1,
                            alpha=0.8, label=labels[arm] if j == 0 else None)
    ax_q.axhline(BOUND, color="k", ls="--", lw=1, label="R_max/(1-γ) = 100")
    ax_q.axhline(10 * BOUND, color="k", ls=":", lw=1, label="10 x bound (claim 1)")
    ax_q.set_yscale("log")
    ax_q.set_xlabel("SAC updates")
    ax_q.set_ylabel("|largest batch-mean Q| per epoch")
    ax_q.set_title("Q magnitude vs the achievable bound", fontsize=9)
    ax_q.legend(fontsize=7)
    width = 0.38
    for off, arm in ((-width / 2, "A"), (width / 2, "D")):
        per_seed = []
        for r in results:
            if arm in r["arms"] and r["arms"][arm]["edge"]:
                d = r["arms"][arm]["edge"][-1]
                per_seed.append(dict(zip(d["steps"], d["abs_error"])))
        if not per_seed:
            continue
        steps = sorted(set().union(*per_seed))
        mean = [np.mean([p[t] for p in per_seed if t in p]) for t in steps]
        ax_edge.bar(np.array(steps) + off, np.maximum(mean, 1e-3), width, color=colors[arm], label=labels[arm])
    ax_edge.set_yscale("log")
    ax_edge.set_xlabel("rollout step at which the state first appears (k = edge of reach)")
    ax_edge.set_ylabel("mean |Q - Q_true| (final checkpoint, mean over seeds)")
    ax_edge.set_title("edge-of-reach diagnostic", fontsize=9)
    ax_edge.legend(fontsize=7)
    ax_ret.axhline(1.0, color="k", ls="--", lw=1, label="straight-to-goal controller")
    ax_ret.axhline(0.0, color="k", ls=":", lw=1, label="uniform random policy")
    ax_ret.set_xlabel("SAC updates")
    ax_ret.set_ylabel("normalised 50-step return (deterministic policy)")
    ax_ret.set_title(f"return, {len(results)} seeds", fontsize=9)
    ax_ret.legend(fontsize=7)
    path = save_figure(fig, out_dir, "q_and_edge.png", dpi=100)
    return [path]
