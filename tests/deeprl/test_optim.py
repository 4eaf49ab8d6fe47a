"""fused_adam_step: bit for bit torch.optim.Adam(fused=True).step() (parameters and state), resumable
from a state_dict either way, and the regular step() wherever the lean path does not apply."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from latentlab.deeprl.optim import fused_adam_step


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3), nn.Linear(3, 2))


def _optimizer(model: nn.Module, **kwargs) -> torch.optim.Optimizer:
    layers = list(model)
    groups = [{"params": layers[0].parameters()}, {"params": [*layers[2].parameters(), *layers[3].parameters()],
                                                   "lr": 3e-2}]
    return torch.optim.Adam(groups, lr=1e-2, **{"fused": True, **kwargs})


def _train(model: nn.Module, optimizer: torch.optim.Optimizer, step, n: int, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    for i in range(n):
        optimizer.zero_grad()
        x = torch.randn(16, 5, generator=g)
        out = model[:3](x) if i % 3 == 0 else model(x)  # the last layer gets no gradient every third step
        out.pow(2).mean().backward()
        step(optimizer)


def _assert_identical(a: nn.Module, b: nn.Module, opt_a: torch.optim.Optimizer, opt_b: torch.optim.Optimizer) -> None:
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    sa, sb = opt_a.state_dict(), opt_b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert sa["state"].keys() == sb["state"].keys()
    for k in sa["state"]:
        for name in ("step", "exp_avg", "exp_avg_sq"):
            assert sa["state"][k][name].dtype == sb["state"][k][name].dtype
            assert torch.equal(sa["state"][k][name], sb["state"][k][name]), (k, name)


@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
def test_lean_step_is_bit_identical_to_adam_step(weight_decay):
    a, b = _model(), _model()
    opt_a, opt_b = _optimizer(a, weight_decay=weight_decay), _optimizer(b, weight_decay=weight_decay)
    _train(a, opt_a, lambda o: o.step(), 7)
    _train(b, opt_b, fused_adam_step, 7)
    _assert_identical(a, b, opt_a, opt_b)
    # the last layer had no gradient at steps 0, 3, 6 and was skipped there, as Adam skips it
    assert int(opt_b.state[b[3].weight]["step"]) == int(opt_b.state[b[0].weight]["step"]) - 3 == 4


def test_state_dicts_resume_across_the_two_paths():
    a, b = _model(), _model()
    opt_a, opt_b = _optimizer(a), _optimizer(b)
    _train(a, opt_a, lambda o: o.step(), 4)
    _train(b, opt_b, fused_adam_step, 4)
    resumed_a, resumed_b = copy.deepcopy(b), copy.deepcopy(a)  # cross over: each continues the other's run
    opt_ra, opt_rb = _optimizer(resumed_a), _optimizer(resumed_b)
    opt_ra.load_state_dict(opt_b.state_dict())
    opt_rb.load_state_dict(opt_a.state_dict())
    _train(resumed_a, opt_ra, lambda o: o.step(), 3, seed=2)
    _train(resumed_b, opt_rb, fused_adam_step, 3, seed=2)
    _assert_identical(resumed_a, resumed_b, opt_ra, opt_rb)


@pytest.mark.parametrize("kind", ["foreach", "amsgrad", "adamw", "sgd", "hook"])
def test_other_optimizers_and_hooks_take_the_regular_step(kind):
    a, b = _model(), _model()

    def make(model):
        if kind == "foreach":
            return torch.optim.Adam(model.parameters(), lr=1e-2, foreach=True)
        if kind == "amsgrad":
            return torch.optim.Adam(model.parameters(), lr=1e-2, fused=True, amsgrad=True)
        if kind == "adamw":
            return torch.optim.AdamW(model.parameters(), lr=1e-2, fused=True)
        if kind == "sgd":
            return torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
        return torch.optim.Adam(model.parameters(), lr=1e-2, fused=True)

    opt_a, opt_b = make(a), make(b)
    calls = []
    if kind == "hook":
        opt_b.register_step_post_hook(lambda *args: calls.append(1))
    _train(a, opt_a, lambda o: o.step(), 4)
    _train(b, opt_b, fused_adam_step, 4)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    if kind == "hook":
        assert len(calls) == 4  # the hook fired: the regular step ran
