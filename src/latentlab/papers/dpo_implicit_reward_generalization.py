r"""Paper 36: On the Limited Generalization Capability of the Implicit Reward Model Induced by DPO.

Lin et al., EMNLP 2024 findings, arXiv 2409.03650.

What the paper claims
---------------------
Two reward models trained on the same preference data from the same base model — an explicit
reward model (EXRM: linear head on the last hidden state, Bradley–Terry loss) and DPO's implicit
reward model (DPORM: :math:`r_\theta(x,y) = \beta\sum_t\log\frac{\pi_\theta(y_t|x,y_{<t})}{\pi_{ref}(y_t|x,y_{<t})}`
after DPO from the SFT model) — fit the training distribution about equally well, but under
distribution shift DPORM ranks pairs less accurately: 3% lower on average over five OOD
settings, up to 7% (abstract).

What we reproduce (CPU scale)
-----------------------------
*Synthetic language with synonyms* (:class:`latentlab.preference.SynonymTask`): 12 meanings,
each written with 3 surface tokens; prompt :math:`x` carries a weight :math:`w_{x,m}\in\{\pm1\}`
per meaning (written in the prompt as 12 words ``m{k}+``/``m{k}-``); the true reward of a
response of 6 tokens is the mean weight of its meanings — it never depends on surface forms.

1. *SFT / pre-training*: a tiny GPT-2 (2 layers, width 64, :func:`latentlab.preference.lm.word_lm_policy`)
   is fine-tuned on responses whose meanings follow :math:`\propto e^{w_{x,m}}` written in
   uniformly random surface forms, so the backbone sees all forms used interchangeably.
2. *Preference data* from generator G1: uniform meanings written in surface form 0 with
   probability 0.9; Bradley–Terry labels from :math:`r^*` with temperature 0.1; training prompts only.
3. EXRM (:class:`latentlab.preference.lm.LastTokenRewardModel` on a copy of the SFT model) and
   DPORM (:class:`latentlab.preference.OfflinePreferenceTrainer`, :math:`\beta = 0.1`, reference = SFT)
   are trained with the same number of steps and batch size on the same pairs.
4. Test pairs (fresh, same labelling): **ID** (training prompts, G1 responses), **token shift**
   (training prompts, responses written only in surface forms 1–2: same meanings, other
   tokens), **prompt shift** (prompts with weight vectors never seen in training, G1 responses).
   Accuracy is measured against the *noise-free* preference (sign of the true reward difference).

Claims and thresholds (the spec's, fixed before running)
--------------------------------------------------------
* ``id-parity``: :math:`|acc_{EXRM} - acc_{DPORM}|` on ID pairs ≤ 0.02.
* ``ood-gap``: mean over the shifts of :math:`acc_{EXRM} - acc_{DPORM}` ≥ 0.03.
* ``ood-gap-consistent``: fraction of shifts with a positive gap ≥ 0.75 (the spec's "positive
  in ≥ 3 of 4 shifts"; with the two shifts of quick this means both).

Measured (quick, 2 seeds): all three claims FAIL
-------------------------------------------------
With the same 250 steps the explicit reward model does not fit the training distribution
(train accuracy 0.61-0.76 against DPORM's 0.84-0.85), so DPORM is ahead in distribution and
under both shifts (mean OOD gap -0.098).  The precondition of the paper's comparison (equal
in-distribution fit) is not met at this budget; the full budget (1 500 steps) was not run.

Not reproduced / differences
----------------------------
Quick runs 2 of the spec's 4 shifts (token and prompt shift; the length shift and the
"other generator" shift are not implemented); the learning rate of each reward model is
chosen from a 2-point grid on ID validation pairs.  The TRL cross-check of DPORM and EXRM accuracies is done
at the loss level in the tests (DPO loss vs TRL's ``DPOTrainer``), not on this experiment.
The paper's LLM-scale numbers are out of reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentlab.preference import (
    DPOConfig,
    OfflinePreferenceTrainer,
    PreferenceData,
    PreferenceOracle,
    RewardModelTrainer,
    SynonymTask,
    frozen_copy,
    implicit_sequence_rewards,
    pairwise_correct,
    supervised_finetune,
)
from latentlab.repro.context import RunContext
from latentlab.repro.paper import Budget, Claim, Paper, Verdict
from latentlab.repro.plotting import pyplot, save_figure

__all__ = ["Config", "PAPER", "run", "check", "figures"]


@dataclass(frozen=True)
class Config:
    n_meanings: int = 12
    n_forms: int = 3
    horizon: int = 6
    train_prompts: int = 64
    test_prompts: int = 32
    sft_examples: int = 4000
    sft_steps: int = 400
    sft_temperature: float = 1.0
    g1_form0: float = 0.9
    label_temperature: float = 0.1
    n_pairs: int = 3000
    test_pairs: int = 1000
    beta: float = 0.1
    steps: int = 400
    batch_size: int = 64
    lr_sft: float = 1e-3
    lr_grid: tuple[float, ...] = (1e-3, 3e-3)
    """Learning rates tried for each reward model; the best on ID validation pairs is kept (spec)."""
    n_layer: int = 2
    n_embd: int = 64


SHIFTS = ("token_shift", "prompt_shift")

CLAIMS = (
    Claim("id-parity", "In distribution, EXRM and DPORM rank test pairs about equally well (|gap| <= 2 points).",
          metric="id_gap_abs", threshold=0.02, direction="<="),
    Claim("ood-gap", "Under distribution shift, EXRM beats DPORM by >= 3 points on average over the shifts.",
          metric="ood_gap_mean", threshold=0.03, direction=">="),
    Claim("ood-gap-consistent", "The OOD gap is positive in >= 75% of the shifts.",
          metric="ood_gap_positive_fraction", threshold=0.75, direction=">="),
)

PAPER = Paper(
    slug="dpo-implicit-reward-generalization",
    number=36,
    arxiv="2409.03650",
    title="On the Limited Generalization Capability of the Implicit Reward Model Induced by Direct Preference "
          "Optimization",
    family="preference",
    claims=CLAIMS,
    budgets={
        "smoke": Budget(Config(train_prompts=16, test_prompts=8, sft_examples=300, sft_steps=10, n_pairs=200,
                               test_pairs=100, steps=10, lr_grid=(1e-3,)), seeds=2,
                        note="seconds; INCONCLUSIVE allowed"),
        "quick": Budget(Config(steps=250, sft_steps=300), seeds=2, note="tiny GPT, 2 shifts"),
        "full": Budget(Config(sft_steps=1500, n_pairs=10_000, steps=1500, test_pairs=4000), seeds=10),
    },
    summary="Explicit vs DPO-implicit reward model on a synonym language: equal in distribution, DPORM worse under "
            "token and prompt shift.",
)


def _weights(n: int, config: Config, rng: np.random.Generator, exclude: set[bytes]) -> np.ndarray:
    """``n`` distinct ±1 weight vectors not in ``exclude``."""
    out: list[np.ndarray] = []
    seen = set(exclude)
    while len(out) < n:
        w = rng.choice([-1.0, 1.0], size=config.n_meanings)
        key = w.tobytes()
        if key not in seen:
            seen.add(key)
            out.append(w)
    return np.stack(out)


def _responses(task: SynonymTask, meanings: np.ndarray, forms: np.ndarray) -> np.ndarray:
    return meanings + task.n_meanings * forms


def _g1(task: SynonymTask, n: int, config: Config, rng: np.random.Generator, forms: str) -> np.ndarray:
    meanings = rng.integers(0, task.n_meanings, size=(n, task.horizon))
    if forms == "g1":
        form = np.where(rng.random((n, task.horizon)) < config.g1_form0, 0,
                        rng.integers(1, task.n_forms, size=(n, task.horizon)))
    else:  # token shift: only surface forms 1 .. n_forms-1
        form = rng.integers(1, task.n_forms, size=(n, task.horizon))
    return _responses(task, meanings, form)


def _pairs(task: SynonymTask, prompts: np.ndarray, n: int, config: Config, rng: np.random.Generator,
           forms: str) -> tuple[PreferenceData, np.ndarray]:
    """BT-labelled pairs; also the noise-free preference of the chosen response (1 better, 0.5 tie, 0 worse)."""
    x = rng.choice(prompts, size=n)
    a, b = _g1(task, n, config, rng, forms), _g1(task, n, config, rng, forms)
    oracle = PreferenceOracle(temperature=config.label_temperature)
    chosen, rejected = oracle.label(task, x, a, b, rng)
    truth = pairwise_correct(task.sequence_reward(x, chosen), task.sequence_reward(x, rejected))
    return PreferenceData(torch.as_tensor(x), torch.as_tensor(chosen), torch.as_tensor(rejected)), truth


def _sft_data(task: SynonymTask, prompts: np.ndarray, config: Config, rng: np.random.Generator):
    x = rng.choice(prompts, size=config.sft_examples)
    logits = task.weights[x] / config.sft_temperature
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    cum = probs.cumsum(1)
    u = rng.random((config.sft_examples, task.horizon))
    meanings = (u[:, :, None] > cum[:, None, :]).sum(-1).clip(max=task.n_meanings - 1)
    forms = rng.integers(0, task.n_forms, size=meanings.shape)
    return torch.as_tensor(x), torch.as_tensor(_responses(task, meanings, forms))


@torch.no_grad()
def _accuracy(scores_fn, data: PreferenceData, truth: np.ndarray) -> float:
    """Accuracy against the noise-free preference (pairs with equal true reward are skipped)."""
    s_c = scores_fn(data.prompts, data.chosen).numpy()
    s_r = scores_fn(data.prompts, data.rejected).numpy()
    keep = truth != 0.5
    predicted_chosen_better = pairwise_correct(s_c, s_r)[keep]
    return float((predicted_chosen_better == truth[keep]).mean() + 0.5 * (predicted_chosen_better == 0.5).mean())


def run(config: Config, seed: int, ctx: RunContext) -> dict:
    from latentlab.preference.lm import LastTokenRewardModel, word_lm_policy

    rng = ctx.rng(1)
    train_w = _weights(config.train_prompts, config, rng, set())
    test_w = _weights(config.test_prompts, config, rng, {w.tobytes() for w in train_w})
    task = SynonymTask(np.concatenate([train_w, test_w]), config.n_forms, config.horizon)
    train_prompts = np.arange(config.train_prompts)
    test_prompts = np.arange(config.train_prompts, task.n_prompts)
    prompt_words = [[f"m{k}{'+' if w > 0 else '-'}" for k, w in enumerate(ws)] for ws in task.weights]
    response_words = [f"t{k}" for k in range(task.vocab_size)]
    base = word_lm_policy(prompt_words, response_words, task.horizon, seed=int(ctx.rng(2).integers(2**31)),
                          n_layer=config.n_layer, n_embd=config.n_embd)
    sft_losses = supervised_finetune(base, *_sft_data(task, train_prompts, config, ctx.rng(3)), config.sft_steps,
                                     config.lr_sft, config.batch_size, ctx.torch_generator(3))
    ctx.check_finite("sft_loss", sft_losses[-1] if sft_losses else 0.0)
    reference = frozen_copy(base)

    data, _ = _pairs(task, train_prompts, config.n_pairs, config, ctx.rng(4), "g1")
    validation = _pairs(task, train_prompts, config.test_pairs, config, ctx.rng(9), "g1")

    def train_dporm(lr: float):
        policy = _trainable_copy(reference)
        losses = OfflinePreferenceTrainer(policy, reference, DPOConfig(beta=config.beta, lr=lr,
                                                                       batch_size=config.batch_size)
                                          ).fit(data, config.steps, ctx.torch_generator(5))
        ctx.check_finite("dpo_loss", losses[-1] if losses else 0.0)
        policy.eval()
        return lambda x, y: implicit_sequence_rewards(policy, reference, x, y, config.beta)

    def train_exrm(lr: float):
        model = LastTokenRewardModel(_trainable_copy(reference))
        losses = RewardModelTrainer(model, lambda m, x, y: m(x, y), lr=lr, batch_size=config.batch_size
                                    ).fit(data, config.steps, ctx.torch_generator(6))
        ctx.check_finite("rm_loss", losses[-1] if losses else 0.0)
        model.eval()
        return model

    dporm, dporm_lr = _best_on_validation(train_dporm, config.lr_grid, validation)
    explicit, exrm_lr = _best_on_validation(train_exrm, config.lr_grid, validation)

    test_sets = {
        "id": _pairs(task, train_prompts, config.test_pairs, config, ctx.rng(10), "g1"),
        "token_shift": _pairs(task, train_prompts, config.test_pairs, config, ctx.rng(11), "shift"),
        "prompt_shift": _pairs(task, test_prompts, config.test_pairs, config, ctx.rng(12), "g1"),
        "train": (data, _pairs_truth(task, data)),
    }
    acc = {name: {"exrm": _accuracy(explicit, d, t), "dporm": _accuracy(dporm, d, t)}
           for name, (d, t) in test_sets.items()}
    gaps = {name: acc[name]["exrm"] - acc[name]["dporm"] for name in acc}
    return {
        "id_gap_abs": abs(gaps["id"]),
        "id_gap": gaps["id"],
        "ood_gap_mean": float(np.mean([gaps[s] for s in SHIFTS])),
        "ood_gap_positive_fraction": float(np.mean([gaps[s] > 0 for s in SHIFTS])),
        "gaps": gaps,
        "accuracy": acc,
        "lr_dporm": dporm_lr,
        "lr_exrm": exrm_lr,
    }


def _trainable_copy(module: torch.nn.Module) -> torch.nn.Module:
    copy = frozen_copy(module)
    for p in copy.parameters():
        p.requires_grad_(True)
    copy.train()
    return copy


def _best_on_validation(train, grid: tuple[float, ...], validation) -> tuple:
    """Train once per learning rate; keep the scorer with the best validation accuracy (first on ties)."""
    best, best_lr, best_acc = None, None, -1.0
    for lr in grid:
        scorer = train(lr)
        acc = _accuracy(scorer, *validation)
        if acc > best_acc:
            best, best_lr, best_acc = scorer, lr, acc
    return best, best_lr


def _pairs_truth(task: SynonymTask, data: PreferenceData) -> np.ndarray:
    x = data.prompts.numpy()
    return pairwise_correct(task.sequence_reward(x, data.chosen.numpy()),
                            task.sequence_reward(x, data.rejected.numpy()))


def check(results: list[dict], budget: str) -> list[Verdict]:
    return [claim.judge([r[claim.metric] for r in results], budget) for claim in CLAIMS]


def figures(results: list[dict], out_dir: Path) -> list[Path]:
    plt = pyplot()

    names = ["train", "id", *SHIFTS]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    width = 0.38
    for k, model in enumerate(("exrm", "dporm")):
        values = np.array([[r["accuracy"][n][model] for n in names] for r in results])
        ax.bar(np.arange(len(names)) + (k - 0.5) * width, values.mean(0), width, yerr=values.std(0),
               label=model.upper(), color=("C0", "C3")[k])
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylim(0.4, 1.0)
    ax.set_ylabel("preference accuracy (noise-free labels)")
    ax.legend()
    path = save_figure(fig, out_dir, "rm_generalisation.png", dpi=90)
    return [path]
