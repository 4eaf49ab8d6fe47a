r"""Small explicit training loops: offline preference (DPO family), online preference
(online DPO / XPO) and Bradley–Terry reward models.

All loops take a :class:`~latentlab.preference.policy.Policy` (an ``nn.Module``) and plain
tensors; randomness comes from the ``torch.Generator`` / ``numpy.random.Generator`` the
caller passes, so a seed reproduces a run bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from latentlab.preference.losses import bradley_terry_loss, dpo_loss, sft_loss, xpo_exploration_term
from latentlab.preference.policy import Policy, sample, sequence_logps, token_logps
from latentlab.preference.tasks import PreferenceOracle, SequenceTask

__all__ = [
    "PreferenceData",
    "DPOConfig",
    "dpo_objective",
    "OfflinePreferenceTrainer",
    "OnlineConfig",
    "OnlinePreferenceTrainer",
    "RewardModelTrainer",
    "supervised_finetune",
]


@dataclass
class PreferenceData:
    """Pairs ``(x, y_w, y_l)``: prompts ``(N,)``, chosen and rejected responses ``(N, T)``."""

    prompts: torch.Tensor
    chosen: torch.Tensor
    rejected: torch.Tensor

    def __post_init__(self) -> None:
        self.prompts = torch.as_tensor(np.asarray(self.prompts) if not isinstance(self.prompts, torch.Tensor)
                                       else self.prompts, dtype=torch.long)
        self.chosen = torch.as_tensor(self.chosen, dtype=torch.long)
        self.rejected = torch.as_tensor(self.rejected, dtype=torch.long)
        n = self.prompts.shape[0]
        if self.prompts.ndim != 1 or self.chosen.shape[0] != n or self.rejected.shape != self.chosen.shape:
            raise ValueError(
                f"prompts (N,), chosen and rejected (N, T) must agree, got {tuple(self.prompts.shape)}, "
                f"{tuple(self.chosen.shape)}, {tuple(self.rejected.shape)}"
            )

    def __len__(self) -> int:
        return int(self.prompts.shape[0])

    def subset(self, index: torch.Tensor) -> PreferenceData:
        return PreferenceData(self.prompts[index], self.chosen[index], self.rejected[index])

    @classmethod
    def concat(cls, parts: list[PreferenceData]) -> PreferenceData:
        return cls(torch.cat([p.prompts for p in parts]), torch.cat([p.chosen for p in parts]),
                   torch.cat([p.rejected for p in parts]))


@dataclass(frozen=True)
class DPOConfig:
    """Hyper-parameters of the DPO family (sigmoid / IPO / Flex-DPO / DPO+SFT)."""

    beta: float = 0.1
    loss_type: Literal["sigmoid", "ipo"] = "sigmoid"
    beta_rejected: float | None = None
    """Flex-DPO's separate temperature on the rejected term (None: vanilla)."""
    sft_weight: float = 0.0
    """λ of SFT-DPO: adds λ·(−log π(y_w|x)) per pair."""
    lr: float = 1e-2
    batch_size: int = 64
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")
        if self.sft_weight < 0:
            raise ValueError(f"sft_weight must be >= 0, got {self.sft_weight}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


def dpo_objective(policy: Policy, batch: PreferenceData, ref_chosen: torch.Tensor, ref_rejected: torch.Tensor,
                  config: DPOConfig) -> torch.Tensor:
    """Mean DPO-family loss of a batch (plus λ·SFT on the chosen responses if ``sft_weight > 0``)."""
    both = token_logps(policy, torch.cat([batch.prompts, batch.prompts]), torch.cat([batch.chosen, batch.rejected]))
    chosen_tok, rejected_tok = both.chunk(2)
    rejected = rejected_tok.sum(-1)
    horizon = torch.full_like(ref_chosen, batch.chosen.shape[1])
    per_pair = dpo_loss(chosen_tok.sum(-1), rejected, ref_chosen, ref_rejected, config.beta, config.loss_type,
                        config.beta_rejected, horizon, horizon)
    if config.sft_weight:
        per_pair = per_pair + config.sft_weight * sft_loss(chosen_tok)
    return per_pair.mean()


def supervised_finetune(policy: Policy, prompts: torch.Tensor, responses: torch.Tensor, steps: int, lr: float,
                        batch_size: int, generator: torch.Generator) -> list[float]:
    r"""SFT: ``steps`` Adam steps on the mean :math:`-\log\pi(y|x)` of random minibatches. Returns losses."""
    if steps < 0 or batch_size < 1 or not lr > 0:
        raise ValueError(f"need steps >= 0, batch_size >= 1, lr > 0; got {steps}, {batch_size}, {lr}")
    optimizer = _optimizer(policy, lr, 0.0)
    losses = []
    for _ in range(steps):
        index = torch.randint(0, prompts.shape[0], (min(batch_size, prompts.shape[0]),), generator=generator)
        loss = sft_loss(token_logps(policy, prompts[index], responses[index])).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _optimizer(module: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    return torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)


class OfflinePreferenceTrainer:
    """Minibatch Adam on a fixed preference dataset (DPO, IPO, Flex-DPO, SFT-DPO)."""

    def __init__(self, policy: Policy, reference: Policy, config: DPOConfig) -> None:
        self.policy = policy
        self.reference = reference
        self.config = config
        self.optimizer = _optimizer(policy, config.lr, config.weight_decay)

    @torch.no_grad()
    def reference_logps(self, data: PreferenceData) -> tuple[torch.Tensor, torch.Tensor]:
        return (sequence_logps(self.reference, data.prompts, data.chosen),
                sequence_logps(self.reference, data.prompts, data.rejected))

    def fit(self, data: PreferenceData, steps: int, generator: torch.Generator,
            callback: Callable[[int], None] | None = None, every: int = 0) -> list[float]:
        """``steps`` Adam updates on random minibatches; ``callback(step)`` every ``every`` steps. Returns losses."""
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        ref_chosen, ref_rejected = self.reference_logps(data)
        losses = []
        batch = min(self.config.batch_size, len(data))
        for step in range(steps):
            if callback is not None and every and step % every == 0:
                callback(step)
            index = torch.randint(0, len(data), (batch,), generator=generator)
            loss = dpo_objective(self.policy, data.subset(index), ref_chosen[index], ref_rejected[index], self.config)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            losses.append(loss.item())
        if callback is not None and every:
            callback(steps)
        return losses


@dataclass(frozen=True)
class OnlineConfig:
    r"""Online DPO / XPO (Xie et al., 2024, Algorithm 1).

    Each round draws ``queries_per_round`` prompts, :math:`y\sim\pi_\theta`,
    :math:`\tilde y\sim\pi_{samp}` (the reference), asks the oracle, and takes
    ``updates_per_round`` Adam steps on

    .. math:: \frac{1}{|B|}\sum_{(x,y^+,y^-)\in B} -\log\sigma(\beta\Delta)
              + \alpha\,\frac{1}{|\tilde B|}\sum_{\tilde y\in\tilde B}\log\pi_\theta(\tilde y|x),

    with minibatches drawn from *all pairs so far* (``mode="replay"``: Algorithm 1) or from
    the current round only (``mode="batch"``: TRL's minibatch-online variant).  α = 0 is online DPO.
    """

    beta: float = 0.05
    alpha: float = 0.0
    mode: Literal["replay", "batch"] = "replay"
    queries_per_round: int = 64
    updates_per_round: int = 8
    batch_size: int = 256
    lr: float = 0.05

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        if self.mode not in ("replay", "batch"):
            raise ValueError(f"mode must be 'replay' or 'batch', got {self.mode!r}")
        for name in ("queries_per_round", "updates_per_round", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass
class _Replay:
    prompts: list[torch.Tensor] = field(default_factory=list)
    chosen: list[torch.Tensor] = field(default_factory=list)
    rejected: list[torch.Tensor] = field(default_factory=list)
    explored: list[torch.Tensor] = field(default_factory=list)
    ref_chosen: list[torch.Tensor] = field(default_factory=list)
    ref_rejected: list[torch.Tensor] = field(default_factory=list)

    def add(self, prompts, chosen, rejected, explored, ref_chosen, ref_rejected) -> None:
        for name, value in zip(("prompts", "chosen", "rejected", "explored", "ref_chosen", "ref_rejected"),
                               (prompts, chosen, rejected, explored, ref_chosen, ref_rejected)):
            getattr(self, name).append(value)

    def tensors(self, last_only: bool) -> tuple[torch.Tensor, ...]:
        """(prompts, chosen, rejected, explored, ref_chosen, ref_rejected) of the whole replay or the last round."""
        parts = slice(-1, None) if last_only else slice(None)
        return tuple(torch.cat(xs[parts]) for xs in (self.prompts, self.chosen, self.rejected, self.explored,
                                                     self.ref_chosen, self.ref_rejected))


class OnlinePreferenceTrainer:
    """Online DPO and XPO on a :class:`~latentlab.preference.tasks.SequenceTask` with a preference oracle."""

    def __init__(self, policy: Policy, reference: Policy, task: SequenceTask, oracle: PreferenceOracle,
                 config: OnlineConfig) -> None:
        self.policy = policy
        self.reference = reference
        self.task = task
        self.oracle = oracle
        self.config = config
        self.optimizer = _optimizer(policy, config.lr, 0.0)
        self.replay = _Replay()
        self.queries = 0

    def collect(self, rng: np.random.Generator, generator: torch.Generator) -> None:
        """One round of queries: y ~ π_θ, ỹ ~ π_ref, oracle label."""
        n = self.config.queries_per_round
        prompts = torch.as_tensor(rng.integers(0, self.task.n_prompts, size=n))
        y = sample(self.policy, prompts, generator)
        y_tilde = sample(self.reference, prompts, generator)
        chosen, rejected = self.oracle.label(self.task, prompts.numpy(), y.numpy(), y_tilde.numpy(), rng)
        chosen, rejected = torch.as_tensor(chosen), torch.as_tensor(rejected)
        with torch.no_grad():
            ref_c = sequence_logps(self.reference, prompts, chosen)
            ref_r = sequence_logps(self.reference, prompts, rejected)
        self.replay.add(prompts, chosen, rejected, y_tilde, ref_c, ref_r)
        self.queries += n

    def loss(self, prompts: torch.Tensor, chosen: torch.Tensor, rejected: torch.Tensor, explored: torch.Tensor,
             ref_chosen: torch.Tensor, ref_rejected: torch.Tensor) -> torch.Tensor:
        """Mean DPO loss on the pairs plus α times the mean log-likelihood of the explored responses."""
        n = prompts.shape[0]
        with_explored = self.config.alpha > 0
        responses = torch.cat([chosen, rejected, explored] if with_explored else [chosen, rejected])
        logps = sequence_logps(self.policy, prompts.repeat(3 if with_explored else 2), responses)
        loss = dpo_loss(logps[:n], logps[n:2 * n], ref_chosen, ref_rejected, self.config.beta).mean()
        if with_explored:
            loss = loss + xpo_exploration_term(logps[2 * n:], self.config.alpha).mean()
        return loss

    def update(self, generator: torch.Generator) -> float:
        """``updates_per_round`` Adam steps on minibatches of the replay (or of the last round)."""
        data = self.replay.tensors(last_only=self.config.mode == "batch")
        n = data[0].shape[0]
        last = 0.0
        for _ in range(self.config.updates_per_round):
            index = torch.randint(0, n, (min(self.config.batch_size, n),), generator=generator)
            loss = self.loss(*(x[index] for x in data))
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            last = loss.item()
        return last

    def round(self, rng: np.random.Generator, generator: torch.Generator) -> float:
        self.collect(rng, generator)
        return self.update(generator)


class RewardModelTrainer:
    r"""Bradley–Terry reward model: minibatch Adam on :math:`-\log\sigma(r(x,y_w) - r(x,y_l))`.

    ``reward_fn(model, prompts, responses) -> (B,)`` scores a batch (e.g. a scalar head on a
    causal LM's last hidden state).
    """

    def __init__(self, model: nn.Module, reward_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
                 lr: float = 1e-3, batch_size: int = 64, center_coefficient: float = 0.0) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.reward_fn = reward_fn
        self.batch_size = batch_size
        self.center_coefficient = center_coefficient
        self.optimizer = _optimizer(model, lr, 0.0)

    def fit(self, data: PreferenceData, steps: int, generator: torch.Generator,
            callback: Callable[[int], None] | None = None, every: int = 0) -> list[float]:
        """``steps`` Adam updates on random minibatches; ``callback(step)`` every ``every`` steps (as
        :meth:`OfflinePreferenceTrainer.fit`: also after the last step). Returns losses."""
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        losses = []
        batch = min(self.batch_size, len(data))
        for step in range(steps):
            if callback is not None and every and step % every == 0:
                callback(step)
            index = torch.randint(0, len(data), (batch,), generator=generator)
            b = data.subset(index)
            r = self.reward_fn(self.model, torch.cat([b.prompts, b.prompts]), torch.cat([b.chosen, b.rejected]))
            loss = bradley_terry_loss(r[:batch], r[batch:], center_coefficient=self.center_coefficient).mean()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            losses.append(loss.item())
        if callback is not None and every:
            callback(steps)
        return losses
