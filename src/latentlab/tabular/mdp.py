r"""Finite-horizon tabular MDPs and instance generators.

An episodic MDP :math:`M = (S, A, H, \mu, P, R)` is stored as arrays

* ``P[h, s, a, s'] = P_h(s' | s, a)`` of shape ``(H, S, A, S)`` (a homogeneous MDP repeats
  the same kernel along ``h``),
* ``R[h, s, a] = r_h(s, a)``, the *mean* reward, of shape ``(H, S, A)``,
* ``mu[s]``, the initial-state distribution.

Steps are indexed ``h = 0, ..., H-1`` (the papers' :math:`h = 1..H`).  Rewards observed
in a rollout are either the mean itself (``reward_noise="none"``) or a Bernoulli draw with
that mean (``"bernoulli"``, which needs means in :math:`[0, 1]`).

Generators: :func:`random_mdp` (Dirichlet kernels), :func:`river_swim`, :func:`chain`,
:func:`gridworld`, :func:`combination_lock` and :func:`domingues_hard_mdp` (the minimax
lower-bound instance of Domingues et al., 2021).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

__all__ = [
    "FiniteHorizonMDP",
    "random_mdp",
    "river_swim",
    "chain",
    "gridworld",
    "combination_lock",
    "domingues_hard_mdp",
]

RewardNoise = Literal["none", "bernoulli"]
_ATOL = 1e-8


@dataclass(frozen=True)
class FiniteHorizonMDP:
    r"""An episodic MDP with stage-dependent kernels ``P[h,s,a,s']`` and mean rewards ``R[h,s,a]``.

    Validated on construction: shapes agree, every row :math:`P_h(\cdot|s,a)` is a
    probability vector, ``mu`` is a probability vector, rewards lie in
    ``[0, reward_max]``.  ``total_reward_bounded`` records that every episode's return is
    at most 1 (the horizon-free setting); it is checked on the maximal return.
    """

    P: np.ndarray
    R: np.ndarray
    mu: np.ndarray
    reward_noise: RewardNoise = "none"
    reward_max: float = 1.0
    total_reward_bounded: bool = False
    name: str = "mdp"
    cum_P: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        P = np.asarray(self.P, dtype=float)
        R = np.asarray(self.R, dtype=float)
        mu = np.asarray(self.mu, dtype=float)
        if P.ndim == 3:  # homogeneous (S, A, S) needs a horizon from R
            if R.ndim != 3:
                raise ValueError("P of shape (S, A, S) needs R of shape (H, S, A) to know the horizon")
            P = np.broadcast_to(P, (R.shape[0], *P.shape)).copy()
        if P.ndim != 4 or P.shape[1] != P.shape[3]:
            raise ValueError(f"P must have shape (H, S, A, S), got {P.shape}")
        H, S, A, _ = P.shape
        if R.ndim == 2:
            R = np.broadcast_to(R, (H, S, A)).copy()
        if R.shape != (H, S, A):
            raise ValueError(f"R must have shape (H, S, A) = {(H, S, A)} or (S, A), got {R.shape}")
        if mu.shape != (S,):
            raise ValueError(f"mu must have shape (S,) = ({S},), got {mu.shape}")
        if not (np.all(np.isfinite(P)) and np.all(np.isfinite(R)) and np.all(np.isfinite(mu))):
            raise ValueError("P, R and mu must be finite")
        if np.any(P < -_ATOL) or not np.allclose(P.sum(-1), 1.0, atol=1e-6):
            bad = np.argwhere(~np.isclose(P.sum(-1), 1.0, atol=1e-6) | np.any(P < -_ATOL, axis=-1))
            raise ValueError("P rows must be probability vectors (>= 0, sum 1); "
                             f"first bad (h, s, a): {bad[0].tolist()}")
        if np.any(mu < -_ATOL) or not np.isclose(mu.sum(), 1.0, atol=1e-6):
            raise ValueError(f"mu must be a probability vector, got sum {mu.sum()}")
        if self.reward_max <= 0:
            raise ValueError(f"reward_max must be > 0, got {self.reward_max}")
        if np.any(R < -_ATOL) or np.any(R > self.reward_max + _ATOL):
            raise ValueError(f"R must lie in [0, reward_max={self.reward_max}], got range [{R.min()}, {R.max()}]")
        if self.reward_noise not in ("none", "bernoulli"):
            raise ValueError(f"reward_noise must be 'none' or 'bernoulli', got {self.reward_noise!r}")
        if self.reward_noise == "bernoulli" and self.reward_max > 1.0:
            raise ValueError("reward_noise='bernoulli' needs reward_max <= 1")
        P = np.clip(P, 0.0, None)
        P = P / P.sum(-1, keepdims=True)
        mu = np.clip(mu, 0.0, None)
        mu = mu / mu.sum()
        R = np.clip(R, 0.0, self.reward_max)
        for name, value in (("P", P), ("R", R), ("mu", mu)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        cum = np.cumsum(P, axis=-1)
        cum[..., -1] = 1.0
        cum.setflags(write=False)
        object.__setattr__(self, "cum_P", cum)
        if self.total_reward_bounded:
            from latentlab.tabular.planning import value_iteration

            vmax = value_iteration(P, R).V[0].max()
            if vmax > 1.0 + 1e-6:
                raise ValueError(f"total_reward_bounded=True but the maximal return is {vmax:.4g} > 1")

    # ------------------------------------------------------------------ shape
    @property
    def H(self) -> int:
        return int(self.P.shape[0])

    @property
    def S(self) -> int:
        return int(self.P.shape[1])

    @property
    def A(self) -> int:
        return int(self.P.shape[2])

    @property
    def homogeneous(self) -> bool:
        """True when the kernel and rewards do not depend on the step."""
        return bool(np.allclose(self.P, self.P[:1]) and np.allclose(self.R, self.R[:1]))

    @property
    def value_range(self) -> float:
        """An upper bound on any return: 1 if ``total_reward_bounded`` else ``H * reward_max``."""
        return 1.0 if self.total_reward_bounded else self.H * self.reward_max

    # -------------------------------------------------------------- solutions
    def optimal(self):
        """Optimal Q, V and greedy policy by backward induction
        (:func:`~latentlab.tabular.planning.value_iteration`)."""
        from latentlab.tabular.planning import value_iteration

        return value_iteration(self.P, self.R)

    def optimal_value(self) -> float:
        r""":math:`V^*_1(\mu) = \sum_s \mu(s) V^*_1(s)`."""
        return float(self.mu @ self.optimal().V[0])

    def value(self, policy: np.ndarray) -> np.ndarray:
        r"""Exact :math:`V^\pi_1(\mu)` of a policy (or a batch ``(..., H, S, A)`` / ``(..., H, S)``)."""
        from latentlab.tabular.planning import policy_value

        return policy_value(self.P, self.R, self.mu, policy)

    def with_rewards(self, R: np.ndarray, reward_max: float | None = None) -> FiniteHorizonMDP:
        """The same dynamics with another mean-reward array."""
        return FiniteHorizonMDP(self.P, R, self.mu, self.reward_noise,
                                self.reward_max if reward_max is None else reward_max, False, self.name)


# ------------------------------------------------------------------------ generators


def _check_positive(name: str, value: int, minimum: int = 1) -> None:
    if int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")


def _point_mu(S: int, s0: int = 0) -> np.ndarray:
    mu = np.zeros(S)
    mu[s0] = 1.0
    return mu


def random_mdp(S: int, A: int, H: int, rng: np.random.Generator, alpha: float = 0.5, homogeneous: bool = False,
               reward_noise: RewardNoise = "bernoulli",
               initial: Literal["first", "uniform"] = "first") -> FiniteHorizonMDP:
    r"""Random MDP: :math:`P_h(\cdot|s,a) \sim \mathrm{Dirichlet}(\alpha \mathbf 1_S)`, :math:`r_h(s,a) \sim U[0,1]`.

    ``homogeneous`` draws one kernel and one reward table for all steps.  The episode
    starts in state 0 (``initial="first"``) or uniformly at random.
    """
    for name, value in (("S", S), ("A", A), ("H", H)):
        _check_positive(name, value)
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    steps = 1 if homogeneous else H
    P = rng.dirichlet(np.full(S, alpha), size=(steps, S, A))
    R = rng.uniform(0.0, 1.0, size=(steps, S, A))
    if homogeneous:
        P, R = np.repeat(P, H, axis=0), np.repeat(R, H, axis=0)
    mu = _point_mu(S) if initial == "first" else np.full(S, 1.0 / S)
    return FiniteHorizonMDP(P, R, mu, reward_noise=reward_noise, name=f"random(S={S},A={A},H={H})")


def river_swim(S: int = 6, H: int = 20, p_right: float = 0.35, p_stay: float = 0.6,
               small_reward: float = 0.005, reward_noise: RewardNoise = "none") -> FiniteHorizonMDP:
    r"""RiverSwim (Strehl & Littman, 2008): a chain where swimming right (action 1) fights the current.

    Action 0 moves left deterministically; action 1 moves right w.p. ``p_right``, stays
    w.p. ``p_stay`` and drifts left otherwise (at the left bank it moves right w.p.
    ``1 - p_stay``; at the right bank it stays w.p. ``p_stay + p_right``).  Reward
    ``small_reward`` for action 0 in state 0, 1 for action 1 in state ``S-1``.
    """
    _check_positive("S", S, 2)
    _check_positive("H", H)
    if not (0 <= p_right and 0 <= p_stay and p_right + p_stay <= 1):
        raise ValueError(f"p_right, p_stay must be >= 0 with sum <= 1, got {p_right}, {p_stay}")
    P = np.zeros((S, 2, S))
    idx = np.arange(S)
    P[idx, 0, np.maximum(idx - 1, 0)] = 1.0
    P[idx, 1, idx] = p_stay
    P[idx[:-1], 1, idx[:-1] + 1] += p_right
    P[idx[1:], 1, idx[1:] - 1] += 1.0 - p_stay - p_right
    P[0, 1, 0] += 1.0 - p_stay - p_right  # the left bank: the drift keeps you there
    P[S - 1, 1, S - 1] += p_right
    R = np.zeros((S, 2))
    R[0, 0] = small_reward
    R[S - 1, 1] = 1.0
    return FiniteHorizonMDP(P, np.broadcast_to(R, (H, S, 2)), _point_mu(S), reward_noise=reward_noise,
                            name=f"riverswim(S={S},H={H})")


def chain(S: int, H: int, slip: float = 0.0, reward_noise: RewardNoise = "none") -> FiniteHorizonMDP:
    r"""A deterministic-ish chain: action 1 moves right, action 0 left; reward 1 at the right end.

    With probability ``slip`` the other move happens.  Start in state 0.
    """
    _check_positive("S", S, 2)
    _check_positive("H", H)
    if not 0 <= slip <= 1:
        raise ValueError(f"slip must be in [0, 1], got {slip}")
    idx = np.arange(S)
    left, right = np.maximum(idx - 1, 0), np.minimum(idx + 1, S - 1)
    P = np.zeros((S, 2, S))
    np.add.at(P, (idx, 0, left), 1.0 - slip)
    np.add.at(P, (idx, 0, right), slip)
    np.add.at(P, (idx, 1, right), 1.0 - slip)
    np.add.at(P, (idx, 1, left), slip)
    R = np.zeros((S, 2))
    R[S - 1, :] = 1.0
    return FiniteHorizonMDP(P, np.broadcast_to(R, (H, S, 2)), _point_mu(S), reward_noise=reward_noise,
                            name=f"chain(S={S},H={H})")


GRID_MOVES = np.array([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]])
"""Grid actions: stay, up, down, left, right (row, column offsets)."""


def grid_next_states(rows: int, cols: int) -> np.ndarray:
    """``next[s, a]``: the cell reached from cell ``s`` by action ``a`` (walls block; cells row-major)."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    nr = np.clip(r[:, None] + GRID_MOVES[None, :, 0], 0, rows - 1)
    nc = np.clip(c[:, None] + GRID_MOVES[None, :, 1], 0, cols - 1)
    return nr * cols + nc


def gridworld(rows: int, cols: int, H: int, slip: float = 0.0, goal: int | None = None, start: int = 0,
              reward_noise: RewardNoise = "none") -> FiniteHorizonMDP:
    r"""A gridworld with 5 actions (stay, up, down, left, right); reward 1 per step spent at ``goal``.

    With probability ``slip`` the move is replaced by a uniformly random one.  Cells are
    numbered row-major; the default goal is the far corner.
    """
    _check_positive("rows", rows)
    _check_positive("cols", cols)
    _check_positive("H", H)
    if not 0 <= slip <= 1:
        raise ValueError(f"slip must be in [0, 1], got {slip}")
    S = rows * cols
    goal = S - 1 if goal is None else goal
    if not (0 <= goal < S and 0 <= start < S):
        raise ValueError(f"goal and start must be cells in [0, {S}), got {goal}, {start}")
    nxt = grid_next_states(rows, cols)
    onehot = np.eye(S)[nxt]  # (S, 5, S)
    P = (1 - slip) * onehot + slip * onehot.mean(axis=1, keepdims=True)
    R = np.zeros((S, 5))
    R[goal, :] = 1.0
    return FiniteHorizonMDP(P, np.broadcast_to(R, (H, S, 5)), _point_mu(S, start), reward_noise=reward_noise,
                            name=f"grid({rows}x{cols},H={H})")


def combination_lock(H: int, A: int, rng: np.random.Generator, reward_noise: RewardNoise = "none") -> FiniteHorizonMDP:
    r"""Combination lock: states {good, dead}; at each step one secret action keeps you on the good path.

    State 0 is the good state, 1 the absorbing dead state.  At step ``h`` the action
    ``code[h]`` (drawn uniformly) keeps the agent in state 0, any other action drops it to
    1.  Reward 1 only for the correct action at the last step, so a uniform explorer finds
    the reward with probability :math:`A^{-H}`.
    """
    _check_positive("H", H)
    _check_positive("A", A, 2)
    code = rng.integers(0, A, size=H)
    P = np.zeros((H, 2, A, 2))
    P[:, 0, :, 1] = 1.0
    P[np.arange(H), 0, code, 1] = 0.0
    P[np.arange(H), 0, code, 0] = 1.0
    P[:, 1, :, 1] = 1.0
    R = np.zeros((H, 2, A))
    R[H - 1, 0, code[H - 1]] = 1.0
    return FiniteHorizonMDP(P, R, _point_mu(2), reward_noise=reward_noise, name=f"lock(H={H},A={A})")


def domingues_hard_mdp(A: int, H: int, depth: int, epsilon: float, rng: np.random.Generator,
                       wait_until: int | None = None) -> FiniteHorizonMDP:
    r"""The minimax hard instance of Domingues, Ménard, Kaufmann & Valko (ALT 2021), tabular form.

    States: a waiting state :math:`s_w`, a full :math:`A`-ary tree of depth ``depth``
    (root first), a good state :math:`s_g` and a bad state :math:`s_b`.  From :math:`s_w`
    action 0 waits (allowed before step ``wait_until``), any other action enters the root.
    In the tree, action ``a`` moves deterministically to child ``a``.  From a leaf :math:`\ell`
    at step :math:`h` with action :math:`a` the agent reaches :math:`s_g` with probability
    :math:`1/2 + \epsilon\,\mathbb 1\{(\ell, a, h) = (\ell^*, a^*, h^*)\}` and :math:`s_b`
    otherwise; :math:`s_g, s_b` are absorbing and :math:`s_g` pays 1 per step from step
    :math:`\bar H = \texttt{wait\_until} + \texttt{depth} + 2` on (the latest possible arrival),
    so every leaf timing is worth the same and only the secret :math:`(\ell^*, a^*, h^*)`
    (drawn with ``rng``) matters: :math:`V^* = (1/2 + \epsilon)(H - \bar H)`.
    """
    _check_positive("A", A, 2)
    _check_positive("H", H, depth + 3)
    _check_positive("depth", depth)
    if not 0 <= epsilon <= 0.5:
        raise ValueError(f"epsilon must be in [0, 0.5], got {epsilon}")
    wait_until = H - depth - 3 if wait_until is None else wait_until
    if not 0 <= wait_until <= H - depth - 3:
        raise ValueError(f"wait_until must be in [0, H - depth - 3 = {H - depth - 3}], got {wait_until}")
    n_tree = (A ** (depth + 1) - 1) // (A - 1)
    first_leaf = n_tree - A**depth
    S = n_tree + 3
    wait, good, bad = n_tree, n_tree + 1, n_tree + 2
    P = np.zeros((H, S, A, S))
    internal = np.arange(first_leaf)
    P[:, internal[:, None], np.arange(A)[None, :], A * internal[:, None] + 1 + np.arange(A)[None, :]] = 1.0
    leaves = np.arange(first_leaf, n_tree)
    P[:, leaves, :, good] = 0.5
    P[:, leaves, :, bad] = 0.5
    leaf_star = rng.integers(first_leaf, n_tree)
    a_star = rng.integers(0, A)
    h_star = rng.integers(depth + 1, wait_until + depth + 2)
    P[h_star, leaf_star, a_star, good] += epsilon
    P[h_star, leaf_star, a_star, bad] -= epsilon
    P[:, wait, :, 0] = 1.0
    P[:wait_until, wait, 0, 0] = 0.0
    P[:wait_until, wait, 0, wait] = 1.0
    P[:, good, :, good] = 1.0
    P[:, bad, :, bad] = 1.0
    R = np.zeros((H, S, A))
    R[wait_until + depth + 2:, good, :] = 1.0
    return FiniteHorizonMDP(P, R, _point_mu(S, wait), name=f"domingues(A={A},H={H},d={depth})")
