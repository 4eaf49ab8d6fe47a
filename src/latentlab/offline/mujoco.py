r"""MuJoCo behaviour experts and a true-dynamics oracle (needs the ``mujoco`` extra).

``pip install 'latentlab[mujoco]'`` provides ``mujoco`` and ``gymnasium[mujoco]``; this module
imports ``mujoco`` only when one of its functions is used, so ``import latentlab.offline`` works
without the extra.

LQR experts (``InvertedPendulum-v5``, ``InvertedDoublePendulum-v5``)
--------------------------------------------------------------------
:func:`linearize` computes the discrete-time linearisation :math:`x'\approx Ax+Bu` of one *env
step* about the upright equilibrium (``qpos = qpos0 = 0``, ``qvel = 0``, ``ctrl = 0``), with the
state :math:`x=(q-q_0,\dot q)` and :math:`u` = ``ctrl`` = the env's action (so the actuator gear
lives inside :math:`B`).  Both models use MuJoCo's RK4 integrator, which
``mujoco.mjd_transitionFD`` refuses; for RK4 models the same central finite difference is taken
by hand over the env's full step (``mj_step`` x ``frame_skip``, step 1e-6); for other
integrators ``mjd_transitionFD`` of one ``mj_step`` is composed ``frame_skip`` times
(:math:`A_k=A^k`, :math:`B_k=\sum_{i<k}A^iB`, zero-order hold).  The gain
:math:`K=(R+B^\top PB)^{-1}B^\top PA` comes from ``scipy.linalg.solve_discrete_are`` with
:math:`Q=\mathrm{diag}(1, 10, 0.1, 0.1)` (cart, pole, their rates) for InvertedPendulum,
:math:`Q=\mathrm{diag}(1, 10, 10, 0.1, 0.1, 0.1)` for InvertedDoublePendulum and :math:`R=I` in
ctrl units; the action is :math:`\mathrm{clip}(-Kx,\ \text{ctrlrange})` (the env's action box is
the actuator ctrlrange).

State from observation (:func:`state_from_obs`): InvertedPendulum's observation *is*
``qpos ⊕ qvel``.  InvertedDoublePendulum's is ``[x, sin q1, sin q2, cos q1, cos q2,
clip(qvel, ±10) (3), clip(qfrc_constraint[0], ±10)]``; the state is ``qpos = (x, atan2(sin q1,
cos q1), atan2(sin q2, cos q2))`` (the hinges are unlimited, so the angle modulo 2π is the state)
and ``qvel`` = entries 5:8 (exact while every |qvel| < 10; the constraint force is an output of
the step, not state, and is ignored).

Measured (``gymnasium`` 1.4, ``mujoco`` 4.0, 50 episodes): InvertedPendulum-v5 return 1000
(every episode runs to the time limit), InvertedDoublePendulum-v5 ≈ 9359.9 (the per-step
maximum is ≈ 9.36 since the tip can reach height 1.2 of the target 2).

``MujocoDynamics``
------------------
The :class:`latentlab.offline.envs.Dynamics` oracle: for each row set ``qpos``/``qvel`` from the
observation, ``ctrl`` from the action, ``mj_step`` x ``frame_skip`` (one ``MjData``, a loop over
rows) and compute the next observation, reward and termination exactly as gymnasium's v5 env
does.  Supported: InvertedPendulum-v5 (observation = full state) and InvertedDoublePendulum-v5
(while |qvel| < 10, see above).  Not supported: the locomotion tasks (Hopper, HalfCheetah,
Walker2d, Ant, ...) whose observations exclude the root x position and, for Ant/Humanoid,
contain contact forces; they raise ``ValueError``.  The only hidden simulator state is the
constraint solver's warm start, which matters only while a joint limit is active (then the
match is to solver tolerance instead of bitwise).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch

__all__ = [
    "MUJOCO_EXPERT_IDS",
    "MUJOCO_MEDIUM_P",
    "LQRExpert",
    "MujocoDynamics",
    "linearize",
    "lqr_expert",
    "lqr_gain",
    "state_from_obs",
]

MUJOCO_EXPERT_IDS = ("InvertedPendulum-v5", "InvertedDoublePendulum-v5")

MUJOCO_MEDIUM_P: dict[str, float] = {"InvertedPendulum-v5": 0.9, "InvertedDoublePendulum-v5": 0.99}
"""Per-step expert probability p of the ``medium`` recipe: the quality-p mixture of the datasets
module (LQR action with probability p, a uniform one otherwise).  Uniform actions in the full
ctrlrange are violent kicks, so p is high; measured normalised scores (40 episodes, two seeds):
InvertedPendulum p = 0.9 -> 33 / 43, InvertedDoublePendulum p = 0.99 -> 35 / 46.  The ``sweep-<p>``
grades p < 1 therefore all score below 10 on these tasks."""

_Q_DIAG: dict[str, tuple[float, ...]] = {
    "InvertedPendulum-v5": (1.0, 10.0, 0.1, 0.1),
    "InvertedDoublePendulum-v5": (1.0, 10.0, 10.0, 0.1, 0.1, 0.1),
}


def _import_mujoco() -> Any:
    try:
        return importlib.import_module("mujoco")
    except ImportError as err:
        raise ImportError("latentlab.offline.mujoco needs the optional extra: pip install 'latentlab[mujoco]'") from err


def _make_env(env_id: str, **env_kwargs: Any) -> Any:
    _import_mujoco()
    import gymnasium as gym

    try:
        return gym.make(env_id, **env_kwargs)
    except (ImportError, gym.error.DependencyNotInstalled) as err:  # pragma: no cover - depends on the install
        raise ImportError(f"{env_id} needs the optional extra: pip install 'latentlab[mujoco]'") from err


def _check_supported(env_id: str) -> None:
    if env_id not in MUJOCO_EXPERT_IDS:
        raise ValueError(f"{env_id!r} is not supported; supported MuJoCo envs: {list(MUJOCO_EXPERT_IDS)} "
                         "(the locomotion tasks' observations do not determine the simulator state)")


# --------------------------------------------------------------------------- linearisation and LQR


def linearize(env_id: str, eps: float = 1e-6, **env_kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """(A (2nv, 2nv), B (2nv, nu)) of one env step about ``qpos0``, ``qvel = 0``, ``ctrl = 0`` (module docstring)."""
    mujoco = _import_mujoco()
    env = _make_env(env_id, **env_kwargs)
    try:
        model, frame_skip = env.unwrapped.model, int(env.unwrapped.frame_skip)
        if model.nq != model.nv:
            raise ValueError(f"{env_id}: linearize needs hinge/slide joints only (nq == nv), got nq={model.nq}, "
                             f"nv={model.nv}")
        nv, nu = model.nv, model.nu
        data = mujoco.MjData(model)
        q0 = model.qpos0.copy()
        if model.opt.integrator != mujoco.mjtIntegrator.mjINT_RK4:
            data.qpos[:], data.qvel[:], data.ctrl[:] = q0, 0.0, 0.0
            mujoco.mj_forward(model, data)
            a1, b1 = np.zeros((2 * nv, 2 * nv)), np.zeros((2 * nv, nu))
            mujoco.mjd_transitionFD(model, data, eps, True, a1, b1, None, None)
            a, b = np.eye(2 * nv), np.zeros((2 * nv, nu))
            for _ in range(frame_skip):
                a, b = a1 @ a, a1 @ b + b1
            return a, b

        def f(x: np.ndarray, u: np.ndarray) -> np.ndarray:
            data.time = 0.0
            data.qpos[:], data.qvel[:], data.ctrl[:] = q0 + x[:nv], x[nv:], u
            data.qacc_warmstart[:] = 0.0
            mujoco.mj_step(model, data, nstep=frame_skip)
            return np.concatenate([data.qpos - q0, data.qvel])

        x0, u0 = np.zeros(2 * nv), np.zeros(nu)
        a = np.stack([(f(x0 + eps * e, u0) - f(x0 - eps * e, u0)) / (2 * eps) for e in np.eye(2 * nv)], axis=1)
        b = np.stack([(f(x0, u0 + eps * e) - f(x0, u0 - eps * e)) / (2 * eps) for e in np.eye(nu)], axis=1)
        return a, b
    finally:
        env.close()


def lqr_gain(env_id: str, q_diag: tuple[float, ...] | None = None, r: float = 1.0, **env_kwargs: Any) -> np.ndarray:
    """The discrete-time LQR gain K (nu, 2nv), action = clip(-K x); see the module docstring."""
    import scipy.linalg

    a, b = linearize(env_id, **env_kwargs)
    q = np.diag(q_diag if q_diag is not None else _Q_DIAG[env_id])
    if q.shape[0] != a.shape[0]:
        raise ValueError(f"q_diag must have {a.shape[0]} entries, got {q.shape[0]}")
    rr = r * np.eye(b.shape[1])
    p = scipy.linalg.solve_discrete_are(a, b, q, rr)
    return np.linalg.solve(rr + b.T @ p @ b, b.T @ p @ a)


def state_from_obs(env_id: str, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(qpos (B, nq), qvel (B, nv)) in float64 from a batch of observations (module docstring)."""
    obs = np.asarray(obs, dtype=np.float64)
    if obs.ndim == 1:
        obs = obs[None]
    if env_id == "InvertedPendulum-v5":
        if obs.shape[1] != 4:
            raise ValueError(f"{env_id} observations have 4 entries, got shape {obs.shape}")
        return obs[:, :2].copy(), obs[:, 2:4].copy()
    if env_id == "InvertedDoublePendulum-v5":
        if obs.shape[1] != 9:
            raise ValueError(f"{env_id} observations have 9 entries, got shape {obs.shape}")
        qpos = np.stack([obs[:, 0], np.arctan2(obs[:, 1], obs[:, 3]), np.arctan2(obs[:, 2], obs[:, 4])], axis=1)
        return qpos, obs[:, 5:8].copy()
    _check_supported(env_id)
    raise AssertionError  # pragma: no cover


@dataclass(frozen=True, eq=False)
class LQRExpert:
    """Observation -> action LQR policy ``clip(-K (q - q0, qvel), low, high)`` (a datasets ``Policy``)."""

    env_id: str
    gain: np.ndarray
    qpos0: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @property
    def name(self) -> str:
        return f"{self.env_id.split('-')[0].lower()}-lqr"

    def __call__(self, obs: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        qpos, qvel = state_from_obs(self.env_id, obs)
        x = np.concatenate([qpos - self.qpos0, qvel], axis=1)
        return np.clip(-x @ self.gain.T, self.low, self.high).astype(np.float32)


@lru_cache(maxsize=8)
def lqr_expert(env_id: str) -> LQRExpert:
    """The LQR expert of ``InvertedPendulum-v5`` or ``InvertedDoublePendulum-v5`` (default env settings)."""
    _check_supported(env_id)
    gain = lqr_gain(env_id)
    env = _make_env(env_id)
    try:
        space = env.action_space
        qpos0 = env.unwrapped.model.qpos0.copy()
        return LQRExpert(env_id, gain, qpos0, space.low.astype(np.float64), space.high.astype(np.float64))
    finally:
        env.close()


# --------------------------------------------------------------------------- true-dynamics oracle


class MujocoDynamics:
    """Batched true dynamics of a MuJoCo gymnasium env whose observation determines the state.

    ``step(obs (B, obs_dim), actions (B, act_dim), generator=None) -> next_obs, reward (B,),
    terminated (B,) bool`` in ``obs.dtype`` (compute in float64 for an exact match with
    ``env.step``); see the module docstring for the supported envs.  ``env_kwargs`` go to
    ``gymnasium.make`` (e.g. ``frame_skip``, ``healthy_reward``)."""

    def __init__(self, env_id: str, **env_kwargs: Any) -> None:
        _check_supported(env_id)
        self._mujoco = _import_mujoco()
        env = _make_env(env_id, **env_kwargs)
        try:
            raw = env.unwrapped
            self.env_id = env_id
            self.model = raw.model
            self.frame_skip = int(raw.frame_skip)
            self.dt = float(raw.dt)
            self.healthy_reward = float(getattr(raw, "_healthy_reward", 1.0))
            self.obs_dim = int(env.observation_space.shape[0])
            self.act_dim = int(env.action_space.shape[0])
            self.action_low = env.action_space.low.copy()
            self.action_high = env.action_space.high.copy()
        finally:
            env.close()
        self.data = self._mujoco.MjData(self.model)

    def __repr__(self) -> str:
        return f"MujocoDynamics({self.env_id!r}, frame_skip={self.frame_skip})"

    def _obs(self) -> np.ndarray:
        d = self.data
        if self.env_id == "InvertedPendulum-v5":
            return np.concatenate([d.qpos, d.qvel])
        return np.concatenate([d.qpos[:1], np.sin(d.qpos[1:]), np.cos(d.qpos[1:]), np.clip(d.qvel, -10, 10),
                               np.clip(d.qfrc_constraint, -10, 10)[:1]])

    def _reward_done(self, next_obs: np.ndarray) -> tuple[float, bool]:
        d = self.data
        if self.env_id == "InvertedPendulum-v5":
            terminated = bool(not np.isfinite(next_obs).all() or abs(next_obs[1]) > 0.2)
            return float(int(not terminated)), terminated
        x, _, y = d.site_xpos[0]
        terminated = bool(y <= 1)
        v1, v2 = d.qvel[1:3]
        dist_penalty = 0.01 * x**2 + (y - 2) ** 2
        vel_penalty = 1e-3 * v1**2 + 5e-3 * v2**2
        return float(self.healthy_reward * int(not terminated) - dist_penalty - vel_penalty), terminated

    def step_numpy(self, obs: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`step` on float64 numpy arrays."""
        mujoco, model, d = self._mujoco, self.model, self.data
        qpos, qvel = state_from_obs(self.env_id, obs)
        acts = np.asarray(actions, dtype=np.float64)
        n = qpos.shape[0]
        next_obs = np.empty((n, self.obs_dim))
        reward = np.empty(n)
        terminated = np.empty(n, dtype=bool)
        for i in range(n):
            d.qpos[:], d.qvel[:], d.ctrl[:] = qpos[i], qvel[i], acts[i]
            mujoco.mj_step(model, d, nstep=self.frame_skip)
            next_obs[i] = self._obs()
            reward[i], terminated[i] = self._reward_done(next_obs[i])
        return next_obs, reward, terminated

    def step(self, obs: torch.Tensor, actions: torch.Tensor,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if obs.dim() != 2 or obs.shape[-1] != self.obs_dim:
            raise ValueError(f"MujocoDynamics.step: obs must have shape (B, {self.obs_dim}), got {tuple(obs.shape)}")
        if actions.dim() != 2 or actions.shape != (obs.shape[0], self.act_dim):
            raise ValueError(f"MujocoDynamics.step: actions must have shape ({obs.shape[0]}, {self.act_dim}), "
                             f"got {tuple(actions.shape)}")
        o = obs.detach().cpu().to(torch.float64).numpy()
        # gymnasium passes the (float32) action straight into data.ctrl; MuJoCo clamps it to ctrlrange.
        a = actions.detach().cpu().numpy()
        next_obs, reward, terminated = self.step_numpy(o, a)
        return (torch.from_numpy(next_obs).to(obs.dtype), torch.from_numpy(reward).to(obs.dtype),
                torch.from_numpy(terminated))
