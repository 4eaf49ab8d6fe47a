r"""Mirror Descent Policy Optimization (Tomar et al., ICLR 2022): the tabular form of its update.

At iteration k MDPO approximately solves the proximal problem

.. math::

    \pi_{k+1}=\arg\max_\pi\ \mathbb E_{s\sim\rho_{\pi_k},a\sim\pi_k}\Big[\frac{\pi(a|s)}{\pi_k(a|s)}A^{\pi_k}(s,a)\Big]
      -\frac1{t_k}\mathbb E_{s\sim\rho_{\pi_k}}\big[\mathrm{KL}(\pi(\cdot|s)\,\|\,\pi_k(\cdot|s))\big]

by m gradient steps from :math:`\pi_k`.  For a tabular softmax policy its exact solution is
state-wise :math:`\pi_{k+1}(\cdot|s)\propto\pi_k(\cdot|s)\exp(t_kA^{\pi_k}(s,\cdot))` (the mirror
descent step with the KL Bregman divergence).  :func:`md_closed_form` computes it;
:func:`mdpo_tabular_step` reaches it numerically through the *same* loss that
:class:`latentlab.deeprl.PPO` minimises with ``PPOConfig.mdpo()``
(:func:`latentlab.deeprl.ppo.policy_objective` with unclipped ratio and the new-to-old KL
penalty), with every (s, a) pair weighted by :math:`\rho(s)\pi_k(a|s)`.

The deep versions are configurations of the shared learners: on-policy MDPO is
``PPO(config=PPOConfig.mdpo(m))``, off-policy MDPO is ``SAC(config=SACConfig(mdpo_kl_coef=c,
mdpo_refresh_every=m))``.
"""

from __future__ import annotations

import numpy as np
import torch

from latentlab.deeprl.distributions import Categorical
from latentlab.deeprl.ppo import policy_objective

__all__ = ["random_tabular_mdp", "policy_evaluation", "md_closed_form", "mdpo_tabular_step"]


def random_tabular_mdp(n_states: int, n_actions: int, rng: np.random.Generator
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dirichlet(1) transitions ``P[s, a, s']``, uniform rewards ``R[s, a]`` in [0, 1], uniform start."""
    if n_states < 1 or n_actions < 1:
        raise ValueError(f"n_states and n_actions must be >= 1, got {n_states}, {n_actions}")
    P = rng.dirichlet(np.ones(n_states), size=(n_states, n_actions))
    R = rng.uniform(0.0, 1.0, size=(n_states, n_actions))
    return P, R, np.full(n_states, 1.0 / n_states)


def policy_evaluation(P: np.ndarray, R: np.ndarray, mu0: np.ndarray, pi: np.ndarray, gamma: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Exact :math:`A^\pi(s,a)`, :math:`V^\pi(s)` and the normalised discounted state distribution
    :math:`\rho_\pi=(1-\gamma)\mu_0^\top(I-\gamma P_\pi)^{-1}`."""
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma must be in [0, 1), got {gamma}")
    S = P.shape[0]
    P_pi = np.einsum("sa,sat->st", pi, P)
    r_pi = (pi * R).sum(1)
    V = np.linalg.solve(np.eye(S) - gamma * P_pi, r_pi)
    Q = R + gamma * P @ V
    rho = (1 - gamma) * np.linalg.solve((np.eye(S) - gamma * P_pi).T, mu0)
    return Q - V[:, None], V, rho


def md_closed_form(pi: np.ndarray, adv: np.ndarray, t: float) -> np.ndarray:
    r""":math:`\pi'(\cdot|s)\propto\pi(\cdot|s)\exp(t\,A(s,\cdot))`."""
    logits = np.log(pi) + t * adv
    logits -= logits.max(1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(1, keepdims=True)


def mdpo_tabular_step(pi: np.ndarray, adv: np.ndarray, rho: np.ndarray, t: float, m: int = 500,
                      lr: float = 0.05) -> np.ndarray:
    """m Adam steps on the MDPO loss over softmax-tabular logits initialised at ``log pi``
    (learning rate decayed linearly to 0, so the iterate settles)."""
    if m < 1:
        raise ValueError(f"m must be >= 1, got {m}")
    if t <= 0:
        raise ValueError(f"t must be > 0, got {t}")
    S, A = pi.shape
    old_logits = torch.tensor(np.log(pi), dtype=torch.float64)
    logits = old_logits.clone().requires_grad_(True)
    old = Categorical(old_logits)
    states = torch.arange(S).repeat_interleave(A)
    actions = torch.arange(A).repeat(S)
    weights = torch.tensor(rho[:, None] * pi, dtype=torch.float64).reshape(-1)
    advantages = torch.tensor(adv, dtype=torch.float64).reshape(-1)
    old_log_probs = old_logits[states, actions]
    optimizer = torch.optim.Adam([logits], lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 1.0 - i / m)
    for _ in range(m):
        new = Categorical(logits[states])
        loss, _ = policy_objective(new, Categorical(old_logits[states]), actions, old_log_probs, advantages,
                                   clip_coef=None, kl_coef=1.0 / t, weights=weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    del old
    return torch.softmax(logits.detach(), -1).numpy()
