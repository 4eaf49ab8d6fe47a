r"""Learned dynamics for model-based offline RL: a Gaussian ensemble behind the ``Dynamics`` interface,
termination functions, the uncertainty heuristics of Lu et al. (2022) and their calibration protocol.

Model (MBPO / MOPO / RAVL lineage)
----------------------------------
N members, each an MLP on the normalised input :math:`x=(s,a)` predicting a diagonal Gaussian over
the normalised target :math:`y=(\Delta s, r)`, :math:`p_i(y|x)=\mathcal N(\mu_i(x),\operatorname{diag}
\sigma_i^2(x))`.  All members live in one :class:`~latentlab.deeprl.nets.EnsembleMLP` (one ``baddbmm``
per layer, SiLU).  The raw log-variance output :math:`v` is soft-clamped between *learnable* bounds
(PETS / MBPO):

.. math::

    \log\sigma^2 = \ell_{\max} - \operatorname{softplus}(\ell_{\max}-v),\qquad
    \log\sigma^2 \leftarrow \ell_{\min} + \operatorname{softplus}(\log\sigma^2-\ell_{\min}),

and the training loss per batch is the Gaussian NLL (constant dropped) summed over members and
averaged over batch rows and output dimensions, plus per-layer L2 weight decay and the bound penalty:

.. math::

    L=\sum_i\operatorname{mean}_{b,d}\big[(\mu_{i}-y)^2e^{-\log\sigma_i^2}+\log\sigma_i^2\big]
      +\sum_\ell\lambda_\ell\tfrac12\|W_\ell\|^2 + 0.01\textstyle\sum_d(\ell_{\max,d}-\ell_{\min,d}).

Each member sees its own bootstrap resample of the training split (or its own shuffle of it when
``bootstrap=False``), batched together as an ``(N, B, in)`` tensor.  A held-out split (``holdout``
share, at most ``max_holdout`` rows) gives each member's validation MSE (in normalised target units);
a member's weights are snapshotted whenever its validation MSE improves by more than 1% relative;
training stops when no member improved for ``patience`` epochs (after ``min_epochs``), with one
learning-rate drop ×``lr_drop`` before stopping; the best snapshots are restored and the
``n_elites`` members with the lowest validation MSE are the elites.

A rollout step (:meth:`GaussianEnsembleDynamics.step`) picks an elite uniformly per row and samples
:math:`y=\mu+\sigma\epsilon`; the next observation is :math:`s+\Delta s` and termination comes from
the termination function of the environment (:data:`TERMINATION_FNS`).

Default sizes follow RAVL's ``dynamics_training`` (7 members / 5 elites, 4×200 SiLU, Adam 1e-3,
batch 256, weight decays [2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4] for the five linear layers).  For
other depths the first ``len(hidden)`` hidden-layer decays are taken from that list (repeating
7.5e-5 beyond it) and the output layer gets 1e-4.

Differences from the reference code: targets are normalised too (the reference only normalises
inputs) so that the heuristics and validation MSE weigh state and reward dimensions comparably
*during training*; every prediction returned to the user (:meth:`predict`, :meth:`step`, the
heuristics) is in the original units.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata
from torch import Tensor, nn

from latentlab.deeprl._config import ConfigMixin, check_range
from latentlab.deeprl.nets import EnsembleMLP
from latentlab.offline.envs import Dynamics

__all__ = [
    "EnsembleDynamicsConfig",
    "GaussianEnsembleDynamics",
    "FitResult",
    "Prediction",
    "TERMINATION_FNS",
    "termination_fn",
    "HEURISTICS",
    "CALIBRATION_HEURISTICS",
    "DISAGREEMENT_HEURISTICS",
    "heuristic",
    "max_aleatoric",
    "max_pairwise_diff",
    "max_mean_deviation",
    "ensemble_std",
    "ensemble_variance",
    "ll_variance",
    "loo_kl",
    "penalty",
    "model_error",
    "spearman",
    "CalibrationResult",
    "calibrate",
]

REFERENCE_WEIGHT_DECAYS = (2.5e-5, 5e-5, 7.5e-5, 7.5e-5)
OUTPUT_WEIGHT_DECAY = 1e-4


# =========================================================================== termination functions


def _never(obs: Tensor, actions: Tensor, next_obs: Tensor) -> Tensor:
    return torch.zeros(next_obs.shape[0], dtype=torch.bool, device=next_obs.device)


def _hopper(obs: Tensor, actions: Tensor, next_obs: Tensor) -> Tensor:
    """Done unless every entry is finite, |s[1:]| < 100, height s[0] > 0.7 and |angle s[1]| < 0.2 (MBPO/RAVL)."""
    height, angle = next_obs[:, 0], next_obs[:, 1]
    alive = (torch.isfinite(next_obs).all(-1) & (next_obs[:, 1:].abs() < 100).all(-1)
             & (height > 0.7) & (angle.abs() < 0.2))
    return ~alive


def _walker2d(obs: Tensor, actions: Tensor, next_obs: Tensor) -> Tensor:
    """Done unless 0.8 < height s[0] < 2.0 and -1 < angle s[1] < 1 (MBPO/RAVL)."""
    height, angle = next_obs[:, 0], next_obs[:, 1]
    alive = (height > 0.8) & (height < 2.0) & (angle > -1.0) & (angle < 1.0)
    return ~alive


TERMINATION_FNS: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    "never": _never,
    "pendulum": _never,
    "edge-of-reach": _never,
    "halfcheetah": _never,
    "hopper": _hopper,
    "walker2d": _walker2d,
}
"""``name -> fn(obs, actions, next_obs) -> terminated (B,) bool`` (Pendulum, EdgeOfReach2D and HalfCheetah never
terminate; Hopper and Walker2d use the MBPO/RAVL health checks)."""


def termination_fn(name: str) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    if name not in TERMINATION_FNS:
        raise ValueError(f"termination must be one of {sorted(TERMINATION_FNS)}, got {name!r}")
    return TERMINATION_FNS[name]


# =========================================================================== config


@dataclass(frozen=True)
class EnsembleDynamicsConfig(ConfigMixin):
    n_members: int = 7
    n_elites: int = 5
    hidden: tuple[int, ...] = (200, 200, 200, 200)
    weight_decays: tuple[float, ...] | None = None
    """One L2 coefficient per linear layer (len(hidden) + 1); None: the reference schedule (module doc)."""
    learn_reward: bool = True
    """Predict (Δs, r); False: Δs only (the reward then comes from ``reward_fn`` given to the model)."""
    lr: float = 1e-3
    batch_size: int = 256
    holdout: float = 0.1
    """Share of the data held out for validation / early stopping / elite selection."""
    max_holdout: int = 5000
    bootstrap: bool = True
    """Each member trains on its own bootstrap resample (False: its own shuffle of the same data)."""
    max_epochs: int = 200
    min_epochs: int = 0
    patience: int = 5
    improvement: float = 0.01
    """Relative validation-MSE improvement that counts as progress (1%)."""
    lr_drop: float | None = 0.3
    """Multiply the LR by this once when patience runs out, then stop at the next exhaustion (None: stop at once)."""
    max_updates_per_epoch: int | None = None
    """Cap on gradient steps per epoch (an "epoch" then is this many batches; None: one pass)."""
    logvar_bound_coef: float = 0.01
    max_logvar_init: float = 0.5
    min_logvar_init: float = -10.0
    termination: str = "never"
    """A key of :data:`TERMINATION_FNS`."""

    def __post_init__(self) -> None:
        for name in ("n_members", "n_elites", "batch_size", "max_epochs", "patience", "max_holdout"):
            check_range(name, getattr(self, name), 1)
        check_range("min_epochs", self.min_epochs, 0)
        if self.n_elites > self.n_members:
            raise ValueError(f"n_elites must be in [1, n_members={self.n_members}], got {self.n_elites}")
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden must be a non-empty tuple of sizes >= 1, got {self.hidden}")
        if self.weight_decays is not None:
            if len(self.weight_decays) != len(self.hidden) + 1:
                raise ValueError(f"weight_decays needs len(hidden) + 1 = {len(self.hidden) + 1} values, "
                                 f"got {len(self.weight_decays)}")
            for w in self.weight_decays:
                check_range("weight_decays", w, 0.0)
        check_range("lr", self.lr, 0.0, low_open=True)
        check_range("holdout", self.holdout, 0.0, 0.5, low_open=True)
        check_range("improvement", self.improvement, 0.0)
        if self.lr_drop is not None:
            check_range("lr_drop", self.lr_drop, 0.0, 1.0, low_open=True)
        if self.max_updates_per_epoch is not None:
            check_range("max_updates_per_epoch", self.max_updates_per_epoch, 1)
        check_range("logvar_bound_coef", self.logvar_bound_coef, 0.0)
        if not self.min_logvar_init < self.max_logvar_init:
            raise ValueError(f"min_logvar_init must be < max_logvar_init, got {self.min_logvar_init} >= "
                             f"{self.max_logvar_init}")
        termination_fn(self.termination)

    def layer_weight_decays(self) -> tuple[float, ...]:
        if self.weight_decays is not None:
            return tuple(float(w) for w in self.weight_decays)
        hidden = [REFERENCE_WEIGHT_DECAYS[min(i, len(REFERENCE_WEIGHT_DECAYS) - 1)] for i in range(len(self.hidden))]
        return (*hidden, OUTPUT_WEIGHT_DECAY)


# =========================================================================== model


class Prediction(NamedTuple):
    """Per-member Gaussian predictions in original units, ``(N, B, D)``: the first ``obs_dim`` dims are the
    next observation :math:`s+\\Delta s`, the last (when the reward is learned) the reward."""

    means: Tensor
    stds: Tensor


@dataclass
class FitResult:
    epochs: int = 0
    train_loss: list[float] = field(default_factory=list)
    holdout_mse: list[list[float]] = field(default_factory=list)
    """Per epoch, the validation MSE of every member (normalised targets)."""
    best_holdout_mse: list[float] = field(default_factory=list)
    elites: list[int] = field(default_factory=list)
    n_train: int = 0
    n_holdout: int = 0
    lr_drops: int = 0
    wall_s: float = 0.0
    holdout_indices: np.ndarray | None = None
    """Rows of the data held out for validation (not in :meth:`to_dict`)."""

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "train_loss": self.train_loss, "holdout_mse": self.holdout_mse,
                "best_holdout_mse": self.best_holdout_mse, "elites": self.elites, "n_train": self.n_train,
                "n_holdout": self.n_holdout, "lr_drops": self.lr_drops, "wall_s": self.wall_s}


def _array(data: Any, key: str) -> np.ndarray:
    if isinstance(data, Mapping):
        value = data[key]
    elif hasattr(data, key):
        value = getattr(data, key)
    else:
        value = data[key]
    return np.asarray(value.detach().cpu().numpy() if isinstance(value, Tensor) else value, dtype=np.float32)


class GaussianEnsembleDynamics(nn.Module):
    """N Gaussian MLPs over (Δs, r) with elites; implements ``Dynamics`` (``obs_dim``, ``act_dim``, ``step``).

    ``reward_fn(obs, actions, next_obs) -> (B,)`` is required when ``learn_reward=False``.
    """

    def __init__(self, obs_dim: int, act_dim: int, config: EnsembleDynamicsConfig | None = None, seed: int = 0,
                 reward_fn: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None) -> None:
        super().__init__()
        check_range("obs_dim", obs_dim, 1)
        check_range("act_dim", act_dim, 1)
        self.config = c = config or EnsembleDynamicsConfig()
        if not c.learn_reward and reward_fn is None:
            raise ValueError("reward_fn is required when config.learn_reward is False")
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        self.out_dim = self.obs_dim + (1 if c.learn_reward else 0)
        self.reward_fn = reward_fn
        self.terminal_fn = termination_fn(c.termination)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.net = EnsembleMLP(c.n_members, self.obs_dim + self.act_dim, [int(h) for h in c.hidden],
                                   2 * self.out_dim, activation="silu", weight_decays=c.layer_weight_decays())
        self.max_logvar = nn.Parameter(torch.full((1, 1, self.out_dim), float(c.max_logvar_init)))
        self.min_logvar = nn.Parameter(torch.full((1, 1, self.out_dim), float(c.min_logvar_init)))
        in_dim = self.obs_dim + self.act_dim
        self.register_buffer("in_mean", torch.zeros(in_dim))
        self.register_buffer("in_std", torch.ones(in_dim))
        self.register_buffer("out_mean", torch.zeros(self.out_dim))
        self.register_buffer("out_std", torch.ones(self.out_dim))
        self.register_buffer("elites", torch.arange(c.n_elites))
        self.generator = torch.Generator().manual_seed(int(seed) + 1)

    # ------------------------------------------------------------------ forward

    @property
    def n_members(self) -> int:
        return self.config.n_members

    def _forward(self, x: Tensor, members: Tensor | slice | None = None) -> tuple[Tensor, Tensor]:
        """Normalised inputs ``(B, in)`` or ``(N, B, in)`` -> normalised (mean, logvar), each ``(N, B, out)``
        (``(M, B, out)`` for a subset ``members`` of M member indices)."""
        out = self.net(x, members)
        mean, raw = out[..., :self.out_dim], out[..., self.out_dim:]
        logvar = self.max_logvar - F.softplus(self.max_logvar - raw)
        logvar = self.min_logvar + F.softplus(logvar - self.min_logvar)
        return mean, logvar

    def _inputs(self, obs: Tensor, actions: Tensor) -> Tensor:
        return (torch.cat([obs, actions], -1) - self.in_mean) / self.in_std

    def _check(self, obs: Tensor, actions: Tensor) -> None:
        if obs.dim() != 2 or obs.shape[-1] != self.obs_dim:
            raise ValueError(f"obs must be (B, {self.obs_dim}), got {tuple(obs.shape)}")
        if actions.dim() != 2 or actions.shape != (obs.shape[0], self.act_dim):
            raise ValueError(f"actions must be (B={obs.shape[0]}, {self.act_dim}), got {tuple(actions.shape)}")

    @torch.no_grad()
    def predict(self, obs: Tensor, actions: Tensor, members: str | Sequence[int] = "all") -> Prediction:
        """Every member's Gaussian over (next obs, reward) in original units, ``(N, B, D)``.

        ``members``: ``"all"``, ``"elites"`` or a list of member indices."""
        self._check(obs, actions)
        mean, logvar = self._forward(self._inputs(obs, actions))
        if members == "elites":
            idx = self.elites
        elif members == "all":
            idx = None
        else:
            idx = torch.as_tensor(list(members), dtype=torch.long, device=mean.device)
        if idx is not None:
            mean, logvar = mean[idx], logvar[idx]
        means = mean * self.out_std + self.out_mean
        stds = torch.exp(0.5 * logvar) * self.out_std
        means = torch.cat([means[..., :self.obs_dim] + obs, means[..., self.obs_dim:]], -1)
        return Prediction(means, stds)

    @torch.no_grad()
    def mean_next_obs(self, obs: Tensor, actions: Tensor, members: str | Sequence[int] = "elites") -> Tensor:
        """The ensemble's point prediction of the next observation: the mean over ``members`` (default the
        elites) of the member means."""
        return self.predict(obs, actions, members).means[..., :self.obs_dim].mean(0)

    def _forward_grouped(self, x: Tensor, pick: Tensor) -> tuple[Tensor, Tensor]:
        """Row b through elite ``elites[pick[b]]`` only: about one member's forward over the batch instead of all
        N members'.  On an accelerator the rows are grouped into one zero-padded ``(E, max group, in)`` block and
        the E elites run in one batched forward; on CPU (one thread, compute-bound) a loop over the elites on
        their own rows is faster (measured in ``benchmarks/offline.py``), so that is used there."""
        return self._grouped_by_loop(x, pick) if x.device.type == "cpu" else self._grouped_by_block(x, pick)

    def _grouped_by_loop(self, x: Tensor, pick: Tensor) -> tuple[Tensor, Tensor]:
        mean = torch.empty(x.shape[0], self.out_dim, dtype=x.dtype, device=x.device)
        logvar = torch.empty_like(mean)
        for e, member in enumerate(self.elites.tolist()):
            rows = pick == e
            m, lv = self._forward(x[rows], slice(member, member + 1))  # a view of that member's weights
            mean[rows], logvar[rows] = m[0], lv[0]
        return mean, logvar

    def _grouped_by_block(self, x: Tensor, pick: Tensor) -> tuple[Tensor, Tensor]:
        E, B = len(self.elites), x.shape[0]
        mean = torch.empty(B, self.out_dim, dtype=x.dtype, device=x.device)
        logvar = torch.empty_like(mean)
        counts = torch.bincount(pick, minlength=E)
        order = torch.argsort(pick, stable=True)
        group = pick[order]
        slot = torch.arange(B, device=x.device) - (torch.cumsum(counts, 0) - counts)[group]
        blocks = x.new_zeros(E, int(counts.max()), x.shape[-1])
        blocks[group, slot] = x[order]
        mean_blocks, logvar_blocks = self._forward(blocks, self.elites)
        mean[order], logvar[order] = mean_blocks[group, slot], logvar_blocks[group, slot]
        return mean, logvar

    @torch.no_grad()
    def step(self, obs: Tensor, actions: Tensor, generator: torch.Generator | None = None
             ) -> tuple[Tensor, Tensor, Tensor]:
        """``(B, obs), (B, act) -> next_obs (B, obs), reward (B,), terminated (B,) bool``: one elite drawn uniformly
        per row, then ``mean + std * noise``; each row is evaluated by its own elite only."""
        self._check(obs, actions)
        g = generator if generator is not None else self.generator
        B = obs.shape[0]
        dev = obs.device
        pick = torch.randint(len(self.elites), (B,), generator=g).to(dev)  # position in the elite list
        mean, logvar = self._forward_grouped(self._inputs(obs, actions), pick)
        std = torch.exp(0.5 * logvar)
        y = mean + std * torch.randn(mean.shape, generator=g, dtype=mean.dtype).to(dev)
        y = y * self.out_std + self.out_mean
        next_obs = obs + y[:, :self.obs_dim]
        if self.config.learn_reward:
            reward = y[:, self.obs_dim]
        else:
            reward = self.reward_fn(obs, actions, next_obs)
        return next_obs, reward, self.terminal_fn(obs, actions, next_obs)

    # ------------------------------------------------------------------ training

    def loss(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Training loss on normalised ``(N, B, in)``/``(N, B, out)`` member batches; returns ``(total, nll)``."""
        mean, logvar = self._forward(x)
        nll = ((mean - y).pow(2) * torch.exp(-logvar) + logvar).mean((1, 2)).sum()
        bound = self.config.logvar_bound_coef * (self.max_logvar.sum() - self.min_logvar.sum())
        return nll + bound + self.net.weight_decay_loss(), nll

    def fit(self, data: Any, seed: int = 0, max_epochs: int | None = None,
            check_finite: Callable[[str, Any], None] | None = None) -> FitResult:
        """Train on transitions (a mapping or object with D4RL keys ``observations``, ``actions``,
        ``next_observations``, ``rewards``).  Returns a :class:`FitResult`; the elites are set."""
        c = self.config
        start = time.perf_counter()
        obs, act = _array(data, "observations"), _array(data, "actions")
        nobs = _array(data, "next_observations")
        n = obs.shape[0]
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim or act.shape != (n, self.act_dim) or nobs.shape != obs.shape:
            raise ValueError(f"data must hold observations (n, {self.obs_dim}), actions (n, {self.act_dim}) and "
                             f"next_observations (n, {self.obs_dim}); got {obs.shape}, {act.shape}, {nobs.shape}")
        targets = [nobs - obs]
        if c.learn_reward:
            targets.append(_array(data, "rewards").reshape(n, 1))
        dev = self.in_mean.device
        x_all = torch.as_tensor(np.concatenate([obs, act], 1), device=dev)
        y_all = torch.as_tensor(np.concatenate(targets, 1), device=dev)
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 4242]))
        perm = rng.permutation(n)
        n_hold = min(c.max_holdout, max(1, int(round(c.holdout * n))))
        if n - n_hold < 2:
            raise ValueError(f"need at least {n_hold + 2} transitions to fit, got {n}")
        hold, train = perm[:n_hold], perm[n_hold:]
        hold_t, train_t = torch.as_tensor(hold, device=dev), torch.as_tensor(train, device=dev)
        x_train, y_train = x_all[train_t], y_all[train_t]
        with torch.no_grad():
            self.in_mean.copy_(x_train.mean(0))
            self.in_std.copy_(x_train.std(0).clamp_min(1e-6))
            self.out_mean.copy_(y_train.mean(0))
            self.out_std.copy_(y_train.std(0).clamp_min(1e-6))
        xn_train = (x_train - self.in_mean) / self.in_std
        yn_train = (y_train - self.out_mean) / self.out_std
        xn_hold = (x_all[hold_t] - self.in_mean) / self.in_std
        yn_hold = (y_all[hold_t] - self.out_mean) / self.out_std
        N, nt = c.n_members, len(train)
        if c.bootstrap:
            member_idx = torch.as_tensor(rng.integers(nt, size=(N, nt)), device=dev)
        else:
            member_idx = torch.arange(nt, device=dev).expand(N, nt).clone()
        optimizer = torch.optim.Adam(self.parameters(), lr=c.lr)
        n_batches = math.ceil(nt / c.batch_size)
        if c.max_updates_per_epoch is not None:
            n_batches = min(n_batches, c.max_updates_per_epoch)
        result = FitResult(n_train=nt, n_holdout=n_hold, holdout_indices=np.sort(hold))
        best = self._holdout_mse(xn_hold, yn_hold)
        snapshot = copy.deepcopy(self.state_dict())
        since_update, epochs = 0, max_epochs if max_epochs is not None else c.max_epochs
        g = torch.Generator().manual_seed(int(rng.integers(2**62)))
        for epoch in range(epochs):
            order = torch.argsort(torch.rand(N, nt, generator=g), dim=1).to(dev)
            shuffled = member_idx.gather(1, order)
            losses = []
            for b in range(n_batches):
                idx = shuffled[:, b * c.batch_size:(b + 1) * c.batch_size]
                if idx.shape[1] == 0:  # max_updates_per_epoch larger than one pass: wrap around
                    idx = shuffled[:, (b * c.batch_size) % nt:][:, :c.batch_size]
                total, nll = self.loss(xn_train[idx], yn_train[idx])
                optimizer.zero_grad()
                total.backward()
                optimizer.step()
                losses.append(float(nll.detach()) / N)
            mse = self._holdout_mse(xn_hold, yn_hold)
            result.train_loss.append(float(np.mean(losses)))
            result.holdout_mse.append(mse.tolist())
            if check_finite is not None:
                check_finite(f"dynamics epoch {epoch}", {"train_loss": result.train_loss[-1], "holdout": mse})
            improved = (best - mse) / best.clamp_min(1e-12) > c.improvement
            if bool(improved.any()):
                since_update = 0
                state = self.state_dict()
                for i in torch.nonzero(improved).ravel().tolist():
                    best[i] = mse[i]
                    for name, value in state.items():
                        if name.startswith("net.layers."):
                            snapshot[name][i] = value[i]
                        elif name in ("max_logvar", "min_logvar"):
                            snapshot[name] = value.clone()
            else:
                since_update += 1
            result.epochs = epoch + 1
            if since_update >= c.patience and epoch + 1 >= c.min_epochs:
                if c.lr_drop is not None and result.lr_drops == 0:
                    for group in optimizer.param_groups:
                        group["lr"] *= c.lr_drop
                    result.lr_drops, since_update = 1, 0
                else:
                    break
        for name in ("in_mean", "in_std", "out_mean", "out_std"):
            snapshot[name] = getattr(self, name).clone()
        self.load_state_dict(snapshot)
        final = self._holdout_mse(xn_hold, yn_hold)
        elites = torch.argsort(final)[:c.n_elites]
        with torch.no_grad():
            self.elites.copy_(torch.sort(elites).values)
        result.best_holdout_mse = final.tolist()
        result.elites = self.elites.tolist()
        result.wall_s = time.perf_counter() - start
        return result

    @torch.no_grad()
    def _holdout_mse(self, x: Tensor, y: Tensor) -> Tensor:
        mean, _ = self._forward(x)
        return (mean - y).pow(2).mean((1, 2))

    # ------------------------------------------------------------------ uncertainty

    def uncertainty(self, name: str, obs: Tensor, actions: Tensor, members: str | Sequence[int] = "elites",
                    generator: torch.Generator | None = None) -> Tensor:
        """Heuristic ``name`` (see :data:`HEURISTICS`) at each row, over the chosen members, ``(B,)``."""
        fn = heuristic(name)
        pred = self.predict(obs, actions, members)
        return fn(pred.means, pred.stds, generator=generator if generator is not None else self.generator)

    def penalty(self, name: str, lam: float, members: str | Sequence[int] = "elites"
                ) -> Callable[[Tensor, Tensor], Tensor]:
        """``(obs, actions) -> lam * u(s, a)``: the reward penalty of MOPO-style training (see :func:`penalty`)."""
        return penalty(self, name, lam, members)


# =========================================================================== heuristics
#
# Every heuristic takes the member means and stds (N, B, D) in original units (and a generator for the two
# sampling-based ones) and returns (B,).  Differences are taken relative to member 0 before averaging so that
# identical members give exactly 0 (a mean of N equal floats need not equal them in floating point).


def _centred(means: Tensor) -> Tensor:
    """mu_i - mean_j mu_j, computed so that identical members give exact zeros."""
    d = means - means[:1]
    return d - d.mean(0, keepdim=True)


def max_aleatoric(means: Tensor, stds: Tensor, generator: torch.Generator | None = None) -> Tensor:
    r"""Max Aleatoric (MOPO): :math:`u=\max_i\|\sigma_i(s,a)\|_2`.

    Verified: this is MOPO's penalty and OfflineRL-Kit's ``aleatoric`` mode (over all output dims, reward
    included)."""
    return stds.norm(dim=-1).amax(0)


def max_pairwise_diff(means: Tensor, stds: Tensor, generator: torch.Generator | None = None) -> Tensor:
    r"""Max Pairwise Difference (MOReL-like): :math:`u=\max_{i,j}\|\mu_i-\mu_j\|_2`.

    Recalled (the paper's list is not checked).  **Naming pitfall:** OfflineRL-Kit's ``pairwise-diff`` penalty
    is *not* this; it is :math:`\max_i\|\mu_i-\bar\mu\|` (distance of a member mean from the ensemble mean),
    available here as :func:`max_mean_deviation`."""
    return torch.cdist(means.transpose(0, 1), means.transpose(0, 1)).flatten(1).amax(1)


def max_mean_deviation(means: Tensor, stds: Tensor, generator: torch.Generator | None = None) -> Tensor:
    r""":math:`u=\max_i\|\mu_i-\bar\mu\|_2`, :math:`\bar\mu=\tfrac1N\sum_j\mu_j` — what OfflineRL-Kit calls
    ``pairwise-diff`` (verified in its ``ensemble_dynamics.py``, where it uses the next-obs dims only)."""
    return _centred(means).norm(dim=-1).amax(0)


def ensemble_std(means: Tensor, stds: Tensor, generator: torch.Generator | None = None) -> Tensor:
    r"""Ensemble Standard Deviation: :math:`u=\sqrt{\tfrac1N\sum_i\|\mu_i-\bar\mu\|_2^2}` (recalled).

    Always :math:`\le` :func:`max_pairwise_diff`, because :math:`\bar\mu` is a convex combination of the
    member means so :math:`\|\mu_i-\bar\mu\|\le\max_j\|\mu_i-\mu_j\|`."""
    return _centred(means).pow(2).sum(-1).mean(0).sqrt()


def ensemble_variance(means: Tensor, stds: Tensor, generator: torch.Generator | None = None) -> Tensor:
    r"""Ensemble Variance, the total variance of the equal-weight mixture (recalled):
    :math:`u=\sum_d\big[\tfrac1N\sum_i\sigma_{i,d}^2+\tfrac1N\sum_i(\mu_{i,d}-\bar\mu_d)^2\big]`.

    Contains the aleatoric part, so it is *not* zero for a single member."""
    return (stds.pow(2).mean(0) + _centred(means).pow(2).mean(0)).sum(-1)


def _log_prob(x: Tensor, means: Tensor, stds: Tensor) -> Tensor:
    """log N(x; mu_i, diag sigma_i^2) for every member: x (B, D) -> (N, B)."""
    z = (x - means) / stds
    return (-0.5 * z.pow(2) - stds.log() - 0.5 * math.log(2 * math.pi)).sum(-1)


def ll_variance(means: Tensor, stds: Tensor, generator: torch.Generator | None = None) -> Tensor:
    r"""Log-likelihood variance (recalled): draw :math:`s'` from the mixture (a member uniformly per row, then
    its Gaussian) and take :math:`u=\operatorname{Var}_i\log p_i(s'|s,a)` (population variance over members).

    Zero when all members are identical (computed relative to member 0, so exactly zero) and for N = 1."""
    N, B, _ = means.shape
    dev = means.device
    k = torch.randint(N, (B,), generator=generator).to(dev)
    rows = torch.arange(B, device=dev)
    noise = torch.randn(means.shape[1:], generator=generator, dtype=means.dtype).to(dev)
    x = means[k, rows] + stds[k, rows] * noise
    lp = _log_prob(x, means, stds)
    d = lp - lp[:1]
    return (d - d.mean(0, keepdim=True)).pow(2).mean(0)


def loo_kl(means: Tensor, stds: Tensor, generator: torch.Generator | None = None) -> Tensor:
    r"""Leave-one-out KL (after M2AC; recalled): for a member :math:`i` drawn uniformly per row,
    :math:`u=\mathrm{KL}\big(p_i\,\|\,\mathcal N(\mu_{-i},\sigma_{-i}^2)\big)` where the mixture of the other
    N−1 members is replaced by its moment-matched Gaussian
    :math:`\mu_{-i}=\tfrac1{N-1}\sum_{j\ne i}\mu_j`,
    :math:`\sigma_{-i}^2=\tfrac1{N-1}\sum_{j\ne i}(\sigma_j^2+\mu_j^2)-\mu_{-i}^2` (so the KL is closed-form):

    .. math:: \mathrm{KL}=\tfrac12\sum_d\Big[\log\tfrac{\sigma_{-i}^2}{\sigma_i^2}
              +\tfrac{\sigma_i^2+(\mu_i-\mu_{-i})^2}{\sigma_{-i}^2}-1\Big].

    Defined as 0 for N = 1.  Computed in ratios to member i so identical members give exactly 0."""
    N, B, _ = means.shape
    if N == 1:
        return torch.zeros(B, dtype=means.dtype, device=means.device)
    dev = means.device
    i = torch.randint(N, (B,), generator=generator).to(dev)
    rows = torch.arange(B, device=dev)
    mu_i, var_i = means[i, rows], stds[i, rows].pow(2)
    others = torch.ones(N, B, dtype=torch.bool, device=dev)
    others[i, rows] = False
    w = others.to(means.dtype).unsqueeze(-1)  # (N, B, 1); sums over the others, divided by N - 1 afterwards
    dmu = means - mu_i  # relative to member i: exact zeros for identical members
    shift = (w * dmu).sum(0) / (N - 1)  # mu_{-i} - mu_i
    ratio = ((w * stds.pow(2) / var_i).sum(0) + (w * (dmu - shift).pow(2)).sum(0) / var_i) / (N - 1)
    return 0.5 * (ratio.log() + (1.0 + shift.pow(2) / var_i) / ratio - 1.0).sum(-1)


HEURISTICS: dict[str, Callable[..., Tensor]] = {
    "max_aleatoric": max_aleatoric,
    "max_pairwise_diff": max_pairwise_diff,
    "ensemble_std": ensemble_std,
    "ensemble_variance": ensemble_variance,
    "ll_variance": ll_variance,
    "loo_kl": loo_kl,
    "max_mean_deviation": max_mean_deviation,
}
"""``name -> fn(means, stds, generator=None) -> (B,)`` on member predictions ``(N, B, D)``."""

CALIBRATION_HEURISTICS: tuple[str, ...] = ("max_aleatoric", "max_pairwise_diff", "ensemble_std",
                                           "ensemble_variance", "ll_variance", "loo_kl")
"""The six heuristics of the paper's study (``max_mean_deviation`` is OfflineRL-Kit's variant, kept apart)."""

DISAGREEMENT_HEURISTICS: tuple[str, ...] = ("max_pairwise_diff", "ensemble_std", "ll_variance", "loo_kl",
                                            "max_mean_deviation")


def heuristic(name: str) -> Callable[..., Tensor]:
    if name not in HEURISTICS:
        raise ValueError(f"heuristic must be one of {sorted(HEURISTICS)}, got {name!r}")
    return HEURISTICS[name]


def penalty(model: GaussianEnsembleDynamics, name: str, lam: float, members: str | Sequence[int] = "elites"
            ) -> Callable[[Tensor, Tensor], Tensor]:
    """``(obs, actions) -> lam * u(s, a)`` for the rollout trainer's penalised reward ``r - lam * u``."""
    heuristic(name)
    check_range("lam", lam, 0.0)

    def fn(obs: Tensor, actions: Tensor) -> Tensor:
        return lam * model.uncertainty(name, obs, actions, members)

    fn.__name__ = f"penalty_{name}"
    return fn


# =========================================================================== calibration protocol


class _PointModel(Protocol):
    def mean_next_obs(self, obs: Tensor, actions: Tensor) -> Tensor: ...


def model_error(model: _PointModel, oracle: Dynamics, obs: Tensor, actions: Tensor,
                generator: torch.Generator | None = None) -> Tensor:
    """:math:`e(s,a)=\\|\\hat s'(s,a)-s'_{\\rm true}\\|_2` with :math:`\\hat s'` = ``model.mean_next_obs`` (for the
    ensemble: the mean over elites of the member means) and :math:`s'_{\\rm true}` from ``oracle.step`` (any
    ``Dynamics``), ``(B,)``."""
    with torch.no_grad():
        true_next, _, _ = oracle.step(obs, actions, generator)
        return (model.mean_next_obs(obs, actions) - true_next).norm(dim=-1)


def spearman(x: Any, y: Any) -> float:
    """Spearman rank correlation (average ranks for ties); NaN when either input is constant."""
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"spearman needs two equal-length samples of size >= 2, got {x.shape}, {y.shape}")
    rx, ry = rankdata(x), rankdata(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


@dataclass
class CalibrationResult:
    """Heuristics vs true model error on one set of (s, a) pairs."""

    errors: np.ndarray
    values: dict[str, np.ndarray]
    rho: dict[str, float]
    """Spearman rho(u, e) per heuristic."""
    pairwise: np.ndarray
    """Spearman rho between heuristics, in the order of ``names``."""
    names: tuple[str, ...]

    @property
    def median_pairwise(self) -> float:
        iu = np.triu_indices(len(self.names), 1)
        return float(np.nanmedian(self.pairwise[iu])) if len(self.names) > 1 else float("nan")

    def summary(self) -> dict[str, Any]:
        return {"mean_error": float(self.errors.mean()), "median_error": float(np.median(self.errors)),
                "rho": dict(self.rho), "pairwise": self.pairwise.tolist(), "names": list(self.names),
                "median_pairwise": self.median_pairwise}


def calibrate(model: GaussianEnsembleDynamics, oracle: Dynamics, obs: Tensor, actions: Tensor,
              names: Sequence[str] = CALIBRATION_HEURISTICS, members: str | Sequence[int] = "elites",
              generator: torch.Generator | None = None) -> CalibrationResult:
    """The calibration protocol of Lu et al.: model error :math:`e(s,a)` (the mean over ``members`` of the member
    next-state means against the oracle's next state, as in :func:`model_error`), every heuristic over the same
    ``members`` on the same pairs, Spearman rho of each heuristic with :math:`e` and between heuristics."""
    for name in names:
        heuristic(name)
    pred = model.predict(obs, actions, members)
    with torch.no_grad():
        true_next, _, _ = oracle.step(obs, actions, generator)
    errors = (pred.means[..., :model.obs_dim].mean(0) - true_next).norm(dim=-1).cpu().numpy()
    values = {n: HEURISTICS[n](pred.means, pred.stds, generator=generator).cpu().numpy() for n in names}
    rho = {n: spearman(values[n], errors) for n in names}
    k = len(names)
    pairwise = np.eye(k)
    for a in range(k):
        for b in range(a + 1, k):
            pairwise[a, b] = pairwise[b, a] = spearman(values[names[a]], values[names[b]])
    return CalibrationResult(errors, values, rho, pairwise, tuple(names))
