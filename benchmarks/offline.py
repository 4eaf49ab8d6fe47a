"""Model-based offline RL: vectorised ensembles against the straightforward per-member loop.

Both sides use the same networks with the same weights (the loop side runs ``EnsembleMLP.member(i)``
copies, i.e. N separate ``nn.Sequential``), one torch thread, and the same arithmetic; only the
batching differs.

* ``dynamics_rollout_transitions_per_s``: model-rollout transitions per second of
  ``GaussianEnsembleDynamics.step`` (7 members, 5 elites, RAVL's 4x200 SiLU, 3-D state and 1-D
  action, 1,000 rows per call: pick an elite per row, sample mean + sigma * noise), against a loop
  that runs each of the 7 member networks on the batch, stacks their outputs and then does the
  same soft log-variance clamp, elite pick and sampling.  The library evaluates each row with its
  own elite only (on CPU a loop over the elites on their rows; on an accelerator one batched
  forward of a zero-padded ``(E, max group, in)`` block — on one CPU thread that block was 1.6x
  slower than the loop at 4x200, because the layers are compute-bound), so this ratio comes from
  not evaluating members a row does not use, not from batching; a loop that groups the same way
  is measured too and reported as ``..._vs_grouped_loop`` (not targeted; expected about 1).
* ``gemm_10x256x256x256_*``: the rate of one batched matmul over 10 members vs 10 separate ones at
  RAVL's layer size (the compute bound that caps what batching can gain on one CPU thread).
* ``ravl_critic_updates_per_s``: critic-ensemble updates per second of a RAVL/EDAC critic step
  (10 critics, 3x256 ReLU, batch 256, obs 17 / act 6 as in MuJoCo Hopper-size tasks): target
  critics on (s', a'), min over critics, squared TD error of every critic plus eta = 1 times the
  EDAC diversity term (per-critic action gradients with ``create_graph=True``, normalised, mean
  pairwise cosine), backward and one Adam step over all critics; the loop side computes every
  critic and its action gradient separately.
* Also measured, not targeted: the library's whole ``SAC.update`` with ``SACConfig.ravl()`` (critics,
  actor, temperature and Polyak step); the same critic step with 64-wide critics on a 3-D state
  (Pendulum-size) and the dynamics step of the 7 x (3x64) ensemble used by paper 11's quick budget.
* Bound on the critic ratio: the share of the loop's critic step spent in matrix products
  (profiler self time) and ``1 / share``, the most any ensemble layout could gain on this machine,
  since batched and looped products run at the same GMAC/s (``gemm_*``).

Target (set before measuring, the issue's): vectorising is at least 3x faster than the
per-member loop on both targeted ratios.  Each side is timed three times, alternating, and the
fastest is kept (the machine is shared).
"""

from __future__ import annotations

import copy
import time

import torch
import torch.nn.functional as F
from torch import nn

import latentlab  # noqa: F401  (one torch thread)
from _profiling import self_time_per_call
from latentlab.deeprl.sac import CriticEnsemble, critic_action_gradients, critic_diversity_loss
from latentlab.offline.dynamics import EnsembleDynamicsConfig, GaussianEnsembleDynamics

TARGET = 3.0


# --------------------------------------------------------------------------- dynamics rollouts


def _loop_step(model: GaussianEnsembleDynamics, members: list[nn.Sequential], obs: torch.Tensor,
               actions: torch.Tensor, g: torch.Generator):
    """The per-member reference of ``GaussianEnsembleDynamics.step``."""
    with torch.no_grad():
        x = model._inputs(obs, actions)
        out = torch.stack([m(x) for m in members])
        mean, raw = out[..., :model.out_dim], out[..., model.out_dim:]
        logvar = model.max_logvar - F.softplus(model.max_logvar - raw)
        logvar = model.min_logvar + F.softplus(logvar - model.min_logvar)
        B = obs.shape[0]
        pick = model.elites[torch.randint(len(model.elites), (B,), generator=g)]
        rows = torch.arange(B)
        mean, std = mean[pick, rows], torch.exp(0.5 * logvar[pick, rows])
        y = (mean + std * torch.randn(mean.shape, generator=g)) * model.out_std + model.out_mean
        next_obs = obs + y[:, :model.obs_dim]
        return next_obs, y[:, model.obs_dim], model.terminal_fn(obs, actions, next_obs)


def _grouped_loop_step(model: GaussianEnsembleDynamics, members: list[nn.Sequential], obs: torch.Tensor,
                       actions: torch.Tensor, g: torch.Generator):
    """A per-member loop that, like the library, runs each elite only on the rows assigned to it."""
    with torch.no_grad():
        x = model._inputs(obs, actions)
        B = obs.shape[0]
        pick = torch.randint(len(model.elites), (B,), generator=g)
        out = x.new_empty(B, 2 * model.out_dim)
        for e, member in enumerate(model.elites.tolist()):
            rows = pick == e
            out[rows] = members[member](x[rows])
        mean, raw = out[..., :model.out_dim], out[..., model.out_dim:]
        logvar = model.max_logvar[0, 0] - F.softplus(model.max_logvar[0, 0] - raw)
        logvar = model.min_logvar[0, 0] + F.softplus(logvar - model.min_logvar[0, 0])
        y = (mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=g)) * model.out_std + model.out_mean
        next_obs = obs + y[:, :model.obs_dim]
        return next_obs, y[:, model.obs_dim], model.terminal_fn(obs, actions, next_obs)


def _time(fn, n: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - start


def _dynamics(hidden: tuple[int, ...], batch: int, calls: int) -> dict[str, float]:
    model = GaussianEnsembleDynamics(3, 1, EnsembleDynamicsConfig(hidden=hidden), seed=0)
    members = [model.net.member(i) for i in range(model.n_members)]
    obs, act = torch.randn(batch, 3), torch.randn(batch, 1)
    a = model.step(obs, act, torch.Generator().manual_seed(0))
    b = _loop_step(model, members, obs, act, torch.Generator().manual_seed(0))
    c = _grouped_loop_step(model, members, obs, act, torch.Generator().manual_seed(0))
    for x, y, z in zip(a, b, c):  # same numbers on all sides
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(x, z, rtol=1e-4, atol=1e-4)
    vec, loop, grouped = [], [], []
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        vec.append(batch * calls / _time(lambda: model.step(obs, act, g), calls))
        loop.append(batch * calls / _time(lambda: _loop_step(model, members, obs, act, g), calls))
        grouped.append(batch * calls / _time(lambda: _grouped_loop_step(model, members, obs, act, g), calls))
    return {"vectorised": max(vec), "loop": max(loop), "grouped_loop": max(grouped)}


# --------------------------------------------------------------------------- RAVL critic step


class _VecCritics:
    """The library's critic step (``CriticEnsemble``, ``critic_action_gradients``, ``critic_diversity_loss``)."""

    def __init__(self, critics: CriticEnsemble, eta: float) -> None:
        self.critics, self.target, self.eta = critics, copy.deepcopy(critics).requires_grad_(False), eta
        self.opt = torch.optim.Adam(critics.parameters(), lr=3e-4)

    def update(self, obs, act, rew, next_obs, next_act) -> float:
        with torch.no_grad():
            y = rew + 0.99 * self.target(next_obs, next_act).min(0).values
        q, grads = critic_action_gradients(self.critics, obs, act)
        loss = 0.5 * (q - y).pow(2).mean(-1).sum() + 0.5 * self.eta * critic_diversity_loss(grads)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return float(loss.detach())


class _LoopCritics:
    """The same step with N separate ``nn.Sequential`` critics, each with its own action-gradient."""

    def __init__(self, critics: CriticEnsemble, eta: float) -> None:
        self.nets = nn.ModuleList(critics.net.member(i) for i in range(critics.n_critics))
        self.targets = copy.deepcopy(self.nets).requires_grad_(False)
        self.eta = eta
        self.opt = torch.optim.Adam(self.nets.parameters(), lr=3e-4)

    def update(self, obs, act, rew, next_obs, next_act) -> float:
        with torch.no_grad():
            x_next = torch.cat([next_obs, next_act], -1)
            y = rew + 0.99 * torch.stack([t(x_next).squeeze(-1) for t in self.targets]).min(0).values
        qs, grads = [], []
        for net in self.nets:
            a = act.clone().requires_grad_(True)
            q = net(torch.cat([obs, a], -1)).squeeze(-1)
            grad, = torch.autograd.grad(q.sum(), a, create_graph=True)
            qs.append(q)
            grads.append(grad)
        g = torch.stack(grads)
        g = g / (g.norm(dim=-1, keepdim=True) + 1e-8)
        diversity = (g.sum(0).pow(2).sum(-1) - g.pow(2).sum((0, -1))).mean() / (len(self.nets) - 1)
        loss = 0.5 * (torch.stack(qs) - y).pow(2).mean(-1).sum() + 0.5 * self.eta * diversity
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return float(loss.detach())


def _critics(obs_dim: int, act_dim: int, width: int, updates: int, n: int = 10, batch: int = 256
             ) -> dict[str, float]:
    torch.manual_seed(0)
    net = CriticEnsemble(n, obs_dim, act_dim, (width, width, width))
    g = torch.Generator().manual_seed(0)
    data = (torch.randn(batch, obs_dim, generator=g), torch.rand(batch, act_dim, generator=g) * 2 - 1,
            torch.randn(batch, generator=g), torch.randn(batch, obs_dim, generator=g),
            torch.rand(batch, act_dim, generator=g) * 2 - 1)
    vec, loop = _VecCritics(copy.deepcopy(net), 1.0), _LoopCritics(net, 1.0)
    lv, ll = vec.update(*data), loop.update(*data)  # same loss on the same weights
    assert abs(lv - ll) <= 1e-3 * max(1.0, abs(lv)), (lv, ll)
    v, lp = [], []
    for _ in range(3):
        v.append(updates / _time(lambda: vec.update(*data), updates))
        lp.append(updates / _time(lambda: loop.update(*data), updates))
    return {"vectorised": max(v), "loop": max(lp)}


def _sac_ravl(updates: int) -> float:
    """Whole ``SAC.update`` (critics + actor + alpha + Polyak) with ``SACConfig.ravl()``, obs 17 / act 6."""
    import gymnasium as gym
    import numpy as np

    from latentlab.deeprl import SAC, SACConfig

    agent = SAC(gym.spaces.Box(-np.inf, np.inf, (17,)), gym.spaces.Box(-1.0, 1.0, (6,)), SACConfig.ravl(), seed=0)
    g = torch.Generator().manual_seed(0)
    batch = {"obs": torch.randn(256, 17, generator=g), "actions": torch.rand(256, 6, generator=g) * 2 - 1,
             "rewards": torch.randn(256, generator=g), "next_obs": torch.randn(256, 17, generator=g),
             "terminated": torch.zeros(256)}
    return max(updates / _time(lambda: agent.update(batch), updates) for _ in range(2))


def _gemm_roofline(n: int = 10, rows: int = 256, width: int = 256, reps: int = 100) -> dict[str, float]:
    """GMAC/s of one batched ``baddbmm`` over n members vs n separate ``addmm`` calls at RAVL's layer size.

    When both reach the same rate the ensemble layer is compute-bound: batching removes call
    overhead only, so no layout can make the vectorised critic step much faster than the loop."""
    x, w, b = torch.randn(n, rows, width), torch.randn(n, width, width), torch.randn(n, 1, width)
    macs = n * rows * width * width
    batched = min(_time(lambda: torch.baddbmm(b, x, w), reps) for _ in range(3)) / reps
    looped = min(_time(lambda: [torch.addmm(b[i], x[i], w[i]) for i in range(n)], reps) for _ in range(3)) / reps
    return {"batched_gmac_per_s": macs / batched / 1e9, "loop_gmac_per_s": macs / looped / 1e9}


def _loop_gemm_share(obs_dim: int = 17, act_dim: int = 6, width: int = 256, n: int = 10, batch: int = 256,
                     updates: int = 5) -> float:
    """Fraction of the per-member loop's critic step spent in matrix products (torch profiler, self time).

    Vectorising can only remove the rest, and the products run at the same rate batched or not
    (:func:`_gemm_roofline`), so ``1 / share`` bounds the speed-up any ensemble layout can give here."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    data = (torch.randn(batch, obs_dim, generator=g), torch.rand(batch, act_dim, generator=g) * 2 - 1,
            torch.randn(batch, generator=g), torch.randn(batch, obs_dim, generator=g),
            torch.rand(batch, act_dim, generator=g) * 2 - 1)
    loop = _LoopCritics(CriticEnsemble(n, obs_dim, act_dim, (width, width, width)), 1.0)
    gemm, total = self_time_per_call(lambda: loop.update(*data), updates)
    return gemm / total


def run(quick: bool = False) -> dict:
    calls, updates = (20, 10) if quick else (100, 40)
    dyn = _dynamics((200, 200, 200, 200), 1000, calls)
    dyn_small = _dynamics((64, 64, 64), 1000, calls)
    crit = _critics(17, 6, 256, updates)
    crit_small = _critics(3, 1, 64, 4 * updates)
    sac_ravl = _sac_ravl(updates)
    gemm = _gemm_roofline()
    gemm_share = _loop_gemm_share()
    measurements = {
        "dynamics_7x4x200_b1000_vectorised_transitions_per_s": dyn["vectorised"],
        "dynamics_7x4x200_b1000_loop_transitions_per_s": dyn["loop"],
        "dynamics_7x3x64_b1000_vectorised_transitions_per_s": dyn_small["vectorised"],
        "dynamics_7x3x64_b1000_loop_transitions_per_s": dyn_small["loop"],
        "dynamics_7x3x64_vs_loop": dyn_small["vectorised"] / dyn_small["loop"],
        "dynamics_7x4x200_b1000_grouped_loop_transitions_per_s": dyn["grouped_loop"],
        "dynamics_7x4x200_vs_grouped_loop": dyn["vectorised"] / dyn["grouped_loop"],
        "dynamics_7x3x64_vs_grouped_loop": dyn_small["vectorised"] / dyn_small["grouped_loop"],
        "ravl_10x3x256_vectorised_updates_per_s": crit["vectorised"],
        "ravl_10x3x256_loop_updates_per_s": crit["loop"],
        "ravl_10x3x64_pendulum_vectorised_updates_per_s": crit_small["vectorised"],
        "ravl_10x3x64_pendulum_loop_updates_per_s": crit_small["loop"],
        "ravl_10x3x64_vs_loop": crit_small["vectorised"] / crit_small["loop"],
        "sac_ravl_full_update_10x3x256_updates_per_s": sac_ravl,
        "gemm_10x256x256x256_batched_gmac_per_s": gemm["batched_gmac_per_s"],
        "gemm_10x256x256x256_loop_gmac_per_s": gemm["loop_gmac_per_s"],
        "ravl_10x3x256_loop_gemm_time_share": gemm_share,
        "ravl_10x3x256_upper_bound_vs_loop": 1.0 / gemm_share,
        "step_calls": calls, "critic_updates": updates,
    }
    return {
        "ratios": {
            "dynamics_rollout_transitions_per_s_vs_member_loop": {
                "value": dyn["vectorised"] / dyn["loop"], "target": TARGET, "better": "higher"},
            "ravl_critic_updates_per_s_vs_member_loop": {
                "value": crit["vectorised"] / crit["loop"], "target": TARGET, "better": "higher"},
        },
        "measurements": measurements,
    }
