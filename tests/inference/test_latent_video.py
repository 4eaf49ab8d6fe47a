"""Latent video SDE: exact canvas pixels, reflection, zero-control identity, MA-fBM latent variance, shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentlab.inference.fbm import gamma_grid, markov_approximation_covariance, optimal_weights
from latentlab.inference.latent_video import (
    LatentVideoSDE,
    fit_video_sde,
    heldout_elbo,
    load_digit_images,
    prediction_error,
    reflect,
    render_frames,
    sliding_digit_video,
)


def test_render_puts_each_pixel_at_its_exact_position():
    digit = np.zeros((1, 8, 8), np.float32)
    digit[0, 2, 5] = 1.0
    frames = render_frames(digit, np.array([[0, 3, 8]]), np.array([[0, 7, 1]]))
    assert frames.shape == (1, 3, 16, 16)
    for t, (r, c) in enumerate([(0, 0), (3, 7), (8, 1)]):
        assert frames[0, t, r + 2, c + 5] == 1.0 and frames[0, t].sum() == 1.0
    rng = np.random.default_rng(0)
    digits = rng.random((5, 8, 8)).astype(np.float32)
    rows, cols = rng.integers(0, 9, (5, 4)), rng.integers(0, 9, (5, 4))
    frames = render_frames(digits, rows, cols)
    for n in range(5):
        for t in range(4):
            np.testing.assert_array_equal(frames[n, t, rows[n, t]:rows[n, t] + 8, cols[n, t]:cols[n, t] + 8], digits[n])
    np.testing.assert_allclose(frames.sum((2, 3)), np.repeat(digits.sum((1, 2))[:, None], 4, 1), rtol=1e-5)
    with pytest.raises(ValueError, match="rows"):
        render_frames(digits, rows + 1, cols)


def test_reflect_folds_into_the_interval():
    np.testing.assert_allclose(reflect(np.array([-1.0, 9.0, 17.0, 4.0, 16.0, -8.5]), 0.0, 8.0),
                               [1.0, 7.0, 1.0, 4.0, 0.0, 7.5])
    with pytest.raises(ValueError, match="hi > lo"):
        reflect(np.zeros(2), 1.0, 1.0)


def test_sliding_digits_start_at_the_uniform_draw_and_stay_on_the_canvas():
    digits = load_digit_images()[:6]
    assert digits.min() >= 0 and digits.max() <= 1
    still = sliding_digit_video(digits, 5, 0.7, 0.0, np.random.default_rng(1))
    assert np.all(still.rows == still.rows[:, :1]) and np.all(still.cols == still.cols[:, :1])
    clips = sliding_digit_video(digits, 5, 0.7, 20.0, np.random.default_rng(1))
    assert np.array_equal(clips.rows[:, 0], still.rows[:, 0])  # t = 0: B^H(0) = 0
    assert clips.rows.min() >= 0 and clips.rows.max() <= 8 and np.any(np.diff(clips.rows, axis=1) != 0)
    np.testing.assert_array_equal(clips.frames, render_frames(digits, clips.rows, clips.cols))
    np.testing.assert_allclose(clips.times, np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="n_frames"):
        sliding_digit_video(digits, 1, 0.7, 1.0, np.random.default_rng(1))


def _model(hurst: float = 0.7, learn_hurst: bool = True, **kw) -> LatentVideoSDE:
    torch.manual_seed(0)
    return LatentVideoSDE(gamma_grid(5, 20.0), n_frames=4, n_context=2, latent=2, hidden=8, context=4, hurst=hurst,
                          learn_hurst=learn_hurst, steps_per_frame=10, **kw)


def test_zero_control_network_gives_the_prior_paths_and_zero_kl():
    model = _model()
    with torch.no_grad():
        model.control[-1].weight.zero_()
        model.control[-1].bias.zero_()
        z0, ctx = torch.randn(16, 2), torch.randn(16, 4)
        post, kl = model.simulate(z0, ctx, torch.Generator().manual_seed(3))
        prior, kl_prior = model.simulate(z0, None, torch.Generator().manual_seed(3), zero_control=True)
    assert torch.equal(post, prior) and torch.all(kl == 0) and torch.all(kl_prior == 0)
    assert post.shape == (16, 4, 2)
    with pytest.raises(ValueError, match="clip_context"):
        model.simulate(z0, None, torch.Generator())


def test_latent_noise_has_the_markov_approximation_variance():
    model = _model(hurst=0.7)
    with torch.no_grad():
        for p in model.drift.parameters():
            p.zero_()
        z, _ = model.simulate(torch.zeros(6000, 2), None, torch.Generator().manual_seed(4), zero_control=True)
    approx = optimal_weights(0.7, gamma_grid(5, 20.0))
    for i, t in enumerate(np.linspace(0, 1, 4)[1:], start=1):  # sigma = 1: Z_t = B-hat_t, both coordinates
        assert float(z[:, i].var(0).mean()) == pytest.approx(float(markov_approximation_covariance(t, t, approx)),
                                                             rel=0.06)


def test_elbo_training_and_evaluation_shapes_and_gradient_in_h():
    clips = sliding_digit_video(load_digit_images()[:6], 4, 0.7, 4.0, np.random.default_rng(2))
    model = _model(hurst=0.5)
    elbo, parts = model.elbo(clips.frames, torch.Generator().manual_seed(5))
    assert elbo.shape == (6,) and torch.all(parts["kl_path"] >= 0) and torch.all(parts["kl_z0"] >= 0)
    torch.testing.assert_close(elbo, parts["log_lik"] - parts["kl_path"] - parts["kl_z0"])
    (-elbo.mean()).backward()
    assert model.hurst_logit.grad is not None and float(model.hurst_logit.grad) != 0.0
    trace = fit_video_sde(_model(), clips.frames, 2, 4, 1e-3, torch.Generator().manual_seed(6))
    assert len(trace["elbo"]) == len(trace["hurst"]) == 2
    bm = _model(hurst=0.5, learn_hurst=False)
    fit_video_sde(bm, clips.frames, 2, 4, 1e-3, torch.Generator().manual_seed(6))
    assert float(bm.hurst) == pytest.approx(0.5)
    assert heldout_elbo(bm, clips.frames, 2, torch.Generator().manual_seed(7)).shape == (6,)
    err = prediction_error(bm, clips.frames, 3, torch.Generator().manual_seed(8))
    assert err.shape == (6, 4) and np.all(err >= 0)
    with pytest.raises(ValueError, match="frames"):
        model.elbo(clips.frames[:, :3], torch.Generator())
    with pytest.raises(ValueError, match="n_context"):
        LatentVideoSDE(gamma_grid(5, 20.0), n_frames=4, n_context=5)
