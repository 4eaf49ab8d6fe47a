r"""Synthetic sequence tasks with a known true reward, and the preference oracle.

A :class:`SequenceTask` has ``n_prompts`` integer prompts, responses of ``horizon``
tokens over ``vocab_size`` tokens, a sequence-level true reward :math:`r^*(x, y)` and,
where the task defines one, a dense token reward :math:`r(s_t, a_t)` with
:math:`\sum_t r(s_t,a_t) = r^*(x,y)`.  Tasks are numpy-only (no torch needed).

Task zoo (the papers that use them):

* :class:`TabularRewardTask` — an arbitrary dense reward given on every prefix (From r to Q*).
* :class:`TargetStringTask` — one target string per prompt, reward = matching tokens (From r to Q*).
* :class:`CombinationLock` — a secret code per prompt, reward = leading correct tokens / H
  plus 1 for the full code (XPO).
* :class:`FiniteResponseTask` — a finite response set with known quality per prompt (3D-properties).
* :class:`SynonymTask` — meanings with several surface forms (implicit-reward generalisation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from latentlab.preference.tree import ResponseTree

__all__ = [
    "SequenceTask",
    "PreferenceOracle",
    "TabularRewardTask",
    "TargetStringTask",
    "CombinationLock",
    "FiniteResponseTask",
    "SynonymTask",
    "leaf_reward_table",
    "token_reward_table",
    "render_tokens",
]


@runtime_checkable
class SequenceTask(Protocol):
    n_prompts: int
    vocab_size: int
    horizon: int

    def sequence_reward(self, prompts: np.ndarray, responses: np.ndarray) -> np.ndarray:
        """:math:`r^*(x, y)` for a batch, ``(B,)``."""
        ...


def render_tokens(prompts: np.ndarray, responses: np.ndarray) -> tuple[list[str], list[str]]:
    """Prompts and responses as space-separated words (``p3``, ``t0 t2 ...``) for string-based tools (TRL)."""
    prompts_text = [f"p{int(x)}" for x in np.asarray(prompts)]
    responses_text = [" ".join(f"t{int(a)}" for a in row) for row in np.asarray(responses)]
    return prompts_text, responses_text


def _check_responses(responses: np.ndarray, vocab: int, horizon: int) -> np.ndarray:
    y = np.asarray(responses, dtype=np.int64)
    if y.ndim != 2 or y.shape[1] != horizon:
        raise ValueError(f"responses must have shape (B, horizon={horizon}), got {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= vocab):
        raise ValueError(f"response tokens must be in [0, {vocab}), got range [{y.min()}, {y.max()}]")
    return y


def _check_prompts(prompts: np.ndarray, n_prompts: int) -> np.ndarray:
    x = np.asarray(prompts, dtype=np.int64)
    if x.size and (x.min() < 0 or x.max() >= n_prompts):
        raise ValueError(f"prompts must be in [0, {n_prompts}), got range [{x.min()}, {x.max()}]")
    return x


def leaf_reward_table(task: SequenceTask, tree: ResponseTree) -> np.ndarray:
    """:math:`r^*(x, y)` for every prompt and every leaf of ``tree``, ``(P, V^T)``."""
    leaves = tree.leaves
    prompts = np.repeat(np.arange(task.n_prompts), leaves.shape[0])
    rewards = task.sequence_reward(prompts, np.tile(leaves, (task.n_prompts, 1)))
    return np.asarray(rewards, dtype=np.float64).reshape(task.n_prompts, leaves.shape[0])


def token_reward_table(task: SequenceTask, tree: ResponseTree) -> np.ndarray:
    """The task's dense token reward on every prefix and action, ``(P, N, V)``.

    Requires ``task.token_reward``; a token reward depends on the prefix and the action
    only, so evaluating it on all leaves and scattering by prefix index is exact.
    """
    token_reward = getattr(task, "token_reward", None)
    if token_reward is None:
        raise ValueError(f"{type(task).__name__} has no token_reward")
    leaves = tree.leaves
    n = leaves.shape[0]
    prompts = np.repeat(np.arange(task.n_prompts), n)
    r = np.asarray(token_reward(prompts, np.tile(leaves, (task.n_prompts, 1))), dtype=np.float64)
    table = np.zeros((task.n_prompts, tree.n_nodes, tree.vocab_size))
    p_idx = np.repeat(np.arange(task.n_prompts), n * tree.horizon)
    table[p_idx, np.tile(tree.leaf_nodes.ravel(), task.n_prompts), np.tile(leaves.ravel(), task.n_prompts)] = r.ravel()
    return table


@dataclass(frozen=True)
class PreferenceOracle:
    r"""Labels pairs from a true reward.

    Bradley–Terry with temperature :math:`\tau`: :math:`P(a \succ b) = \sigma((r_a - r_b)/\tau)`;
    ``temperature = 0`` ranks deterministically (ties broken by a fair coin).  Each label is
    then flipped with probability ``label_noise``.
    """

    temperature: float = 1.0
    label_noise: float = 0.0

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0.0 <= self.label_noise <= 0.5:
            raise ValueError(f"label_noise must be in [0, 0.5], got {self.label_noise}")

    def probability(self, reward_a: np.ndarray, reward_b: np.ndarray) -> np.ndarray:
        """:math:`P(a \\succ b)` including label noise."""
        diff = np.asarray(reward_a, dtype=float) - np.asarray(reward_b, dtype=float)
        if self.temperature == 0:
            p = np.where(diff > 0, 1.0, np.where(diff < 0, 0.0, 0.5))
        else:
            p = 0.5 * (1.0 + np.tanh(diff / (2.0 * self.temperature)))
        return p * (1 - self.label_noise) + (1 - p) * self.label_noise

    def prefers_first(self, reward_a: np.ndarray, reward_b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One sampled label per pair: True where ``a`` is preferred."""
        p = self.probability(reward_a, reward_b)
        return rng.random(p.shape) < p

    def label(self, task: SequenceTask, prompts: np.ndarray, a: np.ndarray, b: np.ndarray,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Order pairs ``(a, b)`` of responses into ``(chosen, rejected)``."""
        first = self.prefers_first(task.sequence_reward(prompts, a), task.sequence_reward(prompts, b), rng)
        chosen = np.where(first[:, None], a, b)
        rejected = np.where(first[:, None], b, a)
        return chosen, rejected


@dataclass(frozen=True)
class TabularRewardTask:
    """A dense reward given as a table over the prefixes of a tree, ``(P, N, V)``."""

    tree: ResponseTree
    table: np.ndarray

    def __post_init__(self) -> None:
        shape = (self.table.shape[0], self.tree.n_nodes, self.tree.vocab_size)
        if self.table.ndim != 3 or self.table.shape != shape:
            raise ValueError(f"table must have shape (P, {self.tree.n_nodes}, {self.tree.vocab_size}), "
                             f"got {self.table.shape}")

    @classmethod
    def random(cls, tree: ResponseTree, n_prompts: int, rng: np.random.Generator, scale: float = 1.0):
        """Independent :math:`\\mathcal N(0, \\text{scale}^2)` reward on every (prefix, action)."""
        if n_prompts < 1:
            raise ValueError(f"n_prompts must be >= 1, got {n_prompts}")
        return cls(tree, scale * rng.standard_normal((n_prompts, tree.n_nodes, tree.vocab_size)))

    @property
    def n_prompts(self) -> int:
        return int(self.table.shape[0])

    @property
    def vocab_size(self) -> int:
        return self.tree.vocab_size

    @property
    def horizon(self) -> int:
        return self.tree.horizon

    def token_reward(self, prompts: np.ndarray, responses: np.ndarray) -> np.ndarray:
        x = _check_prompts(prompts, self.n_prompts)
        y = _check_responses(responses, self.vocab_size, self.horizon)
        return self.table[x[:, None], self.tree.node_index(y), y]

    def sequence_reward(self, prompts: np.ndarray, responses: np.ndarray) -> np.ndarray:
        return self.token_reward(prompts, responses).sum(-1)


@dataclass(frozen=True)
class TargetStringTask:
    r"""Each prompt has a target string; :math:`r(s_t, a_t) = \mathbb 1[a_t = \text{target}_t]`."""

    targets: np.ndarray
    vocab_size: int

    def __post_init__(self) -> None:
        if self.targets.ndim != 2:
            raise ValueError(f"targets must be 2-D (prompts, horizon), got {self.targets.shape}")
        _check_responses(self.targets, self.vocab_size, self.targets.shape[1])

    @classmethod
    def random(cls, n_prompts: int, horizon: int, vocab_size: int, rng: np.random.Generator):
        if n_prompts < 1:
            raise ValueError(f"n_prompts must be >= 1, got {n_prompts}")
        return cls(rng.integers(0, vocab_size, size=(n_prompts, horizon)), vocab_size)

    @property
    def n_prompts(self) -> int:
        return int(self.targets.shape[0])

    @property
    def horizon(self) -> int:
        return int(self.targets.shape[1])

    def token_reward(self, prompts: np.ndarray, responses: np.ndarray) -> np.ndarray:
        x = _check_prompts(prompts, self.n_prompts)
        y = _check_responses(responses, self.vocab_size, self.horizon)
        return (y == self.targets[x]).astype(np.float64)

    def sequence_reward(self, prompts: np.ndarray, responses: np.ndarray) -> np.ndarray:
        return self.token_reward(prompts, responses).sum(-1)

    def corrupt(self, prompts: np.ndarray, positions: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Targets with the token at ``positions`` replaced by ``(target + offset) mod V``, offset in [1, V)."""
        x = _check_prompts(prompts, self.n_prompts)
        if np.any((offsets < 1) | (offsets >= self.vocab_size)):
            raise ValueError(f"offsets must be in [1, {self.vocab_size}), got {offsets}")
        out = self.targets[x].copy()
        rows = np.arange(out.shape[0])
        out[rows, positions] = (out[rows, positions] + offsets) % self.vocab_size
        return out


@dataclass(frozen=True)
class CombinationLock:
    r"""Combination lock (Xie et al., 2024): a secret code :math:`c_x` of length H per prompt.

    :math:`r^*(x, y) = \frac{1}{H}\#\{\text{leading tokens of } y \text{ equal to } c_x\} + \mathbb 1[y = c_x]`,
    with the dense form :math:`r(s_t, a_t) = \frac1H\mathbb 1[y_{1:t} = c_{x,1:t}] + \mathbb 1[t = H, y = c_x]`.
    """

    codes: np.ndarray
    vocab_size: int
    bonus: float = 1.0

    @classmethod
    def random(cls, n_prompts: int, horizon: int, vocab_size: int, rng: np.random.Generator, bonus: float = 1.0):
        if n_prompts < 1:
            raise ValueError(f"n_prompts must be >= 1, got {n_prompts}")
        return cls(rng.integers(0, vocab_size, size=(n_prompts, horizon)), vocab_size, bonus)

    @property
    def n_prompts(self) -> int:
        return int(self.codes.shape[0])

    @property
    def horizon(self) -> int:
        return int(self.codes.shape[1])

    def reference_logits(self, code_probability: float) -> np.ndarray:
        """Per-prompt, per-step logits ``(P, H, V)``: the code token w.p. ``code_probability``, others uniform."""
        if not 0.0 < code_probability < 1.0:
            raise ValueError(f"code_probability must be in (0, 1), got {code_probability}")
        other = (1.0 - code_probability) / (self.vocab_size - 1)
        logits = np.full((self.n_prompts, self.horizon, self.vocab_size), np.log(other))
        p, h = np.meshgrid(np.arange(self.n_prompts), np.arange(self.horizon), indexing="ij")
        logits[p, h, self.codes] = np.log(code_probability)
        return logits

    def token_reward(self, prompts: np.ndarray, responses: np.ndarray) -> np.ndarray:
        x = _check_prompts(prompts, self.n_prompts)
        y = _check_responses(responses, self.vocab_size, self.horizon)
        still_correct = np.cumprod(y == self.codes[x], axis=-1).astype(np.float64)
        r = still_correct / self.horizon
        r[:, -1] += self.bonus * still_correct[:, -1]
        return r

    def sequence_reward(self, prompts: np.ndarray, responses: np.ndarray) -> np.ndarray:
        return self.token_reward(prompts, responses).sum(-1)


@dataclass(frozen=True)
class FiniteResponseTask:
    """A finite response set per prompt (horizon 1): response ``m`` of prompt ``x`` has quality ``quality[x, m]``."""

    quality: np.ndarray

    def __post_init__(self) -> None:
        if self.quality.ndim != 2 or self.quality.shape[1] < 2:
            raise ValueError(f"quality must have shape (prompts, responses >= 2), got {self.quality.shape}")

    @property
    def n_prompts(self) -> int:
        return int(self.quality.shape[0])

    @property
    def vocab_size(self) -> int:
        return int(self.quality.shape[1])

    horizon: int = field(default=1, init=False)

    def sequence_reward(self, prompts: np.ndarray, responses: np.ndarray) -> np.ndarray:
        x = _check_prompts(prompts, self.n_prompts)
        y = _check_responses(responses, self.vocab_size, 1)
        return self.quality[x, y[:, 0]]


@dataclass(frozen=True)
class SynonymTask:
    r"""A language of ``n_meanings`` meanings, each written with ``n_forms`` surface tokens.

    Token ``k`` has meaning ``k % n_meanings`` and surface form ``k // n_meanings``.  Prompt
    ``x`` carries weights :math:`w_x \in \{-1, +1\}^{\text{meanings}}`; the true reward of a
    response is the mean weight of its tokens' meanings, :math:`r^*(x,y) = \frac1T\sum_t w_{x,m(y_t)}`,
    so it depends on meanings only and never on surface forms.
    """

    weights: np.ndarray
    n_forms: int
    horizon: int

    def __post_init__(self) -> None:
        if self.weights.ndim != 2:
            raise ValueError(f"weights must be 2-D (prompts, meanings), got {self.weights.shape}")
        if self.n_forms < 1:
            raise ValueError(f"n_forms must be >= 1, got {self.n_forms}")
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {self.horizon}")

    @property
    def n_prompts(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_meanings(self) -> int:
        return int(self.weights.shape[1])

    @property
    def vocab_size(self) -> int:
        return self.n_meanings * self.n_forms

    def meanings(self, responses: np.ndarray) -> np.ndarray:
        return np.asarray(responses) % self.n_meanings

    def forms(self, responses: np.ndarray) -> np.ndarray:
        return np.asarray(responses) // self.n_meanings

    def token_reward(self, prompts: np.ndarray, responses: np.ndarray) -> np.ndarray:
        x = _check_prompts(prompts, self.n_prompts)
        y = _check_responses(responses, self.vocab_size, self.horizon)
        return self.weights[x[:, None], self.meanings(y)] / self.horizon

    def sequence_reward(self, prompts: np.ndarray, responses: np.ndarray) -> np.ndarray:
        return self.token_reward(prompts, responses).sum(-1)
