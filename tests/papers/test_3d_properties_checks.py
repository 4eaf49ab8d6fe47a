"""Paper 44 extensions: the dispersion-cut precondition, full-only claims, and the tiny-GPT arm's exactness."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from latentlab.papers import dpo_3d_properties as m
from latentlab.repro.context import RunContext


def _results(rises, cuts_from_sft=-0.1):
    return [{"drop_ratio": 1.5, "dpo_dlogp_chosen": -1.0, "dpo_unseen_rise": rise, "sft_dlogp_chosen": 1.0,
             "sft_dispersion_cut": m.dispersion_cut(rise, cuts_from_sft), "on_off_quality_ratio": 1.0}
            for rise in rises]


def _verdict(results, name, budget="quick"):
    return next(v for v in m.check(results, budget) if v.claim == name)


def test_dispersion_cut_is_undefined_without_a_rise():
    assert m.dispersion_cut(0.0, -0.3) is None and m.dispersion_cut(-0.1, 0.05) is None
    assert m.dispersion_cut(0.4, 0.1) == pytest.approx(0.75)


def test_sft_cut_is_inconclusive_when_dpo_does_not_disperse():
    # the old code reported a vacuous PASS here (1.0 per seed); now the precondition rise_DPO > 0 is explicit
    verdict = _verdict(_results([-0.13, -0.1, -0.15]), "sft-cuts-dispersion")
    assert verdict.status == "INCONCLUSIVE" and verdict.value is None
    assert "precondition rise_DPO > 0 fails in 3/3 seeds" in verdict.detail
    # one seed without a rise is enough to leave the cut undefined
    assert _verdict(_results([0.3, -0.01, 0.25]), "sft-cuts-dispersion").status == "INCONCLUSIVE"


def test_sft_cut_is_judged_when_the_precondition_holds():
    assert _verdict(_results([0.3, 0.35, 0.32], cuts_from_sft=0.01), "sft-cuts-dispersion").status == "PASS"
    assert _verdict(_results([0.3, 0.35, 0.32], cuts_from_sft=0.25), "sft-cuts-dispersion").status == "FAIL"


def test_full_only_claims_are_inconclusive_at_quick():
    verdicts = {v.claim: v for v in m.check(_results([0.3, 0.3]), "quick")}
    for name in ("flex-slows-drop", "flex-keeps-chosen", "flex-drop-monotone", "gpt-dispersion",
                 "gpt-sft-cuts-dispersion"):
        assert verdicts[name].status == "INCONCLUSIVE" and "full budget only" in verdicts[name].detail


def test_quick_config_has_no_new_arms_and_full_has_both():
    assert not m.PAPER.budgets["quick"].config.flex_ratios and m.PAPER.budgets["quick"].config.gpt_steps == 0
    full = m.PAPER.budgets["full"].config
    assert m.FLEX_CLAIM_RATIO in full.flex_ratios and full.gpt_steps > 0
    with pytest.raises(ValueError, match="flex_ratios"):
        m.Config(flex_ratios=(0.0,))
    with pytest.raises(ValueError, match="gpt_seen"):
        m.Config(gpt_seen=20, gpt_pool=16)


def test_gpt_arm_tracks_exact_quantities():
    config = dataclasses.replace(m.PAPER.budgets["smoke"].config, gpt_steps=2, track_every=1)
    out = m._gpt_arm(config, RunContext("dpo-3d-properties", "smoke", 0))
    for trace in out["gpt_traces"].values():
        # the reference is the starting policy: both log-ratios start at exactly 0
        assert trace["dlogp_chosen"][0] == 0.0 and trace["dlogp_rejected"][0] == 0.0
        assert 0.0 < trace["unseen"][0] < 1.0 and len(trace["step"]) == config.gpt_steps + 1
    assert out["gpt_sft_dispersion_cut"] == m.dispersion_cut(out["gpt_dpo_unseen_rise"], out["gpt_sft_unseen_rise"])


def test_gpt_pairs_are_leaf_sequences_of_the_seen_set():
    from latentlab.preference import FiniteResponseTask, ResponseTree

    tree = ResponseTree(3, 3)
    rng = np.random.default_rng(0)
    seen = np.zeros((2, tree.n_leaves), dtype=bool)
    seen[:, [4, 11, 20]] = True
    data = m._data(FiniteResponseTask(rng.random((2, tree.n_leaves))), seen, 200, rng, tree=tree)
    assert data.chosen.shape == (200, 3)
    codes = lambda y: (y * torch.tensor([9, 3, 1])).sum(-1).numpy()  # noqa: E731
    x = data.prompts.numpy()
    assert seen[x, codes(data.chosen)].all() and seen[x, codes(data.rejected)].all()
    assert (codes(data.chosen) != codes(data.rejected)).all()
