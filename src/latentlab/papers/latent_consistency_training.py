r"""Paper 54: Improved Training Technique for Latent Consistency Models (sLCT).

Dao, Doan, Liu, Le, Metaxas, arXiv 2502.01441 (ICLR 2025).

What the paper claims
---------------------
Consistency training (CT) without a teacher works in pixel space but degrades in the latent space
of an autoencoder, because latents carry highly impulsive outliers (and so do the temporal-
difference residuals of CT).  Replacing iCT's pseudo-Huber loss by a Cauchy loss, adding a
diffusion loss at early (low-noise) steps, pairing noise and data by minibatch optimal transport,
an adaptive scale :math:`c` for the robust loss and LayerNorm without scaling (NsLN) close most of
the gap: 1-NFE FID on CelebA-HQ 256 drops from 37.15 (latent iCT) to 7.27, with 2-NFE better still.

What we reproduce (CPU scale, the spec's quick plan)
----------------------------------------------------
Synthetic "latents" with impulsive outliers (:func:`~latentlab.generative.data.impulsive_latents`):
a 16-d mixture of 4 Gaussians (means :math:`\pm1`, std 0.3) in which each coordinate is, with
probability 1%, replaced by a Student-t(1.5) draw.  Three consistency models (MLP, 2 residual
blocks of width 128 at quick, consistency preconditioning with :math:`\sigma_d = 0.5`,
:math:`\sigma_{min}=0.002`, :math:`\sigma_{max}=20` (the spec's toy range)) are trained for
``train_steps`` Adam steps with iCT's curriculum shortened to the training length
(:math:`s_0=10, s_1=40`; with :math:`s_1=1280` and a few thousand steps CT collapses to the mean
even on Gaussian data, as we checked on the Gaussian oracle before the quick claim run), discretised
log-normal index sampling
(:math:`P_{mean}=-1.1, P_{std}=2`), weighting :math:`1/(\sigma_{i+1}-\sigma_i)` and the current weights
as teacher:

* ``ict``: pseudo-Huber, :math:`c = 0.00054\sqrt{16}`, LayerNorm-free network (the iCT baseline);
* ``cauchy``: the same with the Cauchy loss :math:`\log(1+\lVert\delta\rVert^2/(2c^2))`;
* ``slct``: Cauchy + diffusion loss (weight 1 on the lowest quarter of the grid) + minibatch OT
  pairing (Hungarian) + adaptive :math:`c` (:class:`~latentlab.generative.losses.TDQuantileScale`:
  EMA of the median TD residual norm, our reconstruction) + NsLN in every block.

All variants of a seed share data, initialisation stream and evaluation noise.  Quality = MMD
(multi-bandwidth RBF) between 2,000 samples and 2,000 fresh held-out draws of the data; 1-NFE:
:math:`f(\sigma_{max}z,\sigma_{max})`; 2-NFE adds one step at :math:`\sigma_{mid}=0.821` (iCT's choice).

Claims and thresholds (fixed before running; the spec's latent-space criteria)
------------------------------------------------------------------------------
* ``slct-beats-ict``: MMD(sLCT, 1 NFE) / MMD(iCT, 1 NFE) :math:`\le 0.7` (spec (1)).
* ``cauchy-alone-helps``: MMD(Cauchy, 1 NFE) / MMD(iCT, 1 NFE) :math:`\le 1` (spec (2), latent half).
* ``two-steps-not-worse``: MMD(sLCT, 2 NFE) / MMD(sLCT, 1 NFE) :math:`\le 1` (spec (3)).

Known-answer checks (tests): Cauchy, pseudo-Huber and L2 agree to second order for small residuals;
the boundary condition :math:`f(x,\sigma_{min}) = x` holds by construction; OT pairing is an optimal
permutation; the closed-form consistency function of Gaussian data
:math:`f(x,\sigma) = x\sqrt{(s^2+\sigma_{min}^2)/(s^2+\sigma^2)}` is approached by a trained model.

Measured (quick, 4 seeds; 17.7 min wall with 2 workers at load average 10-12 from other jobs, 5.0 min
at load 3-5 with identical verdicts; 75 s of CPU per seed measured alone)
-----------------------------------------------------------------------------------------
Mean MMD at 1 / 2 NFE: iCT 0.114 / 0.121, Cauchy 0.247 / 0.170, sLCT 0.067 / 0.102
(real-vs-real floor 0.021); data kurtosis in the hundreds to thousands (impulsive, as intended).

* slct-beats-ict **INCONCLUSIVE** 0.647 [0.473, 0.773]: the full recipe is better than iCT in
  every seed (ratios 0.68, 0.81, 0.40, 0.71), by about the claimed 30% on average, but four seeds
  do not put the CI below 0.7.
* cauchy-alone-helps **FAIL** 2.17 [1.46, 3.18]: with iCT's tiny scale :math:`c = 0.00054\sqrt d`
  the Cauchy loss is in its logarithmic regime for almost every residual (gradients
  :math:`\propto 1/\lVert\delta\rVert`), and training is worse than with pseudo-Huber; the
  Cauchy loss helps here only together with the adaptive :math:`c` (sLCT).  The paper's scale for
  its Cauchy ablation is not known to us.
* two-steps-not-worse **FAIL** 1.53 [1.28, 1.79]: with :math:`\sigma_{mid}=0.821` (iCT's CIFAR
  value) the second step makes these short-trained models worse; we did not tune
  :math:`\sigma_{mid}`.

What differs from the paper / spec
----------------------------------
No pretrained VAE, images or FID: synthetic latents and MMD.  The adaptive-c formula and the exact
NsLN variant were not available to us (the spec flags both as unverified); ours are stated above.
The pixel-space half of spec claim (2), the digits-autoencoder latents and the full ablation ladder
are not run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentlab.generative import (
    ConsistencyPreconditioning,
    Denoiser,
    MLPNet,
    TDQuantileScale,
    impulsive_latents,
    mmd,
    sample,
    train_consistency,
)
from latentlab.repro.context import RunContext
from latentlab.repro.paper import Budget, Claim, Paper, Verdict
from latentlab.repro.plotting import pyplot, save_figure

SLCT_RATIO_MAX = 0.7
CAUCHY_RATIO_MAX = 1.0
TWO_STEP_RATIO_MAX = 1.0
SIGMA_MID = 0.821
SIGMA_MIN, SIGMA_MAX = 0.002, 20.0

VARIANTS = {
    "ict": {"distance": "pseudo_huber", "norm": "none", "ot": False, "diffusion_weight": 0.0, "adaptive_c": False},
    "cauchy": {"distance": "cauchy", "norm": "none", "ot": False, "diffusion_weight": 0.0, "adaptive_c": False},
    "slct": {"distance": "cauchy", "norm": "nsln", "ot": True, "diffusion_weight": 1.0, "adaptive_c": True},
}


@dataclass(frozen=True)
class Config:
    dim: int = 16
    n_train: int = 8000
    n_eval: int = 2000
    outlier_fraction: float = 0.01
    outlier_df: float = 1.5
    train_steps: int = 2000
    batch: int = 256
    lr: float = 5e-4
    width: int = 128
    depth: int = 2
    s0: int = 10
    s1: int = 40
    """Curriculum N(k) = min(s0 2^(k // K'), s1) + 1 (iCT uses s1 = 1280 for 400k iterations)."""
    variants: tuple[str, ...] = ("ict", "cauchy", "slct")


PAPER = Paper(
    slug="latent-consistency-training",
    number=54,
    arxiv="2502.01441",
    title="Improved Training Technique for Latent Consistency Models",
    family="generative",
    claims=(
        Claim("slct-beats-ict", "On latents with impulsive outliers, sLCT's 1-step samples have at most 0.7x the "
              "MMD of iCT's.", "ratio_slct_ict", SLCT_RATIO_MAX, "<="),
        Claim("cauchy-alone-helps", "Swapping pseudo-Huber for the Cauchy loss alone improves 1-step MMD.",
              "ratio_cauchy_ict", CAUCHY_RATIO_MAX, "<="),
        Claim("two-steps-not-worse", "sLCT's 2-step samples are at least as good as its 1-step samples.",
              "ratio_slct_2step_1step", TWO_STEP_RATIO_MAX, "<="),
    ),
    budgets={
        "smoke": Budget(Config(n_train=1000, n_eval=300, train_steps=120, batch=64, width=64, depth=1), seeds=2),
        "quick": Budget(Config(), seeds=4),
        "full": Budget(Config(train_steps=30000, n_train=50000, n_eval=5000, width=256, depth=3, s1=320), seeds=10),
    },
    summary="Consistency training on synthetic latents with impulsive outliers: iCT's pseudo-Huber loss vs the "
            "Cauchy loss vs sLCT (Cauchy, early diffusion loss, OT pairing, adaptive c, NsLN), at 1 and 2 NFE.",
)


def _train_variant(name: str, config: Config, data: torch.Tensor, init_seed: int, ctx: RunContext) -> Denoiser:
    spec = VARIANTS[name]
    torch.manual_seed(init_seed)
    model = Denoiser(MLPNet(config.dim, config.width, config.depth, norm=spec["norm"]),
                     ConsistencyPreconditioning(0.5, SIGMA_MIN))
    ict_c = 0.00054 * math.sqrt(config.dim)
    schedule = TDQuantileScale(ict_c) if spec["adaptive_c"] else (lambda step, stats: ict_c)
    train_consistency(model, data, config.train_steps, config.batch, config.lr, c_schedule=schedule,
                      generator=ctx.torch_generator(5), check=ctx.check_finite, distance=spec["distance"],
                      ot=spec["ot"], diffusion_weight=spec["diffusion_weight"], sigma_min=SIGMA_MIN,
                      sigma_max=SIGMA_MAX, s0=config.s0, s1=config.s1)
    return model.eval()


def run(config: Config, seed: int, ctx: RunContext) -> dict:
    data, mask = impulsive_latents(config.n_train, ctx.rng(1), config.dim, outlier_fraction=config.outlier_fraction,
                                   outlier_df=config.outlier_df)
    reference, _ = impulsive_latents(config.n_eval, ctx.rng(2), config.dim, outlier_fraction=config.outlier_fraction,
                                     outlier_df=config.outlier_df)
    other, _ = impulsive_latents(config.n_eval, ctx.rng(3), config.dim, outlier_fraction=config.outlier_fraction,
                                 outlier_df=config.outlier_df)
    init_seed = int(ctx.rng(4).integers(2**31))
    prior = SIGMA_MAX * torch.randn((config.n_eval, config.dim), generator=ctx.torch_generator(6))
    results: dict[str, dict[str, float]] = {}
    for name in config.variants:
        model = _train_variant(name, config, data, init_seed, ctx)
        one = sample(model, prior, [SIGMA_MAX, 0.0], "consistency", sigma_min=SIGMA_MIN)
        two = sample(model, prior, [SIGMA_MAX, SIGMA_MID, 0.0], "consistency", sigma_min=SIGMA_MIN,
                     generator=ctx.torch_generator(7))
        results[name] = {"1": mmd(one, reference), "2": mmd(two, reference)}
    ctx.check_finite("mmd", results)
    data_abs = data.abs()
    out = {"mmd": results, "mmd_floor": mmd(other, reference),
           "data_kurtosis": float(((data - data.mean(0)) ** 4).mean() / data.var(0).mean() ** 2),
           "outlier_coordinates": float(mask.double().mean()),
           "max_over_iqr": float(data_abs.max() / _iqr(data[:, 0]))}
    if {"ict", "slct"} <= results.keys():
        out["ratio_slct_ict"] = results["slct"]["1"] / results["ict"]["1"]
        out["ratio_slct_2step_1step"] = results["slct"]["2"] / results["slct"]["1"]
    if {"ict", "cauchy"} <= results.keys():
        out["ratio_cauchy_ict"] = results["cauchy"]["1"] / results["ict"]["1"]
    return out


def _iqr(values: torch.Tensor) -> torch.Tensor:
    return torch.quantile(values, 0.75) - torch.quantile(values, 0.25)


def check(results: list[dict], budget: str) -> list[Verdict]:
    verdicts = []
    for claim in PAPER.claims:
        values = [r[claim.metric] for r in results if claim.metric in r]
        verdicts.append(claim.judge(values, budget, detail=_detail(results)))
    return verdicts


def _detail(results: list[dict]) -> str:
    if not results:
        return ""
    names = list(results[0]["mmd"])
    mean = lambda n, nfe: np.mean([r["mmd"][n][nfe] for r in results])  # noqa: E731
    parts = [f"{n}: {mean(n, '1'):.4f}/{mean(n, '2'):.4f}" for n in names]
    return (f"mean MMD at 1/2 NFE: {', '.join(parts)}; real-vs-real floor "
            f"{np.mean([r['mmd_floor'] for r in results]):.4f}")


def figures(results: list[dict], out_dir: Path) -> list[Path]:
    plt = pyplot()

    results = [r for r in results if "mmd" in r]
    if not results:
        return []
    names = list(results[0]["mmd"])
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    width = 0.38
    for j, nfe in enumerate(("1", "2")):
        values = np.array([[r["mmd"][n][nfe] for n in names] for r in results])
        ax.bar(np.arange(len(names)) + (j - 0.5) * width, values.mean(0), width, yerr=values.std(0),
               label=f"{nfe} NFE", color=f"C{j}")
        for i in range(len(names)):
            ax.plot(np.full(len(results), i + (j - 0.5) * width), values[:, i], "k.", ms=3)
    ax.axhline(np.mean([r["mmd_floor"] for r in results]), color="k", ls=":", label="real vs real")
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("MMD to held-out latents")
    ax.set_title("Consistency training on impulsive latents")
    ax.legend(fontsize=8)
    path = save_figure(fig, out_dir, "mmd_by_variant.png", dpi=90)
    return [path]
