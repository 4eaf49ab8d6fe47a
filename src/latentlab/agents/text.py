r"""Text-agent harness for bandits: verbalisation, context layers, action parsing, text policies.

A :class:`TextBanditPolicy` is ``ContextBuilder + LLMBackend + ActionParser`` behind the same
``reset / act / update`` interface as the classical policies (:mod:`latentlab.agents.policies`),
batched over instances: each round it renders one prompt per instance, asks the backend for
all of them at once, and parses the answers.

Context layers (EVOLvE's BanditBench, reconstructed from the spec):

* ``raw`` — the instruction, then one line per past round: ``"{unit} {name} reward {r:.2f}"``.
* ``summary`` — per action: ``"{name} {unit}, {n} times, average reward {r̄:.2f}"``.
* ``guide`` (summary + algorithm guidance) — the summary line plus the UCB fields
  ``"exploration bonus {b:.2f} exploitation value {v:.2f}"`` with
  :math:`b=\sqrt{\alpha\log(\sum_a n_a)/n_a}` (``inf`` for unplayed arms), :math:`v=\hat\mu_a`.
* few-shot — demonstration blocks prepended to any layer (:func:`few_shot_block`).

Invalid answers: the parser tries an exact name match, then a case-insensitive match, then a
fuzzy match (``difflib``, cutoff 0.8), then a bare 0-based index.  An answer that still does not
parse is re-asked up to ``max_retries`` times with a reminder of the valid names; after that
the action is drawn uniformly at random and counted in :attr:`TextBanditPolicy.invalid`.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from latentlab.agents.backends import LLMBackend

__all__ = [
    "Scenario",
    "VIDEO_WATCHING",
    "CLOTHES_SHOPPING",
    "scenario",
    "ActionParser",
    "ContextBuilder",
    "LAYERS",
    "few_shot_block",
    "TextBanditPolicy",
    "format_number",
]

LAYERS: tuple[str, ...] = ("raw", "summary", "guide")


@dataclass(frozen=True)
class Scenario:
    """What the arms are called in text: a unit ("video") and one name per arm."""

    name: str
    unit: str
    action_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.action_names) < 2:
            raise ValueError(f"action_names needs at least 2 names, got {self.action_names}")
        if len(set(self.action_names)) != len(self.action_names):
            raise ValueError(f"action_names must be unique, got {self.action_names}")
        if any(not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", n) for n in self.action_names):
            raise ValueError("action names must be single words of letters, digits or '_' starting with a letter")

    @property
    def n_arms(self) -> int:
        return len(self.action_names)

    def verbalise(self, action: int) -> str:
        if not 0 <= action < self.n_arms:
            raise ValueError(f"action must be in [0, {self.n_arms - 1}], got {action}")
        return self.action_names[action]


_VIDEO_NAMES = tuple(f"video_{chr(ord('A') + i)}" for i in range(26))
_CLOTHES = ("shirt", "jacket", "sweater", "jeans", "dress", "skirt", "coat", "scarf", "hat", "boots",
            "sneakers", "shorts", "blouse", "hoodie", "vest", "gloves", "socks", "belt", "tie", "cardigan")

VIDEO_WATCHING = Scenario("VideoWatching", "video", _VIDEO_NAMES[:5])
CLOTHES_SHOPPING = Scenario("ClothesShopping", "item", _CLOTHES[:5])


def scenario(name: str, n_arms: int) -> Scenario:
    """``"VideoWatching"`` (up to 26 arms) or ``"ClothesShopping"`` (up to 20 arms) with ``n_arms`` names."""
    pools = {"VideoWatching": ("video", _VIDEO_NAMES), "ClothesShopping": ("item", _CLOTHES)}
    if name not in pools:
        raise ValueError(f"name must be one of {sorted(pools)}, got {name!r}")
    unit, names = pools[name]
    if not 2 <= n_arms <= len(names):
        raise ValueError(f"n_arms must be in [2, {len(names)}] for {name}, got {n_arms}")
    return Scenario(name, unit, names[:n_arms])


def format_number(x: float) -> str:
    """Two decimals; ``inf`` for infinity (the unplayed-arm bonus)."""
    return "inf" if math.isinf(x) else f"{x:.2f}"


class ActionParser:
    """Answer text -> action index (or ``None``): exact, case-insensitive, fuzzy, then bare index."""

    def __init__(self, names: Sequence[str], fuzzy_cutoff: float = 0.8) -> None:
        if len(names) < 2:
            raise ValueError(f"names needs at least 2 entries, got {list(names)}")
        if not 0 < fuzzy_cutoff <= 1:
            raise ValueError(f"fuzzy_cutoff must be in (0, 1], got {fuzzy_cutoff}")
        self.names = list(names)
        self.lower = {n.lower(): i for i, n in enumerate(self.names)}
        self.fuzzy_cutoff = fuzzy_cutoff

    def parse(self, text: str) -> int | None:
        words = re.findall(r"[A-Za-z0-9_]+", text)
        for word in words:  # exact, then case-insensitive, in answer order
            if word in self.names:
                return self.names.index(word)
        for word in words:
            if word.lower() in self.lower:
                return self.lower[word.lower()]
        for word in words:
            close = difflib.get_close_matches(word.lower(), list(self.lower), n=1, cutoff=self.fuzzy_cutoff)
            if close:
                return self.lower[close[0]]
        if len(words) == 1 and words[0].isdigit() and int(words[0]) < len(self.names):
            return int(words[0])
        return None


@dataclass
class ContextBuilder:
    """Renders the prompt of one instance from its history (see the module docstring)."""

    scenario: Scenario
    layer: str = "summary"
    alpha: float = 0.5
    few_shot: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.layer not in LAYERS:
            raise ValueError(f"layer must be one of {LAYERS}, got {self.layer!r}")
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")

    def instruction(self) -> str:
        s = self.scenario
        return (f"you recommend one {s.unit} per round to maximise total reward . "
                f"choices : {' '.join(s.action_names)} .")

    def history_lines(self, actions: Sequence[int], rewards: Sequence[float]) -> list[str]:
        s = self.scenario
        if self.layer == "raw":
            return [f"{s.unit} {s.action_names[a]} reward {format_number(r)}" for a, r in zip(actions, rewards)]
        counts = np.bincount(np.asarray(actions, dtype=int), minlength=s.n_arms).astype(float)
        sums = np.bincount(np.asarray(actions, dtype=int), weights=np.asarray(rewards, dtype=float),
                           minlength=s.n_arms)
        return self.summary_lines(counts, sums)

    def summary_lines(self, counts: np.ndarray, sums: np.ndarray) -> list[str]:
        s = self.scenario
        means = np.divide(sums, counts, out=np.zeros_like(sums, dtype=float), where=counts > 0)
        total = max(float(counts.sum()), 1.0)
        lines = []
        for a, name in enumerate(s.action_names):
            line = f"{name} {s.unit} , {int(counts[a])} times , average reward {format_number(means[a])}"
            if self.layer == "guide":
                bonus = math.sqrt(self.alpha * math.log(total) / counts[a]) if counts[a] > 0 else math.inf
                line += f" , exploration bonus {format_number(bonus)} exploitation value {format_number(means[a])}"
            lines.append(line)
        return lines

    def render(self, actions: Sequence[int], rewards: Sequence[float], reminder: bool = False) -> str:
        parts = list(self.few_shot) + [self.instruction()] + self.history_lines(actions, rewards)
        if reminder:
            parts.append(f"answer with exactly one of : {' '.join(self.scenario.action_names)} .")
        parts.append("answer :")
        return "\n".join(parts)

    def render_counts(self, counts: np.ndarray, sums: np.ndarray, reminder: bool = False) -> str:
        """Summary/guide prompt directly from count and sum arrays (no raw history needed)."""
        if self.layer == "raw":
            raise ValueError("render_counts needs layer 'summary' or 'guide'; raw history needs render()")
        parts = list(self.few_shot) + [self.instruction()] + self.summary_lines(counts, sums)
        if reminder:
            parts.append(f"answer with exactly one of : {' '.join(self.scenario.action_names)} .")
        parts.append("answer :")
        return "\n".join(parts)


def few_shot_block(builder: ContextBuilder, actions: Sequence[int], rewards: Sequence[float],
                   n_examples: int = 5, skip_first: int = 2, every: int = 2) -> tuple[str, ...]:
    """Demonstrations from an oracle trajectory: steps ``skip_first, skip_first + every, ...``
    (BanditBench defaults)."""
    if n_examples < 0 or skip_first < 0 or every < 1:
        raise ValueError("need n_examples >= 0, skip_first >= 0 and every >= 1")
    steps = list(range(skip_first, len(actions), every))[:n_examples]
    plain = ContextBuilder(builder.scenario, builder.layer, builder.alpha)
    return tuple(f"example :\n{plain.render(actions[:t], rewards[:t])} {builder.scenario.verbalise(actions[t])}"
                 for t in steps)


@dataclass
class TextBanditPolicy:
    """A text agent as a batched :class:`~latentlab.agents.policies.BanditPolicy`."""

    builder: ContextBuilder
    backend: LLMBackend
    max_retries: int = 2
    invalid: int = 0
    retries: int = 0
    actions: list[list[int]] = field(default_factory=list)
    rewards: list[list[float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        self.parser = ActionParser(self.builder.scenario.action_names)

    def reset(self, n_instances: int, n_arms: int) -> None:
        if n_arms != self.builder.scenario.n_arms:
            raise ValueError(f"n_arms must be {self.builder.scenario.n_arms} (the scenario's), got {n_arms}")
        self.actions = [[] for _ in range(n_instances)]
        self.rewards = [[] for _ in range(n_instances)]
        self.invalid = self.retries = 0

    def prompts(self, reminder: bool = False) -> list[str]:
        return [self.builder.render(a, r, reminder) for a, r in zip(self.actions, self.rewards)]

    def act(self, rng: np.random.Generator) -> np.ndarray:
        n = len(self.actions)
        chosen = np.full(n, -1, dtype=np.int64)
        pending = np.arange(n)
        for attempt in range(self.max_retries + 1):
            prompts = self.prompts(reminder=attempt > 0)
            answers = self.backend.generate([prompts[i] for i in pending])
            parsed = [self.parser.parse(text) for text in answers]
            for i, action in zip(pending, parsed):
                if action is not None:
                    chosen[i] = action
            pending = np.array([i for i, action in zip(pending, parsed) if action is None], dtype=np.int64)
            if pending.size == 0:
                break
            if attempt < self.max_retries:
                self.retries += int(pending.size)
        if pending.size:
            self.invalid += int(pending.size)
            chosen[pending] = rng.integers(0, self.builder.scenario.n_arms, pending.size)
        return chosen

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        for i, (a, r) in enumerate(zip(actions, rewards)):
            self.actions[i].append(int(a))
            self.rewards[i].append(float(r))
