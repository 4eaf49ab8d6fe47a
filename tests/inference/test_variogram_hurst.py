"""Classical variogram Hurst estimator: recovers H from exact fBM, with and without noise correction."""

import numpy as np
import pytest

from latentlab.inference.fbm import sample_fbm, variogram_hurst


@pytest.mark.parametrize("hurst", [0.3, 0.5, 0.7])
def test_variogram_recovers_the_hurst_index_of_exact_fbm(hurst):
    rng = np.random.default_rng(0)
    grid = np.linspace(0.01, 1.0, 100)
    paths = sample_fbm(grid, hurst, 200, rng)
    times = np.broadcast_to(grid, paths.shape)
    assert abs(variogram_hurst(paths, times, max_lag=0.3) - hurst) < 0.03


def test_noise_correction_removes_the_nugget_bias():
    rng = np.random.default_rng(1)
    grid = np.linspace(0.01, 1.0, 100)
    paths = sample_fbm(grid, 0.7, 200, rng)
    noisy = paths + 0.05 * rng.standard_normal(paths.shape)
    times = np.broadcast_to(grid, paths.shape)
    biased = variogram_hurst(noisy, times, max_lag=0.3)
    corrected = variogram_hurst(noisy, times, max_lag=0.3, noise_var=0.05**2)
    assert abs(corrected - 0.7) < 0.05 < abs(biased - 0.7)


def test_bad_input_names_the_parameters():
    with pytest.raises(ValueError, match="max_lag"):
        variogram_hurst(np.zeros((2, 3)), np.zeros((2, 3)), max_lag=0.0)
    with pytest.raises(ValueError, match="values and times"):
        variogram_hurst(np.zeros((2, 3)), np.zeros((2, 4)), max_lag=0.1)
