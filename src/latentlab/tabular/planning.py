r"""Exact dynamic programming on finite-horizon MDPs, batched over leading axes.

Every function takes kernels ``P[..., h, s, a, s']`` and rewards ``R[..., h, s, a]`` with
arbitrary (broadcastable) leading batch axes, e.g. one empirical model per seed, so a
learner vectorised over seeds plans for all of them in one call.  Steps are
``h = 0..H-1`` and ``V[..., H, :] = 0``.

* :func:`policy_q` / :func:`policy_value`: backward induction for a Markov policy
  :math:`\pi_h(a|s)`,

  .. math:: Q^\pi_h(s,a) = r_h(s,a) + \sum_{s'} P_h(s'|s,a) V^\pi_{h+1}(s'),\qquad
            V^\pi_h(s) = \sum_a \pi_h(a|s) Q^\pi_h(s,a).

* :func:`value_iteration`: :math:`V_h = \min(v_{\max,h}, \max_a Q_h)` with an optional
  additive bonus (optimistic planning for UCB learners).
* :func:`soft_value_iteration`: the KL-regularised backup with reference
  :math:`\pi^{\rm ref}` and temperature :math:`\lambda`,

  .. math:: V_h(s) = \lambda \log \sum_a \pi^{\rm ref}_h(a|s)\, e^{Q_h(s,a)/\lambda},\qquad
            \pi_h(a|s) \propto \pi^{\rm ref}_h(a|s)\, e^{Q_h(s,a)/\lambda},

  whose value is :math:`\max_\pi V^\pi_1 - \lambda\,\mathrm{KL}_{\rm traj}(\pi\|\pi^{\rm ref})`.
* :func:`occupancy`: :math:`d_h(s,a) = P^\pi(s_h = s, a_h = a)` by forward induction.
* Mixtures: :func:`step_mixture` (per-step randomisation is again a Markov policy) and
  :func:`episode_mixture_value` (one policy drawn per episode: the value is linear).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

__all__ = [
    "Solution",
    "as_stochastic",
    "expected_next",
    "policy_q",
    "policy_value",
    "value_iteration",
    "soft_value_iteration",
    "occupancy",
    "trajectory_kl",
    "step_mixture",
    "episode_mixture_value",
]


@dataclass(frozen=True)
class Solution:
    """Result of backward induction: ``Q[..., H, S, A]``, ``V[..., H+1, S]`` and a policy ``[..., H, S, A]``.

    ``stochastic_policy`` is ``None`` for optimal backward induction: the policy is then the
    greedy one-hot of ``Q`` (ties to the lowest action), built only when asked for, so that
    learners that only need values (UCBVI plans every episode) do not pay for it.
    """

    Q: np.ndarray
    V: np.ndarray
    stochastic_policy: np.ndarray | None = None

    @property
    def policy(self) -> np.ndarray:
        if self.stochastic_policy is not None:
            return self.stochastic_policy
        return (self.greedy()[..., None] == np.arange(self.Q.shape[-1])).astype(float)

    def greedy(self) -> np.ndarray:
        """Deterministic policy ``[..., H, S]`` (argmax of ``policy``)."""
        if self.stochastic_policy is None:
            return np.argmax(self.Q, axis=-1)
        return np.argmax(self.stochastic_policy, axis=-1)


def as_stochastic(policy: np.ndarray, A: int) -> np.ndarray:
    """A deterministic policy ``[..., H, S]`` (ints) as one-hot ``[..., H, S, A]``; stochastic passes through."""
    policy = np.asarray(policy)
    if policy.dtype.kind in "iu":
        if policy.size and (policy.min() < 0 or policy.max() >= A):
            raise ValueError(f"deterministic policy actions must be in [0, {A}), "
                             f"got range [{policy.min()}, {policy.max()}]")
        return np.eye(A)[policy]
    if policy.shape[-1] != A:
        raise ValueError(f"stochastic policy must end with an action axis of size A={A}, got shape {policy.shape}")
    return policy.astype(float, copy=False)


def expected_next(P_h: np.ndarray, V_next: np.ndarray) -> np.ndarray:
    r""":math:`(P_h V)(s,a) = \sum_{s'} P_h(s'|s,a) V(s')` for ``P_h[..., s, a, s']`` and ``V_next[..., s']``."""
    S, A, S2 = P_h.shape[-3:]
    flat = P_h.reshape(*P_h.shape[:-3], S * A, S2)
    out = np.matmul(flat, V_next[..., :, None])[..., 0]
    return out.reshape(*out.shape[:-1], S, A)


def _shapes(P: np.ndarray, R: np.ndarray) -> tuple[int, int, int]:
    if P.ndim < 4 or R.ndim < 3 or P.shape[-4:-1] != R.shape[-3:] or P.shape[-1] != P.shape[-3]:
        raise ValueError("P must be (..., H, S, A, S) and R (..., H, S, A) with matching H, S, A; "
                         f"got {P.shape}, {R.shape}")
    return P.shape[-4], P.shape[-3], P.shape[-2]


def policy_q(P: np.ndarray, R: np.ndarray, policy: np.ndarray) -> Solution:
    """Exact :math:`Q^\\pi, V^\\pi` of a Markov policy (deterministic ``[..., H, S]`` or stochastic)
    by backward induction."""
    H, S, A = _shapes(P, R)
    pi = as_stochastic(policy, A)
    batch = np.broadcast_shapes(P.shape[:-4], R.shape[:-3], pi.shape[:-3])
    V = np.zeros((*batch, H + 1, S))
    Q = np.zeros((*batch, H, S, A))
    for h in range(H - 1, -1, -1):
        Q[..., h, :, :] = R[..., h, :, :] + expected_next(P[..., h, :, :, :], V[..., h + 1, :])
        V[..., h, :] = np.sum(pi[..., h, :, :] * Q[..., h, :, :], axis=-1)
    return Solution(Q, V, np.broadcast_to(pi, (*batch, H, S, A)))


def policy_value(P: np.ndarray, R: np.ndarray, mu: np.ndarray, policy: np.ndarray) -> np.ndarray:
    r"""Exact :math:`V^\pi_1(\mu) = \sum_s \mu(s) V^\pi_1(s)` (batched over the leading axes)."""
    return policy_q(P, R, policy).V[..., 0, :] @ mu


def value_iteration(P: np.ndarray, R: np.ndarray, bonus: np.ndarray | None = None,
                    v_max: np.ndarray | float | None = None) -> Solution:
    r"""Optimal (or optimistic) backward induction.

    :math:`Q_h = R_h + b_h + P_h V_{h+1}`, :math:`V_h(s) = \min(v_{\max,h}, \max_a Q_h(s,a))`.
    ``bonus`` broadcasts against ``R``; ``v_max`` is a scalar or per-step array ``(H,)``
    (e.g. ``H - h``) used to clip optimistic values.  Ties break to the lowest action.
    """
    H, S, A = _shapes(P, R)
    if bonus is not None:
        R = R + bonus
    batch = np.broadcast_shapes(P.shape[:-4], R.shape[:-3])
    clip = None if v_max is None else np.broadcast_to(np.asarray(v_max, dtype=float), (H,))
    V = np.zeros((*batch, H + 1, S))
    if not batch:  # one model: Q_h stored action-major (A, S), so max_a is a reduction over rows
        P_as = P.transpose(0, 2, 1, 3)  # (H, A, S, S') view, no copy
        R_as = R.transpose(0, 2, 1)
        Q_as = np.empty((H, A, S))
        for h in range(H - 1, -1, -1):
            q = Q_as[h]
            np.matmul(P_as[h], V[h + 1], out=q)
            q += R_as[h]
            if clip is not None:
                np.minimum(q, clip[h], out=q)
            np.maximum.reduce(q, axis=0, out=V[h])
        return Solution(Q_as.transpose(0, 2, 1), V)
    P_flat = P.reshape(*P.shape[:-3], S * A, S)  # one batched matrix-vector product per step
    R_flat = R.reshape(*R.shape[:-2], S * A)
    Q = np.zeros((*batch, H, S * A))
    for h in range(H - 1, -1, -1):
        q = R_flat[..., h, :] + np.matmul(P_flat[..., h, :, :], V[..., h + 1, :, None])[..., 0]
        if clip is not None:
            np.minimum(q, clip[h], out=q)
        Q[..., h, :] = q
        V[..., h, :] = q.reshape(*q.shape[:-1], S, A).max(axis=-1)
    return Solution(Q.reshape(*batch, H, S, A), V)


def soft_value_iteration(P: np.ndarray, R: np.ndarray, reference: np.ndarray, lam: float,
                         bonus: np.ndarray | None = None, v_max: np.ndarray | float | None = None) -> Solution:
    r"""KL-regularised backward induction towards a reference policy ``reference[..., H, S, A]``.

    :math:`Q_h = R_h + b_h + P_h V_{h+1}`,
    :math:`V_h(s) = \lambda\log\sum_a \pi^{\rm ref}_h(a|s)\exp(Q_h(s,a)/\lambda)` (clipped to
    ``v_max`` when given), :math:`\pi_h(a|s) \propto \pi^{\rm ref}_h(a|s)\exp(Q_h(s,a)/\lambda)`.
    Without bonus and clip, ``V[...,0] @ mu`` equals
    :math:`\max_\pi \{V^\pi_1(\mu) - \lambda\,\mathrm{KL}_{\rm traj}(\pi\|\pi^{\rm ref})\}`.
    """
    if not lam > 0:
        raise ValueError(f"lam must be > 0, got {lam}")
    H, S, A = _shapes(P, R)
    if bonus is not None:
        R = R + bonus
    reference = np.asarray(reference, dtype=float)
    if reference.shape[-3:] != (H, S, A):
        raise ValueError(f"reference must have shape (..., H, S, A) = (..., {H}, {S}, {A}), got {reference.shape}")
    log_ref = np.log(np.clip(reference, 1e-300, None))
    batch = np.broadcast_shapes(P.shape[:-4], R.shape[:-3], reference.shape[:-3])
    clip = None if v_max is None else np.broadcast_to(np.asarray(v_max, dtype=float), (H,))
    V = np.zeros((*batch, H + 1, S))
    Q = np.zeros((*batch, H, S, A))
    pi = np.zeros((*batch, H, S, A))
    for h in range(H - 1, -1, -1):
        q = R[..., h, :, :] + expected_next(P[..., h, :, :, :], V[..., h + 1, :])
        logits = log_ref[..., h, :, :] + q / lam
        norm = logsumexp(logits, axis=-1)
        Q[..., h, :, :] = q
        pi[..., h, :, :] = np.exp(logits - norm[..., None])
        v = lam * norm
        V[..., h, :] = v if clip is None else np.minimum(v, clip[h])
    return Solution(Q, V, pi)


def occupancy(P: np.ndarray, mu: np.ndarray, policy: np.ndarray) -> np.ndarray:
    r"""State-action occupancy :math:`d_h(s,a) = P^\pi(s_h=s, a_h=a)`, shape ``[..., H, S, A]``.

    Forward induction: :math:`d_h(s,a) = \rho_h(s)\pi_h(a|s)`,
    :math:`\rho_{h+1}(s') = \sum_{s,a} d_h(s,a) P_h(s'|s,a)`, :math:`\rho_0 = \mu`.
    """
    H, S, A = P.shape[-4], P.shape[-3], P.shape[-2]
    pi = as_stochastic(policy, A)
    batch = np.broadcast_shapes(P.shape[:-4], pi.shape[:-3])
    d = np.zeros((*batch, H, S, A))
    rho = np.broadcast_to(np.asarray(mu, dtype=float), (*batch, S))
    for h in range(H):
        d[..., h, :, :] = rho[..., :, None] * pi[..., h, :, :]
        rho = np.einsum("...sa,...sat->...t", d[..., h, :, :], P[..., h, :, :, :])
    return d


def trajectory_kl(P: np.ndarray, mu: np.ndarray, policy: np.ndarray, reference: np.ndarray) -> np.ndarray:
    r"""Exact :math:`\mathrm{KL}_{\rm traj}(\pi\|\pi') =
    E_\pi[\sum_h \mathrm{KL}(\pi_h(\cdot|s_h)\|\pi'_h(\cdot|s_h))]`."""
    A = P.shape[-2]
    pi = as_stochastic(policy, A)
    ref = as_stochastic(reference, A)
    d = occupancy(P, mu, pi)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.where(pi > 0, np.log(np.clip(pi, 1e-300, None)) - np.log(np.clip(ref, 1e-300, None)), 0.0)
    return np.sum(d * log_ratio, axis=(-3, -2, -1))


def step_mixture(first: np.ndarray, second: np.ndarray, t: np.ndarray | int, rho: np.ndarray | float) -> np.ndarray:
    r"""The step-mixing policy :math:`\pi_{t,\rho}`: ``first`` at steps :math:`h<t`, the mixture
    :math:`\rho\,\texttt{second} + (1-\rho)\,\texttt{first}` at step :math:`t`, ``second`` at :math:`h>t`.

    With ``first = π_b`` and ``second = π^k`` (StepMix's baseline-first order),
    :math:`(t,\rho) = (0, 1)` is :math:`\pi^k` and :math:`(H-1, 0)` is :math:`\pi_b`.  ``t`` and
    ``rho`` broadcast over leading batch axes.  Per-step randomisation of Markov
    policies is again a Markov policy, so the result is an ordinary ``[..., H, S, A]`` array.
    """
    first = np.asarray(first, dtype=float)
    second = np.asarray(second, dtype=float)
    H = first.shape[-3]
    t = np.asarray(t)
    rho = np.asarray(rho, dtype=float)
    h = np.arange(H)
    weight = np.where(h < t[..., None], 0.0, np.where(h > t[..., None], 1.0, rho[..., None]))  # [..., H]
    w = weight[..., :, None, None]
    return (1.0 - w) * first + w * second


def episode_mixture_value(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    r"""Value of an episode-level mixture (draw policy :math:`i` w.p. :math:`w_i` for the whole episode):
    :math:`\sum_i w_i V^{\pi_i}` (``values[..., i]``, ``weights[..., i]``)."""
    weights = np.asarray(weights, dtype=float)
    if np.any(weights < 0) or not np.allclose(weights.sum(-1), 1.0):
        raise ValueError("weights must be non-negative and sum to 1 along the last axis")
    return np.sum(np.asarray(values) * weights, axis=-1)
