r"""Paper 25: Sample- and computation-efficient RL by action-space reduction via grouping.

Li, Ju & Shroff, ICLR 2024, arXiv 2306.12981.

What the paper claims
---------------------
Learning on a lifted MDP over (state, action group) trades an approximation error that
shrinks with finer groupings against an estimation error that grows with the number of
groups :math:`G` at a fixed sample budget, so under limited samples a *coarser* grouping
can beat the full action set; a cheap selection rule, whose cost does not depend on
:math:`|A|`, picks a near-optimal :math:`G`.

What we run (spec, CPU scale)
-----------------------------
Per seed: S = 20 states, |A| = 1000 actions in K* = 20 true clusters (centres
:math:`\mathrm{Dir}(\mathbf 1)`, per-action perturbation weight :math:`\sigma = 0.05`, reward
deviation 0.05), :math:`\gamma = 0.9`
(:func:`~latentlab.tabular.grouping.clustered_action_mdp`).  A pilot of ``pilot_samples``
draws per (s, a) gives per-action features; Ward clustering gives nested groupings for
:math:`G \in \{1, 2, 5, 10, 20, 50, 100, 1000\}`.  For each budget :math:`B` and each
:math:`G`, Algorithm 1 spends :math:`B` generative samples on the :math:`SG` lifted pairs
(observed rewards carry N(0, 0.5²) noise), runs value iteration and outputs the
group-uniform policy; the loss is the exact :math:`\frac1S\sum_s(V^* - V^{\hat\pi})(s)`
(linear solve).  The selection rule (:func:`~latentlab.tabular.grouping.select_grouping`)
minimises a plug-in form of the paper's bound.

Claims and thresholds (the spec's pass criteria, fixed before running)
---------------------------------------------------------------------
* ``u-shape``: share of seeds in which, for every :math:`B \le 10^4`, the best
  :math:`G^* \in [5, 50]` and :math:`\mathrm{loss}(G^*) \le 0.7\,\mathrm{loss}(G=|A|)`: >= 0.8.
* ``coarse-beats-full``: :math:`\mathrm{loss}(G^*)/\mathrm{loss}(|A|)` at :math:`B = 10^4` <= 0.7.
* ``gstar-nondecreasing``: share of seeds where :math:`G^*` is non-decreasing in :math:`B` >= 0.8.
* ``selection-near-optimal``: per seed, the share of budgets where the selected :math:`G` has
  loss <= 1.2x the best on the grid; mean >= 0.8 (spec: "in >= 80% of seeds").

Reconstruction notes
--------------------
The paper's bound constants and selection optimisation could not be read; the selection
uses a simulation-lemma plug-in of the bound in which approximation and estimation are
both model errors in the same units (:func:`~latentlab.tabular.grouping.bound_surrogate`),
so the argmin does not depend on an unknown common constant.  Observation noise 0.5 (a
Bernoulli-like reward) was chosen in a pilot (seeds 1000-1001, before any claim run): with
0.1, a single sample identifies good actions and the full action set is never beaten.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentlab.repro.context import RunContext
from latentlab.repro.paper import Budget, Claim, Paper, Verdict
from latentlab.repro.plotting import pyplot, save_figure
from latentlab.tabular.grouping import (
    clustered_action_mdp,
    discounted_policy_value,
    discounted_vi,
    group_model,
    grouped_policy,
    grouping_errors,
    grouping_loss,
    nested_groupings,
    pilot_features,
    sample_lifted_model,
    select_grouping,
)

__all__ = ["Config", "PAPER", "run", "check", "figures"]


@dataclass(frozen=True)
class Config:
    S: int = 20
    n_actions: int = 1000
    n_clusters: int = 20
    sigma: float = 0.05
    sigma_r: float = 0.05
    gamma: float = 0.9
    obs_noise: float = 0.5
    pilot_samples: int = 5
    groups: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 100, 1000)
    budgets: tuple[int, ...] = (1000, 10_000, 100_000)
    vi_iterations: int = 200
    small_budget: int = 10_000
    """Budgets <= this must show the U-shape."""


CLAIMS = (
    Claim("u-shape", "For every budget B <= 1e4 the loss over G is U-shaped: best G* in [5, 50] and "
          "loss(G*) <= 0.7 loss(G = |A|) (share of seeds).", "u_shape", 0.8, ">="),
    Claim("coarse-beats-full", "At B = 1e4 the best grouping's loss is at most 0.7x the full action set's.",
          "loss_ratio_best_vs_full", 0.7, "<="),
    Claim("gstar-nondecreasing", "The best number of groups G* does not decrease with the budget (share of seeds).",
          "gstar_nondecreasing", 0.8, ">="),
    Claim("selection-near-optimal", "The bound-based selection picks a G with loss <= 1.2x the best on the grid "
          "(share of budgets, averaged over seeds).", "selection_near_optimal", 0.8, ">="),
)

PAPER = Paper(
    slug="action-grouping",
    number=25,
    arxiv="2306.12981",
    title="Achieving Sample and Computational Efficient Reinforcement Learning by Action Space Reduction via Grouping",
    family="tabular",
    claims=CLAIMS,
    budgets={
        "smoke": Budget(Config(n_actions=200, groups=(1, 5, 20, 200), budgets=(1000, 10_000), vi_iterations=100),
                        seeds=2, note="seconds; verdicts may be INCONCLUSIVE"),
        "quick": Budget(Config(), seeds=5, note="S=20, |A|=1000, B in {1e3, 1e4, 1e5}"),
        "full": Budget(Config(budgets=(1000, 10_000, 100_000, 1_000_000)), seeds=20),
    },
    summary="Learning on (state, group) pairs: under a limited sample budget a coarse grouping beats the full action "
            "set, and a bound-based rule picks the number of groups.",
)


def run(config: Config, seed: int, ctx: RunContext) -> dict:
    mdp = clustered_action_mdp(config.S, config.n_actions, config.n_clusters, config.sigma, config.sigma_r,
                               config.gamma, ctx.rng(0))
    Q = discounted_vi(mdp.P, mdp.R, mdp.gamma, 4 * config.vi_iterations)
    best = Q.argmax(1)
    rows = np.arange(mdp.S)
    v_star = discounted_policy_value(mdp.P[rows, best], mdp.R[rows, best], mdp.gamma)
    features = pilot_features(mdp, config.pilot_samples, ctx.rng(1))
    groups = tuple(g for g in config.groups if g <= mdp.A)
    groupings = nested_groupings(features, groups)
    errors = grouping_errors(features, groupings, mdp.S, config.pilot_samples)
    sample_rng = ctx.rng(2)
    losses = np.zeros((len(config.budgets), len(groups)))
    selected = []
    for i, budget in enumerate(config.budgets):
        for j, g in enumerate(groups):
            P_hat, r_hat, _ = sample_lifted_model(group_model(mdp.P, mdp.R, groupings[g]), budget, sample_rng,
                                                  config.obs_noise)
            Q2 = discounted_vi(P_hat, r_hat, mdp.gamma, config.vi_iterations)
            losses[i, j] = grouping_loss(mdp, grouped_policy(Q2, groupings[g]), v_star)
        selected.append(select_grouping(errors, mdp.S, budget, mdp.gamma, config.obs_noise)[0])
    g_arr = np.asarray(groups)
    g_star = g_arr[np.argmin(losses, axis=1)]
    full = losses[:, -1]
    small = np.asarray(config.budgets) <= config.small_budget
    u_ok = (g_star >= 5) & (g_star <= 50) & (losses.min(1) <= 0.7 * full)
    chosen_loss = losses[np.arange(len(config.budgets)), [groups.index(g) for g in selected]]
    ref = int(np.argmin(np.abs(np.asarray(config.budgets) - config.small_budget)))
    return {
        "groups": list(groups),
        "budgets": list(config.budgets),
        "losses": losses.tolist(),
        "g_star": g_star.tolist(),
        "selected": [int(g) for g in selected],
        "u_shape": float(np.all(u_ok[small])),
        "loss_ratio_best_vs_full": float(losses[ref].min() / full[ref]),
        "gstar_nondecreasing": float(np.all(np.diff(g_star) >= 0)),
        "selection_near_optimal": float(np.mean(chosen_loss <= 1.2 * losses.min(1))),
        "approximation_errors": {str(g): list(e) for g, e in errors.items()},
    }


def check(results: list[dict], budget: str) -> list[Verdict]:
    detail = "G* / selected per budget, per seed: " + "; ".join(
        f"{r['g_star']}/{r['selected']}" for r in results if "g_star" in r)
    return PAPER.judge(results, budget, detail=detail)


def figures(results: list[dict], out_dir: Path) -> list[Path]:
    plt = pyplot()

    results = [r for r in results if "losses" in r]
    if not results:
        return []
    groups = np.asarray(results[0]["groups"])
    losses = np.array([r["losses"] for r in results])  # [seeds, B, G]
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, budget in enumerate(results[0]["budgets"]):
        mean = losses[:, i].mean(0)
        ax.plot(groups, mean, "o-", color=f"C{i}", label=f"B = {budget:.0e}")
        ax.fill_between(groups, losses[:, i].min(0), losses[:, i].max(0), color=f"C{i}", alpha=0.15)
        chosen = [r["selected"][i] for r in results]
        ax.plot(chosen, [mean[list(groups).index(g)] for g in chosen], "x", color=f"C{i}", ms=10)
    ax.set_xscale("log")
    ax.set_xlabel("number of groups G")
    ax.set_ylabel("loss  mean_s (V* - V^pi)(s)  (exact)")
    ax.set_title(f"mean and range over {len(results)} seeds; x = selected G", fontsize=9)
    ax.legend(fontsize=8)
    path = save_figure(fig, out_dir, "loss_vs_groups.png", dpi=100)
    return [path]
