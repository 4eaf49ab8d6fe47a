r"""The model-based offline stack's trainer: truncated model rollouts + SAC (MBPO / MOPO / RAVL).

:class:`ModelRolloutTrainer` runs, per epoch (official RAVL / MOPO loop):

1. sample B start states uniformly from the dataset (or, with ``full_horizon``, from the true
   start distribution), roll out k steps (H with ``full_horizon``) with the current
   *stochastic* SAC policy through any :class:`~latentlab.offline.envs.Dynamics` (a learned
   ensemble or the true-dynamics oracle), dropping rollouts once they terminate; the stored
   reward is :math:`\tilde r = r-\lambda\,u(s,a)` when a ``penalty`` callable is given;
2. push the transitions into a FIFO model buffer that keeps the last R epochs;
3. run G SAC updates on batches of ``batch_size`` with a share ρ of real (dataset) and 1 − ρ of
   model transitions.

One mechanism, parameters for the variants: MBPO = no penalty; MOPO = ``penalty`` (e.g.
``GaussianEnsembleDynamics.penalty("max_aleatoric", lam)``); RAVL = no penalty and a SAC with
N critics and η > 0 (:meth:`~latentlab.deeprl.SACConfig.ravl`).  The learner is deeprl's
:class:`~latentlab.deeprl.SAC` (one SAC in the library).

Diagnostics (per epoch)
-----------------------
* the mean over the epoch's updates of the batch-mean Q (mean over critics), its maximum, and
  the largest single Q, to compare with the bound :math:`R_{\max}/(1-\gamma)`;
* the **edge-of-reach diagnostic** (with a ``true_dynamics`` oracle): the epoch's rollout states
  are grouped by the rollout step at which each state *first appears* (:func:`first_seen_steps`:
  exact duplicates, e.g. states pinned at a wall, count at their earliest step; step 0 = the start
  states).  Inputs of the Bellman regression are the states first seen at steps 0..k−1; states
  first seen at step k are targets only — the edge-of-reach set :math:`S_{\rm edge}`.  For up to
  ``diag_states`` states of each group and :math:`a\sim\pi(\cdot|s)` the learned value
  :math:`\min_jQ_j(s,a)` is compared with the true soft value of the current policy,

  .. math::

      Q^\pi(s,a)=r(s,a)+\mathbb E\Big[\textstyle\sum_{t\ge1}\gamma^t\big(r_t-\alpha\log\pi(a_t|s_t)\big)\Big],

  estimated by ``diag_mc_samples`` Monte-Carlo rollouts of ``diag_mc_horizon`` steps of the current
  policy in the true dynamics (all groups and samples stepped together), i.e. the quantity SAC's
  bootstrapped target estimates (no terminal or timeout ends the bootstrap in model rollouts).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from latentlab.deeprl import SAC
from latentlab.deeprl._config import ConfigMixin, check_range
from latentlab.deeprl.buffers import ReplayBuffer
from latentlab.offline.envs import Dynamics

__all__ = ["RolloutConfig", "ModelRolloutTrainer", "RolloutBatch", "first_seen_steps",
           "TrainerHistory"]

Penalty = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
StartSampler = Callable[[int, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class RolloutConfig(ConfigMixin):
    epochs: int = 3000
    updates_per_epoch: int = 1000
    """G: SAC updates per epoch."""
    rollout_batch: int = 50_000
    """B: rollouts started per epoch."""
    rollout_length: int = 5
    """k: steps per rollout (ignored with ``full_horizon``, which uses ``horizon``)."""
    retain_epochs: int = 5
    """R: the model buffer keeps the transitions of the last R epochs (FIFO)."""
    real_ratio: float = 0.05
    """ρ: share of real (dataset) transitions in each SAC batch."""
    batch_size: int = 256
    penalty_coef: float = 1.0
    """λ in r - λ u(s, a) (applied to the ``penalty`` callable's output; 1 if it is already scaled)."""
    full_horizon: bool = False
    """Rollouts of ``horizon`` steps from the true start distribution (needs ``start_sampler``)."""
    horizon: int = 50
    diag_every: int = 1
    """Epochs between edge-of-reach diagnostics (0: none); the last epoch always gets one."""
    diag_states: int = 128
    diag_mc_samples: int = 4
    diag_mc_horizon: int = 460
    """γ^460 ≈ 0.01 for γ = 0.99: the truncated tail is at most 1% of R_max/(1-γ)."""
    eval_every: int = 1
    """Epochs between policy evaluations (0: none); needs ``true_dynamics`` and ``start_sampler``."""
    eval_episodes: int = 100
    eval_horizon: int = 50
    q_stop: float = 1e8
    """Stop training when the batch-mean Q exceeds this (diverged far beyond any bound) or is NaN."""

    def __post_init__(self) -> None:
        for name in ("epochs", "updates_per_epoch", "rollout_batch", "rollout_length", "retain_epochs",
                     "batch_size", "horizon", "diag_states", "diag_mc_samples", "diag_mc_horizon",
                     "eval_episodes", "eval_horizon"):
            check_range(name, getattr(self, name), 1)
        check_range("real_ratio", self.real_ratio, 0.0, 1.0)
        check_range("penalty_coef", self.penalty_coef, 0.0)
        check_range("diag_every", self.diag_every, 0)
        check_range("eval_every", self.eval_every, 0)
        check_range("q_stop", self.q_stop, 0.0, low_open=True)

    @property
    def steps(self) -> int:
        return self.horizon if self.full_horizon else self.rollout_length


@dataclass
class RolloutBatch:
    """Flattened transitions of one round of rollouts; ``step[i]`` is the rollout step of transition i
    (its ``obs`` is :math:`s_t`, its ``next_obs`` :math:`s_{t+1}`).  Actions are the agent's squashed ones."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    step: torch.Tensor
    penalty: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.obs.shape[0])

    def states_by_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All visited states with the rollout step at which each occurs: inputs :math:`s_t` (t = step)
        and the next states of non-terminal transitions (t = step + 1)."""
        alive = ~self.terminated.bool()
        states = torch.cat([self.obs, self.next_obs[alive]])
        steps = torch.cat([self.step, self.step[alive] + 1])
        return states, steps


def _unique_first_seen(states: torch.Tensor, steps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    unique, inverse = torch.unique(states, dim=0, return_inverse=True)
    first = torch.full((unique.shape[0],), torch.iinfo(torch.long).max, dtype=torch.long)
    return unique, first.scatter_reduce(0, inverse, steps.long(), reduce="amin")


def first_seen_steps(states: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """For each row of ``states`` (M, d), the smallest ``steps`` value among all rows equal to it (M,).

    Vectorised (``torch.unique`` + ``scatter_reduce``).  With k-step rollouts from dataset states,
    the rows with value k are exactly the edge-of-reach set (targets that are never inputs)."""
    if states.dim() != 2 or steps.shape != states.shape[:1]:
        raise ValueError(f"states must be (M, d) and steps (M,), got {tuple(states.shape)}, {tuple(steps.shape)}")
    _, inverse = torch.unique(states, dim=0, return_inverse=True)
    _, first = _unique_first_seen(states, steps)
    return first[inverse]


@dataclass
class TrainerHistory:
    """Per-epoch diagnostics (lists indexed by epoch) and per-diagnostic edge errors."""

    updates: list[int] = field(default_factory=list)
    q_mean: list[float] = field(default_factory=list)
    """Mean over the epoch's updates of the batch-mean Q (mean over critics)."""
    q_batch_mean_max: list[float] = field(default_factory=list)
    """Largest batch-mean Q of the epoch."""
    q_max: list[float] = field(default_factory=list)
    """Largest single Q value in the epoch's batches."""
    critic_loss: list[float] = field(default_factory=list)
    alpha: list[float] = field(default_factory=list)
    returns: list[tuple[int, float]] = field(default_factory=list)
    """(updates, mean return of the deterministic policy from the true start distribution)."""
    edge: list[dict[str, Any]] = field(default_factory=list)
    """(updates, per first-seen step t = 0..k: count, mean |Q - Q_true|, mean Q - Q_true, mean Q, mean Q_true,
    mean over states of the std of Q over the critics — the ensemble spread RAVL's min-over-N turns into pessimism)."""
    model_buffer_size: list[int] = field(default_factory=list)
    penalty_mean: list[float] = field(default_factory=list)
    """Mean penalty u(s, a) (before the λ factor) over the epoch's rollouts (only with a ``penalty``)."""
    stopped: str | None = None
    """Why training stopped early ("nan" or "q_stop"), else None."""
    wall_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "q_mean": self.q_mean, "q_batch_mean_max": self.q_batch_mean_max,
                "q_max": self.q_max, "critic_loss": self.critic_loss, "alpha": self.alpha,
                "returns": [list(r) for r in self.returns], "edge": self.edge,
                "model_buffer_size": self.model_buffer_size, "penalty_mean": self.penalty_mean,
                "stopped": self.stopped, "wall_s": self.wall_s}


def _dataset_arrays(dataset: Any) -> dict[str, np.ndarray]:
    def get(key: str) -> np.ndarray:
        value = dataset[key] if isinstance(dataset, Mapping) else getattr(dataset, key)
        return np.asarray(value, dtype=np.float32)
    return {k: get(k) for k in ("observations", "actions", "rewards", "next_observations", "terminals")}


class ModelRolloutTrainer:
    """Truncated (or full-horizon) model rollouts + SAC updates on mixed real/model batches.

    ``agent``: a deeprl :class:`SAC` (any ``n_critics``/η); ``dataset``: an ``OfflineDataset`` or a
    mapping with D4RL keys (env-scale actions); ``dynamics``: the rollout model; ``penalty``:
    optional ``(obs, env_actions) -> (B,)``; ``true_dynamics`` / ``start_sampler``: for the
    edge diagnostic, the evaluation and ``full_horizon``."""

    def __init__(self, agent: SAC, dataset: Any, dynamics: Dynamics, config: RolloutConfig | None = None, *,
                 penalty: Penalty | None = None, true_dynamics: Dynamics | None = None,
                 start_sampler: StartSampler | None = None, seed: int = 0) -> None:
        self.agent, self.dynamics, self.penalty = agent, dynamics, penalty
        self.config = c = config or RolloutConfig()
        self.true_dynamics, self.start_sampler = true_dynamics, start_sampler
        if c.full_horizon and start_sampler is None:
            raise ValueError("full_horizon=True needs a start_sampler (the true start distribution)")
        if dynamics.obs_dim != agent.obs_dim or dynamics.act_dim != agent.act_dim:
            raise ValueError(f"dynamics (obs_dim={dynamics.obs_dim}, act_dim={dynamics.act_dim}) does not match the "
                             f"agent (obs_dim={agent.obs_dim}, act_dim={agent.act_dim})")
        arrays = _dataset_arrays(dataset)
        self.low = torch.as_tensor(agent.low, dtype=torch.float32)
        self.high = torch.as_tensor(agent.high, dtype=torch.float32)
        self.real = {"obs": torch.from_numpy(arrays["observations"]),
                     "actions": self.squash(torch.from_numpy(arrays["actions"]).reshape(-1, agent.act_dim)),
                     "rewards": torch.from_numpy(arrays["rewards"]).reshape(-1),
                     "next_obs": torch.from_numpy(arrays["next_observations"]),
                     "terminated": torch.from_numpy(arrays["terminals"]).reshape(-1)}
        self.n_real = int(self.real["obs"].shape[0])
        self.buffer = ReplayBuffer(c.retain_epochs * c.rollout_batch * c.steps, agent.obs_dim, agent.act_dim,
                                   extras={"step": np.int64})
        seeds = np.random.SeedSequence([int(seed), 5151]).generate_state(3)
        self.generator = torch.Generator().manual_seed(int(seeds[0]))
        self.diag_generator = torch.Generator().manual_seed(int(seeds[1]))
        self.eval_generator_seed = int(seeds[2])
        self.history = TrainerHistory()
        self.epoch = 0
        self.last_rollout: RolloutBatch | None = None

    # ------------------------------------------------------------------ actions

    def squash(self, env_actions: torch.Tensor) -> torch.Tensor:
        """Env action box -> the agent's [-1, 1]."""
        return (2.0 * (env_actions - self.low) / (self.high - self.low) - 1.0).clamp(-1.0, 1.0)

    def unsquash(self, squashed: torch.Tensor) -> torch.Tensor:
        return self.low + 0.5 * (squashed + 1.0) * (self.high - self.low)

    def _policy(self, obs: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Stochastic action (squashed) and its log-density under the current policy."""
        with torch.no_grad():
            dist = self.agent.actor(obs)
            if dist.n_components == 1:
                actions, logp = dist.rsample_all(generator)
                return actions[..., 0, :], logp[..., 0]
            actions, _ = dist.sample(generator)
            return actions, dist.log_prob(actions.clamp(-1 + 1e-6, 1 - 1e-6))

    # ------------------------------------------------------------------ rollouts

    def rollout(self, start_obs: torch.Tensor, steps: int | None = None,
                generator: torch.Generator | None = None) -> RolloutBatch:
        """Roll the current stochastic policy ``steps`` steps through ``dynamics`` from ``start_obs``
        (B, obs_dim); rows that terminate are dropped from later steps.  All rows are stepped together."""
        c = self.config
        steps = c.steps if steps is None else int(steps)
        g = generator if generator is not None else self.generator
        parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("obs", "actions", "rewards", "next_obs", "terminated",
                                                                   "step", "penalty")}
        obs = start_obs.float()
        for t in range(steps):
            if obs.shape[0] == 0:
                break
            with torch.no_grad():
                actions = self.agent.actor(obs).sample(g)[0]
                env_actions = self.unsquash(actions)
                next_obs, reward, terminated = self.dynamics.step(obs, env_actions, g)
                pen = None
                if self.penalty is not None:
                    pen = self.penalty(obs, env_actions).reshape(-1).to(reward.dtype)
                    reward = reward - c.penalty_coef * pen
            terminated = terminated.bool().reshape(-1)
            parts["obs"].append(obs)
            parts["actions"].append(actions)
            parts["rewards"].append(reward.float().reshape(-1))
            parts["next_obs"].append(next_obs.float())
            parts["terminated"].append(terminated)
            parts["step"].append(torch.full((obs.shape[0],), t, dtype=torch.long))
            if pen is not None:
                parts["penalty"].append(pen.float())
            obs = next_obs[~terminated].float()
        if not parts["obs"]:
            raise ValueError("rollout: start_obs is empty")
        cat = {k: torch.cat(v) if v else None for k, v in parts.items()}
        return RolloutBatch(cat["obs"], cat["actions"], cat["rewards"], cat["next_obs"], cat["terminated"],
                            cat["step"], cat["penalty"])

    def _start_states(self, n: int) -> torch.Tensor:
        if self.config.full_horizon:
            assert self.start_sampler is not None
            return self.start_sampler(n, self.generator).float()
        idx = torch.randint(self.n_real, (n,), generator=self.generator)
        return self.real["obs"][idx]

    # ------------------------------------------------------------------ training

    def train_epoch(self, check_finite: Callable[[str, Any], None] | None = None) -> bool:
        """One epoch (rollouts, buffer, G updates, diagnostics).  Returns False when training stopped."""
        c = self.config
        batch = self.rollout(self._start_states(c.rollout_batch))
        self.buffer.add(batch.obs.numpy(), batch.actions.numpy(), batch.rewards.numpy(), batch.next_obs.numpy(),
                        batch.terminated.numpy(), step=batch.step.numpy())
        self.last_rollout = batch
        n_real = int(round(c.real_ratio * c.batch_size)) if len(self.buffer) else c.batch_size
        n_model = c.batch_size - n_real
        G = c.updates_per_epoch
        real_idx = torch.randint(self.n_real, (G, n_real), generator=self.generator)
        model_idx = torch.randint(len(self.buffer), (G, n_model), generator=self.generator)
        q_means, q_maxs, losses = [], [], []
        stopped = None
        for i in range(G):
            real = {k: v[real_idx[i]] for k, v in self.real.items()}
            model = self.buffer.get(model_idx[i].numpy())
            data = {k: torch.cat([real[k], model[k]]) for k in real}
            out = self.agent.update(data)
            q, qmax, loss = out["q_mean"], out["q_max"], out["critic_loss"]
            q_means.append(q)
            q_maxs.append(qmax)
            losses.append(loss)
            if not (math.isfinite(q) and math.isfinite(loss)):
                stopped = "nan"
                break
            if abs(q) > c.q_stop:
                stopped = "q_stop"
                break
        h = self.history
        finite = [q for q in q_means if math.isfinite(q)]
        finite_max = [q for q in q_maxs if math.isfinite(q)]
        finite_loss = [v for v in losses if math.isfinite(v)]
        h.updates.append(self.agent.n_updates)
        h.q_mean.append(float(np.mean(finite)) if finite else float("nan"))
        h.q_batch_mean_max.append(float(np.max(finite)) if finite else float("nan"))
        h.q_max.append(float(np.max(finite_max)) if finite_max else float("nan"))
        h.critic_loss.append(float(np.mean(finite_loss)) if finite_loss else float("nan"))
        h.alpha.append(self.agent.alpha)
        h.model_buffer_size.append(len(self.buffer))
        if batch.penalty is not None:
            h.penalty_mean.append(float(batch.penalty.mean()))
        self.epoch += 1
        last = self.epoch >= c.epochs or stopped is not None
        if stopped is None:
            if self.true_dynamics is not None and c.diag_every and (self.epoch % c.diag_every == 0 or last):
                h.edge.append(self.edge_diagnostic(batch))
            if (self.true_dynamics is not None and self.start_sampler is not None and c.eval_every
                    and (self.epoch % c.eval_every == 0 or last)):
                h.returns.append((self.agent.n_updates, self.evaluate()))
        else:
            h.stopped = stopped
        if check_finite is not None:
            check_finite(f"model-rollout epoch {self.epoch}", {"alpha": h.alpha[-1]})
        return stopped is None

    def train(self, check_finite: Callable[[str, Any], None] | None = None) -> TrainerHistory:
        """Run the remaining epochs (stops early on NaN / Q beyond ``q_stop``, recording why)."""
        start = time.perf_counter()
        while self.epoch < self.config.epochs:
            if not self.train_epoch(check_finite):
                break
        self.history.wall_s += time.perf_counter() - start
        return self.history

    # ------------------------------------------------------------------ diagnostics

    def soft_q_true(self, obs: torch.Tensor, actions: torch.Tensor, n_samples: int | None = None,
                    horizon: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""Monte-Carlo soft value :math:`Q^\pi(s,a)` of the current policy in ``true_dynamics`` (module doc);
        ``actions`` squashed.  All (state, sample) pairs are stepped together."""
        if self.true_dynamics is None:
            raise ValueError("soft_q_true needs true_dynamics")
        c = self.config
        n = c.diag_mc_samples if n_samples is None else int(n_samples)
        T = c.diag_mc_horizon if horizon is None else int(horizon)
        g = generator if generator is not None else self.diag_generator
        gamma, alpha = self.agent.config.gamma, self.agent.alpha
        s = obs.float().repeat(n, 1)
        a = actions.float().repeat(n, 1)
        with torch.no_grad():
            s, r, term = self.true_dynamics.step(s, self.unsquash(a), g)
            total = r.double()
            alive = ~term.bool()
            discount = 1.0
            for _ in range(1, T):
                discount *= gamma
                a, logp = self._policy(s, g)
                s, r, term = self.true_dynamics.step(s, self.unsquash(a), g)
                total += discount * alive.double() * (r.double() - alpha * logp.double())
                alive = alive & ~term.bool()
        return total.reshape(n, -1).mean(0).float()

    def edge_diagnostic(self, batch: RolloutBatch | None = None) -> dict[str, Any]:
        """Q error grouped by the rollout step at which each state first appears (module doc)."""
        batch = batch if batch is not None else self.last_rollout
        if batch is None:
            raise ValueError("edge_diagnostic: no rollouts yet")
        c = self.config
        states, steps = batch.states_by_step()
        states, first = _unique_first_seen(states, steps)  # one row per distinct state
        groups: dict[str, Any] = {"updates": self.agent.n_updates, "steps": [], "count": [], "abs_error": [],
                                  "error": [], "q": [], "q_true": [], "q_std": []}
        chosen_states, chosen_group = [], []
        for t in range(int(first.max()) + 1):
            idx = torch.nonzero(first == t).ravel()
            if idx.numel() == 0:
                continue
            pick = idx[torch.randperm(idx.numel(), generator=self.diag_generator)[:c.diag_states]]
            chosen_states.append(states[pick])
            chosen_group.append(torch.full((pick.numel(),), t))
            groups["steps"].append(t)
            groups["count"].append(int(idx.numel()))
        s = torch.cat(chosen_states)
        group = torch.cat(chosen_group)
        a, _ = self._policy(s, self.diag_generator)
        q_all = self.agent.q_values(s, a)
        q = q_all.min(0).values
        q_spread = q_all.std(0) if q_all.shape[0] > 1 else torch.zeros_like(q)
        q_true = self.soft_q_true(s, a)
        for t in groups["steps"]:
            m = group == t
            err = (q[m] - q_true[m]).double()
            groups["abs_error"].append(float(err.abs().mean()))
            groups["error"].append(float(err.mean()))
            groups["q"].append(float(q[m].mean()))
            groups["q_true"].append(float(q_true[m].mean()))
            groups["q_std"].append(float(q_spread[m].mean()))
        return groups

    def evaluate(self, n: int | None = None, horizon: int | None = None) -> float:
        """Mean undiscounted return of the deterministic policy (mean action) in ``true_dynamics`` from
        ``start_sampler``'s states (fixed evaluation seed: the same start states every time)."""
        if self.true_dynamics is None or self.start_sampler is None:
            raise ValueError("evaluate needs true_dynamics and start_sampler")
        c = self.config
        n = c.eval_episodes if n is None else int(n)
        H = c.eval_horizon if horizon is None else int(horizon)
        g = torch.Generator().manual_seed(self.eval_generator_seed)
        s = self.start_sampler(n, g).float()
        total = torch.zeros(n, dtype=torch.float64)
        alive = torch.ones(n, dtype=torch.bool)
        with torch.no_grad():
            for _ in range(H):
                a = self.agent.actor(s).mode()
                s, r, term = self.true_dynamics.step(s, self.unsquash(a), g)
                total += alive.double() * r.double()
                alive = alive & ~term.bool()
        return float(total.mean())
