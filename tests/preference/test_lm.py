"""The tiny causal-LM policy: causality, exact per-prefix evaluation, sampling, beam search, tokenizer."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("transformers")

from latentlab.preference import (  # noqa: E402
    ResponseTree,
    beam_search,
    leaf_log_probs,
    prefix_log_probs,
    sample,
    sequence_logps,  # noqa: E402
)
from latentlab.preference.lm import LastTokenRewardModel, build_word_tokenizer, tiny_lm_policy, word_lm_policy  # noqa: E402


@pytest.fixture(scope="module")
def policy():
    torch.manual_seed(0)
    pol = tiny_lm_policy(3, 3, 3, seed=4, n_embd=32)
    with torch.no_grad():  # sharpen the random network so the distribution is far from uniform
        pol.model.lm_head.weight.mul_(20.0)
    return pol


def test_position_log_probs_are_causal_and_normalised(policy):
    prompts = torch.tensor([0, 1, 2, 2])
    y = torch.tensor([[0, 1, 2], [2, 2, 0], [1, 0, 1], [1, 0, 2]])
    full = policy.position_log_probs(prompts, y)
    assert torch.allclose(full.exp().sum(-1), torch.ones(4, 3), atol=1e-5)
    # rows 2 and 3 share the prefix (1, 0): identical distributions at every step up to the last one
    assert torch.allclose(full[2], full[3], atol=1e-6)
    short = policy.position_log_probs(prompts, y[:, :2])
    assert torch.allclose(short, full[:, :2], atol=1e-5)


def test_prefix_table_matches_sequence_logps_and_sampling(policy):
    tree = ResponseTree(3, 3)
    table = prefix_log_probs(policy, tree, 3)
    leaves = torch.as_tensor(tree.leaves)
    direct = sequence_logps(policy, torch.full((27,), 1), leaves)
    assert torch.allclose(leaf_log_probs(table.double(), tree)[1], direct.double(), atol=1e-5)
    draws = sample(policy, torch.full((6000,), 1, dtype=torch.long), torch.Generator().manual_seed(0))
    codes = draws[:, 0] * 9 + draws[:, 1] * 3 + draws[:, 2]
    freq = torch.bincount(codes, minlength=27).double() / 6000
    assert (freq - direct.exp().double()).abs().max() < 0.03


def test_beam_search_with_all_beams_is_exact(policy):
    tree = ResponseTree(3, 3)
    all_lp = leaf_log_probs(prefix_log_probs(policy, tree, 3).double(), tree)[2]
    seqs, scores = beam_search(policy, 2, beams=9)
    assert abs(float(scores[0]) - float(all_lp.max())) < 1e-5
    code = int(seqs[0, 0] * 9 + seqs[0, 1] * 3 + seqs[0, 2])
    assert code == int(all_lp.argmax())


def test_word_tokenizer_round_trip_and_errors():
    tok = build_word_tokenizer(["a", "b"])
    assert tok("<bos> a b <eos>")["input_ids"] == [2, 4, 5, 1]
    assert tok.decode([4, 5]) == "a b"
    with pytest.raises(ValueError, match="unique"):
        build_word_tokenizer(["a", "a"])
    with pytest.raises(ValueError, match="same number"):
        word_lm_policy([["x"], ["y", "z"]], ["a", "b"], 2)
    with pytest.raises(ValueError, match="n_prompts"):
        tiny_lm_policy(0, 3, 2)


def test_reward_head_starts_at_zero_and_is_trainable(policy):
    rm = LastTokenRewardModel(policy)
    r = rm(torch.tensor([0, 1]), torch.tensor([[0, 1, 2], [2, 1, 0]]))
    assert torch.allclose(r, torch.zeros(2))
    r.sum().backward()
    assert rm.head.weight.grad is not None and rm.head.weight.grad.abs().sum() > 0
