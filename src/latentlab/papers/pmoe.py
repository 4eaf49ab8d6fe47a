r"""Paper 26: Probabilistic Mixture-of-Experts for Efficient Deep Reinforcement Learning (Ren et al. 2021).

What the paper claims
---------------------
A Gaussian-mixture actor (K "primitives" plus state-dependent mixing weights) trained with a
*frequency approximate gradient* — only the primitive whose reparameterised action has the
highest critic value receives the actor gradient, and the mixing weights are regressed
onto the one-hot winner so that they converge to the frequency with which each primitive
is best — learns faster than unimodal SAC/PPO and than Gumbel-softmax / REINFORCE mixtures on
MuJoCo tasks (AUC table), with distinct primitives and broader exploration.

Method (``SACConfig(n_components=K)``, see :mod:`latentlab.deeprl.sac`)
-------------------------------------------------------------------
For all k, :math:`a_k=\tanh(\mu_k(s)+\sigma_k(s)\epsilon_k)`, :math:`q_k=\min_jQ_j(s,a_k)`,
:math:`k^*=\arg\max_kq_k`;
:math:`L_\pi=\mathbb E_s[\alpha\log\pi_{k^*}(a_{k^*}|s)-q_{k^*}]`,
:math:`L_w=\tfrac1K\mathbb E_s\|\mathrm{onehot}(k^*)-w(s)\|^2` (router on detached trunk features);
the critic target samples :math:`k'\sim w(s')` and uses the component log-density; α is tuned
on :math:`\log\pi_{k^*}` (per-component entropy, as in the official code).

What we reproduce (CPU scale)
-----------------------------
1. **Router closed form.** If the winner at state s is drawn i.i.d. from :math:`p_s`, the
   minimiser of :math:`\mathbb E\|e_k-w(s)\|^2` is :math:`w(s)=p_s`.  Our ``MixtureActor`` router
   (on its detached random trunk features) is trained with our ``router_regression_loss`` on
   20 k (state, winner) samples over 3 states with different :math:`p_s`.
2. **Multi-goal 2-D point** (``latentlab/MultiGoalPoint-v0``: start at the origin, goals at
   (±1, 0), (0, ±1), reward −distance to the nearest goal − 0.1‖a‖², 20 steps, 16 envs):
   SAC vs PMOE-SAC (K = 4), 10 k env steps, 64-64 nets, SB3 defaults otherwise
   (learning_starts 1000 as in the official example, 8 gradient steps per 16-env step).
   After training, 100 stochastic evaluation episodes per agent; a goal counts as reached if
   the final position is within 0.3 of it.

Claims and thresholds (fixed before running; the spec's pass criteria)
-----------------------------------------------------------------------
* ``router-recovers-frequencies``: max over states and components of |w(s) − p_s| <= 0.02.
* ``pmoe-covers-goals``: number of goals each reached in >= 10% of PMOE's 100 stochastic
  episodes >= 3.
* ``sac-single-mode``: the same count for unimodal SAC <= 2.
* ``pmoe-return-on-par``: PMOE's mean return >= 0.9 x SAC's, written for negative returns as
  (R_pmoe − R_sac) / |R_sac| >= −0.1.
* ``pendulum-auc-vs-sac`` (full only): on Pendulum-v1 (20 k steps, SB3-default nets), PMOE's
  evaluation AUC minus SAC's, normalised by |SAC's final evaluation return|, >= 0.

What differs from the paper
---------------------------
No MuJoCo and no Gumbel-softmax / REINFORCE / DAC baselines (not implemented); the PPO
version of PMOE is not implemented (absent from the official code as well).  Network
initialisation is PyTorch's default, not rlkit's fan-in/bias-0.1.  The log-probability uses
the exact stable tanh correction instead of ``+1e-6``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentlab.deeprl import SAC, SACConfig
from latentlab.deeprl.envs import MultiGoalPointEnv, evaluate
from latentlab.deeprl.nets import MixtureActor
from latentlab.deeprl.sac import router_regression_loss
from latentlab.repro.context import RunContext
from latentlab.repro.paper import Budget, Claim, Paper, Verdict
from latentlab.repro.plotting import pyplot, save_figure

__all__ = ["Config", "PAPER", "run", "check", "figures", "router_frequency_check"]

ENV = "latentlab/MultiGoalPoint-v0"


@dataclass(frozen=True)
class Config:
    # --- router closed form
    router_samples: int = 20_000
    router_states: int = 3
    router_components: int = 4
    router_epochs: int = 20
    router_batch: int = 256
    router_lr: float = 3e-2
    # --- multi-goal
    n_components: int = 4
    total_steps: int = 10_000
    n_envs: int = 16
    gradient_steps: int = 8
    learning_starts: int = 1000
    hidden: tuple[int, ...] = (64, 64)
    batch_size: int = 256
    eval_episodes: int = 100
    goal_share: float = 0.1
    """A goal is covered if reached in at least this share of the evaluation episodes."""
    # --- Pendulum (full budget)
    pendulum: bool = False
    pendulum_steps: int = 20_000


CLAIMS = (
    Claim("router-recovers-frequencies",
          "Regressing the router onto i.i.d. winners drawn from p_s drives w(s) to p_s (closed-form minimiser), "
          "to within 0.02 after 20k samples.",
          metric="router_max_error", threshold=0.02, direction="<="),
    Claim("pmoe-covers-goals",
          "On the 4-goal point task, PMOE-SAC's stochastic episodes reach >= 3 distinct goals (each in >= 10% of "
          "100 episodes).",
          metric="pmoe_goals", threshold=3.0, direction=">="),
    Claim("sac-single-mode",
          "Unimodal SAC reaches <= 2 goals (each in >= 10% of 100 episodes).",
          metric="sac_goals", threshold=2.0, direction="<="),
    Claim("pmoe-return-on-par",
          "PMOE's mean return is at least 0.9 x SAC's ((R_pmoe - R_sac)/|R_sac| >= -0.1).",
          metric="return_gap", threshold=-0.1, direction=">="),
    Claim("pendulum-auc-vs-sac",
          "Full budget: on Pendulum-v1 (20k steps) PMOE-SAC's evaluation AUC is >= SAC's (normalised by SAC's "
          "final return).",
          metric="pendulum_auc_gap", threshold=0.0, direction=">="),
)

PAPER = Paper(
    slug="pmoe",
    number=26,
    arxiv="2104.09122",
    title="Probabilistic Mixture-of-Experts for Efficient Deep Reinforcement Learning",
    family="deeprl",
    claims=CLAIMS,
    budgets={
        "smoke": Budget(Config(router_samples=4000, router_epochs=5, total_steps=640, learning_starts=320,
                               gradient_steps=2, eval_episodes=20), seeds=2,
                        note="seconds; verdicts INCONCLUSIVE or FAIL"),
        "quick": Budget(Config(), seeds=3, note="router check + SAC and PMOE on the multi-goal task, 10k steps"),
        "full": Budget(Config(total_steps=20_000, gradient_steps=16, pendulum=True), seeds=5,
                       note="multi-goal at 20k steps with UTD 1, plus Pendulum-v1 SAC vs PMOE at 20k"),
    },
    summary="Mixture-of-Gaussians SAC actor with winner-takes-gradient primitives and a router regressed onto the "
            "winner frequencies: closed-form router check and multi-modal behaviour on a 4-goal point task.",
)


# --------------------------------------------------------------------------- run


def router_frequency_check(config: Config, rng: np.random.Generator, generator: torch.Generator) -> dict:
    """Train a ``MixtureActor`` router on i.i.d. winners from per-state distributions p_s."""
    S, K = config.router_states, config.router_components
    p = rng.dirichlet(np.ones(K), size=S)
    states = rng.integers(S, size=config.router_samples)
    winners = (rng.random(config.router_samples)[:, None] > np.cumsum(p[states], 1)).sum(1).clip(0, K - 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(2**31 - 1)))
        actor = MixtureActor(S, 1, (32,), n_components=K)
    obs = torch.eye(S)[torch.as_tensor(states)]
    target = torch.as_tensor(winners)
    optimizer = torch.optim.Adam(actor.router.parameters(), lr=config.router_lr)
    n_batches = int(np.ceil(config.router_samples / config.router_batch))
    total = config.router_epochs * n_batches
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 1.0 - i / total)
    losses = []
    for _ in range(config.router_epochs):
        for idx in torch.tensor_split(torch.randperm(config.router_samples, generator=generator), n_batches):
            loss = router_regression_loss(actor(obs[idx]).weights, target[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
    with torch.no_grad():
        w = actor(torch.eye(S)).weights.numpy()
    empirical = np.stack([np.bincount(winners[states == s], minlength=K) / max(1, (states == s).sum())
                          for s in range(S)])
    return {"p": p.tolist(), "w": w.tolist(), "empirical": empirical.tolist(),
            "max_error": float(np.abs(w - p).max()), "max_error_to_empirical": float(np.abs(w - empirical).max()),
            "final_loss": float(np.mean(losses[-n_batches:]))}


def _multigoal(agent: SAC, config: Config, seed: int) -> dict:
    env = MultiGoalPointEnv()
    episodes = evaluate(lambda o: agent.act(o, deterministic=False).astype(np.float32), ENV, config.eval_episodes,
                        seed)
    finals = np.array([e.final_obs[:2] for e in episodes])
    hits = [env.nearest_goal(x) for x in finals]
    reached = np.array([g if d < env.goal_radius else -1 for g, d in hits])
    shares = [float(np.mean(reached == g)) for g in range(len(env.GOALS))]
    with torch.no_grad():
        dist = agent.actor(torch.zeros(1, 3))
        means = torch.tanh(dist.components.mean[0]).numpy()
        weights = dist.weights[0].numpy()
    return {"returns_mean": float(np.mean([e.ret for e in episodes])), "goal_shares": shares,
            "goals": float(sum(s >= config.goal_share for s in shares)), "final_positions": finals.tolist(),
            "start_means": means.tolist(), "start_weights": weights.tolist()}


def run(config: Config, seed: int, ctx: RunContext) -> dict:
    router = router_frequency_check(config, ctx.rng(1), ctx.torch_generator(1))
    runs: dict = {}
    for key, (name, k) in enumerate((("sac", 1), ("pmoe", config.n_components)), start=2):
        sac_config = SACConfig(total_steps=config.total_steps, n_envs=config.n_envs, hidden=config.hidden,
                               gradient_steps=config.gradient_steps, learning_starts=config.learning_starts,
                               batch_size=config.batch_size, n_components=k, eval_every=2000, eval_episodes=10,
                               log_every=200)
        agent = SAC.for_env(ENV, sac_config, seed=int(ctx.rng(key).integers(2**31 - 1)))
        result = agent.learn(ENV, check_finite=ctx.check_finite)
        out = result.to_dict()
        out["updates"] = [{k2: u[k2] for k2 in ("step", "alpha", "critic_loss", "router_loss", "winner_entropy")
                           if k2 in u} for u in result.updates]
        out["multigoal"] = _multigoal(agent, config, seed=int(ctx.rng(key, 1).integers(2**31 - 1)))
        runs[name] = out
    sac_r, pmoe_r = runs["sac"]["multigoal"]["returns_mean"], runs["pmoe"]["multigoal"]["returns_mean"]
    metrics: dict = {
        "router_max_error": router["max_error"],
        "router": router,
        "pmoe_goals": runs["pmoe"]["multigoal"]["goals"],
        "sac_goals": runs["sac"]["multigoal"]["goals"],
        "sac_return": sac_r,
        "pmoe_return": pmoe_r,
        "return_gap": (pmoe_r - sac_r) / max(abs(sac_r), 1e-9),
        "runs": runs,
    }
    if config.pendulum:
        pend = {}
        for key, (name, k) in enumerate((("sac", 1), ("pmoe", config.n_components)), start=10):
            agent = SAC.for_env("Pendulum-v1", SACConfig(total_steps=config.pendulum_steps, n_components=k,
                                                         eval_every=2000), seed=int(ctx.rng(key).integers(2**31 - 1)))
            pend[name] = agent.learn("Pendulum-v1", check_finite=ctx.check_finite).to_dict()
        runs["pendulum"] = pend
        metrics["pendulum_auc_gap"] = ((pend["pmoe"]["eval_auc"] - pend["sac"]["eval_auc"])
                                       / max(abs(pend["sac"]["final_eval"]), 1e-9))
    return metrics


# --------------------------------------------------------------------------- check


def check(results: list[dict], budget: str) -> list[Verdict]:
    verdicts = []
    for claim in PAPER.claims:
        values = [r[claim.metric] for r in results if claim.metric in r]
        missing = "measured at the full budget only" if claim.metric == "pendulum_auc_gap" else "no finished runs"
        detail = ""
        if claim.metric in ("pmoe_goals", "sac_goals"):
            name = claim.metric.split("_")[0]
            detail = "goal shares per seed: " + "; ".join(
                "/".join(f"{s:.2f}" for s in r["runs"][name]["multigoal"]["goal_shares"]) for r in results)
        if claim.metric == "return_gap":
            detail = "PMOE vs SAC mean return per seed: " + ", ".join(
                f"{r['pmoe_return']:.2f} vs {r['sac_return']:.2f}" for r in results)
        verdicts.append(claim.judge(values, budget, detail=detail, missing=missing))
    return verdicts


# --------------------------------------------------------------------------- figures


def figures(results: list[dict], out_dir: Path) -> list[Path]:
    plt = pyplot()

    results = [r for r in results if "runs" in r]
    if not results:
        return []
    paths = []
    first = results[0]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, name in zip(axes[:2], ("sac", "pmoe")):
        mg = first["runs"][name]["multigoal"]
        finals = np.asarray(mg["final_positions"])
        ax.scatter(finals[:, 0], finals[:, 1], s=10, alpha=0.5, label="final positions (stochastic episodes)")
        ax.scatter(*MultiGoalPointEnv.GOALS.T, marker="*", s=200, color="k", label="goals")
        means = np.asarray(mg["start_means"])
        for k, (mean, w) in enumerate(zip(means, mg["start_weights"])):
            ax.arrow(0, 0, 0.6 * mean[0], 0.6 * mean[1], width=0.01 + 0.03 * w, color=f"C{k + 1}", alpha=0.8)
        ax.set_xlim(-1.6, 1.6)
        ax.set_ylim(-1.6, 1.6)
        ax.set_aspect("equal")
        ax.set_title(f"{name.upper()} (seed {first.get('seed', 0)}): {mg['goals']:.0f} goals covered; "
                     f"arrows = component means at s0", fontsize=8)
        ax.legend(fontsize=6, loc="lower left")
    ax = axes[2]
    for i, name in enumerate(("sac", "pmoe")):
        for j, r in enumerate(results):
            run_ = r["runs"][name]
            ax.plot(run_["eval_steps"], run_["eval_returns"], "o-", color=f"C{i}", alpha=0.6, ms=3,
                    label=name.upper() if j == 0 else None)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("deterministic evaluation return (10 episodes)")
    ax.set_title(f"multi-goal point, {len(results)} seeds", fontsize=9)
    ax.legend(fontsize=7)
    path = save_figure(fig, out_dir, "multigoal.png", dpi=100)
    paths.append(path)

    fig, ax = plt.subplots(figsize=(5, 4))
    for j, r in enumerate(results):
        p = np.asarray(r["router"]["p"]).ravel()
        w = np.asarray(r["router"]["w"]).ravel()
        ax.scatter(p, w, s=14, label=f"seed {r.get('seed', j)}: max err {r['router_max_error']:.3f}")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="w = p (closed-form minimiser)")
    ax.set_xlabel("winning frequency p_s(k)")
    ax.set_ylabel("learned router weight w_k(s)")
    ax.legend(fontsize=7)
    path = save_figure(fig, out_dir, "router.png", dpi=100)
    paths.append(path)
    return paths
