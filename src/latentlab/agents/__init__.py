"""Bandit and online-learning suites, regret statistics, and a text-agent harness.

* :mod:`~latentlab.agents.bandits` — Bernoulli/Gaussian multi-armed bandits (BanditBench
  instance settings) and a synthetic low-rank contextual bandit, batched over instances.
* :mod:`~latentlab.agents.policies` — Random, Greedy, epsilon-greedy, UCB, Thompson sampling,
  LinUCB behind one ``reset / act / update`` interface, vectorised over seeds.
* :mod:`~latentlab.agents.online` — online learning with expert advice: loss sequences
  (i.i.d., trends, adversarial alternating, adaptive) and FTL, Hedge, FTRL, FTPL, regret matching.
* :mod:`~latentlab.agents.games` — normal-form games, repeated play of online learners, CCE gap.
* :mod:`~latentlab.agents.regret` — trend and regression sublinearity tests, the EVOLvE
  regret-curve fit, win-rate tables.
* :mod:`~latentlab.agents.text` — context layers (raw, summary, algorithm guidance, few-shot),
  the action parser, :class:`TextBanditPolicy`; :mod:`~latentlab.agents.backends` — scripted,
  local causal-LM (``transformers``, lazy) and OpenAI-compatible HTTP backends.
* :mod:`~latentlab.agents.regret_loss` — regret-loss training of linear self-attention (torch;
  not imported here).

Importing this package imports neither torch nor transformers.
"""

from __future__ import annotations

from latentlab.agents.bandits import (
    BanditInstance,
    LowRankContextualBandit,
    bernoulli_bandit,
    bernoulli_kl,
    gaussian_bandit,
    lai_robbins_constant,
    low_rank_contextual_bandit,
    pseudo_regret,
)
from latentlab.agents.games import (
    NormalFormGame,
    RepeatedPlay,
    battle_of_the_sexes,
    cce_gap,
    chicken,
    matching_pennies,
    play_repeated,
    prisoners_dilemma,
    random_game,
    rock_paper_scissors,
    shapleys_game,
    stag_hunt,
)
from latentlab.agents.online import (
    FTL,
    FTPL,
    FTRLL2,
    Hedge,
    RegretMatching,
    alternating_losses,
    external_regret,
    hedge_regret_bound,
    iid_uniform_losses,
    linear_trend_losses,
    loss_sequence,
    play_adaptive_adversary,
    play_online,
    project_to_simplex,
    sine_trend_losses,
)
from latentlab.agents.policies import (
    UCB,
    BanditPolicy,
    BanditRun,
    EpsilonGreedy,
    Greedy,
    LinUCB,
    RandomPolicy,
    ThompsonSampling,
    run_bandit,
    run_contextual_bandit,
)
from latentlab.agents.regret import (
    checkpoints,
    classify_regret,
    fit_regret_curve,
    regression_test,
    trend_test,
    win_rate_table,
)

__all__ = [
    "BanditInstance", "LowRankContextualBandit", "bernoulli_bandit", "bernoulli_kl", "gaussian_bandit",
    "lai_robbins_constant", "low_rank_contextual_bandit", "pseudo_regret",
    "FTL", "FTPL", "FTRLL2", "Hedge", "RegretMatching", "alternating_losses", "external_regret",
    "hedge_regret_bound", "iid_uniform_losses", "linear_trend_losses", "loss_sequence",
    "play_adaptive_adversary", "play_online", "project_to_simplex", "sine_trend_losses",
    "UCB", "BanditPolicy", "BanditRun", "EpsilonGreedy", "Greedy", "LinUCB", "RandomPolicy",
    "ThompsonSampling", "run_bandit", "run_contextual_bandit",
    "NormalFormGame", "RepeatedPlay", "battle_of_the_sexes", "cce_gap", "chicken", "matching_pennies",
    "play_repeated", "prisoners_dilemma", "random_game", "rock_paper_scissors", "shapleys_game", "stag_hunt",
    "checkpoints", "classify_regret", "fit_regret_curve", "regression_test", "trend_test", "win_rate_table",
]
