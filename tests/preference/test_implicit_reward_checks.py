"""Paper 36's baseline fix: checkpoint selection on validation, the reported precondition, the RM-trainer callback."""

from __future__ import annotations

import numpy as np
import torch

from latentlab.papers import dpo_implicit_reward_generalization as m
from latentlab.preference import PreferenceData, RewardModelTrainer


class _Linear(torch.nn.Module):
    """r(x, y) = w · onehot(y_0): a reward model whose accuracy we control by setting w."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(3))

    def forward(self, prompts, responses):
        return self.w[responses[:, 0]]


def _data():
    chosen = torch.tensor([[2], [2], [1], [1]])
    rejected = torch.tensor([[0], [1], [0], [2]])
    return PreferenceData(torch.zeros(4, dtype=torch.long), chosen, rejected), np.array([1.0, 1.0, 1.0, 0.0])


def test_best_checkpoint_restores_the_most_accurate_parameters():
    model, (data, truth) = _Linear(), _data()
    best = m._BestCheckpoint(model, model, (data, truth))
    schedule = {0: [0.0, 0.0, 0.0], 1: [0.0, 1.0, 2.0], 2: [2.0, 1.0, 0.0]}  # accuracy 0.5, 1, 0
    for step, w in schedule.items():
        with torch.no_grad():
            model.w.copy_(torch.tensor(w))
        best(step)
    assert [a for _, a in best.curve] == [0.5, 1.0, 0.0]
    best.restore()
    assert best.best_step == 1 and best.best_accuracy == 1.0
    assert torch.equal(model.w.detach(), torch.tensor([0.0, 1.0, 2.0]))


def test_reward_trainer_callback_leaves_the_training_bit_identical():
    data, _ = _data()

    def train(callback, every):
        torch.manual_seed(0)
        model = _Linear()
        trainer = RewardModelTrainer(model, lambda mm, x, y: mm(x, y), lr=0.1, batch_size=2)
        return trainer.fit(data, 7, torch.Generator().manual_seed(1), callback, every), model.w.detach().clone()

    calls: list[int] = []
    plain_losses, plain_w = train(None, 0)
    losses, w = train(calls.append, 3)
    assert losses == plain_losses and torch.equal(w, plain_w)
    assert calls == [0, 3, 6, 7]


def _result(fit_gap, ood_gap, positive=1.0):
    acc = {"train": {"exrm": 0.9 + fit_gap, "dporm": 0.9}}
    return {"id_gap_abs": 0.01, "ood_gap_mean": ood_gap, "ood_gap_positive_fraction": positive,
            "rm_fit_gap": fit_gap, "accuracy": acc}


def test_ood_claims_are_inconclusive_unless_the_fit_precondition_passes():
    undertrained = m.check([_result(-0.2, -0.1, 0.0), _result(-0.1, -0.08, 0.25)], "quick")
    by_name = {v.claim: v for v in undertrained}
    assert by_name["rm-fit-precondition"].status == "FAIL"
    for name in ("ood-gap", "ood-gap-consistent"):
        assert by_name[name].status == "INCONCLUSIVE" and "would be FAIL" in by_name[name].detail
    assert by_name["id-parity"].status == "PASS"
    fitted = {v.claim: v for v in m.check([_result(0.01, 0.05), _result(0.0, 0.04)], "quick")}
    assert fitted["rm-fit-precondition"].status == "PASS"
    assert fitted["ood-gap"].status == "PASS" and fitted["ood-gap-consistent"].status == "PASS"
    failing = {v.claim: v for v in m.check([_result(0.01, -0.05, 0.0), _result(0.0, -0.04, 0.25)], "quick")}
    assert failing["ood-gap"].status == "FAIL" and failing["ood-gap-consistent"].status == "FAIL"
