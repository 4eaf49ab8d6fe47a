"""DPO training throughput on the tiny GPT-2: latentlab's loop vs TRL's ``DPOTrainer``.

Same model (2 layers, width 64, built locally), same 512 preference pairs (16 prompts,
responses of 8 tokens + EOS), same batch of 32 pairs, AdamW-free Adam at lr 1e-4,
one intra-op thread.  TRL precomputes the reference log-probs (``precompute_ref_log_probs``)
exactly as our trainer does, so both sides do one policy forward/backward per step.
Each side's timed region is its training call for ``steps`` steps (TRL: ``trainer.train()``
after construction; ours: ``OfflinePreferenceTrainer.fit``), reference pass included.

Target (set before measuring): our steps/s at least 2x TRL's.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

N_PROMPTS, VOCAB, HORIZON, N_PAIRS, BATCH = 16, 8, 8, 512, 32


def _data():
    rng = np.random.default_rng(0)
    prompts = rng.integers(0, N_PROMPTS, N_PAIRS)
    chosen = rng.integers(0, VOCAB, (N_PAIRS, HORIZON))
    rejected = rng.integers(0, VOCAB, (N_PAIRS, HORIZON))
    return prompts, chosen, rejected


def _ours(steps: int) -> float:
    from latentlab.preference import DPOConfig, OfflinePreferenceTrainer, PreferenceData, frozen_copy
    from latentlab.preference.lm import CausalLMPolicy, tiny_lm_policy

    base = tiny_lm_policy(N_PROMPTS, VOCAB, HORIZON, seed=0, restrict=False)
    eos = torch.tensor([base.tokenizer.eos_token_id])
    policy = CausalLMPolicy(base.model, base.prompt_ids, torch.cat([base.response_ids, eos]), HORIZON + 1,
                            restrict=False)
    reference = frozen_copy(policy)
    prompts, chosen, rejected = _data()
    eos_col = np.full((N_PAIRS, 1), VOCAB)
    data = PreferenceData(torch.as_tensor(prompts), torch.as_tensor(np.hstack([chosen, eos_col])),
                          torch.as_tensor(np.hstack([rejected, eos_col])))
    trainer = OfflinePreferenceTrainer(policy, reference, DPOConfig(beta=0.1, lr=1e-4, batch_size=BATCH))
    policy.train()
    start = time.perf_counter()
    trainer.fit(data, steps, torch.Generator().manual_seed(0))
    return time.perf_counter() - start


def _trl(steps: int) -> float:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from latentlab.preference import frozen_copy
    from latentlab.preference.lm import tiny_lm_policy

    base = tiny_lm_policy(N_PROMPTS, VOCAB, HORIZON, seed=0, restrict=False)
    prompts, chosen, rejected = _data()

    def text(rows):
        return [" " + " ".join(f"t{a}" for a in row) + " <eos>" for row in rows]

    dataset = Dataset.from_dict({"prompt": [f"<bos> p{x}" for x in prompts], "chosen": text(chosen),
                                 "rejected": text(rejected)})
    with tempfile.TemporaryDirectory() as tmp:
        args = DPOConfig(output_dir=tmp, use_cpu=True, report_to="none", save_strategy="no", beta=0.1,
                         learning_rate=1e-4, per_device_train_batch_size=BATCH, max_steps=steps,
                         precompute_ref_log_probs=True, logging_strategy="no", dataloader_num_workers=0)
        trainer = DPOTrainer(model=base.model, ref_model=frozen_copy(base.model), args=args, train_dataset=dataset,
                             processing_class=base.tokenizer)
        start = time.perf_counter()
        trainer.train()
        return time.perf_counter() - start


def run(quick: bool = False) -> dict:
    import latentlab  # noqa: F401  (one intra-op thread)

    steps = 30 if quick else 150
    _ours(3)  # warm-up (imports, allocator)
    ours = _ours(steps)
    try:
        import trl  # noqa: F401
    except ImportError:
        return {"ratios": {}, "measurements": {"steps": steps, "ours steps/s": steps / ours, "trl": "not installed"}}
    _trl(3)
    theirs = _trl(steps)
    return {
        "ratios": {"ours steps/s / TRL DPOTrainer steps/s": {"value": theirs / ours, "target": 2.0,
                                                             "better": "higher"}},
        "measurements": {"steps": steps, "batch pairs": BATCH, "ours steps/s": steps / ours,
                         "trl steps/s": steps / theirs, "torch threads": torch.get_num_threads()},
    }
