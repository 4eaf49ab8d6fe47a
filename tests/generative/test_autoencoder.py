"""The weak-KL autoencoder of the latent-space experiments: KL closed form, exact recovery of low-rank data."""

from __future__ import annotations

import pytest
import torch

from latentlab.generative import MLPAutoencoder, autoencoder_loss, gaussian_kl, standard_normal_kl, train_autoencoder


def test_standard_normal_kl_matches_the_gaussian_closed_form():
    gen = torch.Generator().manual_seed(0)
    mu, log_var = torch.randn((3, 4), generator=gen, dtype=torch.float64), torch.randn((3, 4), generator=gen,
                                                                                        dtype=torch.float64)
    values = standard_normal_kl(mu, log_var)
    for i in range(3):
        exact = gaussian_kl(mu[i], torch.diag(log_var[i].exp()), torch.zeros(4, dtype=torch.float64),
                            torch.eye(4, dtype=torch.float64))
        assert values[i].item() == pytest.approx(exact, rel=1e-10)
    assert standard_normal_kl(torch.zeros(1, 4), torch.zeros(1, 4)).item() == 0.0


def test_autoencoder_recovers_rank_two_data_and_validates_input():
    gen = torch.Generator().manual_seed(1)
    basis = torch.linalg.qr(torch.randn(8, 2, generator=gen))[0]
    data = torch.randn(512, 2, generator=gen) @ basis.T  # rank 2: a 4-d code can reconstruct it exactly
    torch.manual_seed(0)
    model = MLPAutoencoder(8, code_dim=4, width=64, depth=1)
    train_autoencoder(model, data, 600, batch=128, lr=3e-3, kl_weight=1e-4, generator=gen)
    with torch.no_grad():
        mu, _ = model.encode(data)
        error = ((model.decode(mu) - data) ** 2).sum(1).mean() / (data**2).sum(1).mean()
    assert error < 0.01
    with pytest.raises(ValueError, match="kl_weight"):
        autoencoder_loss(model, data, -1.0)
    with pytest.raises(ValueError, match="code_dim"):
        MLPAutoencoder(8, code_dim=0)


def test_quantize_weights_rounds_to_a_uniform_grid_per_tensor():
    from latentlab.generative import quantize_weights

    torch.manual_seed(0)
    net = torch.nn.Linear(6, 5)
    original = net.weight.detach().clone()
    for bits in (2, 6, 8):
        q = quantize_weights(net, bits)
        for w, wq in zip(net.parameters(), q.parameters()):
            low, high = w.min(), w.max()
            step = (high - low) / (2**bits - 1)
            levels = (wq - low) / step
            assert torch.allclose(levels, levels.round(), atol=1e-4)  # on the grid
            assert (wq - w).abs().max() <= step / 2 + 1e-6  # nearest level
            assert torch.isclose(wq.min(), low) and torch.isclose(wq.max(), high)  # end points kept
            assert len(torch.unique(wq)) <= 2**bits
    grid = torch.nn.Linear(1, 4, bias=False)
    with torch.no_grad():
        grid.weight.copy_(torch.tensor([[0.0], [1.0], [2.0], [3.0]]))
    assert torch.equal(quantize_weights(grid, 2).weight, grid.weight)  # already on the 4-level grid
    assert torch.equal(net.weight, original)  # the original is not modified
    with pytest.raises(ValueError, match="bits"):
        quantize_weights(net, 0)
