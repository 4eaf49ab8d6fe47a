"""Inference: SMC and smoothing, SDEs, jump processes, point processes, VI.

State-space models and exact oracles (Kalman/RTS, FFBS, HMM forward-backward):
:mod:`latentlab.inference.ssm`.  Particle methods (resampling, bootstrap filter, PaRIS,
conditional SMC, PPG, score estimation, SGD): :mod:`latentlab.inference.smc`.  Markov jump
processes (rate matrices, expm, Gillespie, MLEs): :mod:`latentlab.inference.mjp`; the torch
foundation inference model of Berghaus et al. lives in :mod:`latentlab.inference.fim`
(imported on demand).  Fractional Brownian motion and its Markov approximation:
:mod:`latentlab.inference.fbm`; the torch SDE variational inference built on it lives in
:mod:`latentlab.inference.fractional_sde` (fractional OU) and :mod:`latentlab.inference.latent_video`
(a latent-SDE video model on sliding scikit-learn digits), both imported on demand.

Trial-and-error makespan (Watson & Correll, arXiv 2301.10846): :mod:`latentlab.inference.makespan`.
The torch failure classifier of that paper lives in :mod:`latentlab.inference.failure_classifier`
(imported on demand, so that importing this package does not import torch).
"""

from __future__ import annotations

from latentlab.inference import fbm, mjp, smc, ssm
from latentlab.inference.fbm import (
    MarkovApproximation,
    covariance_max_error,
    optimal_weights,
    sample_fbm,
    select_gamma_max,
    type2_covariance,
)
from latentlab.inference.makespan import (
    DURATION_FAMILIES,
    AttemptLog,
    ConfusionMatrix,
    LogEstimates,
    MakespanSample,
    MarkovJumpProcess,
    PreemptionDecision,
    TaskParameters,
    binormal_confusion,
    closed_form_preemptive,
    closed_form_run_to_completion,
    decide_preemption,
    estimate_from_log,
    expected_makespan,
    makespan_jump_process,
    mjp_expected_makespan,
    simulate_makespan,
    simulate_makespan_from_log,
)
from latentlab.inference.mjp import (
    MJPPaths,
    complete_data_mle,
    discrete_observation_mle,
    gillespie,
    stationary_distribution,
    transition_matrix,
    validate_rate_matrix,
)
from latentlab.inference.smc import PaRISScore, PPGScore, bootstrap_filter, paris, ppg, resample, sgd
from latentlab.inference.ssm import (
    LinearGaussianSSM,
    StateSpaceModel,
    ffbs_sample,
    hmm_forward_backward,
    kalman_filter,
    rts_smoother,
)

__all__ = [
    "DURATION_FAMILIES",
    "AttemptLog",
    "ConfusionMatrix",
    "LogEstimates",
    "MakespanSample",
    "MarkovJumpProcess",
    "PreemptionDecision",
    "TaskParameters",
    "binormal_confusion",
    "closed_form_preemptive",
    "closed_form_run_to_completion",
    "decide_preemption",
    "estimate_from_log",
    "expected_makespan",
    "makespan_jump_process",
    "mjp_expected_makespan",
    "simulate_makespan",
    "simulate_makespan_from_log",
    # state-space models and SMC
    "ssm",
    "smc",
    "LinearGaussianSSM",
    "StateSpaceModel",
    "kalman_filter",
    "rts_smoother",
    "ffbs_sample",
    "hmm_forward_backward",
    "resample",
    "bootstrap_filter",
    "paris",
    "ppg",
    "PaRISScore",
    "PPGScore",
    "sgd",
    # Markov jump processes
    "mjp",
    "MJPPaths",
    "validate_rate_matrix",
    "transition_matrix",
    "stationary_distribution",
    "gillespie",
    "complete_data_mle",
    "discrete_observation_mle",
    # fractional Brownian motion
    "fbm",
    "MarkovApproximation",
    "type2_covariance",
    "sample_fbm",
    "optimal_weights",
    "covariance_max_error",
    "select_gamma_max",
]
