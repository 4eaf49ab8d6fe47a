"""Our DPO-family losses against TRL's DPOTrainer (an independent implementation) on the same tiny GPT.

TRL appends EOS to every completion and takes the log-softmax over the whole vocabulary, so the
policy here has EOS as an extra response word and ``restrict=False``.  Skipped without TRL.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
trl = pytest.importorskip("trl")

from latentlab.preference import dpo_loss, frozen_copy, pairwise_correct, sft_loss, token_logps  # noqa: E402
from latentlab.preference.lm import CausalLMPolicy, tiny_lm_policy  # noqa: E402

N_PROMPTS, VOCAB, HORIZON, N_PAIRS = 4, 5, 3, 16


@pytest.fixture(scope="module")
def setup():
    base = tiny_lm_policy(N_PROMPTS, VOCAB, HORIZON, seed=0, restrict=False)
    eos = base.tokenizer.eos_token_id
    response_ids = torch.cat([base.response_ids, torch.tensor([eos])])
    reference = CausalLMPolicy(frozen_copy(base.model), base.prompt_ids, response_ids, HORIZON + 1, restrict=False)
    policy_model = frozen_copy(base.model)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(1)
        for p in policy_model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen))
    policy = CausalLMPolicy(policy_model, base.prompt_ids, response_ids, HORIZON + 1, restrict=False)
    rng = np.random.default_rng(0)
    prompts = rng.integers(0, N_PROMPTS, N_PAIRS)
    chosen = np.concatenate([rng.integers(0, VOCAB, (N_PAIRS, HORIZON)), np.full((N_PAIRS, 1), VOCAB)], 1)
    rejected = np.concatenate([rng.integers(0, VOCAB, (N_PAIRS, HORIZON)), np.full((N_PAIRS, 1), VOCAB)], 1)

    def text(rows):
        return [" " + " ".join(f"t{a}" for a in row[:-1]) + " <eos>" for row in rows]

    from datasets import Dataset

    dataset = Dataset.from_dict({"prompt": [f"<bos> p{x}" for x in prompts], "chosen": text(chosen),
                                 "rejected": text(rejected)})
    return base.tokenizer, policy, reference, torch.as_tensor(prompts), torch.as_tensor(chosen), \
        torch.as_tensor(rejected), dataset


def _trl_eval(setup, tmp_path, loss_type, loss_weights=None, beta=0.1):
    tokenizer, policy, reference, *_, dataset = setup
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none", save_strategy="no", beta=beta,
                     loss_type=loss_type, loss_weights=loss_weights, per_device_eval_batch_size=N_PAIRS,
                     per_device_train_batch_size=N_PAIRS, max_steps=1)
    trainer = DPOTrainer(model=policy.model, ref_model=reference.model, args=args, train_dataset=dataset,
                         eval_dataset=dataset, processing_class=tokenizer)
    return trainer.evaluate()


@torch.no_grad()
def _ours(setup):
    _, policy, reference, prompts, chosen, rejected, _ = setup
    policy.eval()
    tok_c = token_logps(policy, prompts, chosen)
    tok_r = token_logps(policy, prompts, rejected)
    ref_c = token_logps(reference, prompts, chosen).sum(-1)
    ref_r = token_logps(reference, prompts, rejected).sum(-1)
    return tok_c, tok_r, ref_c, ref_r


def test_sigmoid_loss_and_accuracy_equal_trl(setup, tmp_path):
    metrics = _trl_eval(setup, tmp_path, ["sigmoid"])
    tok_c, tok_r, ref_c, ref_r = _ours(setup)
    ours = dpo_loss(tok_c.sum(-1), tok_r.sum(-1), ref_c, ref_r, 0.1).mean()
    assert abs(metrics["eval_loss"] - np.log(2)) > 1e-3  # the policy differs from the reference
    assert abs(float(ours) - metrics["eval_loss"]) < 1e-5
    accuracy = pairwise_correct(0.1 * (tok_c.sum(-1) - ref_c), 0.1 * (tok_r.sum(-1) - ref_r))
    assert abs((accuracy == 1).mean() - metrics["eval_rewards/accuracies"]) < 1e-6


def test_ipo_loss_equals_trl(setup, tmp_path):
    metrics = _trl_eval(setup, tmp_path, ["ipo"], beta=0.5)
    tok_c, tok_r, ref_c, ref_r = _ours(setup)
    lengths = torch.full((N_PAIRS,), HORIZON + 1)
    ours = dpo_loss(tok_c.sum(-1), tok_r.sum(-1), ref_c, ref_r, 0.5, "ipo", chosen_lengths=lengths,
                    rejected_lengths=lengths).mean()
    assert abs(float(ours) - metrics["eval_loss"]) < 1e-4 * max(1.0, float(ours))


def test_dpo_plus_sft_equals_trl(setup, tmp_path):
    metrics = _trl_eval(setup, tmp_path, ["sigmoid", "sft"], [1.0, 0.7])
    tok_c, tok_r, ref_c, ref_r = _ours(setup)
    ours = dpo_loss(tok_c.sum(-1), tok_r.sum(-1), ref_c, ref_r, 0.1).mean() + 0.7 * sft_loss(tok_c,
                                                                                           reduction="token_mean")
    assert abs(float(ours) - metrics["eval_loss"]) < 1e-5
