"""Offline RL: locally generated graded datasets and their metrics (TQ, SACo), discrete offline
learners, and the model-based stack (dynamics ensembles with a true-dynamics oracle behind one
interface, uncertainty penalties, truncated model rollouts, MOPO and RAVL on deeprl's SAC).
See ``docs/offline.md``.

Importing this package registers ``latentlab/EdgeOfReach2D-v0`` with gymnasium.
"""

from latentlab.offline.datasets import (
    DATASET_CODE_VERSION,
    RECIPES,
    Episode,
    OfflineDataset,
    collect,
    default_cache_dir,
    dqn_behaviour_datasets,
    expert_policy,
    make_dataset,
    quality_policy,
    random_policy,
    reference_scores,
)
from latentlab.offline.discrete import (
    ALGOS,
    DiscreteAgent,
    DiscreteConfig,
    OfflineResult,
    OnlineResult,
    fit,
    train_online_dqn,
)
from latentlab.offline.dynamics import (
    CALIBRATION_HEURISTICS,
    HEURISTICS,
    TERMINATION_FNS,
    CalibrationResult,
    EnsembleDynamicsConfig,
    FitResult,
    GaussianEnsembleDynamics,
    Prediction,
    calibrate,
    ensemble_std,
    ensemble_variance,
    heuristic,
    ll_variance,
    loo_kl,
    max_aleatoric,
    max_mean_deviation,
    max_pairwise_diff,
    model_error,
    penalty,
    spearman,
    termination_fn,
)
from latentlab.offline.envs import (
    EDGE_OF_REACH_ID,
    Dynamics,
    EdgeOfReach2D,
    EdgeOfReach2DDynamics,
    PendulumDynamics,
    edge_of_reach_dataset,
    edge_of_reach_reference_returns,
)
from latentlab.offline.metrics import (
    count_unique,
    dataset_summary,
    hyperloglog,
    normalized_entropy,
    state_action_coverage,
    trajectory_quality,
)
from latentlab.offline.mujoco import (
    MUJOCO_EXPERT_IDS,
    MUJOCO_MEDIUM_P,
    LQRExpert,
    MujocoDynamics,
    linearize,
    lqr_expert,
    lqr_gain,
    state_from_obs,
)
from latentlab.offline.rollouts import (
    ModelRolloutTrainer,
    RolloutBatch,
    RolloutConfig,
    TrainerHistory,
    first_seen_steps,
)

__all__ = [
    # datasets
    "OfflineDataset", "Episode", "RECIPES", "DATASET_CODE_VERSION", "make_dataset", "dqn_behaviour_datasets",
    "expert_policy", "random_policy", "quality_policy", "collect", "reference_scores", "default_cache_dir",
    # dataset metrics (#59)
    "trajectory_quality", "state_action_coverage", "count_unique", "hyperloglog", "normalized_entropy",
    "dataset_summary",
    # discrete offline learners
    "DiscreteConfig", "DiscreteAgent", "OfflineResult", "OnlineResult", "fit", "train_online_dqn", "ALGOS",
    # environments and true-dynamics oracles
    "Dynamics", "EdgeOfReach2D", "EdgeOfReach2DDynamics", "PendulumDynamics", "edge_of_reach_dataset",
    "edge_of_reach_reference_returns", "EDGE_OF_REACH_ID",
    # learned dynamics and uncertainty heuristics (#11)
    "EnsembleDynamicsConfig", "GaussianEnsembleDynamics", "FitResult", "Prediction", "TERMINATION_FNS",
    "termination_fn", "HEURISTICS", "CALIBRATION_HEURISTICS", "heuristic", "max_aleatoric", "max_pairwise_diff",
    "max_mean_deviation", "ensemble_std", "ensemble_variance", "ll_variance", "loo_kl", "penalty", "model_error",
    "spearman", "CalibrationResult", "calibrate",
    # MuJoCo experts and oracle (the `mujoco` extra; imported lazily)
    "MujocoDynamics", "LQRExpert", "lqr_expert", "lqr_gain", "linearize", "state_from_obs", "MUJOCO_EXPERT_IDS",
    "MUJOCO_MEDIUM_P",
    # model rollouts: MBPO / MOPO / RAVL on deeprl's SAC
    "RolloutConfig", "ModelRolloutTrainer", "RolloutBatch", "first_seen_steps", "TrainerHistory",
]
