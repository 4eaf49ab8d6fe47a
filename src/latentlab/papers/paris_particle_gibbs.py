r"""Paper 24: State and parameter learning with PaRIS particle Gibbs.

Cardoso, Janati El Idrissi, Le Corff, Moulines, Olsson; ICML 2023, arXiv 2301.00900.

What the paper claims
---------------------
PaRIS estimates smoothed additive functionals :math:`E[h(X_{0:T})\mid y_{0:T}]`,
:math:`h=\sum_t\tilde h_t(x_{t-1},x_t)`, online at :math:`O(N)` cost per step, but it is
self-normalised and therefore biased.  The Parisian particle Gibbs (PPG) sampler runs
PaRIS inside conditional SMC (a frozen reference path among the particles, refreshed by
backward sampling after each sweep); the bias of the averaged iterates decays quickly
with the number of iterations, at the same total particle budget.  Used inside
stochastic-gradient maximum likelihood (score = smoothed functional by the Fisher
identity, reference path kept across parameter updates), PPG's bias reduction gives
learning close to exact-gradient learning.

What we reproduce (CPU scale, exact oracle)
-------------------------------------------
Linear-Gaussian SSM :math:`x_t=Ax_{t-1}+Q^{1/2}\epsilon_t`, :math:`y_t=x_t+R^{1/2}\eta_t` with
:math:`A=0.9I`, :math:`Q=R=I` (quick: :math:`d=1`, :math:`T=100`), one data set per seed.

1. **Smoothing** (:func:`latentlab.inference.smc.paris`, :func:`~latentlab.inference.smc.ppg`):
   functional :math:`h=\sum_{t\ge1}x_tx_{t-1}^\top`, exact value from the RTS smoother with
   lag-one covariances.  Equal particle budget: PaRIS with :math:`N\cdot k` particles vs PPG
   with :math:`N` particles, :math:`k` sweeps (the first one unconditional, it starts the
   chain) and burn-in :math:`k_0=k/4`; ``replicates`` independent runs of each give bias,
   variance and MSE against the exact value (summed over the entries of :math:`h`).
2. **Learning** (:func:`~latentlab.inference.smc.sgd`): gradient ascent on :math:`A` from
   :math:`A_0=0.5I` with step :math:`\gamma_n=\gamma_0(1+n/50)^{-0.6}` on the score divided by
   :math:`T`, using (a) the exact score (Kalman/RTS), (b) one PPG sweep with :math:`N=16`
   per step, the reference path kept across updates, (c) one PaRIS sweep with :math:`N=16`.
   :math:`\bar A` is the average of the last quarter of the iterates.

Claims and thresholds (fixed before running; the spec's criteria)
-----------------------------------------------------------------
* ``ppg-bias-halved``: :math:`|\text{bias}_{PPG}|/|\text{bias}_{PaRIS}|\le 0.5` at equal budget.
* ``ppg-mse-lower``: :math:`\text{MSE}_{PPG}/\text{MSE}_{PaRIS}\le 1` at equal budget.
* ``ppg-learning-near-exact``: :math:`\|\bar A_{PPG}-\bar A_{exact}\|/\|A_0-A_\star\|\le 0.1`.
  The spec says "within 10% of the exact-gradient SGD error"; the exact-gradient error
  :math:`\|\bar A_{exact}-A_\star\|` is the MLE's statistical error, which can be
  arbitrarily close to 0 on a given data set, so a relative criterion on it is
  degenerate.  We use the initial error as the scale (the gap must be at most 10% of
  the distance learning had to travel).
* ``paris-small-n-plateaus``: :math:`\|\bar A_{PaRIS,16}-\bar A_{exact}\|/\|\bar A_{PPG}-\bar A_{exact}\|\ge 2`
  (median over seeds, the ratio of two small numbers is heavy-tailed).

Reported, not claimed: PPG bias per iteration (the spec's "geometric decay" criterion:
the per-iteration bias reaches the Monte-Carlo noise floor after a few iterations, so a
log-linear fit over all iterations measures the floor, not the decay).

Measured (quick, 5 seeds)
-------------------------
``ppg-bias-halved`` INCONCLUSIVE (ratio 0.69 [0.50, 0.83]); ``ppg-mse-lower`` **FAIL**
(1.47 [1.34, 1.61]); ``ppg-learning-near-exact`` PASS (0.0035); ``paris-small-n-plateaus``
INCONCLUSIVE (median 2.0, CI [0.41, 11.9]).  Why: with N = 16 and T = 100 the conditional
chain mixes slowly (per-iteration bias 29 -> 18 -> 12 -> 8 -> 5 on seed 0), so after a burn-in
of 4 sweeps some bias remains and the 12 averaged sweeps are strongly correlated: PPG's
variance exceeds that of a single PaRIS run with all 256 particles.  In one dimension the
PaRIS(16) score is nearly unbiased, so no clear learning plateau appears.

What differs from the paper
---------------------------
The paper's experiments (figure values not transcribed) include a nonlinear chaotic-RNN
model and Markov score climbing; only the linear-Gaussian experiments are reproduced.
The PPG details (reference refreshed by following one of the :math:`M` backward draws at
each step, first sweep unconditional, burn-in :math:`k/4`) follow the spec's
reconstruction.  Backward draws use the hybrid rejection scheme (exact for leftovers).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentlab.inference.smc import LagOneProduct, PaRISScore, PPGScore, paris, ppg, sgd
from latentlab.inference.ssm import LinearGaussianSSM, exact_lag_one_moments, exact_score_A
from latentlab.repro.context import RunContext
from latentlab.repro.paper import Budget, Claim, Paper, Verdict
from latentlab.repro.plotting import pyplot, save_figure

__all__ = ["Config", "PAPER", "run", "check", "figures"]


@dataclass(frozen=True)
class Config:
    state_dim: int = 1
    a: float = 0.9
    """Diagonal of the true transition matrix."""
    n_steps: int = 100
    """T (observations y_0..y_T)."""
    ppg_particles: int = 16
    ppg_iterations: int = 16
    """k; PaRIS gets ppg_particles * ppg_iterations particles (equal budget)."""
    replicates: int = 200
    n_backward: int = 2
    # --- learning
    a0: float = 0.5
    learn_steps: int = 300
    step0: float = 0.1
    learn_particles: int = 16


CLAIMS = (
    Claim("ppg-bias-halved",
          "At equal particle budget, PPG's bias on the smoothed functional sum_t x_t x_{t-1} is at most half "
          "PaRIS's (exact value from Kalman/RTS).",
          metric="bias_ratio", threshold=0.5, direction="<="),
    Claim("ppg-mse-lower",
          "At equal particle budget, PPG's MSE is lower than PaRIS's.",
          metric="mse_ratio", threshold=1.0, direction="<="),
    Claim("ppg-learning-near-exact",
          "SGD with one PPG sweep (N=16) per step ends within 10% (of the initial error) of exact-gradient SGD.",
          metric="ppg_learning_gap", threshold=0.1, direction="<="),
    Claim("paris-small-n-plateaus",
          "SGD with PaRIS (N=16) ends at least twice as far from exact-gradient SGD as PPG-SGD does.",
          metric="paris_over_ppg_gap", threshold=2.0, direction=">=", statistic="median"),
)

PAPER = Paper(
    slug="paris-particle-gibbs",
    number=24,
    arxiv="2301.00900",
    title="State and parameter learning with PaRIS particle Gibbs",
    family="inference",
    claims=CLAIMS,
    budgets={
        "smoke": Budget(Config(n_steps=40, ppg_particles=8, ppg_iterations=4, replicates=20, learn_steps=20),
                        seeds=2, note="seconds; verdicts may be INCONCLUSIVE"),
        "quick": Budget(Config(), seeds=5, note="d=1, T=100, N=16 x 16 sweeps vs PaRIS N=256, 200 replicates"),
        "full": Budget(Config(state_dim=5, n_steps=500, learn_steps=1000), seeds=5),
    },
    summary="PaRIS particle Gibbs vs PaRIS at equal particle budget on a linear-Gaussian SSM with an exact "
            "Kalman/RTS oracle, and SGD maximum likelihood with PPG, PaRIS and exact scores.",
)


def _model(config: Config, a: float) -> LinearGaussianSSM:
    eye = np.eye(config.state_dim)
    return LinearGaussianSSM(A=a * eye, Q=eye, B=eye, R=eye, m0=np.zeros(config.state_dim),
                             P0=eye / (1 - config.a**2))


def _errors(estimates: np.ndarray, exact: np.ndarray) -> dict:
    bias = estimates.mean(axis=0) - exact
    var = estimates.var(axis=0, ddof=1)
    return {"bias": float(np.linalg.norm(bias)), "variance": float(var.sum()),
            "mse": float(np.mean(np.sum((estimates - exact) ** 2, axis=1))),
            "mean": estimates.mean(axis=0).tolist()}


def _smoothing(config: Config, model: LinearGaussianSSM, y: np.ndarray, ctx: RunContext) -> dict:
    exact = exact_lag_one_moments(model, y)[0].ravel()
    functional = LagOneProduct(config.state_dim)
    budget = config.ppg_particles * config.ppg_iterations
    paris_est = paris(model, y, functional, budget, ctx.rng(2), config.replicates, config.n_backward).estimate
    ppg_res = ppg(model, y, functional, config.ppg_particles, config.ppg_iterations, ctx.rng(3),
                  replicates=config.replicates, n_backward=config.n_backward)
    ppg_err, paris_err = _errors(ppg_res.estimate, exact), _errors(paris_est, exact)
    per_iteration = [_errors(ppg_res.iterates[:, k], exact)["bias"] for k in range(config.ppg_iterations)]
    small = paris(model, y, functional, config.ppg_particles, ctx.rng(4), config.replicates,
                  config.n_backward).estimate
    return {"exact": exact.tolist(), "paris": paris_err, "ppg": ppg_err, "paris_small_n": _errors(small, exact),
            "ppg_bias_per_iteration": per_iteration, "budget": budget,
            "bias_ratio": ppg_err["bias"] / max(paris_err["bias"], 1e-300),
            "mse_ratio": ppg_err["mse"] / paris_err["mse"]}


def _learning(config: Config, y: np.ndarray, ctx: RunContext) -> dict:
    start = _model(config, config.a0)

    def step(n: int) -> float:
        return config.step0 * (1 + n / 50) ** -0.6

    def exact_score(model: LinearGaussianSSM, rng: np.random.Generator) -> np.ndarray:
        return exact_score_A(model, y)

    norm = float(config.n_steps)
    paths = {
        "exact": sgd(exact_score, start, config.learn_steps, step, ctx.rng(5), norm),
        "ppg": sgd(PPGScore(y, config.learn_particles, n_backward=config.n_backward), start,
                   config.learn_steps, step, ctx.rng(6), norm),
        "paris": sgd(PaRISScore(y, config.learn_particles, n_backward=config.n_backward), start,
                     config.learn_steps, step, ctx.rng(7), norm),
    }
    tail = max(1, config.learn_steps // 4)
    final = {k: p[-tail:].mean(axis=0) for k, p in paths.items()}
    truth = config.a * np.eye(config.state_dim)
    scale = float(np.linalg.norm(start.A - truth))
    gap = {k: float(np.linalg.norm(final[k] - final["exact"])) for k in ("ppg", "paris")}
    return {
        "trajectory": {k: p.reshape(len(p), -1).mean(axis=1).tolist() for k, p in paths.items()},
        "final": {k: v.tolist() for k, v in final.items()},
        "error_vs_truth": {k: float(np.linalg.norm(v - truth)) for k, v in final.items()},
        "gap_to_exact": gap,
        "ppg_learning_gap": gap["ppg"] / scale,
        "paris_over_ppg_gap": gap["paris"] / max(gap["ppg"], 1e-12),
    }


def run(config: Config, seed: int, ctx: RunContext) -> dict:
    if config.state_dim < 1:
        raise ValueError(f"state_dim must be >= 1, got {config.state_dim}")
    model = _model(config, config.a)
    _, y = model.simulate(config.n_steps, ctx.rng(1))
    smoothing = _smoothing(config, model, y, ctx)
    learning = _learning(config, y, ctx)
    ctx.check_finite("smoothing", smoothing)
    return {
        "bias_ratio": smoothing["bias_ratio"],
        "mse_ratio": smoothing["mse_ratio"],
        "ppg_learning_gap": learning["ppg_learning_gap"],
        "paris_over_ppg_gap": learning["paris_over_ppg_gap"],
        "smoothing": smoothing,
        "learning": learning,
    }


def check(results: list[dict], budget: str) -> list[Verdict]:
    verdicts = []
    for claim in PAPER.claims:
        values = [r[claim.metric] for r in results if claim.metric in r]
        verdicts.append(claim.judge(values, budget, detail=_detail(claim.metric, results)))
    return verdicts


def _detail(metric: str, results: list[dict]) -> str:
    if not results or "smoothing" not in results[0]:
        return ""
    if metric in ("bias_ratio", "mse_ratio"):
        key = "bias" if metric == "bias_ratio" else "mse"
        parts = [f"{r['smoothing']['ppg'][key]:.3g} vs {r['smoothing']['paris'][key]:.3g}" for r in results]
        return f"PPG vs PaRIS {key} per seed: " + ", ".join(parts)
    parts = [f"PPG {r['learning']['gap_to_exact']['ppg']:.3g}, PaRIS {r['learning']['gap_to_exact']['paris']:.3g}"
             for r in results]
    return "distance of the final A to exact-gradient SGD per seed: " + "; ".join(parts)


def figures(results: list[dict], out_dir: Path) -> list[Path]:
    plt = pyplot()

    results = [r for r in results if "smoothing" in r]
    if not results:
        return []
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    methods = [("paris_small_n", "PaRIS N"), ("paris", "PaRIS N·k"), ("ppg", "PPG N, k sweeps")]
    for ax, key in zip(axes[:2], ("bias", "mse")):
        values = np.array([[r["smoothing"][m][key] for m, _ in methods] for r in results])
        ax.bar(range(len(methods)), values.mean(0), yerr=values.std(0), capsize=3, color=["C7", "C0", "C1"])
        ax.set_xticks(range(len(methods)), [label for _, label in methods])
        ax.set_yscale("log")
        ax.set_ylabel(f"{key} vs exact (Kalman/RTS), mean ± sd over seeds")
    per_it = np.array([r["smoothing"]["ppg_bias_per_iteration"] for r in results])
    axes[2].semilogy(per_it.T, color="C1", alpha=0.5)
    axes[2].axhline(np.mean([r["smoothing"]["paris"]["bias"] for r in results]), color="C0", ls="--",
                    label="PaRIS N·k (mean over seeds)")
    axes[2].set_xlabel("PPG iteration")
    axes[2].set_ylabel("|bias| of the iteration's estimate")
    axes[2].legend(fontsize=8)
    fig.suptitle(f"smoothed sum x_t x_(t-1): N={results[0]['smoothing']['budget']} budget, "
                 f"{len(results)} seeds", fontsize=10)
    path_a = save_figure(fig, out_dir, "bias_mse.png", dpi=110)

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, color in (("exact", "k"), ("ppg", "C1"), ("paris", "C0")):
        for i, r in enumerate(results):
            ax.plot(r["learning"]["trajectory"][key], color=color, alpha=0.6,
                    label={"exact": "exact score", "ppg": "PPG score (N=16)", "paris": "PaRIS score (N=16)"}[key]
                    if i == 0 else None)
    ax.set_xlabel("SGD step")
    ax.set_ylabel("mean diagonal of A")
    ax.legend(fontsize=8)
    path_b = save_figure(fig, out_dir, "learning.png", dpi=110)
    return [path_a, path_b]
