r"""Networks: an MLP builder, PPO's actor/critic, SAC's (mixture) tanh-Gaussian actor and Q-nets,
and checkpoint save/load.

Initialisation follows the reference libraries: PPO uses orthogonal weights (gain
:math:`\sqrt2` on hidden layers, 0.01 on the policy output, 1 on the value output, zero
biases; CleanRL and SB3); SAC uses PyTorch's default (fan-in uniform) initialisation (SB3,
CleanRL).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as _torch_module

from latentlab.deeprl.distributions import Categorical, DiagGaussian, MixtureGaussian

__all__ = [
    "mlp",
    "MLP",
    "DiscretePolicy",
    "GaussianPolicy",
    "ValueNet",
    "MixtureActor",
    "QNet",
    "EnsembleLinear",
    "EnsembleMLP",
    "save_checkpoint",
    "load_checkpoint",
]

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activation: str = "tanh",
        init: Literal["orthogonal", "default"] = "default", out_gain: float = 1.0) -> MLP:
    """``in_dim -> hidden... -> out_dim`` with ``activation`` between layers (none after the last)."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
    if in_dim < 1 or out_dim < 1 or any(h < 1 for h in hidden):
        raise ValueError(f"layer sizes must be >= 1, got in_dim={in_dim}, hidden={tuple(hidden)}, out_dim={out_dim}")
    if init not in ("orthogonal", "default"):
        raise ValueError(f"init must be 'orthogonal' or 'default', got {init!r}")
    sizes = [in_dim, *hidden, out_dim]
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        linear = nn.Linear(sizes[i], sizes[i + 1])
        if init == "orthogonal":
            nn.init.orthogonal_(linear.weight, gain=out_gain if i == len(sizes) - 2 else math.sqrt(2))
            nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(sizes) - 2:
            # in place: the preceding Linear's backward needs only its input, so overwriting its output is
            # safe and saves an allocation per layer (ReLU only; tanh's backward needs its own output)
            layers.append(nn.ReLU(inplace=True) if activation == "relu" else _ACTIVATIONS[activation]())
    return MLP(*layers)


class MLP(nn.Sequential):
    """``nn.Sequential`` of ``nn.Linear`` and activation layers with a lean forward.

    Same layers, parameters, state-dict keys and numbers as ``nn.Sequential``; ``forward`` applies
    the functional ops (``F.linear``, ``torch.tanh``, ``torch.relu``) directly instead of going
    through every layer's ``Module.__call__``, whose dispatch costs about as much as the products
    at PPO's 64-unit sizes (a 4-64-64-2 forward: 25 -> 18 us).  A layer with hooks, or of any
    other type, is called as a module, so hooks still fire.

    Inputs with several leading axes run as 2-D rows: on ``(..., B, d)`` a Linear returns a view of
    its 2-D product, and an in-place ReLU on that view costs a CopySlices round trip in backward
    (about 0.4 ms per 256x256 layer; SAC's critics see ``(B, K, d)`` in the actor loss).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _global_module_hooks():
            return super().forward(x)
        if x.dim() > 2:
            return self.forward(x.reshape(-1, x.shape[-1])).unflatten(0, x.shape[:-1])
        for layer in self:
            kind = type(layer)
            if _has_hooks(layer):
                x = layer(x)
            elif kind is nn.Linear:
                x = F.linear(x, layer.weight, layer.bias)
            elif kind is nn.Tanh:
                x = torch.tanh(x)
            elif kind is nn.ReLU:
                x = torch.relu_(x) if layer.inplace else torch.relu(x)
            else:
                x = layer(x)
        return x


def _has_hooks(layer: nn.Module) -> bool:
    return bool(layer._forward_hooks or layer._forward_pre_hooks or layer._backward_hooks
                or layer._backward_pre_hooks)


_GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                 "_global_backward_pre_hooks")


def _global_module_hooks() -> bool:
    """Whether hooks registered for every module (``nn.modules.module.register_module_*_hook``) exist."""
    return any(getattr(_torch_module, name, None) for name in _GLOBAL_HOOKS)


class DiscretePolicy(nn.Module):
    """Logits MLP; ``params(obs)`` are the logits (what the rollout stores for KL terms)."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: Sequence[int] = (64, 64),
                 activation: str = "tanh") -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden, n_actions, activation, init="orthogonal", out_gain=0.01)

    def params(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)

    @staticmethod
    def distribution(params: torch.Tensor) -> Categorical:
        return Categorical(params)


class GaussianPolicy(nn.Module):
    """Mean MLP and a state-independent log-std vector (init 0); ``params`` = [mean, log_std]."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int] = (64, 64), activation: str = "tanh",
                 log_std_init: float = 0.0) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden, act_dim, activation, init="orthogonal", out_gain=0.01)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(log_std_init)))

    def params(self, obs: torch.Tensor) -> torch.Tensor:
        mean = self.net(obs)
        return torch.cat([mean, self.log_std.expand_as(mean)], dim=-1)

    @staticmethod
    def distribution(params: torch.Tensor) -> DiagGaussian:
        mean, log_std = params.chunk(2, dim=-1)
        return DiagGaussian(mean, log_std)


class ValueNet(nn.Module):
    def __init__(self, obs_dim: int, hidden: Sequence[int] = (64, 64), activation: str = "tanh") -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden, 1, activation, init="orthogonal", out_gain=1.0)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)


class MixtureActor(nn.Module):
    r"""SAC's tanh-Gaussian actor with K components (K = 1: plain SAC; K > 1: PMOE).

    A ReLU trunk feeds a mean head and a log-std head with K·|A| outputs each; for K > 1 a
    router head computes K logits from the *detached* trunk features, so the router's
    regression loss never reaches the trunk (PMOE).  Log-stds are bounded either by
    clipping (SB3, [-20, 2]) or by a tanh squash (CleanRL, [-5, 2]).
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int] = (256, 256), n_components: int = 1,
                 log_std_bounds: tuple[float, float] = (-20.0, 2.0),
                 log_std_mode: Literal["clip", "tanh"] = "clip") -> None:
        super().__init__()
        if n_components < 1:
            raise ValueError(f"n_components must be >= 1, got {n_components}")
        if log_std_mode not in ("clip", "tanh"):
            raise ValueError(f"log_std_mode must be 'clip' or 'tanh', got {log_std_mode!r}")
        if not log_std_bounds[0] < log_std_bounds[1]:
            raise ValueError(f"log_std_bounds must be (low, high) with low < high, got {log_std_bounds}")
        self.act_dim, self.n_components = act_dim, n_components
        self.log_std_bounds, self.log_std_mode = log_std_bounds, log_std_mode
        self.trunk = MLP(mlp(obs_dim, tuple(hidden)[:-1], tuple(hidden)[-1], "relu"), nn.ReLU(inplace=True))
        self.mean = nn.Linear(tuple(hidden)[-1], n_components * act_dim)
        self.log_std = nn.Linear(tuple(hidden)[-1], n_components * act_dim)
        self.router = nn.Linear(tuple(hidden)[-1], n_components) if n_components > 1 else None

    def forward(self, obs: torch.Tensor) -> MixtureGaussian:
        h = self.trunk(obs)
        shape = (*obs.shape[:-1], self.n_components, self.act_dim)
        mean = self.mean(h).reshape(shape)
        log_std = self.log_std(h).reshape(shape)
        low, high = self.log_std_bounds
        if self.log_std_mode == "clip":
            log_std = log_std.clamp(low, high)
        else:
            log_std = low + 0.5 * (high - low) * (torch.tanh(log_std) + 1)
        logits = self.router(h.detach()) if self.router is not None else None
        return MixtureGaussian(logits, mean, log_std, squash=True)


class QNet(nn.Module):
    """:math:`Q(s, a)`: an MLP on the concatenation of observation and action."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        self.net = mlp(obs_dim + act_dim, hidden, 1, "relu")

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, act], dim=-1)).squeeze(-1)


class EnsembleLinear(nn.Module):
    r"""N independent affine maps applied in one batched matmul: :math:`y_i = x_i W_i + b_i`.

    Input ``(N, B, in)`` (or ``(B, in)``, broadcast to every member), output ``(N, B, out)``.
    Each member is initialised exactly like its own ``nn.Linear(in, out)`` (fan-in uniform
    :math:`U(-1/\sqrt{in}, 1/\sqrt{in})` for weights and biases), so an ensemble and N separate
    layers draw from the same distribution; ``weight_decay`` is the member-wise L2 coefficient
    used by dynamics ensembles (read by :meth:`EnsembleMLP.weight_decay_loss`).
    """

    def __init__(self, n_members: int, in_dim: int, out_dim: int, weight_decay: float = 0.0) -> None:
        super().__init__()
        if n_members < 1 or in_dim < 1 or out_dim < 1:
            raise ValueError(f"n_members, in_dim, out_dim must be >= 1, got {n_members}, {in_dim}, {out_dim}")
        self.n_members, self.in_dim, self.out_dim = n_members, in_dim, out_dim
        self.weight_decay = float(weight_decay)
        bound = 1.0 / math.sqrt(in_dim)
        self.weight = nn.Parameter(torch.empty(n_members, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_members, 1, out_dim).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, members: torch.Tensor | slice | None = None) -> torch.Tensor:
        """``members``: optional indices ``(M,)`` or a slice (a view, no weight copy); then only those members
        are evaluated, on ``(M, B, in)``."""
        weight, bias = (self.weight, self.bias) if members is None else (self.weight[members], self.bias[members])
        n = weight.shape[0]
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(n, *x.shape)
        if x.dim() != 3 or x.shape[0] != n or x.shape[-1] != self.in_dim:
            raise ValueError(f"EnsembleLinear expects (N={n}, B, {self.in_dim}) or (B, {self.in_dim}), "
                             f"got {tuple(x.shape)}")
        return torch.baddbmm(bias, x, weight)


class EnsembleMLP(nn.Module):
    """N MLPs ``in_dim -> hidden... -> out_dim`` evaluated together (one ``baddbmm`` per layer).

    Shared by the critic ensembles (SAC-N / EDAC / RAVL) and the Gaussian dynamics ensembles of
    model-based offline RL.  ``activation`` is one of relu, tanh, silu; ``weight_decays`` gives one
    L2 coefficient per layer (len(hidden) + 1 values) for :meth:`weight_decay_loss`.
    """

    def __init__(self, n_members: int, in_dim: int, hidden: Sequence[int], out_dim: int,
                 activation: str = "relu", weight_decays: Sequence[float] | None = None) -> None:
        super().__init__()
        activations = {**_ACTIVATIONS, "silu": nn.SiLU}
        if activation not in activations:
            raise ValueError(f"activation must be one of {sorted(activations)}, got {activation!r}")
        sizes = [in_dim, *hidden, out_dim]
        decays = list(weight_decays) if weight_decays is not None else [0.0] * (len(sizes) - 1)
        if len(decays) != len(sizes) - 1:
            raise ValueError(f"weight_decays needs {len(sizes) - 1} values (one per layer), got {len(decays)}")
        self.n_members = n_members
        self.layers = nn.ModuleList(EnsembleLinear(n_members, sizes[i], sizes[i + 1], decays[i])
                                    for i in range(len(sizes) - 1))
        self.activation = activations[activation]()

    def forward(self, x: torch.Tensor, members: torch.Tensor | slice | None = None) -> torch.Tensor:
        """``(B, in)`` (same input to every member) or ``(N, B, in)`` -> ``(N, B, out)``.

        With ``members`` (indices ``(M,)``) only those members run: ``(B, in)`` or ``(M, B, in)`` ->
        ``(M, B, out)`` — e.g. each row through the one member it was assigned to."""
        for layer in self.layers[:-1]:
            x = self.activation(layer(x, members))
        return self.layers[-1](x, members)

    def weight_decay_loss(self) -> torch.Tensor:
        r""":math:`\sum_\ell \lambda_\ell \tfrac12\|W_\ell\|^2`, summed over members."""
        return sum((0.5 * layer.weight_decay * layer.weight.pow(2).sum() for layer in self.layers),
                   start=torch.zeros(()))

    def member(self, i: int) -> nn.Sequential:
        """Member ``i`` as a plain ``nn.Sequential`` of ``nn.Linear`` layers (a copy; for checks and export)."""
        if not 0 <= i < self.n_members:
            raise ValueError(f"member index must be in [0, {self.n_members}), got {i}")
        mods: list[nn.Module] = []
        for k, layer in enumerate(self.layers):
            lin = nn.Linear(layer.in_dim, layer.out_dim)
            with torch.no_grad():
                lin.weight.copy_(layer.weight[i].T)
                lin.bias.copy_(layer.bias[i, 0])
            mods.append(lin)
            if k < len(self.layers) - 1:
                mods.append(type(self.activation)())
        return nn.Sequential(*mods)


def save_checkpoint(path: str | Path, **state: Any) -> Path:
    """Save modules / optimisers (anything with ``state_dict``) and plain data to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {k: (v.state_dict() if hasattr(v, "state_dict") else v) for k, v in state.items()}
    torch.save(payload, path)
    return path


def load_checkpoint(path: str | Path, **targets: Any) -> dict[str, Any]:
    """Load ``path``; every keyword target with ``load_state_dict`` is restored in place.

    Returns the whole payload (plain data entries included)."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=False)
    for key, target in targets.items():
        if key not in payload:
            raise KeyError(f"checkpoint {path} has no entry {key!r}; entries: {sorted(payload)}")
        target.load_state_dict(payload[key])
    return payload
