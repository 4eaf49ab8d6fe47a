r"""Expected makespan of trial-and-error tasks, with and without failure preemption.

Watson & Correll, *Optimal decision making in robotic assembly and other trial-and-error
tasks* (arXiv 2301.10846).  A robot repeats an attempt (peg-in-hole, docking, parking)
until an unambiguous terminal signal says it succeeded.  A failure predictor watches the
ongoing attempt and may *flag* it; the preemptive policy then aborts and restarts.  Aborting
saves time on true failures and wastes the attempts it kills that would have succeeded.
The makespan :math:`M` is the total time until the first success.

Notation (the paper's quantities; the spec's symbols):

=================  ===================================================================
:math:`P_s`        probability that an attempt succeeds
:math:`T_s`        mean duration of a successful attempt (start to success signal)
:math:`T_f`        mean duration of a failed attempt run to its end, reset included
:math:`t_c`        mean time from the start of an attempt until the predictor flags it,
                   plus the reset (the paper's "mean time to negative classification")
:math:`t_0`        mean set-up time at the start of every attempt (default 0, see below)
TPR                :math:`P(\text{flag}\mid\text{fail})`
FPR                :math:`P(\text{flag}\mid\text{success})`
=================  ===================================================================

Run to completion (:math:`M_0`) and preemption (:math:`M_1`); each is the expected time per
attempt divided by the probability that an attempt ends the task (renewal-reward; with
exponential holding times it is the mean absorption time of the Markov jump process below):

.. math::

    E[M_0] = \frac{t_0 + P_s T_s + (1-P_s) T_f}{P_s}

    E[M_1] = \frac{t_0 + P_s(1-\mathrm{FPR})\,T_s + (1-P_s)(1-\mathrm{TPR})\,T_f
                   + \big(P_s\,\mathrm{FPR} + (1-P_s)\,\mathrm{TPR}\big)\,t_c}
                  {P_s(1-\mathrm{FPR})}

In the paper's confusion-matrix form (its *positive* class is "predicted success", so its
true positives are our unflagged successes): with the joint probabilities
:math:`P_{TP}=P_s(1-\mathrm{FPR})`, :math:`P_{FN}=P_s\mathrm{FPR}`,
:math:`P_{TN}=(1-P_s)\mathrm{TPR}`, :math:`P_{FP}=(1-P_s)(1-\mathrm{TPR})`,
:math:`E[M_1] = (t_0 + \mathrm{MTS}\,P_{TP} + \mathrm{MTF}\,P_{FP} + \mathrm{MTN}(P_{FN}+P_{TN}))/P_{TP}`.

Notes on the reconstruction
---------------------------
* We could not read the paper's derivation itself.  The expressions above follow the spec's
  renewal-reward reconstruction, which we checked against the closed form in the authors'
  group's published follow-up code: there the same expression carries an extra constant
  ``1`` in the numerator, i.e. one time unit per attempt spent in an initial state of the
  jump process.  We expose that term as ``t_start`` (:math:`t_0`, default 0, which gives the
  spec's formulas exactly).
* "Poisson-distributed running times" is read as exponential holding times (the Markov jump
  process).  By Wald's identity the two expressions hold for any duration law with these
  means, so :func:`simulate_makespan` also draws Gamma durations.
* Under preemption :math:`T_s, T_f` are the mean durations of the attempts that are *not*
  flagged.  In the paper's model the flag is independent of the duration and these equal the
  run-to-completion means; when a predictor's flags depend on how long an attempt lasts (a
  sliding-window classifier flags long attempts more often), :func:`estimate_from_log` keeps
  the two apart so that the closed form stays exact.

Everything here is vectorised: the closed forms and the jump-process solve broadcast over
arrays of parameters, the simulators over task completions (the only Python loop is over
attempt rounds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

__all__ = [
    "DURATION_FAMILIES",
    "TaskParameters",
    "ConfusionMatrix",
    "binormal_confusion",
    "closed_form_run_to_completion",
    "closed_form_preemptive",
    "expected_makespan",
    "MarkovJumpProcess",
    "makespan_jump_process",
    "mjp_expected_makespan",
    "MakespanSample",
    "simulate_makespan",
    "AttemptLog",
    "simulate_makespan_from_log",
    "LogEstimates",
    "estimate_from_log",
    "PreemptionDecision",
    "decide_preemption",
]

DurationFamily = Literal["exponential", "gamma"]
DURATION_FAMILIES: tuple[str, ...] = ("exponential", "gamma")

FloatArray = NDArray[np.float64]


# --------------------------------------------------------------------------- records


def _in_range(name: str, value: ArrayLike, low: float, high: float, closed_low: bool, closed_high: bool) -> None:
    array = np.asarray(value, dtype=float)
    ok_low = array >= low if closed_low else array > low
    ok_high = array <= high if closed_high else array < high
    if not (np.all(np.isfinite(array) | (array == high)) and np.all(ok_low & ok_high)):
        interval = f"{'[' if closed_low else '('}{low:g}, {high:g}{']' if closed_high else ')'}"
        shown = array.item() if array.ndim == 0 else array.tolist()
        raise ValueError(f"{name} must be in {interval}, got {shown}")


@dataclass(frozen=True, eq=False)
class TaskParameters:
    r"""A trial-and-error task: :math:`P_s, T_s, T_f, t_c, t_0` and the law of the durations.

    Fields may be floats or broadcastable arrays (the closed forms and the jump process are
    vectorised over them); the simulators need scalars.  ``duration`` is the family of every
    holding time: ``"exponential"`` (the paper's Markov jump process) or ``"gamma"`` with
    ``shape`` :math:`k` (mean kept, coefficient of variation :math:`1/\sqrt k`).
    ``t_classify`` may be ``None`` when only the run-to-completion policy is evaluated.
    """

    p_success: ArrayLike
    t_success: ArrayLike
    t_failure: ArrayLike
    t_classify: ArrayLike | None = None
    t_start: ArrayLike = 0.0
    duration: DurationFamily = "exponential"
    shape: float = 1.0

    def __post_init__(self) -> None:
        _in_range("p_success", self.p_success, 0.0, 1.0, closed_low=False, closed_high=True)
        _in_range("t_success", self.t_success, 0.0, np.inf, closed_low=False, closed_high=False)
        _in_range("t_failure", self.t_failure, 0.0, np.inf, closed_low=False, closed_high=False)
        if self.t_classify is not None:
            _in_range("t_classify", self.t_classify, 0.0, np.inf, closed_low=False, closed_high=False)
        _in_range("t_start", self.t_start, 0.0, np.inf, closed_low=True, closed_high=False)
        if self.duration not in DURATION_FAMILIES:
            raise ValueError(f"duration must be one of {DURATION_FAMILIES}, got {self.duration!r}")
        _in_range("shape", self.shape, 0.0, np.inf, closed_low=False, closed_high=False)
        if self.duration == "exponential" and self.shape != 1.0:
            raise ValueError(f"shape must be 1 for exponential durations, got {self.shape}")

    def require_t_classify(self) -> ArrayLike:
        if self.t_classify is None:
            raise ValueError("t_classify must be set (> 0) to evaluate the preemptive policy")
        return self.t_classify

    @property
    def is_scalar(self) -> bool:
        fields = (self.p_success, self.t_success, self.t_failure, self.t_start)
        extra = () if self.t_classify is None else (self.t_classify,)
        return all(np.ndim(v) == 0 for v in fields + extra)

    def sample_durations(self, mean: ArrayLike, rng: np.random.Generator) -> FloatArray:
        """One holding time per entry of ``mean``, from this task's duration family."""
        mean = np.asarray(mean, dtype=float)
        if self.duration == "exponential":
            return rng.exponential(mean)
        return rng.gamma(self.shape, mean / self.shape)


@dataclass(frozen=True, eq=False)
class ConfusionMatrix:
    r"""The failure predictor's rates.

    TPR :math:`=P(\text{flag}\mid\text{fail})`, FPR :math:`=P(\text{flag}\mid\text{success})`.
    """

    tpr: ArrayLike
    fpr: ArrayLike

    def __post_init__(self) -> None:
        _in_range("tpr", self.tpr, 0.0, 1.0, closed_low=True, closed_high=True)
        _in_range("fpr", self.fpr, 0.0, 1.0, closed_low=True, closed_high=True)

    @classmethod
    def never_flags(cls) -> ConfusionMatrix:
        """The predictor of the run-to-completion policy (TPR = FPR = 0)."""
        return cls(0.0, 0.0)


def binormal_confusion(auc: ArrayLike, criterion: ArrayLike = 0.0) -> ConfusionMatrix:
    r"""Rates of an equal-variance binormal predictor with area under the ROC curve ``auc``.

    Scores are :math:`\mathcal N(-d/2, 1)` for successes and :math:`\mathcal N(d/2, 1)` for
    failures with :math:`d = \sqrt2\,\Phi^{-1}(\mathrm{AUC})`; an attempt is flagged when its
    score exceeds ``criterion``: :math:`\mathrm{TPR}=\Phi(d/2-c)`, :math:`\mathrm{FPR}=\Phi(-d/2-c)`.
    """
    _in_range("auc", auc, 0.0, 1.0, closed_low=False, closed_high=False)
    separation = np.sqrt(2.0) * special.ndtri(np.asarray(auc, dtype=float))
    criterion = np.asarray(criterion, dtype=float)
    return ConfusionMatrix(special.ndtr(separation / 2 - criterion), special.ndtr(-separation / 2 - criterion))


# --------------------------------------------------------------------------- closed forms


def closed_form_run_to_completion(
    p_success: ArrayLike, t_success: ArrayLike, t_failure: ArrayLike, t_start: ArrayLike = 0.0
) -> FloatArray:
    r""":math:`E[M_0] = (t_0 + P_s T_s + (1-P_s) T_f)/P_s`, broadcast over array arguments."""
    p = np.asarray(p_success, dtype=float)
    return (np.asarray(t_start, dtype=float) + p * np.asarray(t_success) + (1 - p) * np.asarray(t_failure)) / p


def closed_form_preemptive(
    p_success: ArrayLike,
    t_success: ArrayLike,
    t_failure: ArrayLike,
    t_classify: ArrayLike,
    tpr: ArrayLike,
    fpr: ArrayLike,
    t_start: ArrayLike = 0.0,
) -> FloatArray:
    r""":math:`E[M_1]`, broadcast over array arguments; :math:`+\infty` where :math:`P_s(1-\mathrm{FPR}) = 0`.

    .. math::

        E[M_1] = \frac{t_0 + P_s(1-\mathrm{FPR})T_s + (1-P_s)(1-\mathrm{TPR})T_f
                       + (P_s\mathrm{FPR} + (1-P_s)\mathrm{TPR})\,t_c}{P_s(1-\mathrm{FPR})}
    """
    p = np.asarray(p_success, dtype=float)
    tpr = np.asarray(tpr, dtype=float)
    fpr = np.asarray(fpr, dtype=float)
    ends_task = p * (1 - fpr)
    time_per_attempt = (
        np.asarray(t_start, dtype=float)
        + ends_task * np.asarray(t_success)
        + (1 - p) * (1 - tpr) * np.asarray(t_failure)
        + (p * fpr + (1 - p) * tpr) * np.asarray(t_classify)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ends_task > 0, time_per_attempt / np.where(ends_task > 0, ends_task, 1.0), np.inf)


def expected_makespan(task: TaskParameters, confusion: ConfusionMatrix | None = None) -> FloatArray:
    """Closed-form expected makespan: run to completion if ``confusion`` is None, else preemptive."""
    if confusion is None:
        return closed_form_run_to_completion(task.p_success, task.t_success, task.t_failure, task.t_start)
    return closed_form_preemptive(
        task.p_success, task.t_success, task.t_failure, task.require_t_classify(),
        confusion.tpr, confusion.fpr, task.t_start,
    )


# --------------------------------------------------------------------------- Markov jump process


@dataclass(frozen=True, eq=False)
class MarkovJumpProcess:
    r"""A Markov jump process with transient states and one absorbing state ``"done"`` (last).

    ``generator`` is :math:`Q` with shape ``(..., n+1, n+1)`` (rows sum to zero, the last row
    is the absorbing state's zero row); ``initial`` is the initial distribution over the
    ``n`` transient ``states``.
    """

    generator: FloatArray
    initial: FloatArray
    states: tuple[str, ...]

    def mean_absorption_time(self) -> FloatArray:
        r""":math:`\pi^\top(-Q_{TT})^{-1}\mathbf 1`; :math:`+\infty` where absorption is unreachable."""
        n = len(self.states)
        q_tt = self.generator[..., :n, :n]
        exit_rate = self.generator[..., :n, n]
        reachable = _can_absorb(q_tt, exit_rate)
        safe = np.where(reachable[..., None, None], -q_tt, np.eye(n))
        times = np.linalg.solve(safe, np.ones(safe.shape[:-1])[..., None])[..., 0]
        return np.where(reachable, np.sum(self.initial * times, axis=-1), np.inf)


def _can_absorb(q_tt: FloatArray, exit_rate: FloatArray) -> NDArray[np.bool_]:
    """Whether the chain leaves to "done" from every transient state (boolean closure, n steps)."""
    n = q_tt.shape[-1]
    adjacency = (q_tt > 0) & ~np.eye(n, dtype=bool)
    absorbs = exit_rate > 0
    for _ in range(n):
        absorbs = absorbs | np.any(adjacency & absorbs[..., None, :], axis=-1)
    return np.all(absorbs, axis=-1)


def makespan_jump_process(task: TaskParameters, confusion: ConfusionMatrix | None = None) -> MarkovJumpProcess:
    r"""The attempt loop as a Markov jump process with exponential holding times.

    Transient states: ``success run`` (rate :math:`1/T_s`, then done), ``failure run``
    (rate :math:`1/T_f`, then restart) and ``abort`` (flagged; rate :math:`1/t_c`, then restart).
    An attempt enters them with the branch probabilities
    :math:`\pi = (P_s(1-\mathrm{FPR}),\ (1-P_s)(1-\mathrm{TPR}),\ P_s\mathrm{FPR} + (1-P_s)\mathrm{TPR})`.
    With :math:`t_0 = 0` a restart jumps straight into the branches (rate :math:`\pi_j/T`);
    with :math:`t_0 > 0` a ``start`` state (rate :math:`1/t_0`) precedes every attempt.
    ``confusion=None`` is run to completion (the abort state is then never entered).
    """
    confusion = ConfusionMatrix.never_flags() if confusion is None else confusion
    t_classify = task.t_failure if task.t_classify is None else task.t_classify
    p, tpr, fpr = (np.asarray(v, dtype=float) for v in (task.p_success, confusion.tpr, confusion.fpr))
    p, tpr, fpr, t_s, t_f, t_c, t_0 = np.broadcast_arrays(
        p, tpr, fpr, *(np.asarray(v, dtype=float) for v in (task.t_success, task.t_failure, t_classify, task.t_start))
    )
    branch = np.stack([p * (1 - fpr), (1 - p) * (1 - tpr), p * fpr + (1 - p) * tpr], axis=-1)
    run_rate = np.stack([1 / t_s, 1 / t_f, 1 / t_c], axis=-1)
    restarts = np.array([0.0, 1.0, 1.0])
    batch = p.shape
    if np.all(t_0 == 0):
        states = ("success run", "failure run", "abort")
        q = np.zeros(batch + (4, 4))
        q[..., :3, :3] = (run_rate * restarts)[..., :, None] * branch[..., None, :]
        q[..., :3, 3] = run_rate * (1 - restarts)
        initial = branch
    elif np.all(t_0 > 0):
        states = ("start", "success run", "failure run", "abort")
        q = np.zeros(batch + (5, 5))
        q[..., 0, 1:4] = branch / t_0[..., None]
        q[..., 1:4, 0] = run_rate * restarts
        q[..., 1:4, 4] = run_rate * (1 - restarts)
        initial = np.zeros(batch + (4,))
        initial[..., 0] = 1.0
    else:
        raise ValueError("t_start must be all zero or all positive to build one jump process for the batch")
    n = len(states)
    idx = np.arange(n)
    q[..., idx, idx] = 0.0  # a restart into the same state is no jump (memorylessness)
    q[..., idx, idx] = -q[..., :n, :].sum(axis=-1)
    return MarkovJumpProcess(q, initial, states)


def mjp_expected_makespan(task: TaskParameters, confusion: ConfusionMatrix | None = None) -> FloatArray:
    """Expected makespan as the mean absorption time of :func:`makespan_jump_process`."""
    return makespan_jump_process(task, confusion).mean_absorption_time()


# --------------------------------------------------------------------------- simulation


@dataclass(frozen=True, eq=False)
class MakespanSample:
    """Simulated makespans of independent task completions and their attempt counts."""

    makespan: FloatArray
    attempts: NDArray[np.int64]

    @property
    def mean(self) -> float:
        return float(self.makespan.mean())

    @property
    def standard_error(self) -> float:
        return float(self.makespan.std(ddof=1) / np.sqrt(self.makespan.size))


def _run_attempt_rounds(n_completions: int, draw_round, max_rounds: int) -> MakespanSample:
    """Repeat attempts for every unfinished completion; ``draw_round(m) -> (time, ends_task)``."""
    if n_completions < 1:
        raise ValueError(f"n_completions must be >= 1, got {n_completions}")
    makespan = np.zeros(n_completions)
    attempts = np.zeros(n_completions, dtype=np.int64)
    active = np.arange(n_completions)
    for _ in range(max_rounds):
        if active.size == 0:
            return MakespanSample(makespan, attempts)
        time, ends_task = draw_round(active.size)
        makespan[active] += time
        attempts[active] += 1
        active = active[~ends_task]
    raise RuntimeError(f"{active.size} completions still unfinished after max_rounds={max_rounds} attempts")


def simulate_makespan(
    task: TaskParameters,
    confusion: ConfusionMatrix | None = None,
    *,
    n_completions: int,
    rng: np.random.Generator,
    max_rounds: int = 100_000,
) -> MakespanSample:
    r"""Event-level simulation of ``n_completions`` independent tasks.

    Each attempt draws its outcome (success w.p. :math:`P_s`), the predictor's decision
    (flag w.p. TPR after a failure-to-be, FPR after a success-to-be; never when
    ``confusion`` is None) and its duration from the task's family with mean
    :math:`t_c` if flagged, else :math:`T_s` or :math:`T_f` (plus a set-up time of mean
    :math:`t_0` when positive).  The task completes at its first unflagged success.
    """
    if not task.is_scalar:
        raise ValueError("simulate_makespan needs scalar task parameters; loop over the grid instead")
    p = float(task.p_success)
    tpr = 0.0 if confusion is None else float(confusion.tpr)
    fpr = 0.0 if confusion is None else float(confusion.fpr)
    if confusion is not None:
        t_c = float(task.require_t_classify())
        if np.ndim(confusion.tpr) or np.ndim(confusion.fpr):
            raise ValueError("simulate_makespan needs a scalar confusion matrix")
    t_s, t_f, t_0 = float(task.t_success), float(task.t_failure), float(task.t_start)

    def draw_round(m: int) -> tuple[FloatArray, NDArray[np.bool_]]:
        succeeds = rng.random(m) < p
        if confusion is None:
            flagged = np.zeros(m, dtype=bool)
            mean = np.where(succeeds, t_s, t_f)
        else:
            flagged = rng.random(m) < np.where(succeeds, fpr, tpr)
            mean = np.where(flagged, t_c, np.where(succeeds, t_s, t_f))
        time = task.sample_durations(mean, rng)
        if t_0 > 0:
            time = time + task.sample_durations(np.full(m, t_0), rng)
        return time, succeeds & ~flagged

    return _run_attempt_rounds(n_completions, draw_round, max_rounds)


@dataclass(frozen=True, eq=False)
class AttemptLog:
    """Observed attempts: outcome, natural duration and when the predictor flagged each.

    ``duration`` is the time to the attempt's own end (success signal, or failure plus its
    reset); ``flag_time`` is when the predictor first flagged it (``inf`` if it never did);
    a flag counts only if it comes before the end.  Aborting costs ``flag_time + reset_time``.
    """

    succeeded: NDArray[np.bool_]
    duration: FloatArray
    flag_time: FloatArray
    reset_time: float = 0.0

    def __post_init__(self) -> None:
        succeeded = np.asarray(self.succeeded, dtype=bool)
        duration = np.asarray(self.duration, dtype=float)
        flag_time = np.asarray(self.flag_time, dtype=float)
        if not (succeeded.ndim == duration.ndim == flag_time.ndim == 1) or not (
            succeeded.size == duration.size == flag_time.size
        ):
            raise ValueError(
                "succeeded, duration and flag_time must be 1-D of equal length, got shapes "
                f"{succeeded.shape}, {duration.shape}, {flag_time.shape}"
            )
        if succeeded.size == 0:
            raise ValueError("an AttemptLog needs at least one attempt, got none")
        _in_range("duration", duration, 0.0, np.inf, closed_low=False, closed_high=False)
        if np.any(np.isnan(flag_time)) or np.any(flag_time < 0):
            raise ValueError("flag_time must be >= 0 (inf for never flagged), got NaN or negative values")
        _in_range("reset_time", self.reset_time, 0.0, np.inf, closed_low=True, closed_high=False)
        object.__setattr__(self, "succeeded", succeeded)
        object.__setattr__(self, "duration", duration)
        object.__setattr__(self, "flag_time", flag_time)

    @property
    def flagged(self) -> NDArray[np.bool_]:
        return self.flag_time < self.duration

    @property
    def preemptive_time(self) -> FloatArray:
        """Time each attempt takes under preemption: abort cost if flagged, else its duration."""
        return np.where(self.flagged, self.flag_time + self.reset_time, self.duration)

    def __len__(self) -> int:
        return int(self.succeeded.size)


def simulate_makespan_from_log(
    log: AttemptLog,
    *,
    preempt: bool,
    n_completions: int,
    rng: np.random.Generator,
    max_rounds: int = 100_000,
) -> MakespanSample:
    """Simulate completions by drawing attempts i.i.d. (with replacement) from ``log``.

    Under ``preempt`` a flagged attempt costs its abort time and never ends the task.
    """
    time = log.preemptive_time if preempt else log.duration
    ends_task = log.succeeded & ~log.flagged if preempt else log.succeeded
    if not ends_task.any():
        raise ValueError("no attempt in the log ends the task under this policy")
    n = len(log)

    def draw_round(m: int) -> tuple[FloatArray, NDArray[np.bool_]]:
        index = rng.integers(0, n, size=m)
        return time[index], ends_task[index]

    return _run_attempt_rounds(n_completions, draw_round, max_rounds)


# --------------------------------------------------------------------------- estimation and decision


@dataclass(frozen=True)
class LogEstimates:
    """Counts and mean times of an :class:`AttemptLog`, as the closed forms need them.

    ``t_success``/``t_failure`` average all attempts (run to completion); the ``_unflagged``
    means average the attempts that preemption lets run (see the module notes); ``t_classify``
    is the mean abort cost ``flag_time + reset_time`` over flagged attempts (NaN if none).
    A mean over an empty group falls back to the all-attempt mean (its weight is then zero
    in the plug-in estimate, and the fallback keeps posterior draws finite).
    """

    n_success: int
    n_failure: int
    n_flagged_success: int
    n_flagged_failure: int
    t_success: float
    t_failure: float
    t_success_unflagged: float
    t_failure_unflagged: float
    t_classify: float

    @property
    def p_success(self) -> float:
        return self.n_success / (self.n_success + self.n_failure)

    @property
    def confusion(self) -> ConfusionMatrix:
        tpr = self.n_flagged_failure / self.n_failure if self.n_failure else 0.0
        fpr = self.n_flagged_success / self.n_success
        return ConfusionMatrix(tpr, fpr)

    def run_to_completion(self) -> float:
        """Plug-in :math:`E[M_0]` (exact for drawing attempts from the log)."""
        return float(closed_form_run_to_completion(self.p_success, self.t_success, self.t_failure))

    def preemptive(self) -> float:
        """Plug-in :math:`E[M_1]` (exact for drawing attempts from the log)."""
        if self.n_flagged_success + self.n_flagged_failure == 0:
            return self.run_to_completion()
        c = self.confusion
        return float(closed_form_preemptive(self.p_success, self.t_success_unflagged, self.t_failure_unflagged,
                                            self.t_classify, c.tpr, c.fpr))


def _mean_or(values: FloatArray, fallback: float) -> float:
    return float(values.mean()) if values.size else fallback


def estimate_from_log(log: AttemptLog) -> LogEstimates:
    """Counts and mean durations of the observed attempts (see :class:`LogEstimates`)."""
    success, flagged, duration = log.succeeded, log.flagged, log.duration
    if not success.any():
        raise ValueError("the log holds no successful attempt; P_s cannot be estimated away from 0")
    t_success = float(duration[success].mean())
    t_failure = _mean_or(duration[~success], t_success)
    return LogEstimates(
        n_success=int(success.sum()),
        n_failure=int((~success).sum()),
        n_flagged_success=int((success & flagged).sum()),
        n_flagged_failure=int((~success & flagged).sum()),
        t_success=t_success,
        t_failure=t_failure,
        t_success_unflagged=_mean_or(duration[success & ~flagged], t_success),
        t_failure_unflagged=_mean_or(duration[~success & ~flagged], t_failure),
        t_classify=_mean_or(log.flag_time[flagged] + log.reset_time, float("nan")),
    )


@dataclass(frozen=True)
class PreemptionDecision:
    """Outcome of :func:`decide_preemption`: adopt preemption or not, and why."""

    preempt: bool
    probability: float
    """Posterior probability that :math:`E[M_1] < E[M_0]`."""
    level: float
    run_to_completion: float
    """Plug-in :math:`E[M_0]` from the log."""
    preemptive: float
    """Plug-in :math:`E[M_1]` from the log."""

    def as_dict(self) -> dict[str, float | bool]:
        return {"preempt": bool(self.preempt), "probability": float(self.probability), "level": float(self.level),
                "run_to_completion": float(self.run_to_completion), "preemptive": float(self.preemptive)}


def decide_preemption(
    log: AttemptLog,
    *,
    rng: np.random.Generator,
    level: float = 0.95,
    n_draws: int = 4000,
    prior: tuple[float, float] = (1.0, 1.0),
) -> PreemptionDecision:
    r"""Adopt preemption only when it is predicted to save time.

    Posteriors from the observed counts with a Beta(``prior``) prior:
    :math:`P_s \sim \mathrm{Beta}(a + n_s, b + n_f)`,
    :math:`\mathrm{TPR} \sim \mathrm{Beta}(a + n_{f,\text{flag}}, b + n_f - n_{f,\text{flag}})`,
    :math:`\mathrm{FPR} \sim \mathrm{Beta}(a + n_{s,\text{flag}}, b + n_s - n_{s,\text{flag}})`;
    mean durations enter as their sample means.  Preempt iff the Monte Carlo estimate of
    :math:`P(E[M_1] < E[M_0] \mid \text{log})` over ``n_draws`` posterior draws exceeds
    ``level``.  A log without any flag gives probability 0 (nothing to preempt).
    """
    _in_range("level", level, 0.0, 1.0, closed_low=False, closed_high=False)
    if n_draws < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    a, b = prior
    if a <= 0 or b <= 0:
        raise ValueError(f"prior must hold two positive Beta parameters, got {prior}")
    est = estimate_from_log(log)
    m0, m1 = est.run_to_completion(), est.preemptive()
    if est.n_flagged_success + est.n_flagged_failure == 0:
        return PreemptionDecision(False, 0.0, level, m0, m1)
    p_s = rng.beta(a + est.n_success, b + est.n_failure, n_draws)
    tpr = rng.beta(a + est.n_flagged_failure, b + est.n_failure - est.n_flagged_failure, n_draws)
    fpr = rng.beta(a + est.n_flagged_success, b + est.n_success - est.n_flagged_success, n_draws)
    m0_draws = closed_form_run_to_completion(p_s, est.t_success, est.t_failure)
    m1_draws = closed_form_preemptive(p_s, est.t_success_unflagged, est.t_failure_unflagged, est.t_classify, tpr, fpr)
    probability = float(np.mean(m1_draws < m0_draws))
    return PreemptionDecision(probability > level, probability, level, m0, m1)
