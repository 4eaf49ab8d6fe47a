r"""Demonstration-regularised RL: behaviour cloning, then KL-regularised optimistic RL.

Tiapkin, Belomestny, Calandriello, Moulines, Munos, Naumov, Perrault, Valko & Ménard,
*Demonstration-Regularized RL* (ICLR 2024, arXiv 2310.17303).

1. **Behaviour cloning** (:func:`behaviour_cloning`): the maximiser of
   :math:`\sum_{\tau,h}\log\pi_h(a_h|s_h) + \kappa\sum_{h,s,a}\log\pi_h(a|s)` is Laplace smoothing,

   .. math:: \pi^{\rm BC}_h(a|s) = \frac{n_h(s,a) + \kappa}{n_h(s) + A\kappa},

   whose trajectory KL :math:`\mathrm{KL}_{\rm traj}(\pi^E\|\pi^{\rm BC})` decays as
   :math:`\tilde O(SAH/N^E)`.
2. **KL-regularised RL** towards :math:`\pi^{\rm BC}`: maximise
   :math:`V^\pi_1(s_1) - \lambda\,\mathrm{KL}_{\rm traj}(\pi\|\pi^{\rm BC})`.
   :class:`DemoRegularizedUCBVI` runs optimistic soft value iteration on the empirical
   model (UCBVI-Ent+-style backup, Hoeffding bonus :math:`b = c\,(H-h)\sqrt{L/n}`),

   .. math:: \bar Q_h = \hat r_h + b_h + \hat P_h\bar V_{h+1},\quad
             \bar V_h(s) = \min\Big(H-h,\ \lambda\log\sum_a\pi^{\rm BC}_h(a|s)e^{\bar Q_h(s,a)/\lambda}\Big),

   plays :math:`\pi^k_h(a|s)\propto\pi^{\rm BC}_h(a|s)e^{\bar Q_h(s,a)/\lambda}` and stops when the
   optimistic minus pessimistic regularised value of :math:`\pi^k` at :math:`s_1` is at most
   ``epsilon``.  ``lam`` and the reference may differ per replicate, so one learner runs a
   whole grid of :math:`N^E` at once.
3. :func:`regularisation_from_demos`: :math:`\lambda = \varepsilon / (2\,\widehat{\mathrm{KL}})` with the
   BC bound :math:`\widehat{\mathrm{KL}} = c_{\rm KL}\,SAH/N^E`, i.e. :math:`\lambda` grows linearly in :math:`N^E`
   (then :math:`\lambda\,\mathrm{KL}_{\rm traj}(\pi^E\|\pi^{\rm BC}) \le \varepsilon/2`).
"""

from __future__ import annotations

import numpy as np

from latentlab.tabular.learners import UCBVI, Plan, Trajectories
from latentlab.tabular.planning import expected_next

__all__ = [
    "behaviour_cloning",
    "regularisation_from_demos",
    "DemoRegularizedUCBVI",
    "regularised_value",
]


def behaviour_cloning(demos: Trajectories, S: int, A: int, kappa: float = 1.0) -> np.ndarray:
    """Laplace-smoothed BC policy ``[H, S, A]`` from ``N`` expert trajectories (rewards unused)."""
    if kappa <= 0:
        raise ValueError(f"kappa must be > 0, got {kappa}")
    N, H = demos.actions.shape
    h = np.broadcast_to(np.arange(H), (N, H))
    idx = ((h * S + demos.states[:, :-1]) * A + demos.actions).ravel()
    counts = np.bincount(idx, minlength=H * S * A).reshape(H, S, A).astype(float)
    return (counts + kappa) / (counts.sum(-1, keepdims=True) + A * kappa)


def regularisation_from_demos(n_demos: np.ndarray | int, S: int, A: int, H: int, epsilon: float,
                              kl_constant: float = 1.0) -> np.ndarray:
    r""":math:`\lambda = \varepsilon N^E / (2 c_{\rm KL} SAH)` (see the module docstring)."""
    n = np.asarray(n_demos, dtype=float)
    if np.any(n < 1):
        raise ValueError(f"n_demos must be >= 1, got {n}")
    if epsilon <= 0 or kl_constant <= 0:
        raise ValueError(f"epsilon and kl_constant must be > 0, got {epsilon}, {kl_constant}")
    return epsilon * n / (2.0 * kl_constant * S * A * H)


def _kl_rows(pi: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """:math:`\\mathrm{KL}(\\pi(\\cdot|s)\\|\\mathrm{ref}(\\cdot|s))` over the last axis."""
    safe = np.clip(pi, 1e-300, None)
    return np.sum(np.where(pi > 0, pi * (np.log(safe) - np.log(np.clip(ref, 1e-300, None))), 0.0), axis=-1)


def regularised_value(P: np.ndarray, R: np.ndarray, mu: np.ndarray, policy: np.ndarray, reference: np.ndarray,
                      lam: np.ndarray | float) -> np.ndarray:
    r"""Exact :math:`V^\pi_1(\mu) - \lambda\,\mathrm{KL}_{\rm traj}(\pi\|\pi^{\rm ref})` by backward induction
    (batched; ``lam`` broadcasts over the leading axes)."""
    lam = np.asarray(lam, dtype=float)
    H, S = P.shape[-4], P.shape[-3]
    penalty = lam[..., None, None] * _kl_rows(policy, reference)  # [..., H, S]
    batch = np.broadcast_shapes(P.shape[:-4], policy.shape[:-3], penalty.shape[:-2])
    V = np.zeros((*batch, S))
    for h in range(H - 1, -1, -1):
        q = R[..., h, :, :] + expected_next(P[..., h, :, :, :], V)
        V = np.sum(policy[..., h, :, :] * q, axis=-1) - penalty[..., h, :]
    return V @ mu


class DemoRegularizedUCBVI(UCBVI):
    """Optimistic KL-regularised value iteration towards per-replicate reference policies (BPI)."""

    def __init__(self, H: int, S: int, A: int, n_episodes: int, reference: np.ndarray, lam: np.ndarray | float,
                 mu: np.ndarray, epsilon: float, **kwargs) -> None:
        reference = np.asarray(reference, dtype=float)
        if reference.ndim == 3:
            reference = reference[None]
        n = reference.shape[0]
        super().__init__(H, S, A, n_episodes, n, **kwargs)
        if reference.shape != (n, H, S, A) or not np.allclose(reference.sum(-1), 1.0):
            raise ValueError(f"reference must be policies of shape (n, H, S, A) = (n, {H}, {S}, {A}), "
                             f"got {reference.shape}")
        lam = np.broadcast_to(np.asarray(lam, dtype=float), (n,))
        if np.any(lam <= 0):
            raise ValueError(f"lam must be > 0, got {lam}")
        if epsilon <= 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon}")
        self.reference = reference
        self.log_ref = np.log(np.clip(reference, 1e-300, None))
        self.lam = lam.copy()
        self.mu = np.asarray(mu, dtype=float)
        self.epsilon = float(epsilon)
        self.episodes = 0
        self.stop_episode = np.full(n, -1)
        self._soft: tuple[np.ndarray, np.ndarray] | None = None

    def soft_optimistic(self) -> tuple[np.ndarray, np.ndarray]:
        """Optimistic soft value ``[n, H+1, S]`` and the soft policy ``[n, H, S, A]``."""
        if self._soft is None:
            P, R = self.model.p_hat(), self.model.r_hat()
            b = self.hoeffding_bonus()
            lam = self.lam[:, None, None]
            V = np.zeros((self.n, self.H + 1, self.S))
            pi = np.zeros((self.n, self.H, self.S, self.A))
            for h in range(self.H - 1, -1, -1):
                q = np.minimum(R[:, h] + b[:, h] + expected_next(P[:, h], V[:, h + 1]), self.v_max[h])
                logits = self.log_ref[:, h] + q / lam
                top = logits.max(-1, keepdims=True)
                w = np.exp(logits - top)
                norm = w.sum(-1, keepdims=True)
                pi[:, h] = w / norm
                V[:, h] = np.minimum(lam[..., 0] * (top[..., 0] + np.log(norm[..., 0])), self.v_max[h])
            self._soft = (V, pi)
        return self._soft

    def pessimistic_regularised(self, policy: np.ndarray) -> np.ndarray:
        """Lower bound on the regularised value of ``policy`` at ``mu``: empirical model minus the bonus."""
        P, R = self.model.p_hat(), self.model.r_hat()
        b = self.hoeffding_bonus()
        return regularised_value(P, R - b, self.mu, policy, self.reference, self.lam)

    def gap(self) -> np.ndarray:
        V, pi = self.soft_optimistic()
        return V[:, 0] @ self.mu - self.pessimistic_regularised(pi)

    def plan(self) -> Plan:
        running = self.stop_episode < 0
        if running.any():
            stop = running & (self.gap() <= self.epsilon)
            self.stop_episode[stop] = self.episodes
        return Plan(self.soft_optimistic()[1])

    def observe(self, traj: Trajectories) -> None:
        super().observe(traj)
        self._soft = None
        self.episodes += 1
