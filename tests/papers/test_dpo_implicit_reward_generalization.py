from __future__ import annotations

import numpy as np
import torch

from latentlab.papers import dpo_implicit_reward_generalization as m
from latentlab.preference import PreferenceData
from latentlab.repro.context import RunContext


def test_weights_are_distinct_and_exclude_training_prompts():
    config = m.Config()
    rng = np.random.default_rng(0)
    train = m._weights(20, config, rng, set())
    test = m._weights(10, config, rng, {w.tobytes() for w in train})
    rows = {w.tobytes() for w in np.concatenate([train, test])}
    assert len(rows) == 30


def test_accuracy_of_a_perfect_and_a_constant_scorer():
    data = PreferenceData(torch.zeros(4, dtype=torch.long), torch.tensor([[3], [2], [5], [1]]),
                          torch.tensor([[1], [1], [2], [0]]))
    truth = np.array([1.0, 1.0, 0.0, 0.5])  # third pair: the label was noisy; fourth: tie (skipped)
    assert m._accuracy(lambda x, y: y[:, 0].float(), data, truth) == 2 / 3
    assert m._accuracy(lambda x, y: torch.zeros(len(y)), data, truth) == 0.5


def test_smoke_run_and_check(tmp_path):
    result = m.run(m.PAPER.budgets["smoke"].config, 0, RunContext("dpo-implicit-reward-generalization", "smoke", 0))
    assert 0 <= result["accuracy"]["id"]["exrm"] <= 1
    verdicts = m.check([dict(result, seed=0)], "smoke")
    assert len(verdicts) == len(m.CLAIMS)
    assert all(p.exists() for p in m.figures([dict(result, seed=0)], tmp_path))
