"""Preference learning with exact oracles: synthetic tasks with known rewards, exact
tree tools (soft-value DP, KL, J_β), one policy interface (tabular softmax or causal LM),
DPO-family / XPO / Bradley–Terry losses, trainers and metrics.

The tabular path needs only numpy and torch; the causal-LM path
(:mod:`latentlab.preference.lm`) imports ``transformers`` and ``tokenizers`` lazily
(the ``llm`` extra).
"""

from __future__ import annotations

from latentlab.preference.flex import flex_dpo_logit_gradient, flex_dpo_probability_gradients
from latentlab.preference.losses import (
    bradley_terry_loss,
    dpo_loss,
    dpo_margin,
    sft_loss,
    xpo_exploration_term,
)
from latentlab.preference.metrics import (
    implicit_sequence_rewards,
    implicit_token_rewards,
    pairwise_correct,
    preference_accuracy,
    unseen_mass,
    win_rate,
)
from latentlab.preference.policy import (
    FeatureMLPPolicy,
    Policy,
    TabularPolicy,
    beam_search,
    frozen_copy,
    prefix_log_probs,
    sample,
    sequence_logps,
    token_logps,
)
from latentlab.preference.tasks import (
    CombinationLock,
    FiniteResponseTask,
    PreferenceOracle,
    SequenceTask,
    SynonymTask,
    TabularRewardTask,
    TargetStringTask,
    leaf_reward_table,
    render_tokens,
    token_reward_table,
)
from latentlab.preference.trainers import (
    DPOConfig,
    OfflinePreferenceTrainer,
    OnlineConfig,
    OnlinePreferenceTrainer,
    PreferenceData,
    RewardModelTrainer,
    dpo_objective,
    supervised_finetune,
)
from latentlab.preference.tree import (
    ResponseTree,
    SoftSolution,
    exact_kl,
    exact_objective,
    expected_return,
    leaf_log_probs,
    leaf_returns,
    sequence_reward_to_token_reward,
    soft_value_iteration,
    total_variation,
)

__all__ = [
    "CombinationLock", "DPOConfig", "FeatureMLPPolicy", "FiniteResponseTask", "OfflinePreferenceTrainer",
    "OnlineConfig",
    "OnlinePreferenceTrainer", "Policy", "PreferenceData", "PreferenceOracle", "ResponseTree",
    "RewardModelTrainer", "SequenceTask", "SoftSolution", "SynonymTask", "TabularPolicy", "TabularRewardTask",
    "TargetStringTask", "beam_search", "bradley_terry_loss", "dpo_loss", "dpo_margin", "dpo_objective",
    "exact_kl", "exact_objective", "expected_return", "flex_dpo_logit_gradient", "flex_dpo_probability_gradients",
    "frozen_copy", "implicit_sequence_rewards",
    "implicit_token_rewards", "leaf_log_probs", "leaf_returns", "leaf_reward_table", "pairwise_correct",
    "preference_accuracy", "prefix_log_probs", "render_tokens", "sample", "sequence_logps",
    "sequence_reward_to_token_reward", "sft_loss", "soft_value_iteration", "supervised_finetune", "token_logps",
    "token_reward_table", "total_variation", "unseen_mass", "win_rate", "xpo_exploration_term",
]
