r"""Paper 44: 3D-Properties: Identifying Challenges in DPO and Charting a Path Forward.

Yan et al., ICLR 2025, arXiv 2406.07327.

What the paper claims
---------------------
With :math:`u_w = \log\pi_\theta(y_w|x)`, :math:`u_l = \log\pi_\theta(y_l|x)` and
:math:`z = \beta[(u_w - u^{ref}_w) - (u_l - u^{ref}_l)]`, the DPO loss :math:`-\log\sigma(z)` has

.. math:: \frac{\partial\mathcal L}{\partial\pi(y_w)} = -\frac{\beta\sigma(-z)}{\pi(y_w)},\qquad
          \frac{\partial\mathcal L}{\partial\pi(y_l)} = \frac{\beta\sigma(-z)}{\pi(y_l)},

so the push on the rejected response grows as its probability falls.  Three effects follow:
**D**rastic drop of the rejected likelihood, **D**egradation of the chosen likelihood (with
shared parameters the chosen response is dragged down too) and **D**ispersion of probability
onto responses absent from the data; they are worse with off-policy data.  Remedies: an SFT
term on the chosen responses, separate temperatures (Flex-DPO) and on-policy pairs.

What we reproduce (CPU scale, exact)
------------------------------------
The spec's finite-response toy: 32 prompts × 16 candidate responses, true quality
:math:`q(x,m)\sim U(0,1)`; the policy is :class:`latentlab.preference.FeatureMLPPolicy`
(MLP of fixed random prompt features → 16 logits, shared parameters); the reference is the
initial network.  *Off-policy* data: an annotator model independent of the policy picks 6
responses per prompt (the *seen* set); 2 000 pairs of distinct seen responses, Bradley–Terry
labels from :math:`q`.  *On-policy* data: 2 000 pairs sampled from :math:`\pi_{ref}` itself.
DPO (:math:`\beta = 0.1`), SFT-DPO (:math:`\lambda = 1`) and on-policy DPO are trained with the
same optimiser (:class:`latentlab.preference.OfflinePreferenceTrainer`).  Everything is exact
(16 responses): :math:`\Delta\log\pi(y_w)`, :math:`\Delta\log\pi(y_l)` averaged over training
pairs, the mass on unseen responses and the expected true quality.

Deviation from the spec: the spec's annotator is "concentrated on responses the policy rarely
emits"; then the unseen responses carry most of the reference mass from the start (≈ 0.9) and
the spec's own criterion "unseen mass rises by ≥ 0.2" could not be met by any dynamics.  We
draw the annotator independently of the policy (unseen mass starts near 10/16), keeping the
data off-policy (pairs are not samples of :math:`\pi`).

Claims and thresholds (the spec's, fixed before running)
--------------------------------------------------------
Vanilla DPO, off-policy:

* ``drastic-drop``: :math:`|\Delta\log\pi(y_l)| / |\Delta\log\pi(y_w)| \ge 3`;
* ``chosen-degrades``: :math:`\Delta\log\pi(y_w) \le 0` at the end (mean over pairs);
* ``dispersion``: the unseen mass rises by ≥ 0.2 (mean over prompts).

SFT-DPO (:math:`\lambda = 1`):

* ``sft-keeps-chosen``: :math:`\Delta\log\pi(y_w) \ge 0`;
* ``sft-cuts-dispersion``: :math:`1 - \text{rise}_{SFT}/\text{rise}_{DPO} \ge 0.5`.

On-policy:

* ``on-policy-better``: expected true quality of on-policy DPO / off-policy DPO ≥ 1.05.

Measured (quick, 8 seeds)
-------------------------
PASS: chosen-degrades (Δlog π(y_w) = -3.5), sft-keeps-chosen (+1.2), sft-cuts-dispersion
(vacuously: DPO's unseen mass did not rise).  FAIL: drastic-drop (ratio 1.58, not ≥ 3) and
dispersion (unseen mass *falls* by 0.13: the best seen response of each prompt gains mass).
INCONCLUSIVE: on-policy-better (1.013 [0.973, 1.059]).

Extra (reported, not claimed): the same off-policy DPO on a *tabular* softmax (no sharing),
whose unseen logits get exactly zero gradient, so its unseen mass moves only through
renormalisation.

Not reproduced
--------------
Flex-DPO sweeps (the exact adaptation rule of the paper was not checked; the loss is
available as ``dpo_loss(..., beta_rejected=...)``), the tiny-GPT version over length-4
sequences, and the paper's math / instruction-following LLM results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentlab.preference import (
    DPOConfig,
    FeatureMLPPolicy,
    FiniteResponseTask,
    OfflinePreferenceTrainer,
    PreferenceData,
    PreferenceOracle,
    ResponseTree,
    TabularPolicy,
    frozen_copy,
    leaf_log_probs,
    prefix_log_probs,
    sample,
    sequence_logps,
    unseen_mass,
)
from latentlab.repro.context import RunContext
from latentlab.repro.paper import Budget, Claim, Paper, Verdict
from latentlab.repro.plotting import pyplot, save_figure

__all__ = ["Config", "PAPER", "run", "check", "figures"]


@dataclass(frozen=True)
class Config:
    n_prompts: int = 32
    n_responses: int = 16
    feature_dim: int = 16
    hidden: int = 64
    output_scale: float = 3.0
    """Scale of the initial output layer (spread of the reference's logits)."""
    seen_per_prompt: int = 6
    n_pairs: int = 2000
    beta: float = 0.1
    sft_weight: float = 1.0
    steps: int = 600
    batch_size: int = 128
    lr: float = 3e-3
    track_every: int = 20


CLAIMS = (
    Claim("drastic-drop", "Vanilla off-policy DPO: |d log pi(y_l)| >= 3 |d log pi(y_w)|.",
          metric="drop_ratio", threshold=3.0, direction=">="),
    Claim("chosen-degrades", "Vanilla off-policy DPO: the chosen log-likelihood ends below the reference's.",
          metric="dpo_dlogp_chosen", threshold=0.0, direction="<="),
    Claim("dispersion", "Vanilla off-policy DPO: probability mass on unseen responses rises by >= 0.2.",
          metric="dpo_unseen_rise", threshold=0.2, direction=">="),
    Claim("sft-keeps-chosen", "SFT-DPO (lambda = 1): the chosen log-likelihood ends above the reference's.",
          metric="sft_dlogp_chosen", threshold=0.0, direction=">="),
    Claim("sft-cuts-dispersion", "SFT-DPO cuts the growth of unseen mass by >= 50%.",
          metric="sft_dispersion_cut", threshold=0.5, direction=">="),
    Claim("on-policy-better", "On-policy DPO ends with >= 5% higher expected true quality than off-policy DPO.",
          metric="on_off_quality_ratio", threshold=1.05, direction=">="),
)

PAPER = Paper(
    slug="dpo-3d-properties",
    number=44,
    arxiv="2406.07327",
    title="3D-Properties: Identifying Challenges in DPO and Charting a Path Forward",
    family="preference",
    claims=CLAIMS,
    budgets={
        "smoke": Budget(Config(steps=60, n_pairs=400, track_every=20), seeds=2, note="seconds; INCONCLUSIVE allowed"),
        "quick": Budget(Config(), seeds=8, note="finite-response toy, exact tracking"),
        "full": Budget(Config(steps=2000, n_pairs=5000), seeds=20),
    },
    summary="Drastic drop, degradation and dispersion in DPO on an exact finite-response toy, and the SFT fix.",
)


def _data(task: FiniteResponseTask, seen: np.ndarray, n_pairs: int, rng: np.random.Generator) -> PreferenceData:
    """Off-policy pairs: two distinct responses from each prompt's seen set, BT-labelled by quality."""
    prompts = rng.integers(0, task.n_prompts, size=n_pairs)
    seen_ids = np.argsort(~seen, axis=1, kind="stable")[:, : seen.sum(1).min()]  # indices of seen responses
    k = seen_ids.shape[1]
    first = rng.integers(0, k, size=n_pairs)
    second = (first + rng.integers(1, k, size=n_pairs)) % k
    a = seen_ids[prompts, first][:, None]
    b = seen_ids[prompts, second][:, None]
    chosen, rejected = PreferenceOracle().label(task, prompts, a, b, rng)
    return PreferenceData(torch.as_tensor(prompts), torch.as_tensor(chosen), torch.as_tensor(rejected))


def _on_policy_data(task: FiniteResponseTask, reference, n_pairs: int, rng: np.random.Generator,
                    generator: torch.Generator) -> PreferenceData:
    prompts = torch.as_tensor(rng.integers(0, task.n_prompts, size=n_pairs))
    a, b = sample(reference, prompts, generator), sample(reference, prompts, generator)
    chosen, rejected = PreferenceOracle().label(task, prompts.numpy(), a.numpy(), b.numpy(), rng)
    return PreferenceData(prompts, torch.as_tensor(chosen), torch.as_tensor(rejected))


def _train(policy, data: PreferenceData, task: FiniteResponseTask, seen: np.ndarray, config: Config,
           sft_weight: float, ctx: RunContext, stream: int) -> dict:
    tree = ResponseTree(config.n_responses, 1)
    reference = frozen_copy(policy)
    ref_c = sequence_logps(reference, data.prompts, data.chosen).detach()
    ref_r = sequence_logps(reference, data.prompts, data.rejected).detach()
    quality = torch.as_tensor(task.quality)
    seen_t = torch.as_tensor(seen)
    trace: dict[str, list[float]] = {"step": [], "dlogp_chosen": [], "dlogp_rejected": [], "unseen": [],
                                     "quality": []}

    @torch.no_grad()
    def track(step: int) -> None:
        lp = leaf_log_probs(prefix_log_probs(policy, tree, task.n_prompts), tree)
        trace["step"].append(step)
        trace["dlogp_chosen"].append(float((sequence_logps(policy, data.prompts, data.chosen) - ref_c).mean()))
        trace["dlogp_rejected"].append(float((sequence_logps(policy, data.prompts, data.rejected) - ref_r).mean()))
        trace["unseen"].append(float(unseen_mass(lp, seen_t).mean()))
        trace["quality"].append(float((lp.exp() * quality).sum(-1).mean()))

    trainer = OfflinePreferenceTrainer(policy, reference, DPOConfig(beta=config.beta, lr=config.lr,
                                                                    batch_size=config.batch_size,
                                                                    sft_weight=sft_weight))
    losses = trainer.fit(data, config.steps, ctx.torch_generator(stream), callback=track, every=config.track_every)
    ctx.check_finite("dpo_loss", losses[-1] if losses else 0.0)
    return trace


def _fresh_policy(features: torch.Tensor, config: Config, ctx: RunContext) -> FeatureMLPPolicy:
    return FeatureMLPPolicy(features, config.n_responses, config.hidden, ctx.torch_generator(2), config.output_scale)


def run(config: Config, seed: int, ctx: RunContext) -> dict:
    rng = ctx.rng(1)
    task = FiniteResponseTask(rng.random((config.n_prompts, config.n_responses)))
    features = torch.as_tensor(rng.standard_normal((config.n_prompts, config.feature_dim)), dtype=torch.float32)
    annotator = rng.standard_normal((config.n_prompts, config.n_responses))  # independent of the policy
    gumbel = annotator + rng.gumbel(size=annotator.shape)
    seen = np.zeros_like(annotator, dtype=bool)
    np.put_along_axis(seen, np.argsort(-gumbel, axis=1)[:, : config.seen_per_prompt], True, axis=1)
    data = _data(task, seen, config.n_pairs, ctx.rng(3))

    dpo = _train(_fresh_policy(features, config, ctx), data, task, seen, config, 0.0, ctx, 10)
    sft = _train(_fresh_policy(features, config, ctx), data, task, seen, config, config.sft_weight, ctx, 11)
    tabular = _train(TabularPolicy(ResponseTree(config.n_responses, 1), config.n_prompts,
                                   _fresh_policy(features, config, ctx).table_log_probs().detach()),
                     data, task, seen, config, 0.0, ctx, 12)
    reference = _fresh_policy(features, config, ctx)
    on_data = _on_policy_data(task, reference, config.n_pairs, ctx.rng(4), ctx.torch_generator(5))
    on_seen = np.zeros_like(seen)
    on_seen[np.concatenate([on_data.prompts.numpy()] * 2),
            np.concatenate([on_data.chosen[:, 0].numpy(), on_data.rejected[:, 0].numpy()])] = True
    on = _train(reference, on_data, task, on_seen, config, 0.0, ctx, 13)

    def rise(trace: dict) -> float:
        return trace["unseen"][-1] - trace["unseen"][0]

    dpo_rise, sft_rise = rise(dpo), rise(sft)
    return {
        "drop_ratio": abs(dpo["dlogp_rejected"][-1]) / max(abs(dpo["dlogp_chosen"][-1]), 1e-12),
        "dpo_dlogp_chosen": dpo["dlogp_chosen"][-1],
        "dpo_dlogp_rejected": dpo["dlogp_rejected"][-1],
        "dpo_unseen_rise": dpo_rise,
        "unseen_start": dpo["unseen"][0],
        "sft_dlogp_chosen": sft["dlogp_chosen"][-1],
        "sft_unseen_rise": sft_rise,
        "sft_dispersion_cut": 1.0 - sft_rise / dpo_rise if dpo_rise > 0 else float(sft_rise <= 0),
        "tabular_unseen_rise": rise(tabular),
        "tabular_dlogp_chosen": tabular["dlogp_chosen"][-1],
        "on_off_quality_ratio": on["quality"][-1] / dpo["quality"][-1],
        "quality_reference": dpo["quality"][0],
        "quality_off_policy": dpo["quality"][-1],
        "quality_on_policy": on["quality"][-1],
        "quality_sft": sft["quality"][-1],
        "traces": {"dpo": dpo, "sft_dpo": sft, "tabular_dpo": tabular, "on_policy_dpo": on},
    }


def check(results: list[dict], budget: str) -> list[Verdict]:
    return [claim.judge([r[claim.metric] for r in results], budget) for claim in CLAIMS]


def figures(results: list[dict], out_dir: Path) -> list[Path]:
    plt = pyplot()

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    colours = {"dpo": "C3", "sft_dpo": "C0", "tabular_dpo": "C7", "on_policy_dpo": "C2"}
    for r in results:
        for name, trace in r["traces"].items():
            label = name if r is results[0] else None
            kw = dict(color=colours[name], alpha=0.5, lw=1)
            if name != "on_policy_dpo":
                axes[0].plot(trace["step"], trace["dlogp_chosen"], ls="-", label=label and f"{name} chosen", **kw)
                axes[0].plot(trace["step"], trace["dlogp_rejected"], ls=":", **kw)
                axes[1].plot(trace["step"], trace["unseen"], label=label, **kw)
            axes[2].plot(trace["step"], trace["quality"], label=label, **kw)
    axes[0].set_ylabel(r"$\Delta\log\pi$ (solid: chosen, dotted: rejected)")
    axes[0].set_ylim(bottom=max(axes[0].get_ylim()[0], -30))
    axes[1].set_ylabel("mass on unseen responses")
    axes[2].set_ylabel("expected true quality")
    for ax in axes:
        ax.set_xlabel("step")
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    path = save_figure(fig, out_dir, "dpo_3d_dynamics.png", dpi=90)
    return [path]
