"""Finite-horizon tabular RL: models, exact solvers, learners and metrics.

``FiniteHorizonMDP`` stores ``P[h, s, a, s']`` and ``R[h, s, a]``; the solvers in
:mod:`latentlab.tabular.planning` are exact backward inductions batched over leading
axes; the learners in :mod:`latentlab.tabular.learners` are vectorised over independent
replicates.  Paper-specific methods live in sub-modules (``conservative``,
``demo_regularized``, ``grouping``, ``submodular``).
"""

from latentlab.tabular.learners import (
    PSRL,
    UCBVI,
    UCBVIBPI,
    CountModel,
    ExploreThenCommit,
    Learner,
    LearningCurve,
    Plan,
    QLearningUCBH,
    Trajectories,
    rollout,
    run_learner,
)
from latentlab.tabular.mdp import (
    FiniteHorizonMDP,
    chain,
    combination_lock,
    domingues_hard_mdp,
    gridworld,
    random_mdp,
    river_swim,
)
from latentlab.tabular.metrics import constraint_violations, cumulative_regret, sample_complexity
from latentlab.tabular.planning import (
    Solution,
    as_stochastic,
    episode_mixture_value,
    occupancy,
    policy_q,
    policy_value,
    soft_value_iteration,
    step_mixture,
    trajectory_kl,
    value_iteration,
)

__all__ = [
    "FiniteHorizonMDP", "random_mdp", "river_swim", "chain", "gridworld", "combination_lock", "domingues_hard_mdp",
    "Solution", "as_stochastic", "policy_q", "policy_value", "value_iteration", "soft_value_iteration",
    "occupancy", "trajectory_kl", "step_mixture", "episode_mixture_value",
    "Trajectories", "Plan", "rollout", "CountModel", "Learner", "UCBVI", "UCBVIBPI", "QLearningUCBH", "PSRL",
    "ExploreThenCommit", "LearningCurve", "run_learner",
    "cumulative_regret", "sample_complexity", "constraint_violations",
]
