"""Normal-form games: CCE gap by hand, the regret identity, no-regret self-play converging."""

from __future__ import annotations

import numpy as np
import pytest

from latentlab.agents import Hedge
from latentlab.agents.games import (
    NormalFormGame,
    battle_of_the_sexes,
    cce_gap,
    play_repeated,
    prisoners_dilemma,
    random_game,
    rock_paper_scissors,
)


def test_cce_gap_by_hand():
    pd = prisoners_dilemma()
    assert cce_gap(pd, np.array([[[0.0, 0.0], [0.0, 1.0]]]))[0] == pytest.approx(0.0)  # (D, D) is Nash
    # uniform joint: value (3+0+5+1)/4 = 2.25; defecting gives (5+1)/2 = 3 -> gap 0.75
    assert cce_gap(pd, np.full((1, 2, 2), 0.25))[0] == pytest.approx(0.75)
    bos = battle_of_the_sexes()  # the correlated 50/50 on the two coordinations is a strict CCE:
    # value 2.5 for each player, best fixed deviation 1.5 -> gap -1
    assert cce_gap(bos, np.array([[[0.5, 0.0], [0.0, 0.5]]]))[0] == pytest.approx(-1.0)


def test_cce_gap_equals_max_average_regret():
    game = random_game(16, 3, 3, np.random.default_rng(0))
    play = play_repeated(game, Hedge, 100)
    identity = np.maximum(play.regret_1[:, -1], play.regret_2[:, -1]) / 100
    assert np.allclose(play.cce_gap, identity, atol=1e-9)


def test_hedge_self_play_reaches_cce_and_rps_equilibrium():
    game = random_game(32, 3, 3, np.random.default_rng(1))
    gaps = [play_repeated(game, Hedge, t).cce_gap.mean() for t in (50, 400)]
    assert gaps[1] < 0.5 * gaps[0] and gaps[1] < 0.3
    rps = play_repeated(rock_paper_scissors(), Hedge, 2000)
    assert np.allclose(rps.policies_1.mean(axis=1), 1 / 3, atol=0.03)


def test_bad_input_raises():
    with pytest.raises(ValueError):
        NormalFormGame(np.zeros((2, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError):
        cce_gap(prisoners_dilemma(), np.full((1, 2, 2), 0.5))
