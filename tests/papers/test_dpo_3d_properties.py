from __future__ import annotations

import numpy as np

from latentlab.papers import dpo_3d_properties as m
from latentlab.preference import FiniteResponseTask
from latentlab.repro.context import RunContext


def test_off_policy_pairs_only_use_seen_responses():
    rng = np.random.default_rng(0)
    task = FiniteResponseTask(rng.random((5, 10)))
    seen = np.zeros((5, 10), dtype=bool)
    seen[:, [1, 4, 7]] = True
    data = m._data(task, seen, 300, rng)
    x = data.prompts.numpy()
    assert seen[x, data.chosen[:, 0].numpy()].all() and seen[x, data.rejected[:, 0].numpy()].all()
    assert (data.chosen != data.rejected).all()


def test_smoke_run_and_check(tmp_path):
    result = m.run(m.PAPER.budgets["smoke"].config, 0, RunContext("dpo-3d-properties", "smoke", 0))
    # the tabular policy gives unseen responses zero gradient: its unseen logits do not move relative to each other
    assert abs(result["tabular_unseen_rise"]) < 0.2
    verdicts = m.check([dict(result, seed=0)], "smoke")
    assert len(verdicts) == len(m.CLAIMS)
    assert all(p.exists() for p in m.figures([dict(result, seed=0)], tmp_path))
