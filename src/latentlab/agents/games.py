r"""Two-player normal-form games and their repeated play by online learners, batched over games.

A game is a pair of payoff matrices :math:`(U_1,U_2)`, both indexed ``[a_1, a_2]``; a batch of
``S`` games is a :class:`NormalFormGame` with arrays ``(S, n_1, n_2)``.

* Library: :func:`prisoners_dilemma`, :func:`battle_of_the_sexes`, :func:`stag_hunt`,
  :func:`chicken`, :func:`rock_paper_scissors`, :func:`shapleys_game`,
  :func:`matching_pennies`; :func:`random_game` draws payoffs i.i.d. :math:`U[0, B]`.
* :func:`play_repeated` — each player runs a full-information online learner; at round
  :math:`t` player 1's loss vector is :math:`\ell^1_t(a)=B-\sum_b U_1(a,b)\pi^2_t(b)` (and
  symmetrically), so external regret is measured on expected payoffs.
* :func:`cce_gap` — for a joint distribution :math:`\sigma` over action pairs,
  :math:`\max_i\max_{a'}\mathbb E_\sigma[U_i(a',a_{-i})]-\mathbb E_\sigma[U_i(a)]` (signed:
  :math:`\le0` iff :math:`\sigma` is a coarse correlated equilibrium).  For the time-averaged product
  distribution :math:`\bar\sigma=\frac1T\sum_t\pi^1_t\otimes\pi^2_t` it equals
  :math:`\max_i\mathrm{Reg}^i_T/T` exactly, which is why no-regret play converges to the CCE set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from latentlab.agents.online import OnlineLearner

__all__ = [
    "NormalFormGame",
    "prisoners_dilemma",
    "battle_of_the_sexes",
    "stag_hunt",
    "chicken",
    "rock_paper_scissors",
    "shapleys_game",
    "matching_pennies",
    "random_game",
    "RepeatedPlay",
    "play_repeated",
    "cce_gap",
]


@dataclass(frozen=True)
class NormalFormGame:
    """``S`` two-player games: ``payoffs_1``, ``payoffs_2`` of shape ``(S, n_1, n_2)``."""

    payoffs_1: np.ndarray
    payoffs_2: np.ndarray
    name: str = "game"

    def __post_init__(self) -> None:
        u1 = np.asarray(self.payoffs_1, dtype=float)
        u2 = np.asarray(self.payoffs_2, dtype=float)
        if u1.ndim == 2:
            u1, u2 = u1[None], u2[None]
        if u1.shape != u2.shape or u1.ndim != 3 or min(u1.shape[1:]) < 2:
            raise ValueError(f"payoffs must both have shape (S, n1 >= 2, n2 >= 2), got {u1.shape} and {u2.shape}")
        object.__setattr__(self, "payoffs_1", u1)
        object.__setattr__(self, "payoffs_2", u2)

    @property
    def n_games(self) -> int:
        return int(self.payoffs_1.shape[0])

    @property
    def payoff_range(self) -> tuple[float, float]:
        values = np.concatenate([self.payoffs_1.ravel(), self.payoffs_2.ravel()])
        return float(values.min()), float(values.max())

    def repeat(self, n: int) -> NormalFormGame:
        """The batch tiled ``n`` times (e.g. one copy per seed)."""
        return NormalFormGame(np.tile(self.payoffs_1, (n, 1, 1)), np.tile(self.payoffs_2, (n, 1, 1)), self.name)


def _symmetric(matrix: list[list[float]], name: str) -> NormalFormGame:
    u1 = np.asarray(matrix, dtype=float)
    return NormalFormGame(u1, u1.T.copy(), name)


def prisoners_dilemma() -> NormalFormGame:
    """Actions (cooperate, defect); payoffs R=3, S=0, T=5, P=1."""
    return _symmetric([[3, 0], [5, 1]], "prisoners-dilemma")


def stag_hunt() -> NormalFormGame:
    """Actions (stag, hare): 4 for mutual stag, 3 for hare, 0 for a lone stag."""
    return _symmetric([[4, 0], [3, 3]], "stag-hunt")


def chicken() -> NormalFormGame:
    """Actions (swerve, straight): 0/-1/1/-10."""
    return _symmetric([[0, -1], [1, -10]], "chicken")


def battle_of_the_sexes() -> NormalFormGame:
    """Actions (opera, football): (3, 2) and (2, 3) on coordination, 0 otherwise."""
    return NormalFormGame(np.array([[3.0, 0.0], [0.0, 2.0]]), np.array([[2.0, 0.0], [0.0, 3.0]]), "battle-of-the-sexes")


def rock_paper_scissors() -> NormalFormGame:
    u1 = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])
    return NormalFormGame(u1, -u1, "rock-paper-scissors")


def shapleys_game() -> NormalFormGame:
    """Shapley's 3x3 game (fictitious play cycles): 1 for the winning pairs, 0 otherwise."""
    u1 = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    u2 = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return NormalFormGame(u1, u2, "shapleys-game")


def matching_pennies() -> NormalFormGame:
    u1 = np.array([[1.0, -1.0], [-1.0, 1.0]])
    return NormalFormGame(u1, -u1, "matching-pennies")


def random_game(n_games: int, n_1: int, n_2: int, rng: np.random.Generator, bound: float = 10.0) -> NormalFormGame:
    """General-sum games with payoffs i.i.d. :math:`U[0, B]`."""
    if n_games < 1 or n_1 < 2 or n_2 < 2:
        raise ValueError(f"need n_games >= 1 and n_1, n_2 >= 2; got {n_games}, {n_1}, {n_2}")
    if bound <= 0:
        raise ValueError(f"bound must be > 0, got {bound}")
    return NormalFormGame(bound * rng.random((n_games, n_1, n_2)), bound * rng.random((n_games, n_1, n_2)), "random")


@dataclass(frozen=True)
class RepeatedPlay:
    """Mixed strategies per round ``(S, T, n_i)``, per-player regret curves ``(S, T)``, final CCE gap ``(S,)``."""

    policies_1: np.ndarray
    policies_2: np.ndarray
    regret_1: np.ndarray
    regret_2: np.ndarray
    cce_gap: np.ndarray


def play_repeated(game: NormalFormGame, make_learner: Callable[[], OnlineLearner], horizon: int,
                  make_learner_2: Callable[[], OnlineLearner] | None = None) -> RepeatedPlay:
    """Both players learn from expected-payoff losses (full information) for ``horizon`` rounds."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    low, high = game.payoff_range
    scale = max(high - low, 1e-12)
    u1, u2 = game.payoffs_1, game.payoffs_2
    s, n1, n2 = u1.shape
    learner_1, learner_2 = make_learner(), (make_learner_2 or make_learner)()
    learner_1.reset(s, n1)
    learner_2.reset(s, n2)
    pis_1, pis_2 = np.empty((s, horizon, n1)), np.empty((s, horizon, n2))
    losses_1, losses_2 = np.empty_like(pis_1), np.empty_like(pis_2)
    for t in range(horizon):
        p1, p2 = learner_1.policy(), learner_2.policy()
        l1 = (high - np.einsum("sab,sb->sa", u1, p2)) / scale  # losses in [0, 1]
        l2 = (high - np.einsum("sab,sa->sb", u2, p1)) / scale
        learner_1.update(l1)
        learner_2.update(l2)
        pis_1[:, t], pis_2[:, t], losses_1[:, t], losses_2[:, t] = p1, p2, l1, l2
    from latentlab.agents.online import external_regret

    regret_1 = scale * external_regret(losses_1, pis_1)
    regret_2 = scale * external_regret(losses_2, pis_2)
    joint = np.einsum("sta,stb->sab", pis_1, pis_2) / horizon
    return RepeatedPlay(pis_1, pis_2, regret_1, regret_2, cce_gap(game, joint))


def cce_gap(game: NormalFormGame, joint: np.ndarray) -> np.ndarray:
    r"""Largest gain of a unilateral fixed deviation against ``joint`` ``(S, n_1, n_2)``."""
    joint = np.asarray(joint, dtype=float)
    if joint.shape != game.payoffs_1.shape:
        raise ValueError(f"joint must have shape {game.payoffs_1.shape}, got {joint.shape}")
    if np.any(joint < -1e-12) or not np.allclose(joint.sum(axis=(1, 2)), 1.0, atol=1e-8):
        raise ValueError("joint must be a probability distribution over action pairs for every game")
    value_1 = np.einsum("sab,sab->s", game.payoffs_1, joint)
    value_2 = np.einsum("sab,sab->s", game.payoffs_2, joint)
    deviate_1 = np.einsum("sab,sb->sa", game.payoffs_1, joint.sum(axis=1)).max(axis=1)
    deviate_2 = np.einsum("sab,sa->sb", game.payoffs_2, joint.sum(axis=2)).max(axis=1)
    return np.maximum(deviate_1 - value_1, deviate_2 - value_2)
