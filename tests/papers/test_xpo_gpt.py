"""The tiny-GPT policy path of the XPO combination lock (the spec's full budget), checked against exact answers."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from latentlab.papers import xpo as m
from latentlab.preference import (
    CombinationLock,
    ResponseTree,
    expected_return,
    leaf_log_probs,
    prefix_log_probs,
    sequence_logps,
    token_reward_table,
)
from latentlab.preference.lm import tiny_lm_policy
from latentlab.repro.context import RunContext


def test_gpt_prefix_table_enumerates_the_sequence_probabilities_and_j_of_the_reference_is_its_return():
    tree = ResponseTree(4, 3)
    task = CombinationLock.random(2, 3, 4, np.random.default_rng(0))
    gpt = tiny_lm_policy(2, 4, 3, seed=1, n_layer=1, n_embd=16)
    with torch.no_grad():
        table = prefix_log_probs(gpt, tree, 2).double()
        leaves = torch.as_tensor(tree.leaves)
        for x in range(2):  # enumeration of the 4^3 leaves equals the sequence log-probs of the LM
            direct = sequence_logps(gpt, torch.full((len(leaves),), x), leaves).double()
            assert torch.allclose(leaf_log_probs(table, tree)[x], direct, atol=1e-5)
    reward = torch.as_tensor(token_reward_table(task, tree))
    # pi = pi_ref: KL = 0, so J_beta is the exact expected reward under the reference
    j = m._objective(gpt, table, reward, 0.05, tree)
    assert abs(j - float(expected_return(table, reward, tree).mean())) < 1e-9


def test_distill_fits_the_lock_reference_table():
    tree = ResponseTree(4, 2)
    task = CombinationLock.random(2, 2, 4, np.random.default_rng(0))
    ref = m.lock_reference(task, tree, 0.15)
    gpt = tiny_lm_policy(2, 4, 2, seed=0, n_layer=1, n_embd=16)
    with torch.no_grad():
        before = float((ref.exp() * (ref - prefix_log_probs(gpt, tree, 2).double())).sum(-1).max())
    after = m.distill(gpt, ref, tree, 150, 1e-2)
    assert after < 0.02 < before


def test_gpt_smoke_budget_runs_and_tabular_is_still_available():
    config = m.PAPER.budgets["smoke"].config
    assert config.policy == "gpt" and m.PAPER.budgets["full"].config.policy == "gpt"
    assert m.PAPER.budgets["quick"].config.policy == "tabular"
    result = m.run(config, 0, RunContext("xpo", "smoke", 0))
    assert result["j_star"] > result["j_ref"] and np.isfinite(result["gpt_reference_distill_kl"])
    assert result["query_ratio"] > 0 and "uniform_gap" in result
    tabular = m.run(dataclasses.replace(config, policy="tabular", uniform_control=False), 0,
                    RunContext("xpo", "smoke", 0))
    assert "gpt_reference_distill_kl" not in tabular and tabular["j_star"] > tabular["j_ref"]


def test_unknown_policy_is_rejected_by_name():
    import pytest

    with pytest.raises(ValueError, match="policy must be"):
        m._start_policy(m.Config(policy="mlp"), ResponseTree(4, 2), torch.zeros(1, 5, 4), np.random.default_rng(0))
