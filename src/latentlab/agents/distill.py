r"""Algorithm distillation into a tiny causal LM (EVOLvE's "optimal behaviour fine-tuning", OFT).

The oracle (:math:`\alpha`-UCB) is run *through the verbal interface*: at every sampled round of
every demonstration trajectory the prompt is rendered with a
:class:`~latentlab.agents.text.ContextBuilder` (summary or summary + algorithm guidance) and
paired with the oracle's action.  A tiny GPT-2 with a word-level tokenizer (both from
:mod:`latentlab.preference.lm`, the one LM implementation shared with the preference family)
is trained by cross-entropy on the answer token only (:func:`answer_loss`):

.. math:: \min_\theta\ -\frac1N\sum_{i=1}^N\log p_\theta(a_i^{\text{UCB}}\mid \text{prompt}_i),
   \qquad p_\theta(a\mid x)=\operatorname{softmax}_{a'\in\mathcal A}\,z_\theta(x)_{a'},

with :math:`z_\theta(x)` the LM's next-token logits at the last prompt position restricted to the
K action-name tokens (the same restriction constrained decoding uses, so training and play
read the same distribution).  At play time the argmax of those K logits is the answer
(:class:`TinyLMBackend`, a constrained-decoding backend for
:class:`~latentlab.agents.text.TextBanditPolicy`); it can only return action names.

Representation (choices and what was checked)
---------------------------------------------
* Tokens: every prompt word is one token (template words, action names, counts ``0..max_count``,
  2-decimal numbers ``0.00..3.00``, ``inf``); :meth:`TinyLMBackend.encode` refuses a prompt with
  an ``<unk>``.  Summary/guide prompts have a fixed number of words for a given K, so a batch is
  a plain ``(B, L)`` tensor: no padding, no attention mask, default position ids, and the answer
  is read at position ``L - 1`` (the ``:`` of ``answer :``).
* The constant instruction (``builder.instruction()``) is cut before encoding (``prefix``): it is
  identical in every prompt, so for a model trained from scratch it carries no information —
  the spec's "constant instruction prefix that is not re-encoded", taken to the limit.
* ``compact=True`` (used by the paper module) also drops the constant template words of each
  arm line and keeps, per arm, ``count mean`` (summary) or ``count mean bonus value`` (guide)
  and the arm's name, then ``answer :`` — 17 / 27 tokens for K = 5 instead of 66 / 101.
  Nothing that varies between prompts is dropped.  Per-step cost falls ~3x.
* ``name_last=True`` (paper module) puts each arm's name *after* its numbers, so the name
  token — whose embedding is tied to the answer's unembedding — is where a causal layer can
  gather its own arm's numbers.  On exact argmax(bonus + value) labels this moved the loss
  at 600 steps from 1.59 to 1.45.
* The LM head is applied to the last position only (the full ``(B, L, V)`` logits were ~25% of
  the forward time).

Demonstrations (:func:`ucb_demonstrations`)
-------------------------------------------
* ``first_rounds``: the first rounds of every trajectory are always kept (paper module: 6).
  With uniform sampling of 20 of 300 rounds the "play every arm once" phase is ~2% of the
  data; a learner that skips an unplayed arm there never sees that state again.
* ``behaviour_epsilon``: noise injection (paper module: 0.3) — a uniform arm is *played* with
  that probability, the label is always UCB's action on the rendered state, so the data also
  covers states off UCB's own path (the learner's mistakes lead there).

Why OFT learned nothing before (diagnosis)
------------------------------------------
Not a bug in the loss, labels, padding or tokenizer: the loss was already on the answer token
after the prompt, prompts are unpadded and fixed-length, no word maps to ``<unk>``, and a batch
of 32 guide prompts is memorised (test suite: training accuracy 1.0 in ~250 steps).  Two
causes, both about what the data asks of a model with no number sense:

1. UCB *equalises* its indices, so after the first rounds the five indices
   :math:`\hat\mu_a+b_a` lie within a few hundredths of each other and UCB's action is decided
   by differences of ~0.01 between *sums of two atomic number tokens*.  No coarse feature
   predicts it (argmax of the rendered mean matches 63% of the actions on hard instances),
   so the gradient at initialisation is nearly zero and the answer cross-entropy sits at
   :math:`\log K` (the marginal is uniform because arms are shuffled).  Controls on the same
   4,000 hard guide prompts (compact, lr 3e-3, batch 32, 600 steps): labels = argmax of the
   rendered mean → 0.89 training accuracy; argmax of the rendered bonus → 0.59; the *exact*
   argmax of rendered bonus + value (UCB without ties or rounding) → 0.25, loss still
   :math:`\log 5`.
2. Compounding error.  Once it learns anything, the tiny LM picks up the shortcut "the most
   played arm is UCB's choice" (true most of the time on UCB's own path) and at play time
   locks onto one arm — e.g. 286 of 300 pulls on one arm while two arms are never played —
   states UCB never visits, so its regret stays at Random's (a fixed arm has the same mean gap
   as a uniform one).  With UCB's labels, ``name_last`` and an angle code for the number
   embeddings, 1,200 steps reach training accuracy 0.54 and regret 48.0 (UCB 21.4, Random
   47.9, 40 hard instances), every instance on a single arm.

Exploratory numbers (guide layer, ``compact`` + ``name_last``, 200 hard trajectories x 20
rounds, one seed, 40 evaluation instances; UCB 21.4, Random 47.9): first rounds + noise 0.3,
1,200 steps → regret 31.4; the same with noise 0.5 → 52.1, with an angle code for the number
embeddings → 48.0; 1,000 / 2,000 / 4,000 / 6,000 steps of one run → 48.0 / 42.4 / 43.0 / 40.8
(loss plateaus near 1.0, training accuracy 0.44); random arm-permutation augmentation →
43.7-48.0; two DAgger rounds (learner's states labelled by UCB) → 43-44; lr 1e-2 → worse
than 3e-3.  In these runs the learner's action counts are nearly the same on different
instances, i.e. its choices depend on the counts/bonuses and hardly on the rewards.  The
number sense (ordering and adding ~600 atomic number tokens to 0.01) that a pretrained LLM
brings is what is missing; nothing here changes that.

torch and transformers are imported only when this module is used.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from latentlab.agents.bandits import BanditInstance
from latentlab.agents.policies import UCB
from latentlab.agents.text import ContextBuilder

__all__ = ["ucb_demonstrations", "prompt_vocabulary", "TinyLMBackend", "answer_loss", "OFTConfig", "train_oft",
           "build_tiny_agent", "training_accuracy"]


def ucb_demonstrations(instance: BanditInstance, builder: ContextBuilder, horizon: int, rng: np.random.Generator,
                       alpha: float = 0.5, per_trajectory: int | None = None, first_rounds: int = 0,
                       behaviour_epsilon: float = 0.0) -> tuple[list[str], np.ndarray]:
    """(prompt, UCB action) pairs from trajectories on every instance, rendered by ``builder``.

    ``per_trajectory`` rounds are kept per trajectory (all rounds if ``None``): the first
    ``first_rounds`` rounds always, the rest sampled uniformly from the later rounds.  With
    ``behaviour_epsilon > 0`` a uniform arm replaces UCB's played action with that probability
    (noise injection, DART-style), so the data also covers states off UCB's own path; every
    label is UCB's action on the rendered state.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if not 0.0 <= behaviour_epsilon <= 1.0:
        raise ValueError(f"behaviour_epsilon must be in [0, 1], got {behaviour_epsilon}")
    n = instance.n_instances
    keep = np.ones((n, horizon), dtype=bool)
    if per_trajectory is not None:
        if not 1 <= per_trajectory <= horizon or not 0 <= first_rounds <= per_trajectory:
            raise ValueError(f"need 1 <= per_trajectory <= {horizon} and 0 <= first_rounds <= per_trajectory, "
                             f"got {per_trajectory}, {first_rounds}")
        keep[:] = False
        keep[:, :first_rounds] = True
        for i in range(n):
            keep[i, first_rounds + rng.choice(horizon - first_rounds, per_trajectory - first_rounds,
                                              replace=False)] = True
    oracle = UCB(alpha)
    oracle.reset(n, instance.n_arms)
    prompts: list[str] = []
    actions: list[int] = []
    for t in range(horizon):
        a = oracle.act(rng)
        for i in np.flatnonzero(keep[:, t]):
            prompts.append(builder.render_counts(oracle.counts[i], oracle.sums[i]))
            actions.append(int(a[i]))
        played = a
        if behaviour_epsilon > 0:
            played = np.where(rng.random(n) < behaviour_epsilon, rng.integers(0, instance.n_arms, n), a)
        oracle.update(played, instance.pull(played, rng))
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


_NUMBER = re.compile(r"\d+(\.\d+)?")


class TinyLMBackend:
    """Constrained answers from a causal LM: argmax of the next-token logits over the action names.

    ``prefix`` (the builder's constant instruction) is cut from the front of every prompt
    before encoding: it is the same in every prompt, so it carries no information for a model
    trained from scratch and only costs attention (see the module docstring).
    """

    def __init__(self, model, tokenizer, action_names: Sequence[str], device: str = "cpu", prefix: str = "",
                 compact: bool = False, name_last: bool = False) -> None:
        ids = [tokenizer.convert_tokens_to_ids(n) for n in action_names]
        if any(i is None or i == tokenizer.unk_token_id for i in ids):
            raise ValueError("every action name must be a token of the tokenizer")
        self.model, self.tokenizer, self.device = model, tokenizer, device
        self.action_names = list(action_names)
        self.action_ids = ids
        self.prefix = prefix
        self.compact = compact
        self.name_last = name_last
        self._keep = set(self.action_names) | {"inf", "answer", ":"}

    def strip(self, prompt: str) -> str:
        if self.prefix and prompt.startswith(self.prefix):
            prompt = prompt[len(self.prefix):]
        if self.compact:
            lines = []
            for line in prompt.split("\n"):
                words = [w for w in line.split() if w in self._keep or _NUMBER.fullmatch(w)]
                if self.name_last and len(words) > 1 and words[0] in self.action_names:
                    words = words[1:] + words[:1]
                lines.append(" ".join(words))
            prompt = " ".join(w for w in lines if w)
        return prompt

    def encode(self, prompts: Sequence[str]):
        import torch

        rows = [self.tokenizer(self.strip(p), add_special_tokens=False)["input_ids"] for p in prompts]
        if len({len(r) for r in rows}) != 1:
            raise ValueError("prompts must have the same number of tokens (summary/guide layers)")
        unk = self.tokenizer.unk_token_id
        if any(unk in r for r in rows):
            raise ValueError("a prompt word is not in the vocabulary (it would be read as <unk>)")
        return torch.tensor(rows, dtype=torch.long, device=self.device)

    def logits_of(self, inputs):
        """Action-name logits at the last prompt position, ``(B, K)`` (the LM head on that position only)."""
        model = self.model
        backbone = getattr(model, "transformer", None)
        if backbone is not None and hasattr(model, "lm_head"):
            hidden = backbone(input_ids=inputs).last_hidden_state[:, -1]
            return model.lm_head(hidden)[:, self.action_ids]
        return model(input_ids=inputs).logits[:, -1, self.action_ids]

    def action_logits(self, prompts: Sequence[str]):
        import torch

        with torch.no_grad():
            return self.logits_of(self.encode(prompts))

    def generate(self, prompts: Sequence[str]) -> list[str]:
        best = self.action_logits(prompts).argmax(dim=1).tolist()
        return [self.action_names[i] for i in best]


def answer_loss(agent: TinyLMBackend, inputs, targets):
    r"""Mean :math:`-\log p(a\mid\text{prompt})` of the answer token, ``p`` = softmax over the action names."""
    import torch

    return torch.nn.functional.cross_entropy(agent.logits_of(inputs), targets)


@dataclass(frozen=True)
class OFTConfig:
    """OFT hyper-parameters and the tiny model's shape (2 layers, width 64 by default).

    ``compact`` / ``name_last`` choose the prompt encoding of :class:`TinyLMBackend`.
    """

    steps: int = 600
    batch_size: int = 32
    lr: float = 3e-3
    n_layer: int = 2
    n_embd: int = 64
    n_head: int = 2
    compact: bool = False
    name_last: bool = False

    def __post_init__(self) -> None:
        if self.steps < 0 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("need steps >= 0, batch_size >= 1 and lr > 0")


def build_tiny_agent(builder: ContextBuilder, max_count: int, seed: int, config: OFTConfig) -> TinyLMBackend:
    """A fresh tiny GPT-2 (from :mod:`latentlab.preference.lm`) with the prompt vocabulary."""
    from latentlab.preference.lm import build_tiny_gpt2, build_word_tokenizer

    tokenizer = build_word_tokenizer(prompt_vocabulary(builder, max_count))
    prefix = builder.instruction() + "\n"
    zeros = np.zeros(builder.scenario.n_arms)
    backend = TinyLMBackend(None, tokenizer, builder.scenario.action_names, prefix=prefix, compact=config.compact,
                           name_last=config.name_last)
    length = len(builder.render_counts(zeros, zeros, reminder=True).split())  # the longest encoding of a prompt
    backend.model = build_tiny_gpt2(len(tokenizer), seed=seed, n_layer=config.n_layer, n_head=config.n_head,
                                    n_embd=config.n_embd, n_positions=max(64, length + 8))
    return backend


def train_oft(agent: TinyLMBackend, prompts: Sequence[str], actions: np.ndarray, config: OFTConfig,
              generator) -> list[float]:
    """Cross-entropy on the oracle's answer token (:func:`answer_loss`); returns the loss per step."""
    import torch

    if len(prompts) != len(actions) or len(prompts) == 0:
        raise ValueError("prompts and actions must be non-empty and of equal length")
    inputs = agent.encode(prompts)
    targets = torch.as_tensor(np.asarray(actions), dtype=torch.long, device=inputs.device)
    if targets.min() < 0 or targets.max() >= len(agent.action_ids):
        raise ValueError(f"actions must be in [0, {len(agent.action_ids) - 1}]")
    model = agent.model
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    history = []
    for _ in range(config.steps):
        index = torch.randint(0, inputs.shape[0], (min(config.batch_size, inputs.shape[0]),), generator=generator)
        loss = answer_loss(agent, inputs[index], targets[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        history.append(float(loss.detach()))
    model.eval()
    return history


def training_accuracy(agent: TinyLMBackend, prompts: Sequence[str], actions: np.ndarray) -> float:
    """Fraction of ``prompts`` whose constrained answer is the oracle's action."""
    logits = agent.action_logits(prompts)
    return float((logits.argmax(dim=1).numpy() == np.asarray(actions)).mean())
