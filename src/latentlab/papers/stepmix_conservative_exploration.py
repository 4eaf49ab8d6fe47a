r"""Paper 10: Near-optimal conservative exploration under episode-wise constraints (StepMix, EpsMix).

Li, Huang, Shen & Yang, ICML 2023, arXiv 2306.06265.

What the paper claims
---------------------
With a known safe baseline :math:`\pi_b`, StepMix (a step-wise mixture of :math:`\pi_b` and
the optimistic policy) and EpsMix (an episode-level mixture) never violate the
episode-wise constraint :math:`V^{\pi_k}_1(s_1) \ge (1-\alpha)V^{\pi_b}_1(s_1)` w.h.p., while
their regret keeps the order :math:`\tilde O(\sqrt{H^3SAK})` of unconstrained optimistic RL
(plus a :math:`K`-independent term).

What we run (spec, CPU scale)
-----------------------------
Per seed: one random MDP (:func:`~latentlab.tabular.mdp.random_mdp`, S=10, A=4, H=10,
Dirichlet(0.5) stage-dependent kernels, Bernoulli rewards), the baseline
:math:`\pi_b \propto \exp(\beta Q^*)` with :math:`\beta` set by bisection so that
:math:`V^{\pi_b} = 0.6\,V^*`, :math:`\alpha = 0.1`.  Four learners, all built on the same
UCBVI (Hoeffding bonus, ``bonus_scale``) and the same pessimistic evaluator
(:mod:`latentlab.tabular.conservative`): UCBVI (unconstrained), StepMix, EpsMix and the
cumulative-budget conservative UCBVI.  Each played policy is evaluated *exactly* on the
true MDP (EpsMix: expected over its coin), which gives exact regret and exact violations.

The full budget also runs StepMix and EpsMix at :math:`\alpha \in \{0.05, 0.2\}`
(``extra_alphas``; violations and regret ratios are reported, the claims use
:math:`\alpha = 0.1`).

Claims and thresholds (the spec's pass criteria, fixed before running)
---------------------------------------------------------------------
* ``stepmix-no-violation`` / ``epsmix-no-violation``: share of seeds with zero violating
  episodes >= 0.95 (spec: >= 29 of 30 seeds).
* ``stepmix-regret-vs-ucbvi`` / ``epsmix-regret-vs-ucbvi``: regret at the last episode
  divided by UCBVI's <= 2.
* ``stepmix-regret-slope-low`` / ``-high``: slope of log regret vs log k over
  :math:`k \in [K/8, K]` in [0.40, 0.65] (two one-sided claims).
* ``ucbvi-violates``: share of UCBVI's first 200 episodes that violate >= 0.10.
* ``budget-baseline-violates``: share of seeds in which the cumulative-constraint
  baseline violates the episode-wise constraint at least once >= 0.5 (spec: "violates
  in some episodes").

Deviations from the spec (decided in a pilot on seeds 1000-1001, before any claim run)
---------------------------------------------------------------------------------------
* Rewards: the means are :math:`u^3` with :math:`u \sim U[0,1]` instead of :math:`U[0,1]`.
  With uniform means, the uniform policy is already worth about 0.64 V*, so no policy an
  optimistic learner plays falls below :math:`(1-\alpha)0.6V^*` and the violation claims
  would be vacuous; with cubed means the uniform policy is worth about 0.42 V*.
* ``bonus_scale = 0.1`` (the theory's constant, 1, keeps every learner near-linear for
  :math:`K \le 2\cdot 10^4`; the spec asks for a tuned scale).  The regret slope depends on
  it (a pilot with 0.05 gave slopes near 0.15-0.35, i.e. the log K regime).
* The mixture family is searched on a grid of ``n_rho`` values of :math:`\rho` per step
  (the spec suggests bisection; the value is not monotone in :math:`\rho` in general, so a
  grid is the safe choice).
* Our StepMix certifies the *whole* mixture with the pessimistic evaluator, baseline steps
  included (the spec's step 2), while EpsMix uses the known :math:`V^{\pi_b}` for its
  baseline part.  Early on, when even :math:`\underline V^{\pi_b} < (1-\alpha)V^{\pi_b}`,
  StepMix therefore plays :math:`\pi_b`; its burn-in is longer than EpsMix's.  The paper's
  exact mixture certificate could not be read (only its abstract was available).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentlab.repro.context import RunContext
from latentlab.repro.paper import Budget, Claim, Paper, Verdict
from latentlab.repro.plotting import pyplot, save_figure
from latentlab.tabular.conservative import BudgetConservativeUCBVI, EpsMix, StepMix, softmax_baseline
from latentlab.tabular.learners import UCBVI, run_learner
from latentlab.tabular.mdp import FiniteHorizonMDP, random_mdp

__all__ = ["Config", "PAPER", "run", "check", "figures"]

LEARNERS = ("ucbvi", "stepmix", "epsmix", "budget")


@dataclass(frozen=True)
class Config:
    S: int = 10
    A: int = 4
    H: int = 10
    dirichlet_alpha: float = 0.5
    """Concentration of the Dirichlet transition rows."""
    reward_power: float = 3.0
    """Mean rewards are U[0,1] ** reward_power (see the module docstring)."""
    baseline_fraction: float = 0.6
    """V^{pi_b} / V^*."""
    alpha: float = 0.1
    """Conservatism level: the constraint is V^{pi_k} >= (1 - alpha) V^{pi_b}."""
    bonus_scale: float = 0.1
    delta: float = 0.1
    n_episodes: int = 5000
    n_rho: int = 11
    """Grid size for the step-mixture weight rho."""
    early_episodes: int = 200
    """Window for UCBVI's early violation rate."""
    curve_points: int = 60
    extra_alphas: tuple[float, ...] = ()
    """Further conservatism levels for StepMix and EpsMix (reported, not claimed)."""


CLAIMS = (
    Claim("stepmix-no-violation", "StepMix never violates the episode-wise constraint (share of seeds with zero "
          "violating episodes, exact evaluation of the played mixture).", "stepmix_no_violation", 0.95, ">="),
    Claim("epsmix-no-violation", "EpsMix never violates the constraint in expectation over its coin (share of seeds "
          "with zero violating episodes).", "epsmix_no_violation", 0.95, ">="),
    Claim("stepmix-regret-vs-ucbvi", "StepMix's regret at K is at most twice unconstrained UCBVI's.",
          "stepmix_regret_ratio", 2.0, "<="),
    Claim("epsmix-regret-vs-ucbvi", "EpsMix's regret at K is at most twice unconstrained UCBVI's.",
          "epsmix_regret_ratio", 2.0, "<="),
    Claim("stepmix-regret-slope-low", "StepMix's log-regret vs log-K slope is at least 0.40 (sqrt(K) order).",
          "stepmix_regret_slope", 0.40, ">="),
    Claim("stepmix-regret-slope-high",
          "StepMix's log-regret vs log-K slope is at most 0.65 (sublinear, sqrt(K) order).",
          "stepmix_regret_slope", 0.65, "<="),
    Claim("ucbvi-violates", "Unconstrained UCBVI violates the constraint in at least 10% of its first 200 episodes.",
          "ucbvi_early_violation_rate", 0.10, ">="),
    Claim("budget-baseline-violates", "The cumulative-constraint (budget) conservative UCBVI violates the episode-wise "
          "constraint in some episode (share of seeds).", "budget_violates", 0.5, ">="),
)

PAPER = Paper(
    slug="stepmix-conservative-exploration",
    number=10,
    arxiv="2306.06265",
    title="Near-optimal Conservative Exploration in Reinforcement Learning under Episode-wise Constraints",
    family="tabular",
    claims=CLAIMS,
    budgets={
        "smoke": Budget(Config(n_episodes=300, early_episodes=100), seeds=2,
                        note="seconds; verdicts may be INCONCLUSIVE"),
        "quick": Budget(Config(), seeds=10, note="K = 5000 episodes, S=10, A=4, H=10"),
        "full": Budget(Config(n_episodes=20_000, extra_alphas=(0.05, 0.2)), seeds=30,
                       note="K = 2e4 episodes, 30 seeds; StepMix/EpsMix also at alpha = 0.05, 0.2"),
    },
    summary="StepMix and EpsMix keep every episode above (1 - alpha) of a baseline's value while their regret stays "
            "within a small factor of UCBVI's; UCBVI and a cumulative-budget baseline violate the constraint.",
)


def make_instance(config: Config, rng: np.random.Generator) -> tuple[FiniteHorizonMDP, np.ndarray, float]:
    """The random MDP, the softmax baseline and its exact value."""
    base = random_mdp(config.S, config.A, config.H, rng, alpha=config.dirichlet_alpha)
    mdp = FiniteHorizonMDP(base.P, base.R**config.reward_power, base.mu, reward_noise="bernoulli", name=base.name)
    v_star = mdp.optimal_value()
    baseline, _ = softmax_baseline(mdp.optimal().Q, lambda p: float(mdp.value(p)), config.baseline_fraction * v_star)
    return mdp, baseline, float(mdp.value(baseline))


def _learner(name: str, config: Config, mdp: FiniteHorizonMDP, baseline: np.ndarray, v_b: float,
             rng: np.random.Generator, alpha: float | None = None):
    common = dict(bonus_scale=config.bonus_scale, delta=config.delta)
    dims = (mdp.H, mdp.S, mdp.A, config.n_episodes)
    if name == "ucbvi":
        return UCBVI(*dims, **common)
    conservative = (*dims, baseline, v_b, mdp.mu, config.alpha if alpha is None else alpha)
    if name == "stepmix":
        return StepMix(*conservative, n_rho=config.n_rho, **common)
    if name == "epsmix":
        return EpsMix(*conservative, rng=rng, **common)
    return BudgetConservativeUCBVI(*conservative, **common)


def regret_slope(regret: np.ndarray) -> float:
    """Least-squares slope of log regret vs log k over 8 log-spaced k in [K/8, K]."""
    K = regret.size
    ks = np.unique(np.geomspace(max(K // 8, 1), K, 8).astype(int))
    return float(np.polyfit(np.log(ks), np.log(np.maximum(regret[ks - 1], 1e-12)), 1)[0])


def run(config: Config, seed: int, ctx: RunContext) -> dict:
    mdp, baseline, v_b = make_instance(config, ctx.rng(0))
    threshold = (1.0 - config.alpha) * v_b
    v_star = mdp.optimal_value()
    index = np.unique(np.geomspace(1, config.n_episodes, config.curve_points).astype(int)) - 1
    out: dict = {"v_star": v_star, "v_baseline": v_b, "threshold": threshold, "curve_k": (index + 1).tolist()}
    for key, name in enumerate(LEARNERS):
        learner = _learner(name, config, mdp, baseline, v_b, ctx.rng(2, key))
        curve = run_learner(mdp, learner, config.n_episodes, ctx.rng(1, key))
        values = curve.played[:, 0]
        regret = curve.regret()[:, 0]
        violating = values < threshold - 1e-9
        out[name] = {
            "regret": float(regret[-1]),
            "violations": int(violating.sum()),
            "early_violation_rate": float(violating[: config.early_episodes].mean()),
            "slope": regret_slope(regret),
            "regret_curve": regret[index].tolist(),
            "violation_curve": np.cumsum(violating)[index].tolist(),
        }
    out["extra_alphas"] = {}
    for a_index, alpha in enumerate(config.extra_alphas):
        level = (1.0 - alpha) * v_b
        row = {}
        for key, name in enumerate(("stepmix", "epsmix")):
            learner = _learner(name, config, mdp, baseline, v_b, ctx.rng(4, a_index, key), alpha)
            curve = run_learner(mdp, learner, config.n_episodes, ctx.rng(3, a_index, key))
            row[name] = {"violations": int(np.sum(curve.played[:, 0] < level - 1e-9)),
                         "regret_ratio": float(curve.regret()[-1, 0] / max(out["ucbvi"]["regret"], 1e-12))}
        out["extra_alphas"][str(alpha)] = row
    out.update({
        "stepmix_no_violation": float(out["stepmix"]["violations"] == 0),
        "epsmix_no_violation": float(out["epsmix"]["violations"] == 0),
        "stepmix_regret_ratio": out["stepmix"]["regret"] / max(out["ucbvi"]["regret"], 1e-12),
        "epsmix_regret_ratio": out["epsmix"]["regret"] / max(out["ucbvi"]["regret"], 1e-12),
        "stepmix_regret_slope": out["stepmix"]["slope"],
        "ucbvi_early_violation_rate": out["ucbvi"]["early_violation_rate"],
        "budget_violates": float(out["budget"]["violations"] > 0),
    })
    return out


def check(results: list[dict], budget: str) -> list[Verdict]:
    detail = "violating episodes per seed (StepMix/EpsMix/UCBVI/budget): " + "; ".join(
        "/".join(str(r[n]["violations"]) for n in LEARNERS) for r in results if "ucbvi" in r)
    return PAPER.judge(results, budget, detail=detail)


def figures(results: list[dict], out_dir: Path) -> list[Path]:
    plt = pyplot()

    results = [r for r in results if "ucbvi" in r]
    if not results:
        return []
    k = np.asarray(results[0]["curve_k"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, name in enumerate(LEARNERS):
        reg = np.array([r[name]["regret_curve"] for r in results])
        viol = np.array([r[name]["violation_curve"] for r in results])
        axes[0].plot(k, reg.mean(0), color=f"C{i}", label=name)
        axes[0].fill_between(k, reg.min(0), reg.max(0), color=f"C{i}", alpha=0.15)
        axes[1].plot(k, viol.mean(0), color=f"C{i}", label=name)
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("episode k")
    axes[0].set_ylabel("cumulative regret (exact)")
    axes[0].set_title(f"mean and range over {len(results)} seeds", fontsize=9)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("episode k")
    axes[1].set_ylabel("cumulative violating episodes")
    axes[1].set_title("episode-wise constraint V >= (1 - alpha) V_b", fontsize=9)
    for ax in axes:
        ax.legend(fontsize=8)
    path = save_figure(fig, out_dir, "regret_and_violations.png", dpi=100)
    return [path]
