"""Known answers for the trial-and-error makespan (Watson & Correll 2023) and its failure classifier."""

from __future__ import annotations

import numpy as np
import pytest

from latentlab.inference import (
    AttemptLog,
    ConfusionMatrix,
    TaskParameters,
    binormal_confusion,
    closed_form_preemptive,
    decide_preemption,
    estimate_from_log,
    expected_makespan,
    makespan_jump_process,
    mjp_expected_makespan,
    simulate_makespan,
    simulate_makespan_from_log,
)

SPEC_TASK = TaskParameters(p_success=0.6, t_success=60.0, t_failure=90.0, t_classify=20.0)
SPEC_CONFUSION = ConfusionMatrix(tpr=0.8, fpr=0.1)


# --------------------------------------------------------------------------- closed form


def test_spec_numbers():
    assert float(expected_makespan(SPEC_TASK)) == pytest.approx(120.0, abs=1e-12)
    assert float(expected_makespan(SPEC_TASK, SPEC_CONFUSION)) == pytest.approx(47.2 / 0.54, abs=1e-12)
    assert round(float(expected_makespan(SPEC_TASK, SPEC_CONFUSION)), 2) == 87.41


def test_certain_success_takes_one_attempt():
    task = TaskParameters(1.0, 42.0, 90.0, 20.0)
    assert float(expected_makespan(task)) == pytest.approx(42.0)
    assert float(expected_makespan(task, ConfusionMatrix(0.7, 0.0))) == pytest.approx(42.0)
    assert float(mjp_expected_makespan(task)) == pytest.approx(42.0)


def test_predictor_that_never_flags_changes_nothing():
    p = np.linspace(0.05, 1.0, 9)
    task = TaskParameters(p, 60.0, 90.0, 20.0)
    np.testing.assert_allclose(expected_makespan(task, ConfusionMatrix(0.0, 0.0)), expected_makespan(task), rtol=1e-14)


def test_perfect_predictor_by_hand():
    # Every failure is aborted after t_c, every success runs: E[M1] = T_s + t_c (1 - P_s) / P_s.
    p, t_s, t_c = 0.25, 60.0, 12.0
    task = TaskParameters(p, t_s, 90.0, t_c)
    assert float(expected_makespan(task, ConfusionMatrix(1.0, 0.0))) == pytest.approx(t_s + t_c * (1 - p) / p)
    with_start = TaskParameters(p, t_s, 90.0, t_c, t_start=2.0)
    assert float(expected_makespan(with_start, ConfusionMatrix(1.0, 0.0))) == pytest.approx(
        t_s + t_c * (1 - p) / p + 2.0 / p
    )


def test_predictor_flagging_every_success_never_finishes():
    assert np.isinf(expected_makespan(SPEC_TASK, ConfusionMatrix(0.5, 1.0)))
    assert np.isinf(mjp_expected_makespan(SPEC_TASK, ConfusionMatrix(0.5, 1.0)))


@pytest.mark.parametrize("t_start", [0.0, 3.0])
def test_closed_form_equals_jump_process_absorption_time(t_start):
    rng = np.random.default_rng(1)
    n = 500
    task = TaskParameters(
        p_success=rng.uniform(0.02, 1.0, n), t_success=rng.uniform(1, 200, n), t_failure=rng.uniform(1, 200, n),
        t_classify=rng.uniform(0.5, 100, n), t_start=np.full(n, t_start),
    )
    confusion = ConfusionMatrix(rng.uniform(0, 1, n), rng.uniform(0, 0.98, n))
    np.testing.assert_allclose(mjp_expected_makespan(task, confusion), expected_makespan(task, confusion),
                               rtol=1e-9, atol=0)
    np.testing.assert_allclose(mjp_expected_makespan(task), expected_makespan(task), rtol=1e-9, atol=0)


def test_jump_process_generator_is_a_generator():
    process = makespan_jump_process(SPEC_TASK, SPEC_CONFUSION)
    q = process.generator
    np.testing.assert_allclose(q.sum(axis=-1), 0.0, atol=1e-15)
    off_diagonal = q[~np.eye(q.shape[-1], dtype=bool)]
    assert np.all(off_diagonal >= 0)
    assert np.all(q[-1] == 0)  # "done" absorbs
    assert process.states == ("success run", "failure run", "abort")
    assert process.initial.sum() == pytest.approx(1.0)


def test_closed_form_broadcasts_over_a_grid():
    p = np.array([0.3, 0.6, 0.9])[:, None]
    confusion = binormal_confusion(np.array([0.6, 0.8, 0.95]))
    values = expected_makespan(TaskParameters(p, 60.0, 90.0, 20.0), confusion)
    assert values.shape == (3, 3)
    assert np.all(np.diff(values, axis=1) < 0)  # a better predictor shortens the makespan here


def test_binormal_confusion():
    useless = binormal_confusion(0.5)
    assert float(useless.tpr) == pytest.approx(0.5) and float(useless.fpr) == pytest.approx(0.5)
    confusion = binormal_confusion(0.9, criterion=0.3)
    # AUC of the binormal model: P(score_fail > score_success) = Phi(d / sqrt 2)
    from scipy.stats import norm

    d = norm.ppf(float(confusion.tpr)) + 0.3
    assert norm.cdf(2 * d / np.sqrt(2)) == pytest.approx(0.9)


# --------------------------------------------------------------------------- simulation


@pytest.mark.parametrize(("family", "shape"), [("exponential", 1.0), ("gamma", 4.0)])
@pytest.mark.parametrize("confusion", [None, SPEC_CONFUSION])
def test_simulated_mean_matches_closed_form(family, shape, confusion):
    task = TaskParameters(0.6, 60.0, 90.0, 20.0, t_start=1.5, duration=family, shape=shape)
    sample = simulate_makespan(task, confusion, n_completions=100_000, rng=np.random.default_rng(7))
    closed = float(expected_makespan(task, confusion))
    assert abs(sample.mean - closed) < 4 * sample.standard_error
    ends_task = 0.6 * (1 - (0.0 if confusion is None else 0.1))
    assert sample.attempts.mean() == pytest.approx(1 / ends_task, rel=0.02)
    assert sample.attempts.min() >= 1


def test_simulation_is_reproducible():
    a = simulate_makespan(SPEC_TASK, SPEC_CONFUSION, n_completions=1000, rng=np.random.default_rng(3))
    b = simulate_makespan(SPEC_TASK, SPEC_CONFUSION, n_completions=1000, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.makespan, b.makespan)


def _duration_dependent_log(rng: np.random.Generator, n: int, informative: bool) -> AttemptLog:
    """Attempts whose flag time is random along the attempt; flags after the end do not count."""
    succeeded = rng.random(n) < 0.6
    duration = rng.gamma(4.0, np.where(succeeded, 51.0, 75.0) / 4.0)
    if informative:
        flag_time = np.where(succeeded, np.where(rng.random(n) < 0.05, 10.0, np.inf), rng.uniform(8, 20, n))
    else:
        flag_time = rng.exponential(150.0, n)
    return AttemptLog(succeeded, duration, flag_time, reset_time=5.0)


def test_log_simulation_matches_plug_in_closed_form():
    # Drawing attempts from a log, the closed form with the log's rates and *unflagged* means is exact.
    log = _duration_dependent_log(np.random.default_rng(0), 400, informative=False)
    estimates = estimate_from_log(log)
    assert estimates.t_failure_unflagged < estimates.t_failure  # flags hit long attempts more often
    for preempt, closed in ((False, estimates.run_to_completion()), (True, estimates.preemptive())):
        sample = simulate_makespan_from_log(log, preempt=preempt, n_completions=100_000,
                                            rng=np.random.default_rng(11))
        assert abs(sample.mean - closed) < 4 * sample.standard_error


def test_rule_declines_useless_and_adopts_perfect_predictor():
    rng = np.random.default_rng(5)
    useless = decide_preemption(_duration_dependent_log(rng, 300, informative=False), rng=rng)
    assert not useless.preempt and useless.probability < 0.95
    perfect = decide_preemption(_duration_dependent_log(rng, 300, informative=True), rng=rng)
    assert perfect.preempt and perfect.probability > 0.99
    assert perfect.preemptive < perfect.run_to_completion


def test_rule_without_any_flag_declines():
    log = AttemptLog(np.array([True, False, True]), np.array([50.0, 70.0, 40.0]), np.full(3, np.inf))
    decision = decide_preemption(log, rng=np.random.default_rng(0))
    assert not decision.preempt and decision.probability == 0.0


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: TaskParameters(1.3, 60, 90, 20), r"p_success must be in \(0, 1\], got 1.3"),
        (lambda: TaskParameters(0.0, 60, 90, 20), "p_success"),
        (lambda: TaskParameters(0.5, -1, 90, 20), "t_success must be in"),
        (lambda: TaskParameters(0.5, 60, np.nan, 20), "t_failure"),
        (lambda: TaskParameters(0.5, 60, 90, 0.0), "t_classify"),
        (lambda: TaskParameters(0.5, 60, 90, 20, t_start=-2), "t_start"),
        (lambda: TaskParameters(0.5, 60, 90, 20, duration="weibull"), "duration must be one of"),
        (lambda: TaskParameters(0.5, 60, 90, 20, duration="exponential", shape=3.0), "shape must be 1"),
        (lambda: TaskParameters(0.5, 60, 90, 20, duration="gamma", shape=0.0), "shape must be in"),
        (lambda: ConfusionMatrix(1.5, 0.1), r"tpr must be in \[0, 1\], got 1.5"),
        (lambda: ConfusionMatrix(0.5, -0.1), "fpr must be in"),
        (lambda: binormal_confusion(1.0), "auc must be in"),
        (lambda: AttemptLog(np.array([True]), np.array([0.0]), np.array([1.0])), "duration must be in"),
        (lambda: decide_preemption(AttemptLog(np.array([True]), np.array([1.0]), np.array([0.5])),
                                   rng=np.random.default_rng(0), level=1.0), "level must be in"),
        (lambda: expected_makespan(TaskParameters(0.5, 60, 90), SPEC_CONFUSION), "t_classify must be set"),
    ],
)
def test_bad_input_names_the_parameter(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_closed_form_preemptive_accepts_arrays_without_records():
    value = closed_form_preemptive(0.6, 60.0, 90.0, 20.0, 0.8, 0.1)
    assert float(value) == pytest.approx(87.4074074074)


# --------------------------------------------------------------------------- failure classifier


@pytest.fixture(scope="module")
def small_classifier():
    import torch

    from latentlab.inference.failure_classifier import (
        ForceTorqueModel,
        TrainingConfig,
        simulate_attempts,
        train_failure_classifier,
    )

    task = TaskParameters(0.6, 30.0, 40.0, duration="gamma", shape=4.0)
    rng = np.random.default_rng(0)
    attempts = simulate_attempts(task, 60, ForceTorqueModel(), rng)
    config = TrainingConfig(epochs=1, windows_per_attempt=8, hidden=4)
    classifier = train_failure_classifier(attempts, config, rng=rng, generator=torch.Generator().manual_seed(0))
    return task, attempts, classifier


def test_simulated_attempts_are_zero_after_their_end(small_classifier):
    _, attempts, _ = small_classifier
    assert attempts.signals.shape[:2] == (60, 6)
    after_end = np.arange(attempts.signals.shape[-1])[None, :] >= attempts.length[:, None]
    assert np.all(attempts.signals.transpose(1, 0, 2)[:, after_end] == 0)
    assert np.all(attempts.length == np.ceil(attempts.duration * attempts.sample_rate))


def test_streaming_scores_equal_scoring_each_window(small_classifier):
    import torch

    _, attempts, classifier = small_classifier
    model, window = classifier.model, classifier.window
    signal = torch.from_numpy(attempts.signals[:2, :, :200])
    streamed = model.stream_logits(signal)
    windows = signal.unfold(-1, window, 1)  # (2, 6, positions, window)
    one_by_one = model(windows.permute(0, 2, 1, 3).reshape(-1, 6, window)).reshape(2, -1)
    torch.testing.assert_close(streamed, one_by_one, rtol=1e-5, atol=1e-5)


def test_flag_time_is_the_first_exceedance():
    from latentlab.inference.failure_classifier import AttemptScores

    scores = AttemptScores(
        decision_times=np.array([5.0, 6.0, 7.0]),
        scores=np.array([[0.1, 0.9, 0.95], [0.2, 0.3, np.nan], [0.96, 0.1, 0.1]]),
        duration=np.array([8.0, 6.5, 9.0]),
        succeeded=np.array([False, True, True]),
    )
    np.testing.assert_array_equal(scores.flag_time(0.5), [6.0, np.inf, 5.0])
    np.testing.assert_array_equal(scores.max_score, [0.95, 0.3, 0.96])
    log = scores.log(0.5, reset_time=2.0)
    np.testing.assert_array_equal(log.preemptive_time, [8.0, 6.5, 7.0])


def test_training_is_reproducible(small_classifier):
    import torch

    from latentlab.inference.failure_classifier import TrainingConfig, train_failure_classifier

    _, attempts, classifier = small_classifier
    config = TrainingConfig(epochs=1, windows_per_attempt=8, hidden=4)
    again = train_failure_classifier(attempts, config, rng=np.random.default_rng(0),
                                     generator=torch.Generator().manual_seed(0))
    fresh = train_failure_classifier(attempts, config, rng=np.random.default_rng(0),
                                     generator=torch.Generator().manual_seed(0))
    assert again.losses == fresh.losses
    assert np.all(np.isfinite(classifier.losses))
