from __future__ import annotations

import numpy as np
import torch

from latentlab.papers import r_to_q_star as m
from latentlab.preference import ResponseTree, TabularRewardTask, leaf_returns, soft_value_iteration, total_variation
from latentlab.repro.context import RunContext


def test_population_dpo_recovers_the_soft_optimum():
    rng = np.random.default_rng(0)
    tree = ResponseTree(2, 3)
    task = TabularRewardTask.random(tree, 2, rng)
    ref = torch.log_softmax(torch.as_tensor(rng.standard_normal(task.table.shape)), -1)
    reward = torch.as_tensor(task.table)
    policy = m.fit_population_dpo(tree, ref, leaf_returns(reward, tree), 0.5, 300)
    optimum = soft_value_iteration(reward, ref, 0.5, tree)
    assert float(total_variation(policy.table_log_probs(), optimum.log_policy, tree).max()) < 1e-3


def test_smoke_run_check_and_figures(tmp_path):
    config = m.PAPER.budgets["smoke"].config
    result = m.run(config, 0, RunContext("r-to-q-star", "smoke", 0))
    assert result["identity_r2"] > 0.99 and 0 <= result["credit_hit_rate"] <= 1
    # beam search with k beams never returns a sequence less likely than greedy; the curve has one point per k
    assert len(result["beam_rewards"]) == len(config.beam_sizes) and result["beam_gain"] > 0
    assert result["broad_declines_less"] in (0.0, 1.0) and np.isfinite(result["chosen_implicit_reward_broad"])
    verdicts = m.check([dict(result, seed=0)], "smoke")
    assert [v.claim for v in verdicts] == [c.name for c in m.CLAIMS]
    assert all(p.exists() for p in m.figures([dict(result, seed=0)], tmp_path))


def test_broad_sft_data_resamples_the_expected_fraction():
    chosen = torch.zeros(2000, 8, dtype=torch.long)
    broad = m.broad_sft_data(chosen, 0.5, 4, np.random.default_rng(0))
    # a token changes iff it is resampled (w.p. 0.5) and the uniform draw is not 0 (w.p. 3/4): 0.375
    assert abs(float((broad != 0).double().mean()) - 0.375) < 0.01
    assert torch.equal(m.broad_sft_data(chosen, 0.0, 4, np.random.default_rng(0)), chosen)


def test_broad_reference_arm_is_full_only_and_inconclusive_at_quick():
    assert not m.PAPER.budgets["quick"].config.broad_reference
    assert m.PAPER.budgets["full"].config.broad_reference
    verdicts = {v.claim: v for v in m.check([{"identity_r2": 1.0, "seed": 0}], "quick")}
    assert verdicts["broad-reference-declines-less"].status == "INCONCLUSIVE"
