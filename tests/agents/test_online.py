"""Online learners: Hedge below its textbook bound, FTL linear on alternating losses, projection."""

from __future__ import annotations

import numpy as np
import pytest

from latentlab.agents import (
    FTL,
    FTPL,
    FTRLL2,
    Hedge,
    RegretMatching,
    external_regret,
    hedge_regret_bound,
    loss_sequence,
    play_adaptive_adversary,
    play_online,
    project_to_simplex,
)
from latentlab.agents.online import LOSS_KINDS


def test_projection_matches_bruteforce_qp():
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4))
    p = project_to_simplex(x)
    assert np.allclose(p.sum(axis=1), 1) and np.all(p >= 0)
    for row, proj in zip(x[:5], p[:5]):
        res = minimize(lambda q, row=row: np.sum((q - row) ** 2), np.full(4, 0.25), bounds=[(0, 1)] * 4,
                       constraints={"type": "eq", "fun": lambda q: q.sum() - 1}, tol=1e-12)
        assert np.allclose(res.x, proj, atol=1e-5)


@pytest.mark.parametrize("schedule", ["fixed", "anytime"])
def test_hedge_below_textbook_bound_on_every_sequence(schedule):
    horizon, d = 200, 3
    rng = np.random.default_rng(1)
    bound = hedge_regret_bound(horizon, d, schedule=schedule)
    for kind in LOSS_KINDS:
        losses = loss_sequence(kind, 64, horizon, d, rng)
        regret = external_regret(losses, play_online(Hedge(schedule, horizon=horizon), losses))
        assert regret[:, -1].max() <= bound
    losses, pis = play_adaptive_adversary(Hedge(schedule, horizon=horizon), 64, horizon, d, rng)
    assert external_regret(losses, pis)[:, -1].max() <= bound


def test_ftl_is_linear_on_alternating_and_hedge_is_not():
    losses = loss_sequence("alternating", 32, 400, 2, np.random.default_rng(2))
    ftl = external_regret(losses, play_online(FTL(), losses)).mean(axis=0)
    hedge = external_regret(losses, play_online(Hedge(), losses)).mean(axis=0)
    assert ftl[-1] / 400 > 0.2  # about 1/4 per round
    assert hedge[-1] < 2 * np.sqrt(400)


def test_external_regret_hand_example():
    losses = np.array([[[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]])
    pis = np.array([[[0.5, 0.5], [1.0, 0.0], [0.5, 0.5]]])
    # learner 0.5 + 1 + 0.5 = 2; best action 0: 1 -> regrets 0.5-0, 1.5-1, 2-1
    assert np.allclose(external_regret(losses, pis), [[0.5, 0.5, 1.0]])


def test_other_learners_sublinear_on_iid():
    losses = loss_sequence("iid", 32, 300, 3, np.random.default_rng(3))
    for learner in (FTRLL2(0.05), FTPL(1.0, seed=0), RegretMatching()):
        pis = play_online(learner, losses)
        assert np.allclose(pis.sum(axis=-1), 1)
        assert external_regret(losses, pis)[:, -1].mean() < 0.1 * 300


def test_bad_input_raises():
    with pytest.raises(ValueError):
        loss_sequence("zigzag", 2, 10, 2, np.random.default_rng(0))
    with pytest.raises(ValueError):
        Hedge("sometimes")
    with pytest.raises(ValueError):
        FTRLL2(0.0)
