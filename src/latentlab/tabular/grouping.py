r"""Action-space reduction by grouping (discounted tabular MDPs with very many actions).

Li, Ju & Shroff, *Achieving Sample and Computational Efficient Reinforcement Learning by
Action Space Reduction via Grouping* (ICLR 2024, arXiv 2306.12981).

Model.  A grouping :math:`g: A \to [G]` and a lower-level policy :math:`\mu(a|s,k)` (here
uniform on group :math:`k`) define the *lifted* MDP over (state, group):

.. math:: P_2(s'|s,k) = \sum_{a\in k}\mu(a|s,k)P(s'|s,a),\qquad r_2(s,k) = \sum_{a\in k}\mu(a|s,k) r(s,a).

Algorithm 1 (generative model, no exploration): spend a budget of :math:`B` samples on the
:math:`SG` pairs (uniformly), estimate :math:`\hat P_2, \hat r_2`, run :math:`T` steps of
value iteration on the lifted MDP, output :math:`\pi(a|s) = \mu(a|s, \arg\max_k Q(s,k))`.

The loss :math:`V^* - V^{\hat\pi}` splits into an approximation error that shrinks with
finer groupings and an estimation error that grows with :math:`G` at fixed :math:`B`; the
bound's form is

.. math:: V^* - V^{\hat\pi} \lesssim \frac{\epsilon_r(g) + \gamma\,\epsilon_P(g)V_{\max}}{1-\gamma}
          + \frac{V_{\max}}{1-\gamma}\sqrt{\frac{SG\log(SG/\delta)}{B}} + \frac{\gamma^T V_{\max}}{1-\gamma}.

:func:`select_grouping` minimises this surrogate over nested candidate groupings using
only group-level statistics (:math:`G` numbers per candidate), so its cost does not
depend on :math:`|A|`.  The plug-in constants and the estimators of :math:`\epsilon_r,\epsilon_P` are our
reconstruction (see :func:`bound_surrogate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

__all__ = [
    "ClusteredActionMDP",
    "clustered_action_mdp",
    "discounted_vi",
    "discounted_policy_value",
    "pilot_features",
    "nested_groupings",
    "GroupModel",
    "group_model",
    "sample_lifted_model",
    "grouped_policy",
    "grouping_loss",
    "bound_surrogate",
    "grouping_errors",
    "select_grouping",
]


@dataclass(frozen=True)
class ClusteredActionMDP:
    """Discounted MDP ``P[s, a, s']``, ``R[s, a]`` whose actions come in true clusters ``cluster[a]``."""

    P: np.ndarray
    R: np.ndarray
    cluster: np.ndarray
    gamma: float

    @property
    def S(self) -> int:
        return int(self.P.shape[0])

    @property
    def A(self) -> int:
        return int(self.P.shape[1])


def clustered_action_mdp(S: int, n_actions: int, n_clusters: int, sigma: float, sigma_r: float, gamma: float,
                         rng: np.random.Generator) -> ClusteredActionMDP:
    r"""Cluster centres :math:`P_c(\cdot|s)\sim\mathrm{Dir}(\mathbf 1)`, :math:`r_c(s)\sim U[0,1]`; action
    :math:`a` in cluster :math:`c`: :math:`(1-\sigma)P_c(\cdot|s) + \sigma\,\mathrm{Dir}(\mathbf 1)` and
    :math:`\mathrm{clip}(r_c(s) + \mathcal N(0,\sigma_r^2), 0, 1)`.  Actions are assigned to clusters round-robin."""
    if not (S >= 1 and n_actions >= n_clusters >= 1):
        raise ValueError(f"need S >= 1 and n_actions >= n_clusters >= 1, got {S}, {n_actions}, {n_clusters}")
    if not (0 <= sigma <= 1 and sigma_r >= 0 and 0 <= gamma < 1):
        raise ValueError(f"need sigma in [0, 1], sigma_r >= 0, gamma in [0, 1); got {sigma}, {sigma_r}, {gamma}")
    cluster = np.arange(n_actions) % n_clusters
    centres = rng.dirichlet(np.ones(S), size=(S, n_clusters))
    noise = rng.dirichlet(np.ones(S), size=(S, n_actions))
    P = (1 - sigma) * centres[:, cluster] + sigma * noise
    R = np.clip(rng.uniform(size=(S, n_clusters))[:, cluster] + sigma_r * rng.standard_normal((S, n_actions)), 0, 1)
    return ClusteredActionMDP(P, R, cluster, gamma)


def discounted_vi(P: np.ndarray, R: np.ndarray, gamma: float, iterations: int = 500) -> np.ndarray:
    r""":math:`T` steps of :math:`Q \leftarrow R + \gamma P \max_{a'} Q` from 0;
    ``P[s, a, s']``, returns ``Q[s, a]``."""
    Q = np.zeros(R.shape)
    for _ in range(iterations):
        Q = R + gamma * (P @ Q.max(-1))
    return Q


def discounted_policy_value(P_pi: np.ndarray, r_pi: np.ndarray, gamma: float) -> np.ndarray:
    r"""Exact :math:`V^\pi = (I - \gamma P_\pi)^{-1} r_\pi` (linear solve)."""
    return np.linalg.solve(np.eye(P_pi.shape[0]) - gamma * P_pi, r_pi)


def pilot_features(mdp: ClusteredActionMDP, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Per-action features ``[A, S*(S+1)]``: empirical next-state frequencies and mean rewards
    from ``samples`` draws per (s, a) (rewards observed with unit-variance-free noise: the means)."""
    counts = rng.multinomial(samples, mdp.P.reshape(-1, mdp.S)).reshape(mdp.S, mdp.A, mdp.S) / samples
    return np.concatenate([counts.transpose(1, 0, 2).reshape(mdp.A, -1), mdp.R.T], axis=1)


def nested_groupings(features: np.ndarray, sizes: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Ward hierarchical clustering of the actions; ``{G: labels[A] in 0..G-1}``, nested across G."""
    A = features.shape[0]
    if any(not 1 <= g <= A for g in sizes):
        raise ValueError(f"group counts must be in [1, {A}], got {sizes}")
    tree = linkage(features, method="ward")
    out = {}
    for g in sizes:
        labels = np.arange(A) if g == A else fcluster(tree, g, criterion="maxclust") - 1
        _, labels = np.unique(labels, return_inverse=True)
        out[g] = labels
    return out


@dataclass(frozen=True)
class GroupModel:
    """The lifted model of a grouping under the uniform lower-level policy."""

    P2: np.ndarray  # [S, G, S]
    r2: np.ndarray  # [S, G]
    r_var: np.ndarray  # [S, G] within-group variance of r(s, a)
    labels: np.ndarray  # [A]


def group_model(P: np.ndarray, R: np.ndarray, labels: np.ndarray) -> GroupModel:
    """Exact :math:`P_2, r_2` (means over each group's actions) and the within-group reward variance."""
    G = int(labels.max()) + 1
    member = np.eye(G)[labels]  # [A, G]
    size = member.sum(0)
    P2 = np.einsum("sat,ag->sgt", P, member) / size[None, :, None]
    r2 = R @ member / size
    r_var = (R**2) @ member / size - r2**2
    return GroupModel(P2, r2, np.maximum(r_var, 0.0), labels)


def sample_lifted_model(model: GroupModel, budget: int, rng: np.random.Generator,
                        obs_noise: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Spend ``budget`` generative samples uniformly over the :math:`SG` pairs.

    A sample at :math:`(s,k)` draws :math:`a\sim\mu(\cdot|s,k)`, :math:`s'\sim P(\cdot|s,a)` and
    :math:`r(s,a)+\mathcal N(0,\sigma^2)`; marginally :math:`s'\sim P_2(\cdot|s,k)`, so next-state
    counts are multinomial, and the reward mean is normal with variance
    :math:`(\mathrm{Var}_k r + \sigma^2)/n`.  Unvisited pairs get reward 0 and uniform transitions.
    Returns :math:`\hat P_2, \hat r_2, n`.
    """
    if budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")
    S, G, _ = model.P2.shape
    n = rng.multinomial(budget, np.full(S * G, 1.0 / (S * G))).reshape(S, G)
    counts = rng.multinomial(n.ravel(), model.P2.reshape(-1, S)).reshape(S, G, S)
    P_hat = np.where(n[..., None] > 0, counts / np.maximum(n, 1)[..., None], 1.0 / S)
    sd = np.sqrt((model.r_var + obs_noise**2) / np.maximum(n, 1))
    r_hat = np.where(n > 0, model.r2 + sd * rng.standard_normal((S, G)), 0.0)
    return P_hat, r_hat, n


def grouped_policy(Q2: np.ndarray, labels: np.ndarray) -> np.ndarray:
    r""":math:`\pi(a|s) = \mu(a|s,\arg\max_k Q_2(s,k))` with :math:`\mu` uniform on the group: ``[S, A]``."""
    best = np.argmax(Q2, axis=1)  # [S]
    member = labels[None, :] == best[:, None]
    return member / member.sum(1, keepdims=True)


def grouping_loss(mdp: ClusteredActionMDP, policy: np.ndarray, v_star: np.ndarray) -> float:
    r"""Exact :math:`\frac1S\sum_s (V^* - V^\pi)(s)` for a stochastic policy ``[S, A]``."""
    P_pi = np.einsum("sa,sat->st", policy, mdp.P)
    r_pi = np.sum(policy * mdp.R, axis=1)
    return float(np.mean(v_star - discounted_policy_value(P_pi, r_pi, mdp.gamma)))


def bound_surrogate(eps_r: np.ndarray, eps_p: np.ndarray, S: int, G: np.ndarray, budget: int, gamma: float,
                    reward_sd: float = 0.5) -> np.ndarray:
    r"""Plug-in (simulation-lemma) form of the bound, in which approximation and estimation are
    both model errors measured in the same units:

    .. math:: \frac{(\epsilon_r + e_r(n)) + \gamma V_{\max}(\epsilon_P + e_P(n))}{1-\gamma},\qquad
              n = \frac{B}{SG},\ e_P(n) = \min\Big(2, \sqrt{\tfrac{2S}{\pi n}}\Big),\
              e_r(n) = \min\Big(1, \sigma_r\sqrt{\tfrac{2}{\pi n}}\Big),

    :math:`e_P, e_r` being the expected :math:`\ell_1` / absolute errors of an empirical
    distribution / mean from :math:`n` samples, and :math:`V_{\max} = 1/(1-\gamma)`.
    """
    G = np.asarray(G, dtype=float)
    n = budget / (S * G)
    v_max = 1.0 / (1.0 - gamma)
    e_p = np.minimum(2.0, np.sqrt(2.0 * S / (np.pi * n)))
    e_r = np.minimum(1.0, reward_sd * np.sqrt(2.0 / (np.pi * n)))
    return ((eps_r + e_r) + gamma * v_max * (eps_p + e_p)) / (1.0 - gamma)


def grouping_errors(features: np.ndarray, groupings: dict[int, np.ndarray], S: int,
                    pilot_samples: int) -> dict[int, tuple[float, float]]:
    r"""Approximation errors :math:`(\epsilon_r(g), \epsilon_P(g))` of each grouping, from pilot features.

    :math:`\epsilon_P(g) = \sqrt{S\,\overline{d^2}}` (the Cauchy-Schwarz proxy of an :math:`\ell_1`
    distance), where :math:`\overline{d^2}` is the mean over actions and states of the squared
    :math:`\ell_2` distance between an action's pilot next-state frequencies and its group mean,
    minus its expected pilot noise :math:`(1-1/|k|)\sum_t \hat f_t(1-\hat f_t)/(m-1)` (unbiased);
    :math:`\epsilon_r(g)` is the mean absolute reward deviation.  This one-off pass (like the
    clustering) touches every action; the selection itself then does not.
    """
    freq = features[:, : S * S].reshape(-1, S, S)
    rew = features[:, S * S:]
    m = float(pilot_samples)
    noise_var = np.sum(freq * (1.0 - freq), axis=-1) / max(m - 1.0, 1.0)  # unbiased Var of each pilot row, [A, S]
    errors = {}
    for g, labels in groupings.items():
        G = int(labels.max()) + 1
        member = np.eye(G)[labels]
        size = member.sum(0)
        mean_freq = np.einsum("ag,ast->gst", member, freq) / size[:, None, None]
        mean_rew = member.T @ rew / size[:, None]
        shrink = 1.0 - 1.0 / size[labels]  # the group mean contains the action itself
        sq = np.sum((freq - mean_freq[labels]) ** 2, axis=-1) - shrink[:, None] * noise_var
        eps_p = float(np.sqrt(S * max(float(np.mean(sq)), 0.0)))
        eps_r = float(np.mean(np.abs(rew - mean_rew[labels])))
        errors[g] = (eps_r, eps_p)
    return errors


def select_grouping(errors: dict[int, tuple[float, float]], S: int, budget: int, gamma: float,
                    reward_sd: float = 0.5) -> tuple[int, dict[int, float]]:
    r"""Pick the number of groups minimising :func:`bound_surrogate` for this budget.

    Works on the :math:`(\epsilon_r, \epsilon_P)` of each candidate (:func:`grouping_errors`), so
    its cost is :math:`O(\#\text{candidates})` per budget, independent of :math:`|A|`.
    """
    scores = {g: float(bound_surrogate(er, ep, S, g, budget, gamma, reward_sd)) for g, (er, ep) in errors.items()}
    return min(scores, key=scores.get), scores
