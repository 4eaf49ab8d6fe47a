"""Deep RL core: vector envs with explicit autoreset handling, distributions with closed-form
KL, buffers, PPO (with MDPO's KL-penalty hook) and SAC (with PMOE's mixture actor and
off-policy MDPO's lagged-actor term).  See ``docs/deeprl.md``."""

from latentlab.deeprl.buffers import ReplayBuffer, RolloutBuffer, gae
from latentlab.deeprl.distributions import Categorical, DiagGaussian, MixtureGaussian, TanhGaussian
from latentlab.deeprl.envs import Episode, MultiGoalPointEnv, Step, VecRunner, evaluate, make_vec
from latentlab.deeprl.nets import (
    DiscretePolicy,
    EnsembleLinear,
    EnsembleMLP,
    GaussianPolicy,
    MixtureActor,
    QNet,
    ValueNet,
    load_checkpoint,
    mlp,
    save_checkpoint,
)
from latentlab.deeprl.normalize import ObservationNormalizer, RewardNormalizer, RunningMeanStd
from latentlab.deeprl.ppo import PPO, PPOConfig, mdpo_penalty, policy_objective, value_objective
from latentlab.deeprl.sac import (
    SAC,
    CriticEnsemble,
    SACConfig,
    actor_objective,
    critic_action_gradients,
    critic_diversity_loss,
    router_regression_loss,
)
from latentlab.deeprl.training import TrainingResult, curve_auc

__all__ = [
    "Categorical", "DiagGaussian", "TanhGaussian", "MixtureGaussian",
    "make_vec", "VecRunner", "Step", "Episode", "evaluate", "MultiGoalPointEnv",
    "ReplayBuffer", "RolloutBuffer", "gae",
    "mlp", "DiscretePolicy", "GaussianPolicy", "ValueNet", "MixtureActor", "QNet", "EnsembleLinear", "EnsembleMLP",
    "save_checkpoint",
    "load_checkpoint",
    "RunningMeanStd", "ObservationNormalizer", "RewardNormalizer",
    "PPO", "PPOConfig", "policy_objective", "value_objective", "mdpo_penalty",
    "SAC", "SACConfig", "actor_objective", "router_regression_loss", "CriticEnsemble", "critic_diversity_loss",
    "critic_action_gradients",
    "TrainingResult", "curve_auc",
]
