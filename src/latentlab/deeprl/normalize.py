r"""Running observation and reward normalisation (CleanRL's MuJoCo PPO, gymnasium's wrappers).

Statistics follow gymnasium 1.x ``RunningMeanStd`` (the parallel algorithm of Chan et al.):
start from :math:`\mu_0=0`, :math:`\sigma^2_0=1`, :math:`n_0=10^{-4}` and merge a batch of
:math:`m` samples with mean :math:`\bar x` and (biased) variance :math:`s^2` by

.. math::

    \delta = \bar x-\mu,\quad n' = n+m,\quad \mu' = \mu+\delta\,m/n',\quad
    \sigma'^2 = \big(n\sigma^2 + m s^2 + \delta^2\,n m/n'\big)/n'.

Because the merge is exact, the result after any stream of batches is the mean/variance of
all samples together with :math:`n_0` pseudo-samples of mean 0 and variance 1, whatever the
batching.

* :class:`ObservationNormalizer` (``NormalizeObservation`` + clip): update with the emitted
  observations, then :math:`\tilde o = \mathrm{clip}\big((o-\mu)/\sqrt{\sigma^2+\varepsilon},\pm c\big)`.
* :class:`RewardNormalizer` (``NormalizeReward(gamma)`` + clip): per sub-env discounted return
  :math:`G_t = \gamma(1-d_t)G_{t-1} + r_t` (:math:`d_t` = terminated at step t, so the reward of
  a terminal step seeds the next episode's :math:`G` and a truncation does not reset it:
  gymnasium's convention, kept for parity), statistics updated with :math:`G_t`, then
  :math:`\tilde r_t = \mathrm{clip}\big(r_t/\sqrt{\mathrm{Var}[G]+\varepsilon},\pm c\big)` (no mean
  is subtracted).

Shared statistics over the sub-envs of a vector env (SB3's ``VecNormalize``); with one sub-env
they coincide with CleanRL's per-env wrappers.  ``state_dict``/``load_state_dict`` give plain
numpy arrays for checkpoints.
"""

from __future__ import annotations

import numpy as np

from latentlab.deeprl._config import check_range

__all__ = ["RunningMeanStd", "ObservationNormalizer", "RewardNormalizer"]


class RunningMeanStd:
    """Running mean / variance / count of samples of a fixed ``shape`` (float64)."""

    def __init__(self, shape: tuple[int, ...] = (), initial_count: float = 1e-4) -> None:
        check_range("initial_count", initial_count, 0.0, low_open=True)
        self.shape = tuple(shape)
        self.mean = np.zeros(self.shape)
        self.var = np.ones(self.shape)
        self.count = float(initial_count)

    def update(self, batch: np.ndarray) -> None:
        """Merge a batch (leading axis = samples); an empty batch changes nothing."""
        x = np.asarray(batch, dtype=np.float64).reshape(-1, *self.shape)
        if x.shape[0] == 0:
            return
        self.update_from_moments(x.mean(axis=0), x.var(axis=0), x.shape[0])

    def update_from_moments(self, batch_mean: np.ndarray, batch_var: np.ndarray, batch_count: int) -> None:
        delta = batch_mean - self.mean
        total = self.count + batch_count
        self.mean = self.mean + delta * batch_count / total
        m2 = self.var * self.count + batch_var * batch_count + delta**2 * self.count * batch_count / total
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"mean": np.array(self.mean), "var": np.array(self.var), "count": np.array(self.count)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        mean, var = np.asarray(state["mean"], dtype=np.float64), np.asarray(state["var"], dtype=np.float64)
        if mean.shape != self.shape or var.shape != self.shape:
            raise ValueError(f"state shapes {mean.shape}/{var.shape} do not match shape {self.shape}")
        self.mean, self.var, self.count = mean.copy(), var.copy(), float(state["count"])


def _scale(x: np.ndarray, rms: RunningMeanStd, epsilon: float, clip: float, center: bool) -> np.ndarray:
    r""":math:`\mathrm{clip}((x-\mu)/\sqrt{\sigma^2+\varepsilon},\pm c)` (no :math:`\mu` if not ``center``)."""
    z = ((x - rms.mean) if center else x) / np.sqrt(rms.var + epsilon)
    return np.clip(z, -clip, clip)


class ObservationNormalizer:
    """Running standardisation of observations of shape ``shape``, clipped to ``±clip``."""

    def __init__(self, shape: tuple[int, ...], clip: float = 10.0, epsilon: float = 1e-8) -> None:
        check_range("clip", clip, 0.0, low_open=True)
        check_range("epsilon", epsilon, 0.0, low_open=True)
        self.rms = RunningMeanStd(shape)
        self.clip, self.epsilon = float(clip), float(epsilon)

    def __call__(self, obs: np.ndarray, update: bool = True) -> np.ndarray:
        """Normalise a batch of observations, first merging them into the statistics if ``update``."""
        obs = np.asarray(obs, dtype=np.float64)
        if update:
            self.rms.update(obs)
        return _scale(obs, self.rms, self.epsilon, self.clip, center=True)

    def state_dict(self) -> dict[str, np.ndarray]:
        return self.rms.state_dict()

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.rms.load_state_dict(state)


class RewardNormalizer:
    """Rewards scaled by the running std of the per-sub-env discounted return, clipped to ``±clip``."""

    def __init__(self, n_envs: int, gamma: float, clip: float = 10.0, epsilon: float = 1e-8) -> None:
        check_range("n_envs", n_envs, 1)
        check_range("gamma", gamma, 0.0, 1.0)
        check_range("clip", clip, 0.0, low_open=True)
        check_range("epsilon", epsilon, 0.0, low_open=True)
        self.rms = RunningMeanStd(())
        self.gamma, self.clip, self.epsilon = float(gamma), float(clip), float(epsilon)
        self.returns = np.zeros(int(n_envs))

    def reset_returns(self) -> None:
        """Zero the discounted-return trackers (a fresh vector env)."""
        self.returns[:] = 0.0

    def __call__(self, rewards: np.ndarray, terminated: np.ndarray, valid: np.ndarray | None = None,
                 update: bool = True) -> np.ndarray:
        r"""Normalised rewards of one vector step.

        Sub-envs with ``valid`` False (NEXT_STEP reset steps: no transition) leave their
        :math:`G` untouched, do not enter the statistics and get reward 0."""
        rewards = np.asarray(rewards, dtype=np.float64)
        if rewards.shape != self.returns.shape:
            raise ValueError(f"rewards must have shape {self.returns.shape}, got {rewards.shape}")
        valid = np.ones(rewards.shape, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
        keep = self.gamma * (1.0 - np.asarray(terminated, dtype=np.float64))
        self.returns = np.where(valid, self.returns * keep + rewards, self.returns)
        if update:
            self.rms.update(self.returns[valid])
        return np.where(valid, _scale(rewards, self.rms, self.epsilon, self.clip, center=False), 0.0)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {**self.rms.state_dict(), "returns": self.returns.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.rms.load_state_dict(state)
        if "returns" in state and np.shape(state["returns"]) == self.returns.shape:
            self.returns = np.asarray(state["returns"], dtype=np.float64).copy()
