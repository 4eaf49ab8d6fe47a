r"""Paper 35: Demonstration-regularised RL (behaviour cloning, then KL-regularised optimistic RL).

Tiapkin, Belomestny, Calandriello, Moulines, Munos, Naumov, Perrault, Valko & Ménard,
ICLR 2024, arXiv 2310.17303.

What the paper claims
---------------------
Behaviour cloning from :math:`N^E` expert trajectories has trajectory KL
:math:`\mathrm{KL}_{\rm traj}(\pi^E\|\pi^{\rm BC}) = \tilde O(SAH/N^E)`; KL-regularised
optimistic RL towards :math:`\pi^{\rm BC}` with :math:`\lambda \propto N^E` then finds an
:math:`\varepsilon`-optimal policy after :math:`\tilde O(\mathrm{Poly}(S,A,H)/(\varepsilon^2 N^E))`
online episodes.  The paper has no experiments; the reproduction is our design (spec).

What we run
-----------
Per seed: a random MDP (S=10, A=2, H=5, Dirichlet(0.5), Bernoulli rewards), the expert
:math:`\pi^E = (1-w)\pi^* + w\,\mathrm{Unif}` with :math:`w` set by bisection so that
:math:`V^{\pi^E} = 0.99\,V^*`, demonstrations for every :math:`N^E` in the grid,
:math:`\pi^{\rm BC}` by Laplace smoothing (:func:`~latentlab.tabular.demo_regularized.behaviour_cloning`),
:math:`\lambda = \varepsilon N^E/(2\,SAH)` and :math:`\varepsilon = 0.05\,V^*`.  One
:class:`~latentlab.tabular.demo_regularized.DemoRegularizedUCBVI` runs all :math:`N^E` at once
(one replicate each); UCBVI from scratch is the baseline.  Every played policy is
evaluated exactly, giving the *sample complexity* = the first episode from which every
played policy is :math:`\varepsilon`-optimal (censored at ``n_episodes``).  We also record
the same count for the regularised objective (accuracy ``reg_accuracy`` V*), which
isolates the :math:`1/\lambda` mechanism, and BC alone (0 online episodes).

Claims and thresholds (the spec's pass criteria, fixed before running)
---------------------------------------------------------------------
* ``bc-kl-rate-low`` / ``-high``: slope of :math:`\log\mathrm{KL}_{\rm traj}(\pi^E\|\pi^{\rm BC})`
  (exact) vs :math:`\log N^E` in [-1.15, -0.85].
* ``demo-count-slope-low`` / ``-high``: slope of :math:`\log(1 + n_\varepsilon)` vs
  :math:`\log N^E` over :math:`N^E \ge 3000` in [-1.3, -0.6] (``1 +`` so that a count of 0,
  i.e. ε-optimal from the first episode, can enter a log-log fit; the spec has no rule
  for zeros).
* ``beats-scratch``: :math:`(1 + n_\varepsilon(N^E_{\max}))/(1 + n_\varepsilon^{\rm scratch}) \le 0.25`.

Expected difficulty (written before the claim runs, from a pilot on seeds 1000-1001)
-----------------------------------------------------------------------------------
With an expert 1% from optimal and :math:`\varepsilon` = 5%, BC alone is already
:math:`\varepsilon`-optimal for :math:`N^E \gtrsim 300` in the pilot, so the demo count is 0
over the whole :math:`N^E \ge 3000` range and its slope is 0, not about -1: the
:math:`1/N^E` rate is an *upper bound* that this instance does not need.  The slope claim
is kept exactly as the spec writes it and is expected to FAIL for that reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentlab.repro.context import RunContext
from latentlab.repro.paper import Budget, Claim, Paper, Verdict
from latentlab.repro.plotting import pyplot, save_figure
from latentlab.tabular.demo_regularized import (
    DemoRegularizedUCBVI,
    behaviour_cloning,
    regularisation_from_demos,
    regularised_value,
)
from latentlab.tabular.learners import UCBVI, rollout
from latentlab.tabular.mdp import FiniteHorizonMDP, random_mdp
from latentlab.tabular.metrics import sample_complexity
from latentlab.tabular.planning import soft_value_iteration, trajectory_kl

__all__ = ["Config", "PAPER", "run", "check", "figures", "make_expert"]


@dataclass(frozen=True)
class Config:
    S: int = 10
    A: int = 2
    H: int = 5
    dirichlet_alpha: float = 0.5
    expert_gap: float = 0.01
    """The expert's suboptimality as a fraction of V*."""
    epsilon: float = 0.05
    """Target accuracy as a fraction of V*."""
    reg_accuracy: float = 0.002
    """Accuracy (fraction of V*) of the regularised-objective count (reported, not claimed)."""
    n_demos: tuple[int, ...] = (30, 100, 300, 1000, 3000, 10_000, 30_000)
    slope_min_demos: int = 3000
    """The demo-count slope is fitted over N^E >= this."""
    kl_constant: float = 1.0
    bc_kappa: float = 1.0
    bonus_scale: float = 0.1
    delta: float = 0.1
    n_episodes: int = 5000


CLAIMS = (
    Claim("bc-kl-rate-low", "KL_traj(expert || BC) decays like 1/N^E: log-log slope >= -1.15.",
          "bc_kl_slope", -1.15, ">="),
    Claim("bc-kl-rate-high", "KL_traj(expert || BC) decays like 1/N^E: log-log slope <= -0.85.",
          "bc_kl_slope", -0.85, "<="),
    Claim("demo-count-slope-low", "Online episodes to an eps-optimal policy fall with N^E no faster than slope -1.3 "
          "(N^E >= 3000).", "demo_count_slope", -1.3, ">="),
    Claim("demo-count-slope-high", "Online episodes to an eps-optimal policy fall with N^E at slope <= -0.6 "
          "(N^E >= 3000).", "demo_count_slope", -0.6, "<="),
    Claim("beats-scratch", "With the most demonstrations, demo-regularised RL needs at most 0.25x the online episodes "
          "of UCBVI from scratch.", "count_ratio_vs_scratch", 0.25, "<="),
)

PAPER = Paper(
    slug="demo-regularized-rl",
    number=35,
    arxiv="2310.17303",
    title="Demonstration-Regularized RL",
    family="tabular",
    claims=CLAIMS,
    budgets={
        "smoke": Budget(Config(n_demos=(100, 1000, 3000, 10_000), n_episodes=200), seeds=2,
                        note="seconds; verdicts may be INCONCLUSIVE"),
        "quick": Budget(Config(), seeds=5, note="N^E from 30 to 3e4, 5000 online episodes"),
        "full": Budget(Config(n_demos=(30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000), n_episodes=20_000),
                       seeds=20),
    },
    summary="Behaviour cloning's KL to the expert decays as 1/N^E; KL-regularised optimistic RL towards the BC policy "
            "needs fewer online episodes than learning from scratch.",
)


def make_expert(mdp: FiniteHorizonMDP, gap: float) -> np.ndarray:
    """:math:`(1-w)\\pi^* + w\\,\\mathrm{Unif}` with :math:`V = (1 - \\text{gap}) V^*` (bisection on w)."""
    v_star = mdp.optimal_value()
    optimal = mdp.optimal().policy
    uniform = np.full_like(optimal, 1.0 / mdp.A)
    mixes = lambda w: (1 - w) * optimal + w * uniform  # noqa: E731
    low, high = 0.0, 1.0
    for _ in range(50):
        mid = 0.5 * (low + high)
        if float(mdp.value(mixes(mid))) > (1 - gap) * v_star:
            low = mid
        else:
            high = mid
    return mixes(low)


def _log_slope(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def run(config: Config, seed: int, ctx: RunContext) -> dict:
    base = random_mdp(config.S, config.A, config.H, ctx.rng(0), alpha=config.dirichlet_alpha)
    mdp = FiniteHorizonMDP(base.P, base.R, base.mu, reward_noise="bernoulli")
    v_star = mdp.optimal_value()
    expert = make_expert(mdp, config.expert_gap)
    n_demos = np.asarray(config.n_demos)
    demo_rng = ctx.rng(1)
    references = np.stack([behaviour_cloning(rollout(mdp, expert, demo_rng, n=int(n)), mdp.S, mdp.A, config.bc_kappa)
                           for n in n_demos])
    kl = trajectory_kl(mdp.P, mdp.mu, expert, references)
    eps = config.epsilon * v_star
    lam = regularisation_from_demos(n_demos, mdp.S, mdp.A, mdp.H, eps, config.kl_constant)
    reg_opt = np.array([soft_value_iteration(mdp.P, mdp.R, ref, la).V[0] @ mdp.mu for ref, la in zip(references, lam)])

    learner = DemoRegularizedUCBVI(mdp.H, mdp.S, mdp.A, config.n_episodes, references, lam, mdp.mu, eps / 2,
                                   bonus_scale=config.bonus_scale, delta=config.delta)
    scratch = UCBVI(mdp.H, mdp.S, mdp.A, config.n_episodes, 1, bonus_scale=config.bonus_scale, delta=config.delta)
    K = config.n_episodes
    demo_values, reg_values, scratch_values = np.zeros((K, n_demos.size)), np.zeros((K, n_demos.size)), np.zeros((K, 1))
    play_rng = ctx.rng(2)
    for k in range(K):
        policy = learner.plan().policy
        demo_values[k] = mdp.value(policy)
        reg_values[k] = regularised_value(mdp.P, mdp.R, mdp.mu, policy, references, lam)
        learner.observe(rollout(mdp, policy, play_rng))
        greedy = scratch.plan().policy
        scratch_values[k] = mdp.value(greedy)
        scratch.observe(rollout(mdp, greedy, play_rng))

    censor = lambda c: np.where(np.isinf(c), K, c)  # noqa: E731
    demo_count = censor(sample_complexity(demo_values, v_star, eps))
    reg_count = censor(sample_complexity(reg_values - reg_opt, 0.0, config.reg_accuracy * v_star))
    scratch_count = float(censor(sample_complexity(scratch_values, v_star, eps))[0])
    fit = n_demos >= config.slope_min_demos
    bc_gap = (v_star - mdp.value(references)) / v_star
    return {
        "v_star": v_star,
        "n_demos": n_demos.tolist(),
        "lam": lam.tolist(),
        "bc_kl": kl.tolist(),
        "bc_gap_fraction": bc_gap.tolist(),
        "demo_count": demo_count.tolist(),
        "reg_count": reg_count.tolist(),
        "scratch_count": scratch_count,
        "stop_episode": learner.stop_episode.tolist(),
        "bc_kl_slope": _log_slope(n_demos, kl),
        "demo_count_slope": _log_slope(n_demos[fit], 1.0 + demo_count[fit]) if fit.sum() >= 2 else float("nan"),
        "count_ratio_vs_scratch": float((1.0 + demo_count[-1]) / (1.0 + scratch_count)),
        "final_gap_fraction": ((v_star - demo_values[-1]) / v_star).tolist(),
    }


def check(results: list[dict], budget: str) -> list[Verdict]:
    detail = "demo counts per seed (by N^E) / scratch: " + "; ".join(
        f"{[int(c) for c in r['demo_count']]}/{int(r['scratch_count'])}" for r in results if "demo_count" in r)
    return PAPER.judge(results, budget, detail=detail)


def figures(results: list[dict], out_dir: Path) -> list[Path]:
    plt = pyplot()

    results = [r for r in results if "bc_kl" in r]
    if not results:
        return []
    n = np.asarray(results[0]["n_demos"], dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    kl = np.array([r["bc_kl"] for r in results])
    axes[0].loglog(n, kl.T, color="C0", alpha=0.3)
    axes[0].loglog(n, kl.mean(0), "o-", color="C0", label="KL_traj(expert || BC), exact")
    axes[0].loglog(n, kl.mean(0)[0] * n[0] / n, "k--", label="1/N^E reference")
    axes[0].set_xlabel("demonstrations N^E")
    axes[0].legend(fontsize=8)
    for key, color, label in (("demo_count", "C1", "demo-regularised: episodes to eps-optimal"),
                              ("reg_count", "C2", "regularised objective: episodes to 0.2% V*")):
        counts = np.array([r[key] for r in results]) + 1
        axes[1].loglog(n, counts.mean(0), "o-", color=color, label=f"{label} (+1)")
    scratch = np.mean([r["scratch_count"] for r in results]) + 1
    axes[1].axhline(scratch, color="C3", ls="--", label="UCBVI from scratch (+1)")
    axes[1].set_xlabel("demonstrations N^E")
    axes[1].set_ylabel("online episodes")
    axes[1].set_title(f"mean over {len(results)} seeds (censored at the budget)", fontsize=9)
    axes[1].legend(fontsize=7)
    path = save_figure(fig, out_dir, "bc_kl_and_sample_complexity.png", dpi=100)
    return [path]
