r"""Paper 51: Optimal decision making in robotic assembly and other trial-and-error tasks.

Watson & Correll, arXiv 2301.10846.

What the paper claims
---------------------
A robot repeats an attempt until a terminal success signal; a noisy failure predictor
(a dilated CNN on force-torque data) may flag an ongoing attempt so that the robot aborts
and restarts.  Modelling the attempt loop as a Markov jump process with exponential
("Poisson") running times gives a closed-form expected makespan as a function of the
predictor's confusion matrix, so the robot adopts the preemptive policy only when it saves
time.  On a real peg-in-hole task the average makespan drops from 101 s to 81 s
(N = 120, p < 0.05).

What we reproduce (CPU scale, everything simulated)
---------------------------------------------------
1. **Closed form vs simulation** (:mod:`latentlab.inference.makespan`).  Over a grid of
   success rates :math:`P_s`, predictor qualities (an equal-variance binormal predictor of
   given AUC, flagging at the midpoint) and duration laws (exponential, Gamma of shape 4),
   with :math:`T_s=60, T_f=90, t_c=20` s (the spec's numbers), the closed forms
   :math:`E[M_0]` and :math:`E[M_1]` are compared with the mean of ``grid_completions``
   event-level simulated task completions per cell (the jump-process absorption time is
   recorded too; it equals the closed form to round-off).  Per seed the metric is the
   *worst* relative error over all cells of both policies.  Design: with :math:`10^6`
   completions per cell the relative standard error is about 0.1% (the makespan's
   coefficient of variation is about 1), so the worst of ~36 cells sits near 0.3-0.4% if the
   closed form is exact and a 1% discrepancy would be seen in every seed.
2. **Peg-in-hole analogue** (:mod:`latentlab.inference.failure_classifier`).  Attempts
   succeed w.p. 0.6 with Gamma(shape 4) durations of mean 51 s (success) and 75 s (failure,
   reset included), so run-to-completion takes :math:`E[M_0] = 101` s as on the paper's
   robot; an abort costs the flag time plus a 5 s reset.  Each attempt carries a synthetic
   6-axis force-torque signal whose jam signature grows along failing attempts (with
   passing snags in every attempt).  A dilated 1-D CNN is trained on 500 simulated attempts;
   it scores a 5 s sliding window every second, and an attempt is flagged the first time
   its score exceeds a threshold.  The threshold minimising the plug-in :math:`E[M_1]` is
   chosen on a *selection* set; the decision rule (preempt iff the Beta-posterior
   probability that :math:`E[M_1] < E[M_0]` exceeds 0.95) is applied to a separate
   *decision* set; both policies are then simulated over ``completions`` task completions
   drawing attempts from a fresh *pool* (common random numbers).  The same pipeline with a
   predictor trained on signals that carry no jam signature (``separation = 0``) is the
   useless classifier.

Claims and thresholds (fixed before running)
--------------------------------------------
* ``closed-form-matches-simulation``: worst relative error over the grid <= 1% (the issue's
  criterion; the design above puts sampling noise well below it).
* ``closed-form-within-2se-over-thresholds``: over the CNN's threshold sweep, the fraction of
  thresholds at which the closed form (confusion matrix and mean times measured on the pool)
  is within 2 standard errors of the simulated mean, >= 0.8.  This is the spec's "within 2 SE
  at every threshold", made a rate: an exact formula is within 2 SE at 95% of thresholds, so
  "every one of 12" would fail an exact formula in about half the seeds; a biased one drops
  far below 0.8.
* ``classifier-auc``: attempt-level AUC of the CNN (max score over the attempt) >= 0.85, the
  spec's "good classifier".
* ``preemption-cuts-makespan``: relative reduction of the simulated makespan by the
  rule-chosen policy (0 when the rule declines) >= 15% (spec; the paper reports 20%).
* ``useless-classifier-declined``: the rule declines with the useless classifier, a 0/1
  metric per seed, mean >= 0.9.

What differs from the paper
---------------------------
No robot: the attempts, their durations and their force-torque signals are simulated, so
the 101 s -> 81 s result can only be matched in kind.  The closed form follows the spec's
reconstruction; the authors' group's code carries an extra one time unit per attempt
(``t_start`` in the library, 0 here).  Under preemption the mean durations of *unflagged*
attempts enter the closed form: a sliding-window predictor flags long attempts more often,
and the paper's single :math:`T_s, T_f` would bias the prediction (see
:mod:`latentlab.inference.makespan`).  The significance test of the paper (N = 120) is
reported (Welch's t-test on 120 simulated completions per policy), not claimed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from latentlab.inference.failure_classifier import (
    AttemptScores,
    ForceTorqueModel,
    SimulatedAttempts,
    TrainedClassifier,
    TrainingConfig,
    score_attempts,
    select_threshold,
    simulate_attempts,
    threshold_candidates,
    train_failure_classifier,
)
from latentlab.inference.makespan import (
    TaskParameters,
    binormal_confusion,
    closed_form_preemptive,
    closed_form_run_to_completion,
    decide_preemption,
    estimate_from_log,
    expected_makespan,
    mjp_expected_makespan,
    simulate_makespan,
    simulate_makespan_from_log,
)
from latentlab.repro.context import RunContext
from latentlab.repro.paper import Budget, Claim, Paper, Verdict
from latentlab.repro.plotting import pyplot, save_figure

__all__ = ["Config", "PAPER", "run", "check", "figures"]


@dataclass(frozen=True)
class Config:
    # --- closed form vs event-level simulation (claim 1)
    grid_p_success: tuple[float, ...] = (0.3, 0.6, 0.9)
    """Success probabilities of the grid."""
    grid_auc: tuple[float, ...] = (0.55, 0.65, 0.75, 0.85, 0.95)
    """Predictor qualities of the grid (AUC of a binormal predictor flagging at the midpoint)."""
    grid_durations: tuple[str, ...] = ("exponential", "gamma")
    """Duration laws of the grid."""
    grid_t_success: float = 60.0
    grid_t_failure: float = 90.0
    grid_t_classify: float = 20.0
    gamma_shape: float = 4.0
    """Shape of every Gamma duration (grid and peg-in-hole attempts)."""
    grid_completions: int = 1_000_000
    """Simulated task completions per grid cell."""
    # --- peg-in-hole analogue (claims 2-5)
    p_success: float = 0.6
    t_success: float = 51.0
    t_failure: float = 75.0
    reset_time: float = 5.0
    """Seconds to reset after an abort."""
    separation: float = 1.0
    """Jam-signature strength of the good predictor's signals (the useless one gets 0)."""
    train_attempts: int = 500
    selection_attempts: int = 500
    decision_attempts: int = 300
    pool_attempts: int = 2000
    completions: int = 20_000
    """Simulated task completions per policy and per threshold of the sweep."""
    n_thresholds: int = 12
    epochs: int = 4
    windows_per_attempt: int = 24
    hidden: int = 16
    decision_level: float = 0.95
    posterior_draws: int = 4000
    paper_n: int = 120
    """Completions per policy of the paper-sized significance test (reported only)."""
    chunk: int = 500
    """Attempts simulated and scored at a time (memory bound)."""


CLAIMS = (
    Claim(
        "closed-form-matches-simulation",
        "The closed-form expected makespan of both policies is within 1% of the event-level simulated "
        "mean over a grid of success rates, predictor qualities and duration laws (worst cell).",
        metric="worst_relative_error", threshold=0.01, direction="<=",
    ),
    Claim(
        "closed-form-within-2se-over-thresholds",
        "Across a sweep of the CNN predictor's thresholds, the closed form is within 2 standard errors "
        "of the simulated mean makespan at (at least) 80% of the thresholds.",
        metric="fraction_within_2se", threshold=0.8, direction=">=",
    ),
    Claim(
        "classifier-auc",
        "The dilated CNN trained on simulated force-torque attempts is a good failure predictor (AUC >= 0.85).",
        metric="classifier_auc", threshold=0.85, direction=">=",
    ),
    Claim(
        "preemption-cuts-makespan",
        "On the peg-in-hole analogue (run to completion ~101 s), the rule-chosen preemptive policy cuts the "
        "simulated makespan by at least 15% (paper: 101 s -> 81 s).",
        metric="makespan_reduction", threshold=0.15, direction=">=",
    ),
    Claim(
        "useless-classifier-declined",
        "With a useless classifier (AUC ~ 0.5) the decision rule declines to preempt (in >= 90% of seeds).",
        metric="useless_declined", threshold=0.9, direction=">=",
    ),
)

PAPER = Paper(
    slug="trial-and-error-makespan",
    number=51,
    arxiv="2301.10846",
    title="Optimal decision making in robotic assembly and other trial-and-error tasks",
    family="inference",
    claims=CLAIMS,
    budgets={
        "smoke": Budget(
            Config(grid_p_success=(0.3, 0.8), grid_auc=(0.6, 0.9), grid_completions=200_000,
                   train_attempts=100, selection_attempts=100, decision_attempts=100, pool_attempts=200,
                   completions=4000, n_thresholds=6, epochs=2, windows_per_attempt=16, hidden=8,
                   posterior_draws=1000),
            seeds=2, note="seconds; verdicts may be INCONCLUSIVE",
        ),
        "quick": Budget(Config(), seeds=5, note="closed form on 36 cells x 1e6 completions, CNN on 500 attempts"),
        "full": Budget(
            Config(grid_p_success=(0.2, 0.4, 0.6, 0.8, 0.95),
                   grid_auc=(0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98),
                   grid_completions=2_000_000, train_attempts=2000, selection_attempts=1000,
                   decision_attempts=500, pool_attempts=10_000, completions=100_000, n_thresholds=20,
                   epochs=8, hidden=32, posterior_draws=20_000),
            seeds=10,
        ),
    },
    summary="Closed-form expected makespan of run-to-completion vs failure preemption, checked against "
            "simulation, and a CNN failure predictor adopted only when it is predicted to save time.",
)


# --------------------------------------------------------------------------- run


def run(config: Config, seed: int, ctx: RunContext) -> dict:
    grid = _closed_form_grid(config, ctx)
    good = _peg_in_hole(config, ctx, separation=config.separation, stream=10, evaluate=True)
    useless = _peg_in_hole(config, ctx, separation=0.0, stream=20, evaluate=False)
    return {
        "worst_relative_error": grid["worst_relative_error"],
        "fraction_within_2se": good["fraction_within_2se"],
        "classifier_auc": good["classifier_auc"],
        "makespan_reduction": good["makespan_reduction"],
        "useless_declined": int(not useless["decision"]["preempt"]),
        "useless_auc": useless["classifier_auc"],
        "grid": grid,
        "peg_in_hole": good,
        "useless": useless,
    }


def _grid_task(config: Config, p_success: float, family: str) -> TaskParameters:
    return TaskParameters(p_success, config.grid_t_success, config.grid_t_failure, config.grid_t_classify,
                          duration=family, shape=1.0 if family == "exponential" else config.gamma_shape)


def _closed_form_grid(config: Config, ctx: RunContext) -> dict:
    """Claim 1: closed form, jump process and simulation on every cell of the grid."""
    rng = ctx.rng(1)
    cells = []
    for family in config.grid_durations:
        for p_success in config.grid_p_success:
            task = _grid_task(config, p_success, family)
            policies = [("run-to-completion", None, None)]
            policies += [("preemptive", auc, binormal_confusion(auc)) for auc in config.grid_auc]
            for policy, auc, confusion in policies:
                sample = simulate_makespan(task, confusion, n_completions=config.grid_completions, rng=rng)
                closed = float(expected_makespan(task, confusion))
                cells.append({
                    "policy": policy, "duration": family, "p_success": p_success, "auc": auc,
                    "tpr": None if confusion is None else float(confusion.tpr),
                    "fpr": None if confusion is None else float(confusion.fpr),
                    "closed_form": closed,
                    "jump_process": float(mjp_expected_makespan(task, confusion)),
                    "simulated": sample.mean,
                    "standard_error": sample.standard_error,
                    "mean_attempts": float(sample.attempts.mean()),
                    "relative_error": abs(sample.mean - closed) / closed,
                })
    return {
        "cells": cells,
        "worst_relative_error": max(c["relative_error"] for c in cells),
        "worst_jump_process_gap": max(abs(c["jump_process"] - c["closed_form"]) for c in cells),
        "t_success": config.grid_t_success, "t_failure": config.grid_t_failure,
        "t_classify": config.grid_t_classify,
    }


def _peg_in_hole(config: Config, ctx: RunContext, *, separation: float, stream: int, evaluate: bool) -> dict:
    """Claims 2-5: train the CNN, choose a threshold, decide, and (if ``evaluate``) simulate both policies."""
    task = TaskParameters(config.p_success, config.t_success, config.t_failure,
                          duration="gamma", shape=config.gamma_shape)
    signal = ForceTorqueModel(separation=separation)
    attempts_rng = ctx.rng(stream, 1)
    training = TrainingConfig(epochs=config.epochs, windows_per_attempt=config.windows_per_attempt,
                              hidden=config.hidden)
    training_attempts = SimulatedAttempts.concatenate([
        simulate_attempts(task, min(config.chunk, config.train_attempts - start), signal, attempts_rng)
        for start in range(0, config.train_attempts, config.chunk)
    ])
    classifier = train_failure_classifier(
        training_attempts, training,
        rng=ctx.rng(stream, 2), generator=ctx.torch_generator(stream), device=ctx.device,
    )
    ctx.check_finite("training loss", np.array(classifier.losses))

    def scored(n: int) -> AttemptScores:
        return _score_in_chunks(classifier, task, signal, n, attempts_rng, config.chunk, ctx.device)

    selection, decision_set = scored(config.selection_attempts), scored(config.decision_attempts)
    candidates = threshold_candidates(selection, config.n_thresholds)
    threshold, selection_objective = select_threshold(selection, candidates, config.reset_time)
    decision = decide_preemption(decision_set.log(threshold, config.reset_time), rng=ctx.rng(stream, 3),
                                 level=config.decision_level, n_draws=config.posterior_draws)
    result: dict = {
        "separation": separation,
        "losses": [float(v) for v in classifier.losses],
        "threshold": threshold,
        "candidates": [float(h) for h in candidates],
        "selection_objective": [float(v) for v in selection_objective],
        "decision": decision.as_dict(),
    }
    if not evaluate:
        result["classifier_auc"] = AttemptScores.concatenate([selection, decision_set]).auc()
        return result

    pool = scored(config.pool_attempts)
    result["classifier_auc"] = pool.auc()
    result["task"] = {"p_success": config.p_success, "t_success": config.t_success,
                      "t_failure": config.t_failure, "reset_time": config.reset_time,
                      "closed_form_run_to_completion": float(expected_makespan(task))}
    result.update(_evaluate_policies(config, ctx, stream, pool, threshold, decision.preempt, decision_set))
    return result


def _score_in_chunks(classifier: TrainedClassifier, task: TaskParameters, signal: ForceTorqueModel, n: int,
                     rng: np.random.Generator, chunk: int, device: str) -> AttemptScores:
    """Simulate ``n`` attempts and score them, ``chunk`` at a time (signals are not kept)."""
    parts = [score_attempts(classifier, simulate_attempts(task, min(chunk, n - start), signal, rng), device=device)
             for start in range(0, n, chunk)]
    return AttemptScores.concatenate(parts)


def _evaluate_policies(config: Config, ctx: RunContext, stream: int, pool: AttemptScores, threshold: float,
                       preempt: bool, decision_set: AttemptScores) -> dict:
    """Simulated makespans on the pool: run to completion, the rule's choice, and the threshold sweep."""
    def simulate(log, preempt_now: bool, *keys: int, n: int = config.completions):
        return simulate_makespan_from_log(log, preempt=preempt_now, n_completions=n, rng=ctx.rng(stream, *keys))

    chosen_log = pool.log(threshold, config.reset_time)
    baseline = simulate(chosen_log, False, 4)
    chosen = simulate(chosen_log, preempt, 4)  # same key: common random numbers
    estimates = estimate_from_log(chosen_log)

    sweep = []
    for index, h in enumerate(threshold_candidates(pool, config.n_thresholds)):
        log = pool.log(float(h), config.reset_time)
        sample = simulate(log, True, 5, index)
        pool_estimates = estimate_from_log(log)
        confusion = pool_estimates.confusion
        # the paper's single T_s, T_f (means over all attempts) in place of the unflagged means
        unconditional = closed_form_preemptive(pool_estimates.p_success, pool_estimates.t_success,
                                               pool_estimates.t_failure, pool_estimates.t_classify,
                                               confusion.tpr, confusion.fpr)
        closed = pool_estimates.preemptive()
        predicted = estimate_from_log(decision_set.log(float(h), config.reset_time)).preemptive()
        sweep.append({
            "threshold": float(h), "tpr": float(confusion.tpr), "fpr": float(confusion.fpr),
            "closed_form": closed,
            "closed_form_unconditional_means": float(unconditional),
            "predicted_from_decision_set": predicted,
            "simulated": sample.mean, "standard_error": sample.standard_error,
            "within_2se": bool(abs(sample.mean - closed) <= 2 * sample.standard_error),
        })

    small_baseline = simulate(chosen_log, False, 6, n=config.paper_n)
    small_chosen = simulate(chosen_log, preempt, 7, n=config.paper_n)
    welch = stats.ttest_ind(small_baseline.makespan, small_chosen.makespan, equal_var=False)
    return {
        "run_to_completion": {"simulated": baseline.mean, "standard_error": baseline.standard_error,
                              "closed_form": estimates.run_to_completion()},
        "chosen": {"preempt": bool(preempt), "simulated": chosen.mean, "standard_error": chosen.standard_error,
                   "closed_form": estimates.preemptive() if preempt else estimates.run_to_completion(),
                   "tpr": float(estimates.confusion.tpr), "fpr": float(estimates.confusion.fpr),
                   "t_classify": float(estimates.t_classify)},
        "makespan_reduction": 1.0 - chosen.mean / baseline.mean,
        "sweep": sweep,
        "fraction_within_2se": float(np.mean([s["within_2se"] for s in sweep])),
        "paper_size_test": {"n": config.paper_n, "run_to_completion": small_baseline.mean,
                            "preemptive": small_chosen.mean, "welch_p_value": float(welch.pvalue)
                            if np.isfinite(welch.pvalue) else 1.0},
    }


# --------------------------------------------------------------------------- check


def check(results: list[dict], budget: str) -> list[Verdict]:
    verdicts = []
    for claim in PAPER.claims:
        values = [r[claim.metric] for r in results if claim.metric in r]
        verdicts.append(claim.judge(values, budget, detail=_detail(claim.metric, results)))
    return verdicts


def _detail(metric: str, results: list[dict]) -> str:
    if not results:
        return ""
    if metric == "makespan_reduction":
        parts = [f"{r['peg_in_hole']['run_to_completion']['simulated']:.1f}s -> "
                 f"{r['peg_in_hole']['chosen']['simulated']:.1f}s" for r in results if "peg_in_hole" in r]
        return "run to completion -> rule's choice per seed: " + ", ".join(parts)
    if metric == "useless_declined":
        probs = [f"{r['useless']['decision']['probability']:.2f}" for r in results if "useless" in r]
        aucs = [f"{r['useless_auc']:.2f}" for r in results if "useless_auc" in r]
        return f"P(E[M1] < E[M0]) per seed: {', '.join(probs)}; useless AUC: {', '.join(aucs)}"
    if metric == "worst_relative_error":
        cells = [len(r["grid"]["cells"]) for r in results if "grid" in r]
        return f"worst cell of {cells[0] if cells else 0} (policies x P_s x AUC x duration law) per seed"
    return ""


# --------------------------------------------------------------------------- figures


def figures(results: list[dict], out_dir: Path) -> list[Path]:
    plt = pyplot()

    results = [r for r in results if "grid" in r]
    if not results:
        return []
    paths = [_figure_quality(results, out_dir, plt), _figure_scatter(results, out_dir, plt)]
    if "sweep" in results[0]["peg_in_hole"]:
        paths.append(_figure_sweep(results[0], out_dir, plt))
    return paths


def _figure_quality(results: list[dict], out_dir: Path, plt) -> Path:
    """Expected makespan vs predictor quality: closed-form lines, simulated points, the rule's switch."""
    grid = results[0]["grid"]
    cells = grid["cells"]
    p_values = sorted({c["p_success"] for c in cells})
    p_show = min(p_values, key=lambda p: abs(p - 0.6))
    families = sorted({c["duration"] for c in cells})
    fig, axes = plt.subplots(1, len(families), figsize=(5 * len(families), 3.8), squeeze=False)
    auc_line = np.linspace(0.5, 0.99, 200)
    t_s, t_f, t_c = grid["t_success"], grid["t_failure"], grid["t_classify"]
    confusion = binormal_confusion(auc_line)
    m0 = float(closed_form_run_to_completion(p_show, t_s, t_f))
    m1 = closed_form_preemptive(p_show, t_s, t_f, t_c, confusion.tpr, confusion.fpr)
    switch = auc_line[np.argmax(m1 < m0)] if np.any(m1 < m0) else None
    for ax, family in zip(axes[0], families):
        ax.axhline(m0, color="C0", label="run to completion $E[M_0]$ (closed form)")
        ax.plot(auc_line, m1, color="C1", label="preemptive $E[M_1]$ (closed form)")
        for policy, color, marker in (("run-to-completion", "C0", "s"), ("preemptive", "C1", "o")):
            keys = sorted({c["auc"] or 0.0 for c in cells if c["policy"] == policy})
            for key in keys:
                chosen = [c for r in results for c in r["grid"]["cells"]
                          if c["policy"] == policy and c["duration"] == family and c["p_success"] == p_show
                          and (c["auc"] or 0.0) == key]
                if not chosen:
                    continue
                mean = np.mean([c["simulated"] for c in chosen])
                se = np.sqrt(np.sum([c["standard_error"] ** 2 for c in chosen])) / len(chosen)
                x = key if policy == "preemptive" else 0.5
                label = f"{policy}, simulated (±1.96 SE, {len(results)} seeds)" if key == keys[0] else None
                ax.errorbar(x, mean, yerr=1.96 * se, fmt=marker, color=color, ms=4, capsize=2, label=label)
        if switch is not None:
            ax.axvline(switch, color="k", ls=":", label=f"rule switches to preemption (AUC {switch:.2f})")
        ax.set_xlabel("predictor quality (AUC, binormal, midpoint threshold)")
        ax.set_ylabel("expected makespan (s)")
        ax.set_title(f"$P_s$={p_show:g}, $T_s$={t_s:g}, $T_f$={t_f:g}, $t_c$={t_c:g}; {family} durations",
                     fontsize=9)
        ax.set_ylim(0, 1.5 * max(m0, float(m1[0])))
        ax.legend(fontsize=7)
    path = save_figure(fig, out_dir, "makespan_vs_quality.png", dpi=110)
    return path


def _figure_scatter(results: list[dict], out_dir: Path, plt) -> Path:
    """Closed form vs simulated mean for every grid cell and every threshold of the sweep."""
    fig, (ax, ax_err) = plt.subplots(1, 2, figsize=(10, 4))
    groups = {
        "grid, run to completion": [(c["closed_form"], c["simulated"], c["standard_error"])
                                    for r in results for c in r["grid"]["cells"] if c["policy"] == "run-to-completion"],
        "grid, preemptive": [(c["closed_form"], c["simulated"], c["standard_error"])
                             for r in results for c in r["grid"]["cells"] if c["policy"] == "preemptive"],
        "CNN threshold sweep": [(s["closed_form"], s["simulated"], s["standard_error"])
                                for r in results for s in r["peg_in_hole"].get("sweep", [])],
    }
    for (label, points), marker in zip(groups.items(), ("s", "o", "x")):
        if not points:
            continue
        closed, simulated, se = map(np.asarray, zip(*points))
        ax.scatter(closed, simulated, s=12, marker=marker, label=label)
        ax_err.errorbar(closed, (simulated - closed) / closed, yerr=2 * se / closed, fmt=marker, ms=3,
                        label=label, alpha=0.7)
    every = np.concatenate([[p[0] for p in pts] for pts in groups.values() if pts])
    line = np.array([every.min() * 0.9, every.max() * 1.1])
    ax.plot(line, line, "k--", lw=1, label="identity")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("closed-form expected makespan (s)")
    ax.set_ylabel("simulated mean makespan (s)")
    ax.legend(fontsize=7)
    ax_err.axhspan(-0.01, 0.01, color="0.9", label="claim: within 1%")
    ax_err.axhline(0, color="k", lw=1)
    ax_err.set_xscale("log")
    ax_err.set_xlabel("closed-form expected makespan (s)")
    ax_err.set_ylabel("(simulated - closed form) / closed form  (±2 SE)")
    ax_err.legend(fontsize=7)
    path = save_figure(fig, out_dir, "closed_form_vs_simulation.png", dpi=110)
    return path


def _figure_sweep(result: dict, out_dir: Path, plt) -> Path:
    """The CNN's threshold sweep (first seed): simulated vs closed form, and the rule's choice."""
    peg = result["peg_in_hole"]
    sweep = peg["sweep"]
    h = np.array([s["threshold"] for s in sweep])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(h, [s["simulated"] for s in sweep], yerr=[2 * s["standard_error"] for s in sweep], fmt="o",
                ms=4, capsize=2, label="preemptive, simulated (±2 SE)")
    ax.plot(h, [s["closed_form"] for s in sweep], "-", label="closed form (rates measured on the pool)")
    ax.plot(h, [s["predicted_from_decision_set"] for s in sweep], "--",
            label="closed form (rates estimated on the decision set)")
    ax.plot(h, [s["closed_form_unconditional_means"] for s in sweep], ":", color="0.4",
            label="closed form with all-attempt $T_s, T_f$ (biased)")
    ax.axhline(peg["run_to_completion"]["simulated"], color="k", lw=1, label="run to completion, simulated")
    ax.axvline(peg["threshold"], color="C3", ls=":",
               label=f"chosen threshold ({'preempt' if peg['decision']['preempt'] else 'declined'})")
    ax.set_xlabel("CNN threshold on failure probability")
    ax.set_ylabel("mean makespan (s)")
    ax.set_ylim(0, 2.5 * peg["run_to_completion"]["simulated"])
    ax.set_title(f"seed {result.get('seed', 0)}: AUC {peg['classifier_auc']:.2f}, "
                 f"reduction {100 * peg['makespan_reduction']:.0f}%", fontsize=9)
    ax.legend(fontsize=7)
    path = save_figure(fig, out_dir, "threshold_sweep.png", dpi=110)
    return path
