"""Inference: SMC and smoothing, SDEs, jump processes, point processes, VI.

Trial-and-error makespan (Watson & Correll, arXiv 2301.10846): :mod:`latentlab.inference.makespan`.
The torch failure classifier of that paper lives in :mod:`latentlab.inference.failure_classifier`
(imported on demand, so that importing this package does not import torch).
"""

from __future__ import annotations

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
]
