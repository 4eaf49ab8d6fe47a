"""EnsembleMLP equals N separate MLPs (its members), in values and in gradients."""

import pytest
import torch

from latentlab.deeprl.nets import EnsembleLinear, EnsembleMLP


def test_ensemble_equals_its_members_in_values_and_gradients():
    torch.manual_seed(0)
    net = EnsembleMLP(5, 3, (16, 16), 2, activation="silu")
    x = torch.randn(5, 7, 3)
    out = net(x)
    assert out.shape == (5, 7, 2)
    for i in range(5):
        torch.testing.assert_close(net.member(i)(x[i]), out[i])
    shared = net(x[0])  # (B, in) is broadcast to every member
    for i in range(5):
        torch.testing.assert_close(net.member(i)(x[0]), shared[i])
    # member i's loss has gradient only in member i's slice
    out[2].sum().backward()
    for layer in net.layers:
        grad_norms = layer.weight.grad.flatten(1).norm(dim=1)
        assert grad_norms[2] > 0 and torch.all(grad_norms[[0, 1, 3, 4]] == 0)


def test_member_subset_runs_only_those_members():
    torch.manual_seed(1)
    net = EnsembleMLP(4, 3, (8,), 2)
    x = torch.randn(2, 5, 3)
    idx = torch.tensor([3, 1])
    out = net(x, members=idx)
    torch.testing.assert_close(out[0], net.member(3)(x[0]))
    torch.testing.assert_close(out[1], net.member(1)(x[1]))


def test_init_matches_nn_linear_bounds_and_weight_decay():
    layer = EnsembleLinear(4, 100, 8, weight_decay=0.5)
    assert layer.weight.abs().max() <= 0.1 and layer.bias.abs().max() <= 0.1
    net = EnsembleMLP(2, 3, (4,), 1, weight_decays=[1.0, 2.0])
    expected = 0.5 * net.layers[0].weight.pow(2).sum() + 1.0 * net.layers[1].weight.pow(2).sum()
    torch.testing.assert_close(net.weight_decay_loss(), expected)


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="weight_decays"):
        EnsembleMLP(2, 3, (4,), 1, weight_decays=[1.0])
    with pytest.raises(ValueError, match="activation"):
        EnsembleMLP(2, 3, (4,), 1, activation="gelu")
    with pytest.raises(ValueError, match="EnsembleLinear expects"):
        EnsembleLinear(3, 4, 2)(torch.zeros(2, 5, 4))
