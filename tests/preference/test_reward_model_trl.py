"""Our Bradley–Terry reward-model loss against TRL's ``RewardTrainer`` (an independent implementation).

TRL's ``RewardTrainer.compute_loss`` (trl 1.16) scores chosen and rejected sequences with a
sequence-classification model and returns
:math:`\\operatorname{mean}[-\\log\\sigma(r_c - r_r - m)] + c\\,\\operatorname{mean}[(r_c + r_r)^2]`
(``margin`` column optional, ``center_rewards_coefficient`` optional), and logs the accuracy
:math:`\\operatorname{mean}\\,\\mathbb 1[r_c > r_r]`.  Here the same tiny GPT-2 scores the same
token ids on both sides: our rewards come from one unpadded forward pass per sequence, TRL's
from its own right-padded batch, so the test also checks that TRL's padding and last-token
pooling give identical rewards.  Skipped without TRL.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("trl")

from latentlab.preference import bradley_terry_loss, pairwise_correct  # noqa: E402
from latentlab.preference.lm import build_word_tokenizer, tiny_gpt2_config  # noqa: E402

N_PAIRS = 12


@pytest.fixture(scope="module")
def setup():
    from transformers import GPT2ForSequenceClassification

    tokenizer = build_word_tokenizer([f"t{k}" for k in range(6)])
    config = tiny_gpt2_config(len(tokenizer.get_vocab()))
    config.num_labels = 1
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = GPT2ForSequenceClassification(config)
    with torch.no_grad():  # a non-trivial score head, so rewards differ clearly between sequences
        model.score.weight.normal_(0.0, 1.0)
    model.eval()
    rng = np.random.default_rng(0)
    first_word = 4  # ids 0-3 are <pad> <eos> <bos> <unk>

    def sequences():  # variable lengths, so TRL has to pad
        return [rng.integers(first_word, first_word + 6, size=int(n)).tolist() for n in rng.integers(2, 7, N_PAIRS)]

    chosen, rejected = sequences(), sequences()
    margin = rng.uniform(0.0, 1.0, N_PAIRS).round(3).tolist()
    return tokenizer, model, chosen, rejected, margin


def _our_rewards(model, rows) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(input_ids=torch.tensor([row])).logits[:, 0] for row in rows])


def _trl_eval(setup, tmp_path, with_margin: bool, center: float | None) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    tokenizer, model, chosen, rejected, margin = setup
    columns = {"chosen_ids": chosen, "rejected_ids": rejected}
    if with_margin:
        columns["margin"] = margin
    dataset = Dataset.from_dict(columns)
    args = RewardConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none", save_strategy="no", max_steps=1,
                        per_device_train_batch_size=N_PAIRS, per_device_eval_batch_size=N_PAIRS,
                        center_rewards_coefficient=center)
    trainer = RewardTrainer(model=model, args=args, train_dataset=dataset, eval_dataset=dataset,
                            processing_class=tokenizer)
    return trainer.evaluate()


@pytest.mark.parametrize("with_margin, center", [(False, None), (True, None), (True, 0.01)])
def test_bradley_terry_loss_and_accuracy_equal_trl_reward_trainer(setup, tmp_path, with_margin, center):
    metrics = _trl_eval(setup, tmp_path, with_margin, center)
    _, model, chosen, rejected, margin = setup
    r_c, r_r = _our_rewards(model, chosen), _our_rewards(model, rejected)
    m = torch.tensor(margin) if with_margin else 0.0
    ours = bradley_terry_loss(r_c, r_r, margin=m, center_coefficient=center or 0.0).mean()
    assert abs(float(ours) - np.log(2)) > 1e-2  # the rewards are not all equal: a real comparison
    assert abs(float(ours) - metrics["eval_loss"]) < 1e-5
    accuracy = (pairwise_correct(r_c.numpy(), r_r.numpy()) == 1).mean()
    assert abs(accuracy - metrics["eval_accuracy"]) < 1e-6


def test_margin_and_centering_change_the_loss_by_hand():
    r_c, r_r = torch.tensor([1.0, -0.5]), torch.tensor([0.0, 0.5])
    plain = -torch.nn.functional.logsigmoid(r_c - r_r)
    assert torch.allclose(bradley_terry_loss(r_c, r_r), plain)
    with_margin = -torch.nn.functional.logsigmoid(r_c - r_r - torch.tensor([0.3, 0.1]))
    assert torch.allclose(bradley_terry_loss(r_c, r_r, margin=torch.tensor([0.3, 0.1])), with_margin)
    assert torch.allclose(bradley_terry_loss(r_c, r_r, center_coefficient=0.5), plain + 0.5 * (r_c + r_r) ** 2)
