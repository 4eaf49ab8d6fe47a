"""The lean ``MLP`` forward against ``nn.Sequential``'s module-by-module forward."""

import pytest
import torch
from torch import nn

from latentlab.deeprl.nets import MLP, mlp


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_mlp_equals_sequential_in_values_and_gradients(activation):
    torch.manual_seed(0)
    net = mlp(5, (32, 16), 3, activation, init="orthogonal")
    assert isinstance(net, MLP)
    reference = nn.Sequential(*net)  # the same layer objects, called as modules
    x = torch.randn(7, 5)
    out = net(x)
    out.square().sum().backward()
    grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    expected = reference(x)
    expected.square().sum().backward()
    assert torch.equal(out, expected)
    for got, want in zip(grads, (p.grad for p in reference.parameters())):
        assert torch.equal(got, want)
    assert list(net.state_dict()) == list(reference.state_dict())


def test_mlp_on_several_leading_axes_equals_sequential():
    torch.manual_seed(0)
    net = mlp(4, (16, 16), 1, "relu")
    x = torch.randn(5, 3, 4, requires_grad=True)
    out = net(x)
    out.sum().backward()
    grad = x.grad.clone()
    x.grad = None
    expected = nn.Sequential(*net)(x)
    expected.sum().backward()
    assert out.shape == (5, 3, 1) and torch.equal(out, expected) and torch.equal(grad, x.grad)


def test_mlp_calls_hooked_layers_and_nested_modules_as_modules():
    torch.manual_seed(0)
    net = MLP(mlp(3, (8,), 8, "relu"), nn.ReLU(inplace=True), nn.Linear(8, 2))
    seen = []
    handle = net[2].register_forward_hook(lambda module, inputs, output: seen.append(output.shape))
    x = torch.randn(4, 3)
    assert torch.equal(net(x), nn.Sequential(*net)(x))
    assert seen == [torch.Size([4, 2])] * 2
    handle.remove()
    global_seen = []
    handle = nn.modules.module.register_module_forward_hook(lambda m, i, o: global_seen.append(type(m)))
    try:
        net(x)
    finally:
        handle.remove()
    assert nn.Linear in global_seen  # global hooks reach every layer: the plain Sequential path ran
