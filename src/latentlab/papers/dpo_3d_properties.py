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

Full budget only (``Config.flex_ratios`` and ``Config.gpt_steps``; both off at quick):

*Flex-DPO sweep* on the same toy and data:
:math:`-\log\sigma\big(\beta_w(u_w-u^{ref}_w) - \beta_l(u_l-u^{ref}_l)\big)` with
:math:`\beta_w = \beta = 0.1` and :math:`\beta_l/\beta_w \in \{0.5, 2, 4\}` (ratio 1 is the
vanilla arm).  This is the spec's two-temperature form; the paper's *adaptive* rule for the
temperatures could not be checked against the paper's text here (not available offline), so
only fixed temperatures are swept.  The closed forms of the Flex-DPO gradients (probability
ratio :math:`(\beta_l/\beta_w)\,\pi(y_w)/\pi(y_l)`; tabular logit gradient, which is non-zero on
unseen logits exactly when :math:`\beta_l\ne\beta_w`) are in :mod:`latentlab.preference.flex`
and tested against autograd.

*Tiny GPT over length-4 sequences*: a 2-layer GPT-2 (width 64,
:func:`latentlab.preference.lm.tiny_lm_policy`) over 4 response tokens and horizon 4 (256
responses per prompt), 8 prompts, quality :math:`q(x,y)\sim U(0,1)` on every sequence.  The
reference is the GPT after SFT on a "pre-training pool" of 16 random sequences per prompt
(sampled with random softmax weights), so, like the toy's reference, it concentrates on a
finite candidate set; the annotator picks 6 pool sequences per prompt independently of the
policy (the seen set); 2 000 off-policy pairs among them, BT labels.  DPO and SFT-DPO start
from the SFT reference.  All tracked quantities are exact: :math:`\pi(\cdot|x)` on all 256
sequences is enumerated with :func:`latentlab.preference.prefix_log_probs` /
:func:`latentlab.preference.leaf_log_probs`, so "unseen" includes the 240 sequences outside
the pool, where dispersion is not limited to a 16-way softmax.

Claims and thresholds (fixed before running)
--------------------------------------------
Vanilla DPO, off-policy (the spec's):

* ``drastic-drop``: :math:`|\Delta\log\pi(y_l)| / |\Delta\log\pi(y_w)| \ge 3`;
* ``chosen-degrades``: :math:`\Delta\log\pi(y_w) \le 0` at the end (mean over pairs);
* ``dispersion``: the unseen mass rises by ≥ 0.2 (mean over prompts).

SFT-DPO (:math:`\lambda = 1`):

* ``sft-keeps-chosen``: :math:`\Delta\log\pi(y_w) \ge 0`;
* ``sft-cuts-dispersion``: :math:`1 - \text{rise}_{SFT}/\text{rise}_{DPO} \ge 0.5`.  The cut is
  defined only when vanilla DPO's unseen mass rises (:math:`\text{rise}_{DPO} > 0`); if that
  precondition fails in any seed the claim is INCONCLUSIVE with a note (nothing to cut).

On-policy:

* ``on-policy-better``: expected true quality of on-policy DPO / off-policy DPO ≥ 1.05.

Flex-DPO (full budget only; written before the sweep was run).  Reasoning: :math:`z` saturates
once :math:`\beta_l|\Delta u_l|` is a few units, so a larger rejected temperature should stop the
rejected likelihood after a drop :math:`\propto 1/\beta_l` and drag the chosen one less:

* ``flex-slows-drop``: :math:`|\Delta\log\pi(y_l)|` at :math:`\beta_l = 4\beta_w` divided by that of
  vanilla DPO ≤ 0.5;
* ``flex-keeps-chosen``: :math:`\Delta\log\pi(y_w)` at :math:`\beta_l = 4\beta_w` minus that of
  vanilla DPO ≥ 0;
* ``flex-drop-monotone``: fraction of seeds in which :math:`|\Delta\log\pi(y_l)|` is
  non-increasing along :math:`\beta_l/\beta_w = 0.5, 1, 2, 4` ≥ 0.8.

(A counter-argument, also fixed in advance: before saturation Adam follows the *direction*
:math:`-\beta_w\nabla u_w + \beta_l\nabla u_l`, which weighs the rejected push more as
:math:`\beta_l` grows; the sweep decides which effect wins on this toy.)

Tiny GPT (full budget only), the toy's thresholds: ``gpt-drastic-drop`` (ratio ≥ 3),
``gpt-chosen-degrades`` (≤ 0), ``gpt-dispersion`` (unseen rise ≥ 0.2), ``gpt-sft-keeps-chosen``
(≥ 0), ``gpt-sft-cuts-dispersion`` (≥ 0.5, same precondition as above).

Measured (quick, 8 seeds)
-------------------------
PASS: chosen-degrades (Δlog π(y_w) = -3.5), sft-keeps-chosen (+1.2).  FAIL: drastic-drop
(ratio 1.58, not ≥ 3) and dispersion (unseen mass *falls* by 0.13: the best seen response of
each prompt gains mass).  INCONCLUSIVE: sft-cuts-dispersion (its precondition fails: DPO's
unseen mass does not rise, so there is nothing to cut; it was reported as a vacuous PASS
before this was made explicit), on-policy-better (1.013 [0.973, 1.059]).  The Flex-DPO and
tiny-GPT claims are INCONCLUSIVE at quick (full budget only).

Measured (full, 5 seeds, 2 workers, 8 min 54 s wall; first full run, 2026-11-24)
---------------------------------------------------------------------------------
Toy: drastic-drop FAIL 1.47 [1.43, 1.54]; chosen-degrades PASS -3.18 [-3.49, -2.80]; dispersion
FAIL -0.078 [-0.099, -0.048]; sft-keeps-chosen PASS 1.31 [1.26, 1.37]; sft-cuts-dispersion
INCONCLUSIVE (precondition fails in 5/5 seeds); on-policy-better PASS 1.098 [1.052, 1.146].
Flex-DPO: the counter-argument above wins: at :math:`\beta_l = 4\beta_w` the rejected drop is
6.1x vanilla's ([5.5, 6.9]; flex-slows-drop FAIL), the chosen log-likelihood ends 24.7 lower
(flex-keeps-chosen FAIL) and the drop grows with the ratio in every seed (flex-drop-monotone
FAIL 0).  Tiny GPT: gpt-drastic-drop FAIL 1.34 [1.26, 1.42]; gpt-chosen-degrades PASS -3.07
[-3.83, -2.32]; gpt-dispersion INCONCLUSIVE 0.182 [0.066, 0.291] (the unseen mass does rise
here, unlike the toy); gpt-sft-keeps-chosen PASS 3.98 [3.45, 4.60]; gpt-sft-cuts-dispersion
INCONCLUSIVE (precondition fails in 1/5 seeds).  Fixed-temperature Flex-DPO with a larger
rejected temperature therefore makes the 3D effects worse on these toys; the paper's adaptive
rule (not implemented) may behave differently.

Extra (reported, not claimed): the same off-policy DPO on a *tabular* softmax (no sharing),
whose unseen logits get exactly zero gradient, so its unseen mass moves only through
renormalisation; per-ratio Flex-DPO traces (``flex_*`` metrics).

Not reproduced
--------------
The paper's adaptive Flex-DPO temperature rule (fixed temperatures only), and the paper's
math / instruction-following LLM results.
"""

from __future__ import annotations

import copy
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
    supervised_finetune,
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
    flex_ratios: tuple[float, ...] = ()
    r"""Flex-DPO arms :math:`\beta_l/\beta_w` (with :math:`\beta_w = \beta`); () = no sweep."""
    gpt_steps: int = 0
    """DPO / SFT-DPO steps of the tiny-GPT arm over length-4 sequences; 0 = no GPT arm."""
    gpt_prompts: int = 8
    gpt_vocab: int = 4
    gpt_horizon: int = 4
    gpt_pool: int = 16
    """Sequences per prompt in the reference's SFT ("pre-training") pool."""
    gpt_pool_spread: float = 1.5
    """Standard deviation of the pool's softmax logits."""
    gpt_seen: int = 6
    """Pool sequences per prompt the annotator puts in the preference data."""
    gpt_sft_samples: int = 2000
    gpt_sft_steps: int = 400
    gpt_sft_lr: float = 3e-3
    gpt_lr: float = 1e-3
    gpt_width: int = 64
    gpt_layers: int = 2

    def __post_init__(self) -> None:
        if any(not r > 0 for r in self.flex_ratios):
            raise ValueError(f"flex_ratios must all be > 0, got {self.flex_ratios}")
        if self.gpt_steps < 0:
            raise ValueError(f"gpt_steps must be >= 0, got {self.gpt_steps}")
        if not 2 <= self.gpt_seen <= self.gpt_pool <= self.gpt_vocab**self.gpt_horizon:
            raise ValueError(f"need 2 <= gpt_seen <= gpt_pool <= gpt_vocab**gpt_horizon, got {self.gpt_seen}, "
                             f"{self.gpt_pool}, {self.gpt_vocab}**{self.gpt_horizon}")


FLEX_SWEEP = (0.5, 2.0, 4.0)
"""The full budget's Flex-DPO grid of β_l/β_w (vanilla DPO is ratio 1)."""
FLEX_CLAIM_RATIO = 4.0


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
    Claim("flex-slows-drop", "Flex-DPO with beta_l = 4 beta_w: the rejected log-likelihood drops by at most half "
          "as much as under vanilla DPO.", metric="flex_drop_ratio", threshold=0.5, direction="<="),
    Claim("flex-keeps-chosen", "Flex-DPO with beta_l = 4 beta_w ends with a chosen log-likelihood at least as high "
          "as vanilla DPO's.", metric="flex_chosen_gain", threshold=0.0, direction=">="),
    Claim("flex-drop-monotone", "|d log pi(y_l)| is non-increasing in beta_l / beta_w = 0.5, 1, 2, 4 in >= 80% "
          "of seeds.", metric="flex_drop_monotone", threshold=0.8, direction=">="),
    Claim("gpt-drastic-drop", "Tiny GPT, vanilla off-policy DPO: |d log pi(y_l)| >= 3 |d log pi(y_w)|.",
          metric="gpt_drop_ratio", threshold=3.0, direction=">="),
    Claim("gpt-chosen-degrades", "Tiny GPT, vanilla off-policy DPO: the chosen log-likelihood ends below the "
          "reference's.", metric="gpt_dpo_dlogp_chosen", threshold=0.0, direction="<="),
    Claim("gpt-dispersion", "Tiny GPT, vanilla off-policy DPO: mass on unseen sequences rises by >= 0.2.",
          metric="gpt_dpo_unseen_rise", threshold=0.2, direction=">="),
    Claim("gpt-sft-keeps-chosen", "Tiny GPT, SFT-DPO: the chosen log-likelihood ends above the reference's.",
          metric="gpt_sft_dlogp_chosen", threshold=0.0, direction=">="),
    Claim("gpt-sft-cuts-dispersion", "Tiny GPT, SFT-DPO cuts the growth of unseen mass by >= 50%.",
          metric="gpt_sft_dispersion_cut", threshold=0.5, direction=">="),
)

_FULL_ONLY = {"flex_drop_ratio", "flex_chosen_gain", "flex_drop_monotone", "gpt_drop_ratio", "gpt_dpo_dlogp_chosen",
              "gpt_dpo_unseen_rise", "gpt_sft_dlogp_chosen", "gpt_sft_dispersion_cut"}
_CUT_PRECONDITION = {"sft_dispersion_cut": "dpo_unseen_rise", "gpt_sft_dispersion_cut": "gpt_dpo_unseen_rise"}
"""Cut metrics and the vanilla-DPO rise they divide by (the cut is defined only when that rise is > 0)."""

PAPER = Paper(
    slug="dpo-3d-properties",
    number=44,
    arxiv="2406.07327",
    title="3D-Properties: Identifying Challenges in DPO and Charting a Path Forward",
    family="preference",
    claims=CLAIMS,
    budgets={
        "smoke": Budget(Config(steps=60, n_pairs=400, track_every=20, flex_ratios=FLEX_SWEEP, gpt_steps=8,
                               gpt_prompts=2, gpt_vocab=3, gpt_horizon=3, gpt_pool=6, gpt_seen=3,
                               gpt_sft_samples=64, gpt_sft_steps=4, gpt_width=16, gpt_layers=1),
                        seeds=2, note="seconds; INCONCLUSIVE allowed"),
        "quick": Budget(Config(), seeds=8, note="finite-response toy, exact tracking"),
        "full": Budget(Config(steps=2000, n_pairs=5000, flex_ratios=FLEX_SWEEP, gpt_steps=1000), seeds=5,
                       note="+ Flex-DPO sweep and tiny GPT over length-4 sequences"),
    },
    summary="Drastic drop, degradation and dispersion in DPO on an exact finite-response toy and a tiny GPT "
            "over length-4 sequences; the SFT and Flex-DPO remedies.",
)


def dispersion_cut(dpo_rise: float, sft_rise: float) -> float | None:
    r""":math:`1 - \text{rise}_{SFT}/\text{rise}_{DPO}`, or None when :math:`\text{rise}_{DPO} \le 0` (undefined)."""
    return 1.0 - sft_rise / dpo_rise if dpo_rise > 0 else None


def _data(task: FiniteResponseTask, seen: np.ndarray, n_pairs: int, rng: np.random.Generator,
          tree: ResponseTree | None = None) -> PreferenceData:
    """Off-policy pairs: two distinct responses from each prompt's seen set, BT-labelled by quality.

    Responses are leaf codes of ``tree`` (default: single-token responses); the returned pairs
    are the leaves' token sequences.
    """
    prompts = rng.integers(0, task.n_prompts, size=n_pairs)
    seen_ids = np.argsort(~seen, axis=1, kind="stable")[:, : seen.sum(1).min()]  # indices of seen responses
    k = seen_ids.shape[1]
    first = rng.integers(0, k, size=n_pairs)
    second = (first + rng.integers(1, k, size=n_pairs)) % k
    a = seen_ids[prompts, first][:, None]
    b = seen_ids[prompts, second][:, None]
    chosen, rejected = PreferenceOracle().label(task, prompts, a, b, rng)
    if tree is not None:
        chosen, rejected = tree.leaves[chosen[:, 0]], tree.leaves[rejected[:, 0]]
    return PreferenceData(torch.as_tensor(prompts), torch.as_tensor(chosen), torch.as_tensor(rejected))


def _on_policy_data(task: FiniteResponseTask, reference, n_pairs: int, rng: np.random.Generator,
                    generator: torch.Generator) -> PreferenceData:
    prompts = torch.as_tensor(rng.integers(0, task.n_prompts, size=n_pairs))
    a, b = sample(reference, prompts, generator), sample(reference, prompts, generator)
    chosen, rejected = PreferenceOracle().label(task, prompts.numpy(), a.numpy(), b.numpy(), rng)
    return PreferenceData(prompts, torch.as_tensor(chosen), torch.as_tensor(rejected))


def _train(policy, data: PreferenceData, tree: ResponseTree, quality: np.ndarray, seen: np.ndarray,
           dpo: DPOConfig, steps: int, track_every: int, ctx: RunContext, stream: int) -> dict:
    """Train ``policy`` from itself as reference; trace the exact Δlog π(y_w), Δlog π(y_l), unseen mass, quality.

    ``quality`` and ``seen`` are ``(P, V^T)`` over the leaves of ``tree``.
    """
    reference = frozen_copy(policy)
    ref_c = sequence_logps(reference, data.prompts, data.chosen).detach()
    ref_r = sequence_logps(reference, data.prompts, data.rejected).detach()
    quality_t = torch.as_tensor(quality)
    seen_t = torch.as_tensor(seen)
    trace: dict[str, list[float]] = {"step": [], "dlogp_chosen": [], "dlogp_rejected": [], "unseen": [],
                                     "quality": []}

    @torch.no_grad()
    def track(step: int) -> None:
        lp = leaf_log_probs(prefix_log_probs(policy, tree, quality.shape[0]), tree)
        trace["step"].append(step)
        trace["dlogp_chosen"].append(float((sequence_logps(policy, data.prompts, data.chosen) - ref_c).mean()))
        trace["dlogp_rejected"].append(float((sequence_logps(policy, data.prompts, data.rejected) - ref_r).mean()))
        trace["unseen"].append(float(unseen_mass(lp, seen_t).mean()))
        trace["quality"].append(float((lp.exp() * quality_t).sum(-1).mean()))

    trainer = OfflinePreferenceTrainer(policy, reference, dpo)
    losses = trainer.fit(data, steps, ctx.torch_generator(stream), callback=track, every=track_every)
    ctx.check_finite("dpo_loss", losses[-1] if losses else 0.0)
    return trace


def _dpo_config(config: Config, sft_weight: float = 0.0, beta_rejected: float | None = None,
                lr: float | None = None) -> DPOConfig:
    return DPOConfig(beta=config.beta, lr=config.lr if lr is None else lr, batch_size=config.batch_size,
                     sft_weight=sft_weight, beta_rejected=beta_rejected)


def _fresh_policy(features: torch.Tensor, config: Config, ctx: RunContext) -> FeatureMLPPolicy:
    return FeatureMLPPolicy(features, config.n_responses, config.hidden, ctx.torch_generator(2), config.output_scale)


def _rise(trace: dict) -> float:
    return trace["unseen"][-1] - trace["unseen"][0]


def _drop_ratio(trace: dict) -> float:
    return abs(trace["dlogp_rejected"][-1]) / max(abs(trace["dlogp_chosen"][-1]), 1e-12)


def _flex_sweep(make_policy, data: PreferenceData, tree: ResponseTree, quality: np.ndarray, seen: np.ndarray,
                config: Config, vanilla: dict, ctx: RunContext) -> dict:
    r"""Flex-DPO arms :math:`\beta_l = r\beta_w` for r in ``config.flex_ratios`` (r = 1 is ``vanilla``), same data."""
    traces = {1.0: vanilla}
    for i, ratio in enumerate(config.flex_ratios):
        if ratio != 1.0:
            traces[float(ratio)] = _train(make_policy(), data, tree, quality, seen,
                                          _dpo_config(config, beta_rejected=ratio * config.beta), config.steps,
                                          config.track_every, ctx, 30 + i)
    ratios = sorted(traces)
    drops = [abs(traces[r]["dlogp_rejected"][-1]) for r in ratios]
    out: dict = {
        "flex_ratios": ratios,
        "flex_dlogp_rejected": [traces[r]["dlogp_rejected"][-1] for r in ratios],
        "flex_dlogp_chosen": [traces[r]["dlogp_chosen"][-1] for r in ratios],
        "flex_unseen_rise": [_rise(traces[r]) for r in ratios],
        "flex_quality": [traces[r]["quality"][-1] for r in ratios],
        "flex_drop_monotone": float(all(b <= a for a, b in zip(drops, drops[1:]))),
        "flex_traces": {str(r): traces[r] for r in ratios},
    }
    if FLEX_CLAIM_RATIO in traces:
        flex = traces[FLEX_CLAIM_RATIO]
        out["flex_drop_ratio"] = abs(flex["dlogp_rejected"][-1]) / max(abs(vanilla["dlogp_rejected"][-1]), 1e-12)
        out["flex_chosen_gain"] = flex["dlogp_chosen"][-1] - vanilla["dlogp_chosen"][-1]
    return out


def _gpt_arm(config: Config, ctx: RunContext) -> dict:
    """Tiny GPT over length-``gpt_horizon`` sequences: SFT reference on a pool, then DPO vs SFT-DPO, exact tracking."""
    from latentlab.preference.lm import tiny_lm_policy

    rng = ctx.rng(20)
    tree = ResponseTree(config.gpt_vocab, config.gpt_horizon)
    n_prompts, n_leaves = config.gpt_prompts, tree.n_leaves
    quality = rng.random((n_prompts, n_leaves))
    pool = np.argsort(rng.random((n_prompts, n_leaves)), axis=1)[:, : config.gpt_pool]  # leaf codes
    weights = np.exp(config.gpt_pool_spread * rng.standard_normal(pool.shape))
    weights /= weights.sum(1, keepdims=True)
    sft_prompts = rng.integers(0, n_prompts, size=config.gpt_sft_samples)
    pick = (weights[sft_prompts].cumsum(1) < rng.random(config.gpt_sft_samples)[:, None]).sum(1)
    sft_responses = tree.leaves[pool[sft_prompts, np.minimum(pick, config.gpt_pool - 1)]]
    seen = np.zeros((n_prompts, n_leaves), dtype=bool)
    seen_cols = np.argsort(rng.random(pool.shape), axis=1)[:, : config.gpt_seen]  # independent of the policy
    np.put_along_axis(seen, np.take_along_axis(pool, seen_cols, 1), True, axis=1)
    data = _data(FiniteResponseTask(quality), seen, config.n_pairs, ctx.rng(21), tree=tree)

    reference = tiny_lm_policy(n_prompts, config.gpt_vocab, config.gpt_horizon,
                               seed=int(ctx.rng(22).integers(2**31)), n_layer=config.gpt_layers,
                               n_head=2, n_embd=config.gpt_width)
    supervised_finetune(reference, torch.as_tensor(sft_prompts), torch.as_tensor(sft_responses),
                        config.gpt_sft_steps, config.gpt_sft_lr, config.batch_size, ctx.torch_generator(23))
    arms = {}
    for name, weight, stream in (("dpo", 0.0, 24), ("sft_dpo", config.sft_weight, 25)):
        arms[name] = _train(copy.deepcopy(reference), data, tree, quality, seen,
                            _dpo_config(config, sft_weight=weight, lr=config.gpt_lr), config.gpt_steps,
                            config.track_every, ctx, stream)
    dpo, sft = arms["dpo"], arms["sft_dpo"]
    return {
        "gpt_drop_ratio": _drop_ratio(dpo),
        "gpt_dpo_dlogp_chosen": dpo["dlogp_chosen"][-1],
        "gpt_dpo_dlogp_rejected": dpo["dlogp_rejected"][-1],
        "gpt_dpo_unseen_rise": _rise(dpo),
        "gpt_unseen_start": dpo["unseen"][0],
        "gpt_sft_dlogp_chosen": sft["dlogp_chosen"][-1],
        "gpt_sft_unseen_rise": _rise(sft),
        "gpt_sft_dispersion_cut": dispersion_cut(_rise(dpo), _rise(sft)),
        "gpt_quality_reference": dpo["quality"][0],
        "gpt_quality_dpo": dpo["quality"][-1],
        "gpt_quality_sft": sft["quality"][-1],
        "gpt_traces": arms,
    }


def run(config: Config, seed: int, ctx: RunContext) -> dict:
    rng = ctx.rng(1)
    task = FiniteResponseTask(rng.random((config.n_prompts, config.n_responses)))
    features = torch.as_tensor(rng.standard_normal((config.n_prompts, config.feature_dim)), dtype=torch.float32)
    annotator = rng.standard_normal((config.n_prompts, config.n_responses))  # independent of the policy
    gumbel = annotator + rng.gumbel(size=annotator.shape)
    seen = np.zeros_like(annotator, dtype=bool)
    np.put_along_axis(seen, np.argsort(-gumbel, axis=1)[:, : config.seen_per_prompt], True, axis=1)
    data = _data(task, seen, config.n_pairs, ctx.rng(3))
    tree = ResponseTree(config.n_responses, 1)

    def train(policy, dpo_config: DPOConfig, arm_seen: np.ndarray, arm_data: PreferenceData, stream: int) -> dict:
        return _train(policy, arm_data, tree, task.quality, arm_seen, dpo_config, config.steps, config.track_every,
                      ctx, stream)

    dpo = train(_fresh_policy(features, config, ctx), _dpo_config(config), seen, data, 10)
    sft = train(_fresh_policy(features, config, ctx), _dpo_config(config, config.sft_weight), seen, data, 11)
    tabular = train(TabularPolicy(tree, config.n_prompts, _fresh_policy(features, config, ctx).table_log_probs()
                                  .detach()), _dpo_config(config), seen, data, 12)
    reference = _fresh_policy(features, config, ctx)
    on_data = _on_policy_data(task, reference, config.n_pairs, ctx.rng(4), ctx.torch_generator(5))
    on_seen = np.zeros_like(seen)
    on_seen[np.concatenate([on_data.prompts.numpy()] * 2),
            np.concatenate([on_data.chosen[:, 0].numpy(), on_data.rejected[:, 0].numpy()])] = True
    on = train(reference, _dpo_config(config), on_seen, on_data, 13)

    dpo_rise, sft_rise = _rise(dpo), _rise(sft)
    out = {
        "drop_ratio": _drop_ratio(dpo),
        "dpo_dlogp_chosen": dpo["dlogp_chosen"][-1],
        "dpo_dlogp_rejected": dpo["dlogp_rejected"][-1],
        "dpo_unseen_rise": dpo_rise,
        "unseen_start": dpo["unseen"][0],
        "sft_dlogp_chosen": sft["dlogp_chosen"][-1],
        "sft_unseen_rise": sft_rise,
        "sft_dispersion_cut": dispersion_cut(dpo_rise, sft_rise),
        "tabular_unseen_rise": _rise(tabular),
        "tabular_dlogp_chosen": tabular["dlogp_chosen"][-1],
        "on_off_quality_ratio": on["quality"][-1] / dpo["quality"][-1],
        "quality_reference": dpo["quality"][0],
        "quality_off_policy": dpo["quality"][-1],
        "quality_on_policy": on["quality"][-1],
        "quality_sft": sft["quality"][-1],
        "traces": {"dpo": dpo, "sft_dpo": sft, "tabular_dpo": tabular, "on_policy_dpo": on},
    }
    if config.flex_ratios:
        out.update(_flex_sweep(lambda: _fresh_policy(features, config, ctx), data, tree, task.quality, seen, config,
                               dpo, ctx))
    if config.gpt_steps:
        out.update(_gpt_arm(config, ctx))
    return out


def _judge(claim: Claim, results: list[dict], budget: str) -> Verdict:
    """One claim: full-only metrics absent at this budget and undefined cuts (precondition failed) are INCONCLUSIVE."""
    present = [r for r in results if claim.metric in r]
    if not present and claim.metric in _FULL_ONLY:
        return claim.inconclusive(budget, "measured at the full budget only (flex_ratios / gpt_steps)")
    rise = _CUT_PRECONDITION.get(claim.metric)
    if rise is not None:
        rises = [r[rise] for r in present]
        failed = sum(not x > 0 for x in rises)
        if failed or not present:
            return claim.inconclusive(
                budget, f"precondition rise_DPO > 0 fails in {failed}/{len(rises)} seeds (mean {rise} = "
                        f"{np.mean(rises) if rises else float('nan'):.3g}): vanilla DPO's unseen mass does not rise, "
                        "so the cut 1 - rise_SFT/rise_DPO is undefined", len(present))
    return claim.judge([r[claim.metric] for r in present], budget)


def check(results: list[dict], budget: str) -> list[Verdict]:
    return [_judge(claim, results, budget) for claim in CLAIMS]


def _plot_arms(axes, traces: dict, colours: dict, first: bool, quality_only: tuple[str, ...] = ()) -> None:
    for name, trace in traces.items():
        label = name if first else None
        kw = dict(color=colours[name], alpha=0.5, lw=1)
        if name not in quality_only:
            axes[0].plot(trace["step"], trace["dlogp_chosen"], ls="-", label=label and f"{name} chosen", **kw)
            axes[0].plot(trace["step"], trace["dlogp_rejected"], ls=":", **kw)
            axes[1].plot(trace["step"], trace["unseen"], label=label, **kw)
        axes[2].plot(trace["step"], trace["quality"], label=label, **kw)


def _label_row(axes, title: str) -> None:
    axes[0].set_ylabel(r"$\Delta\log\pi$ (solid: chosen, dotted: rejected)")
    axes[0].set_ylim(bottom=max(axes[0].get_ylim()[0], -30))
    axes[1].set_ylabel("mass on unseen responses")
    axes[2].set_ylabel("expected true quality")
    axes[1].set_title(title, fontsize=9)
    for ax in axes:
        ax.set_xlabel("step")
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=7)


def figures(results: list[dict], out_dir: Path) -> list[Path]:
    plt = pyplot()
    rows = [("finite-response toy", "traces", {"dpo": "C3", "sft_dpo": "C0", "tabular_dpo": "C7",
                                               "on_policy_dpo": "C2"}, ("on_policy_dpo",))]
    if "flex_traces" in results[0]:
        ratios = list(results[0]["flex_traces"])
        rows.append((r"Flex-DPO, $\beta_l/\beta_w$ = " + ", ".join(ratios), "flex_traces",
                     {r: plt.cm.viridis(i / max(len(ratios) - 1, 1)) for i, r in enumerate(ratios)}, ()))
    if "gpt_traces" in results[0]:
        rows.append(("tiny GPT (exact over all sequences)", "gpt_traces", {"dpo": "C3", "sft_dpo": "C0"}, ()))
    fig, axes = plt.subplots(len(rows), 3, figsize=(12, 3.6 * len(rows)), squeeze=False)
    for row, (title, key, colours, quality_only) in zip(axes, rows):
        for r in results:
            _plot_arms(row, r[key], colours, r is results[0], quality_only)
        _label_row(row, title)
    fig.tight_layout()
    path = save_figure(fig, out_dir, "dpo_3d_dynamics.png", dpi=90)
    return [path]
