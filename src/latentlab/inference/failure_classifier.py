r"""A failure predictor for trial-and-error tasks: synthetic force-torque attempts and a dilated 1-D CNN.

Watson & Correll (arXiv 2301.10846) predict the failure of an ongoing peg-in-hole attempt
with a dilated convolutional network over a sliding window of 6-axis force-torque data.
We have no robot, so :func:`simulate_attempts` generates attempts from two regimes:

* every attempt: a spiral search in the lateral forces :math:`F_x, F_y` (random amplitude,
  frequency and phase), a pressing force :math:`F_z`, the torques the lateral forces make
  about the wrist, per-attempt sensor biases, AR(1) sensor noise, and short *snags* (bursts
  of stick-slip oscillation, a Poisson number per attempt) that look like a jam but pass;
* a failing attempt (*jam*): from a random onset, a jam of random severity builds up
  linearly over a random ramp time: the contact force grows, a stick-slip oscillation
  appears in :math:`F_x, F_y, T_z` and the search motion stalls.  Failures thus become more
  separable the longer the attempt runs.  ``separation = 0`` makes both regimes identical
  (a useless predictor is then the best one can train).

:class:`DilatedFailureCNN` scores a window of the last ``window`` samples; it is causal and
unpadded, so :meth:`DilatedFailureCNN.stream_logits` scores every window of a whole attempt
in one pass (the same numbers as scoring each window alone).  :func:`score_attempts` gives
scores at decision instants every ``stride`` seconds; :class:`AttemptScores` turns a
threshold into the first flag time of each attempt (an :class:`~latentlab.inference.makespan.AttemptLog`),
and :func:`select_threshold` picks the threshold with the smallest plug-in expected makespan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.signal import lfilter
from sklearn.metrics import roc_auc_score
from torch import nn

from latentlab.inference.makespan import AttemptLog, TaskParameters, estimate_from_log

__all__ = [
    "CHANNELS",
    "ForceTorqueModel",
    "SimulatedAttempts",
    "simulate_attempts",
    "DilatedFailureCNN",
    "TrainingConfig",
    "TrainedClassifier",
    "train_failure_classifier",
    "AttemptScores",
    "score_attempts",
    "threshold_candidates",
    "select_threshold",
]

CHANNELS: tuple[str, ...] = ("Fx", "Fy", "Fz", "Tx", "Ty", "Tz")


# --------------------------------------------------------------------------- synthetic attempts


@dataclass(frozen=True)
class ForceTorqueModel:
    """Parameters of the synthetic 6-axis force-torque signal (forces in N, torques in N m)."""

    sample_rate: float = 10.0
    """Samples per second."""
    separation: float = 1.0
    """Scale of the jam signature; 0 makes failing attempts look exactly like successful ones."""
    jam_severity: tuple[float, float] = (0.15, 1.0)
    """Range of a jam's final severity (uniform), before ``separation``."""
    jam_onset: tuple[float, float] = (0.0, 15.0)
    """Range of the time (s) at which a jam starts to build up."""
    jam_ramp: tuple[float, float] = (10.0, 40.0)
    """Range of the time (s) a jam takes to reach its full severity."""
    snag_rate: float = 1.0 / 20.0
    """Snags (passing stick-slip bursts) per second, in every attempt."""
    snag_length: tuple[float, float] = (1.0, 4.0)
    """Range of a snag's length (s)."""
    noise: float = 0.8
    """Standard deviation of the force noise (torque noise is a tenth of it)."""
    noise_correlation: float = 0.7
    """AR(1) coefficient of the sensor noise per sample."""
    lever: float = 0.1
    """Lever arm (m) from the contact to the sensor."""

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0, got {self.sample_rate}")
        if self.separation < 0:
            raise ValueError(f"separation must be >= 0, got {self.separation}")
        if not 0 <= self.noise_correlation < 1:
            raise ValueError(f"noise_correlation must be in [0, 1), got {self.noise_correlation}")
        for name in ("jam_severity", "jam_onset", "jam_ramp", "snag_length"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"{name} must be a range (low, high) with 0 <= low <= high, got {(low, high)}")
        if self.jam_ramp[0] <= 0:
            raise ValueError(f"jam_ramp must be positive, got {self.jam_ramp}")


@dataclass(frozen=True, eq=False)
class SimulatedAttempts:
    """A batch of attempts: signals padded with zeros after each attempt's end."""

    signals: NDArray[np.float32]
    """``(n, 6, max_length)`` force-torque samples, channels in :data:`CHANNELS` order."""
    length: NDArray[np.int64]
    """Samples in each attempt."""
    duration: NDArray[np.float64]
    """Seconds each attempt lasts (to its success signal, or to failure plus reset)."""
    succeeded: NDArray[np.bool_]
    sample_rate: float

    def __len__(self) -> int:
        return int(self.length.size)

    @classmethod
    def concatenate(cls, parts: Sequence[SimulatedAttempts]) -> SimulatedAttempts:
        """One batch from several (signals zero-padded to the longest attempt)."""
        if len({p.sample_rate for p in parts}) != 1:
            raise ValueError("attempts to concatenate must share one sample_rate")
        longest = max(p.signals.shape[-1] for p in parts)
        signals = np.concatenate([np.pad(p.signals, ((0, 0), (0, 0), (0, longest - p.signals.shape[-1])))
                                  for p in parts])
        return cls(signals, np.concatenate([p.length for p in parts]), np.concatenate([p.duration for p in parts]),
                   np.concatenate([p.succeeded for p in parts]), parts[0].sample_rate)


def simulate_attempts(
    task: TaskParameters, n: int, model: ForceTorqueModel, rng: np.random.Generator
) -> SimulatedAttempts:
    """``n`` independent attempts of ``task`` (outcome w.p. ``p_success``, durations from its law)."""
    if not task.is_scalar:
        raise ValueError("simulate_attempts needs scalar task parameters")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    fs = model.sample_rate
    succeeded = rng.random(n) < float(task.p_success)
    duration = task.sample_durations(np.where(succeeded, float(task.t_success), float(task.t_failure)), rng)
    length = np.maximum(np.ceil(duration * fs).astype(np.int64), 1)
    t = np.arange(int(length.max())) / fs

    def uniform(bounds: tuple[float, float]) -> NDArray[np.float64]:
        return rng.uniform(bounds[0], bounds[1], size=(n, 1))

    # the jam: severity(t) grows linearly from its onset over its ramp, failures only
    severity = np.where(succeeded[:, None], 0.0, model.separation * uniform(model.jam_severity))
    jam = severity * np.clip((t - uniform(model.jam_onset)) / uniform(model.jam_ramp), 0.0, 1.0)
    slip = _stick_slip(n, t, rng) * (jam + _snags(n, length, t, model, rng))

    search_amplitude = uniform((2.0, 4.0)) * (1.0 - 0.6 * np.clip(jam, 0.0, 1.0))
    search_phase = 2 * np.pi * uniform((0.15, 0.35)) * t + uniform((0.0, 2 * np.pi))
    press = uniform((8.0, 12.0))
    fx = search_amplitude * np.sin(search_phase) + 2.5 * slip[0]
    fy = search_amplitude * np.cos(search_phase) + 2.5 * slip[1]
    fz = -(press + 5.0 * jam)
    signals = np.stack([fx, fy, fz, model.lever * fy, -model.lever * fx, 0.3 * slip[2]], axis=1)

    scale = np.array([1.0, 1.0, 1.0, 0.1, 0.1, 0.1])[None, :, None]
    signals += scale * rng.normal(0.0, 0.5, size=(n, 6, 1))  # sensor biases
    innovations = rng.normal(0.0, model.noise * np.sqrt(1 - model.noise_correlation**2), size=signals.shape)
    signals += scale * lfilter([1.0], [1.0, -model.noise_correlation], innovations, axis=-1)
    signals *= (np.arange(t.size)[None, :] < length[:, None])[:, None, :]
    return SimulatedAttempts(signals.astype(np.float32), length, duration, succeeded, fs)


def _stick_slip(n: int, t: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.float64]:
    """Unit stick-slip oscillations (1.5-2.5 Hz) in x, y and twist: shape ``(3, n, len(t))``."""
    frequency = rng.uniform(1.5, 2.5, size=(n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(3, n, 1))
    return np.sin(2 * np.pi * frequency * t + phase)


def _snags(
    n: int, length: NDArray[np.int64], t: NDArray[np.float64], model: ForceTorqueModel, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Envelope of passing snags: a Poisson number per attempt, each a short plateau of random height."""
    counts = rng.poisson(model.snag_rate * length / model.sample_rate)
    owner = np.repeat(np.arange(n), counts)
    start = rng.uniform(0.0, 1.0, owner.size) * length[owner] / model.sample_rate
    stop = start + rng.uniform(*model.snag_length, size=owner.size)
    height = rng.uniform(0.2, 0.8, size=owner.size)
    envelope = np.zeros((n, t.size))
    np.add.at(envelope, owner, height[:, None] * ((t >= start[:, None]) & (t < stop[:, None])))
    return envelope


# --------------------------------------------------------------------------- the classifier


class DilatedFailureCNN(nn.Module):
    r"""Causal dilated 1-D CNN: window of force-torque samples -> logit of failure.

    ``len(dilations)`` unpadded convolutions (kernel ``kernel_size``, dilation :math:`d_\ell`,
    ReLU) see a receptive field of :math:`1 + (k-1)\sum_\ell d_\ell` samples; their features
    are averaged over the window and a linear head gives the logit.  Inputs are standardised
    per channel with the training statistics stored in the module.
    """

    def __init__(self, window: int, hidden: int = 16, dilations: Sequence[int] = (1, 2, 4, 8), kernel_size: int = 3):
        super().__init__()
        self.window = int(window)
        self.receptive_field = 1 + (kernel_size - 1) * int(sum(dilations))
        if self.receptive_field > self.window:
            raise ValueError(f"window ({window}) must cover the receptive field ({self.receptive_field} samples)")
        layers: list[nn.Module] = []
        channels = len(CHANNELS)
        for dilation in dilations:
            layers += [nn.Conv1d(channels, hidden, kernel_size, dilation=dilation), nn.ReLU()]
            channels = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(hidden, 1)
        self.register_buffer("mean", torch.zeros(1, len(CHANNELS), 1))
        self.register_buffer("scale", torch.ones(1, len(CHANNELS), 1))

    def reset_parameters(self, generator: torch.Generator) -> None:
        """Uniform fan-in initialisation from ``generator`` (bit-reproducible)."""
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.Linear)):
                fan_in = module.weight[0].numel()
                bound = 1.0 / np.sqrt(fan_in)
                with torch.no_grad():
                    module.weight.uniform_(-bound, bound, generator=generator)
                    module.bias.uniform_(-bound, bound, generator=generator)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - self.mean) / self.scale)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """Logits of failure for ``(batch, 6, window)`` inputs."""
        return self.head(self.features(windows).mean(dim=-1)).squeeze(-1)

    def stream_logits(self, signals: torch.Tensor) -> torch.Tensor:
        """Logit of every window of ``(batch, 6, T)`` signals: ``(batch, T - window + 1)``.

        Entry ``e`` scores samples ``e .. e + window - 1``.  The head is linear, so it is
        applied per position and the positions are averaged with a cumulative sum.
        """
        per_position = (self.features(signals).transpose(1, 2) @ self.head.weight.T).squeeze(-1)
        positions = self.window - self.receptive_field + 1
        cumulative = torch.nn.functional.pad(per_position.cumsum(dim=-1), (1, 0))
        window_sum = cumulative[:, positions:] - cumulative[:, :-positions]
        return window_sum / positions + self.head.bias


@dataclass(frozen=True)
class TrainingConfig:
    """How the failure classifier is trained on simulated attempts."""

    window_s: float = 5.0
    """Window length in seconds."""
    windows_per_attempt: int = 24
    """Training windows drawn per attempt (ends uniform over the attempt)."""
    epochs: int = 4
    batch_size: int = 128
    learning_rate: float = 3e-3
    hidden: int = 16
    dilations: tuple[int, ...] = (1, 2, 4, 8)

    def __post_init__(self) -> None:
        for name in ("windows_per_attempt", "epochs", "batch_size", "hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.window_s <= 0 or self.learning_rate <= 0:
            raise ValueError(f"window_s and learning_rate must be > 0, got {self.window_s}, {self.learning_rate}")


@dataclass(eq=False)
class TrainedClassifier:
    """A trained :class:`DilatedFailureCNN` and its per-epoch mean training loss."""

    model: DilatedFailureCNN
    losses: list[float] = field(default_factory=list)

    @property
    def window(self) -> int:
        return self.model.window


def train_failure_classifier(
    attempts: SimulatedAttempts,
    config: TrainingConfig,
    *,
    rng: np.random.Generator,
    generator: torch.Generator,
    device: str = "cpu",
) -> TrainedClassifier:
    """Fit the CNN to windows of ``attempts``, each labelled with its attempt's outcome (1 = fails).

    Window ends are drawn with ``rng``; initialisation and minibatch order use ``generator``.
    Loss: binary cross-entropy with logits; optimiser: Adam.
    """
    window = int(round(config.window_s * attempts.sample_rate))
    usable = np.flatnonzero(attempts.length >= window)
    if usable.size == 0:
        raise ValueError(f"no attempt is at least one window ({window} samples) long")
    owner = np.repeat(usable, config.windows_per_attempt)
    end = rng.integers(window, attempts.length[owner] + 1)
    index = end[:, None] - window + np.arange(window)
    windows = torch.from_numpy(np.ascontiguousarray(attempts.signals[owner[:, None], :, index].transpose(0, 2, 1)))
    labels = torch.from_numpy((~attempts.succeeded[owner]).astype(np.float32))

    model = DilatedFailureCNN(window, config.hidden, config.dilations)
    model.reset_parameters(generator)
    valid = attempts.signals[usable].transpose(1, 0, 2)[:, np.arange(attempts.signals.shape[-1])[None, :]
                                                         < attempts.length[usable, None]]
    model.mean.copy_(torch.from_numpy(valid.mean(axis=1)).view(1, -1, 1))
    model.scale.copy_(torch.from_numpy(valid.std(axis=1) + 1e-6).view(1, -1, 1))
    model.to(device)
    windows, labels = windows.to(device), labels.to(device)

    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    loss_fn = nn.BCEWithLogitsLoss()
    losses: list[float] = []
    for _ in range(config.epochs):
        order = torch.randperm(len(labels), generator=generator).to(device)
        total = 0.0
        for batch in order.split(config.batch_size):
            loss = loss_fn(model(windows[batch]), labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        losses.append(total / len(labels))
    model.eval()
    return TrainedClassifier(model, losses)


# --------------------------------------------------------------------------- scoring and thresholds


@dataclass(frozen=True, eq=False)
class AttemptScores:
    """Failure probabilities of attempts at decision instants (NaN after an attempt's end)."""

    decision_times: NDArray[np.float64]
    """``(K,)`` seconds from the attempt's start at which the predictor decides."""
    scores: NDArray[np.float64]
    """``(n, K)`` predicted failure probability of each attempt at each decision instant."""
    duration: NDArray[np.float64]
    succeeded: NDArray[np.bool_]

    @property
    def max_score(self) -> NDArray[np.float64]:
        """Largest score over each attempt (flagged at threshold h >= 0 iff this exceeds h).

        An attempt shorter than one window is never scored and gets 0.
        """
        return np.where(np.isnan(self.scores), 0.0, self.scores).max(axis=1, initial=0.0)

    def auc(self) -> float:
        """Area under the ROC curve of :attr:`max_score` for predicting failure (1 = fails)."""
        return float(roc_auc_score(~self.succeeded, self.max_score))

    def flag_time(self, threshold: float) -> NDArray[np.float64]:
        """First decision instant whose score exceeds ``threshold`` (``inf`` if none)."""
        exceeds = np.nan_to_num(self.scores, nan=-np.inf) > threshold
        first = exceeds.argmax(axis=1)
        return np.where(exceeds.any(axis=1), self.decision_times[first], np.inf)

    def log(self, threshold: float, reset_time: float) -> AttemptLog:
        """The attempts as an :class:`AttemptLog` for a predictor flagging above ``threshold``."""
        return AttemptLog(self.succeeded, self.duration, self.flag_time(threshold), reset_time)

    @classmethod
    def concatenate(cls, parts: Sequence[AttemptScores]) -> AttemptScores:
        longest = max(parts, key=lambda p: p.decision_times.size).decision_times
        scores = np.full((sum(p.scores.shape[0] for p in parts), longest.size), np.nan)
        row = 0
        for part in parts:
            scores[row:row + part.scores.shape[0], : part.scores.shape[1]] = part.scores
            row += part.scores.shape[0]
        return cls(longest, scores, np.concatenate([p.duration for p in parts]),
                   np.concatenate([p.succeeded for p in parts]))


@torch.no_grad()
def score_attempts(
    classifier: TrainedClassifier,
    attempts: SimulatedAttempts,
    *,
    stride_s: float = 1.0,
    batch_size: int = 64,
    device: str = "cpu",
) -> AttemptScores:
    """Score every attempt at decision instants ``window, window + stride, ...`` (seconds)."""
    model = classifier.model.to(device)
    window = classifier.window
    stride = max(int(round(stride_s * attempts.sample_rate)), 1)
    total = attempts.signals.shape[-1]
    ends = np.arange(window, total + 1, stride)  # a decision at sample `end` sees samples end-window .. end-1
    scores = np.full((len(attempts), ends.size), np.nan)
    if ends.size:
        for start in range(0, len(attempts), batch_size):
            chunk = torch.from_numpy(attempts.signals[start:start + batch_size]).to(device)
            logits = model.stream_logits(chunk)[:, ends - window]
            scores[start:start + batch_size] = torch.sigmoid(logits).double().cpu().numpy()
        scores[ends[None, :] > attempts.length[:, None]] = np.nan
    return AttemptScores(ends / attempts.sample_rate, scores, attempts.duration.copy(), attempts.succeeded.copy())


def threshold_candidates(scores: AttemptScores, n: int) -> NDArray[np.float64]:
    """``n`` thresholds at evenly spaced quantiles (5%-95%) of the attempts' maximal scores."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return np.quantile(scores.max_score, np.linspace(0.05, 0.95, n))


def select_threshold(
    scores: AttemptScores,
    candidates: NDArray[np.float64],
    reset_time: float,
    objective: Callable[[AttemptLog], float] | None = None,
) -> tuple[float, NDArray[np.float64]]:
    """The candidate threshold with the smallest plug-in expected makespan under preemption.

    Returns the threshold and the objective at every candidate (default objective: the
    closed-form :math:`E[M_1]` estimated from the attempts, see
    :func:`~latentlab.inference.makespan.estimate_from_log`).
    """
    objective = objective or (lambda log: estimate_from_log(log).preemptive())
    values = np.array([objective(scores.log(float(h), reset_time)) for h in candidates])
    return float(candidates[int(np.argmin(values))]), values
