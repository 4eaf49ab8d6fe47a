r"""Algorithm distillation into a tiny causal LM (EVOLvE's "optimal behaviour fine-tuning", OFT).

The oracle (:math:`\alpha`-UCB) is run *through the verbal interface*: at every round of every
demonstration trajectory the prompt is rendered with a :class:`~latentlab.agents.text.ContextBuilder`
(summary or summary + algorithm guidance) and paired with the oracle's action name.  A tiny
GPT-2 with a word-level tokenizer (both from :mod:`latentlab.preference.lm`, the one LM
implementation shared with the preference family) is trained by cross-entropy on the answer
token:

.. math:: \min_\theta\ -\frac1N\sum_{i=1}^N\log p_\theta(a_i^{\text{UCB}}\mid \text{prompt}_i).

At play time the LM's next-token distribution restricted to the action names is read and its
argmax is the answer (:class:`TinyLMBackend`, a constrained-decoding backend for
:class:`~latentlab.agents.text.TextBanditPolicy`).  Summary and guide prompts have a fixed
number of words for a given K, so batches need no padding.  torch and transformers are
imported only when this module is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from latentlab.agents.bandits import BanditInstance
from latentlab.agents.policies import UCB
from latentlab.agents.text import ContextBuilder

__all__ = ["ucb_demonstrations", "prompt_vocabulary", "TinyLMBackend", "OFTConfig", "train_oft", "build_tiny_agent"]


def ucb_demonstrations(instance: BanditInstance, builder: ContextBuilder, horizon: int, rng: np.random.Generator,
                       alpha: float = 0.5, per_trajectory: int | None = None) -> tuple[list[str], np.ndarray]:
    """(prompt, UCB action) pairs from UCB trajectories on every instance, rendered by ``builder``.

    ``per_trajectory`` rounds are sampled uniformly per trajectory (all rounds if ``None``).
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    n = instance.n_instances
    keep = np.ones((n, horizon), dtype=bool)
    if per_trajectory is not None:
        if not 1 <= per_trajectory <= horizon:
            raise ValueError(f"per_trajectory must be in [1, {horizon}], got {per_trajectory}")
        keep[:] = False
        for i in range(n):
            keep[i, rng.choice(horizon, per_trajectory, replace=False)] = True
    oracle = UCB(alpha)
    oracle.reset(n, instance.n_arms)
    prompts: list[str] = []
    actions: list[int] = []
    for t in range(horizon):
        a = oracle.act(rng)
        for i in np.flatnonzero(keep[:, t]):
            prompts.append(builder.render_counts(oracle.counts[i], oracle.sums[i]))
            actions.append(int(a[i]))
        oracle.update(a, instance.pull(a, rng))
    return prompts, np.asarray(actions, dtype=np.int64)


def prompt_vocabulary(builder: ContextBuilder, max_count: int, max_number: float = 3.0) -> list[str]:
    """Every word a summary/guide prompt can contain: template words, names, counts, 2-decimal numbers."""
    words = set(builder.render_counts(np.zeros(builder.scenario.n_arms), np.zeros(builder.scenario.n_arms),
                                      reminder=True).split())
    words.update(builder.scenario.action_names)
    words.update(str(i) for i in range(max_count + 1))
    words.update(f"{x / 100:.2f}" for x in range(int(round(max_number * 100)) + 1))
    words.update({"inf", "example", ":"})
    return sorted(words)


class TinyLMBackend:
    """Constrained answers from a causal LM: argmax of the next-token logits over the action names."""

    def __init__(self, model, tokenizer, action_names: Sequence[str], device: str = "cpu") -> None:
        ids = [tokenizer.convert_tokens_to_ids(n) for n in action_names]
        if any(i is None or i == tokenizer.unk_token_id for i in ids):
            raise ValueError("every action name must be a token of the tokenizer")
        self.model, self.tokenizer, self.device = model, tokenizer, device
        self.action_names = list(action_names)
        self.action_ids = ids

    def encode(self, prompts: Sequence[str]):
        import torch

        rows = [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        if len({len(r) for r in rows}) != 1:
            raise ValueError("prompts must have the same number of tokens (summary/guide layers)")
        return torch.tensor(rows, dtype=torch.long, device=self.device)

    def action_logits(self, prompts: Sequence[str]):
        import torch

        with torch.no_grad():
            logits = self.model(input_ids=self.encode(prompts)).logits[:, -1]
        return logits[:, self.action_ids]

    def generate(self, prompts: Sequence[str]) -> list[str]:
        best = self.action_logits(prompts).argmax(dim=1).tolist()
        return [self.action_names[i] for i in best]


@dataclass(frozen=True)
class OFTConfig:
    steps: int = 600
    batch_size: int = 32
    lr: float = 3e-3
    n_layer: int = 2
    n_embd: int = 64
    n_head: int = 2

    def __post_init__(self) -> None:
        if self.steps < 0 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("need steps >= 0, batch_size >= 1 and lr > 0")


def build_tiny_agent(builder: ContextBuilder, max_count: int, seed: int, config: OFTConfig) -> TinyLMBackend:
    """A fresh tiny GPT-2 (from :mod:`latentlab.preference.lm`) with the prompt vocabulary."""
    from latentlab.preference.lm import build_tiny_gpt2, build_word_tokenizer

    tokenizer = build_word_tokenizer(prompt_vocabulary(builder, max_count))
    length = len(builder.render_counts(np.zeros(builder.scenario.n_arms), np.zeros(builder.scenario.n_arms)).split())
    model = build_tiny_gpt2(len(tokenizer), seed=seed, n_layer=config.n_layer, n_head=config.n_head,
                            n_embd=config.n_embd, n_positions=max(64, length + 8))
    return TinyLMBackend(model, tokenizer, builder.scenario.action_names)


def train_oft(agent: TinyLMBackend, prompts: Sequence[str], actions: np.ndarray, config: OFTConfig,
              generator) -> list[float]:
    """Cross-entropy on the oracle's answer token; returns the loss per step."""
    import torch

    if len(prompts) != len(actions) or len(prompts) == 0:
        raise ValueError("prompts and actions must be non-empty and of equal length")
    inputs = agent.encode(prompts)
    targets = torch.tensor([agent.action_ids[a] for a in actions], dtype=torch.long, device=inputs.device)
    model = agent.model
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    history = []
    for _ in range(config.steps):
        index = torch.randint(0, inputs.shape[0], (config.batch_size,), generator=generator)
        logits = model(input_ids=inputs[index]).logits[:, -1]
        loss = torch.nn.functional.cross_entropy(logits, targets[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        history.append(float(loss.detach()))
    model.eval()
    return history
