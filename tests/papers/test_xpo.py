from __future__ import annotations

import numpy as np
import torch

from latentlab.papers import xpo as m
from latentlab.preference import CombinationLock, ResponseTree, leaf_log_probs
from latentlab.repro.context import RunContext


def test_lock_reference_gives_the_code_its_probability():
    tree = ResponseTree(4, 3)
    task = CombinationLock.random(2, 3, 4, np.random.default_rng(0))
    ref = m.lock_reference(task, tree, 0.15)
    leaves = leaf_log_probs(ref, tree)
    code_index = (task.codes * 4 ** np.arange(2, -1, -1)).sum(1)
    assert torch.allclose(leaves[np.arange(2), code_index].exp(), torch.tensor(0.15**3, dtype=torch.float64))


def test_queries_to_threshold():
    assert m.queries_to_threshold([0, 64, 128], [0.1, 0.5, 0.95], 0.9) == 128
    assert m.queries_to_threshold([0, 64], [0.1, 0.5], 0.9) is None


def test_smoke_run_and_check(tmp_path):
    config = m.PAPER.budgets["smoke"].config
    result = m.run(config, 0, RunContext("xpo", "smoke", 0))
    assert result["j_star"] > result["j_ref"]
    assert result["query_ratio"] > 0
    verdicts = m.check([dict(result, seed=0)], "smoke")
    assert verdicts[0].claim == "xpo-query-efficiency"
    assert all(p.exists() for p in m.figures([dict(result, seed=0)], tmp_path))
