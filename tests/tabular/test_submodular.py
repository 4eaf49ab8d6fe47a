"""Submodular RL: the set function, the estimators and the exact baselines."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from latentlab.tabular.submodular import (
    SubPOConfig,
    bimodal_weights,
    brute_force_optimum,
    coverage_grid,
    coverage_value,
    greedy_oracle,
    prefix_values,
    step_weights,
    train_subpo,
)


@pytest.fixture
def grid():
    return coverage_grid(4, 4, 5, bimodal_weights(4, 4, np.random.default_rng(0)))


def test_coverage_is_monotone_submodular(grid):
    rng = np.random.default_rng(1)
    for _ in range(200):
        small = rng.random(grid.S) < 0.2
        large = small | (rng.random(grid.S) < 0.3)
        x = rng.integers(grid.S)
        add = np.zeros(grid.S, bool)
        add[x] = True
        gain_small = coverage_value(grid, small | add) - coverage_value(grid, small)
        gain_large = coverage_value(grid, large | add) - coverage_value(grid, large)
        assert gain_small >= gain_large - 1e-12 and gain_large >= -1e-12


def test_paper_weights_telescope_and_modular_case_is_reinforce(grid):
    rng = np.random.default_rng(2)
    states = np.stack([np.full(8, grid.start)] + [rng.integers(0, grid.S, 8) for _ in range(grid.horizon)], 1)
    prefix = prefix_values(grid, states)
    weights = step_weights(grid, states, "submodular", "paper")
    gains = np.diff(prefix, axis=1)
    assert np.allclose(weights, np.cumsum(gains[:, ::-1], 1)[:, ::-1])  # sum of future marginal gains
    assert np.allclose(weights[:, 0] + prefix[:, 0], prefix[:, -1])
    # with a modular F (no overlaps counted away) the SubPO weights are REINFORCE's reward-to-go
    modular = step_weights(grid, states, "modular", "paper")
    rewards = grid.cover[states[:, 1:]].astype(float) @ grid.weights
    assert np.allclose(modular, np.cumsum(rewards[:, ::-1], 1)[:, ::-1])
    assert np.allclose(step_weights(grid, states, "submodular", "code"), prefix[:, 1:])


def test_brute_force_matches_python_enumeration():
    tiny = coverage_grid(3, 3, 4, bimodal_weights(3, 3, np.random.default_rng(3)))
    best = 0.0
    for actions in itertools.product(range(5), repeat=4):
        s, visited = tiny.start, np.zeros(9, bool)
        visited[s] = True
        for a in actions:
            s = tiny.next[s, a]
            visited[s] = True
        best = max(best, float(coverage_value(tiny, visited)))
    assert brute_force_optimum(tiny) == pytest.approx(best)
    assert greedy_oracle(tiny)[0] <= best + 1e-12


def test_subpo_learns_on_a_tiny_grid():
    tiny = coverage_grid(5, 5, 6, bimodal_weights(5, 5, np.random.default_rng(4)))
    opt = brute_force_optimum(tiny)
    _, history = train_subpo(tiny, SubPOConfig(epochs=25, batch=64), torch.Generator().manual_seed(0))
    assert np.mean(history[-5:]) > np.mean(history[:5])
    assert history[-1] >= (1 - np.exp(-1)) * opt


def test_validation(grid):
    with pytest.raises(ValueError, match="weights"):
        coverage_grid(4, 4, 5, np.ones(3))
    with pytest.raises(ValueError, match="estimator"):
        train_subpo(grid, SubPOConfig(estimator="other", epochs=1), torch.Generator().manual_seed(0))
