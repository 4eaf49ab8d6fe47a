"""TQ, SACo, exact and HyperLogLog unique counts, normalised entropy: known answers and invariances."""

import numpy as np
import pytest

from latentlab.offline.datasets import OfflineDataset, make_dataset
from latentlab.offline.metrics import (
    _leading_zeros,
    count_unique,
    dataset_summary,
    discretize,
    hash_rows,
    hyperloglog,
    normalized_entropy,
    state_action_coverage,
    trajectory_quality,
)


@pytest.fixture(scope="module")
def sets():
    return {r: make_dataset("CartPole-v1", r, 3000, 0, cache=False, n_envs=4)
            for r in ("random", "full-replay", "expert", "noisy")}


def test_tq_random_is_zero_and_online_max_is_one(sets):
    r_random = float(sets["random"].episode_returns().mean())
    assert trajectory_quality(sets["random"], r_random, 500.0) == 0.0
    assert trajectory_quality(500.0, r_random, 500.0) == 1.0
    assert trajectory_quality(sets["expert"], r_random, 500.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="r_online_max"):
        trajectory_quality(1.0, 2.0, 2.0)


def test_saco_replay_is_one_and_expert_covers_less(sets):
    replay = sets["full-replay"]
    assert state_action_coverage(replay, replay) == 1.0
    assert state_action_coverage(sets["expert"], replay) < state_action_coverage(sets["noisy"], replay)
    summary = dataset_summary(sets["random"], replay, float(sets["random"].episode_returns().mean()), 500.0)
    assert summary["tq"] == 0.0 and summary["reward_sparsity"] == 0.0
    assert summary["unique_hll"] == pytest.approx(summary["unique_exact"], rel=0.03)


def test_saco_invariant_to_shuffling_and_duplicating(sets):
    replay, noisy = sets["full-replay"], sets["noisy"]
    base = state_action_coverage(noisy, replay)
    perm = np.random.default_rng(1).permutation(len(noisy))
    shuffled = OfflineDataset.from_arrays(noisy.observations[perm], noisy.actions[perm], noisy.rewards[perm],
                                          noisy.next_observations[perm], np.zeros(len(noisy)),
                                          n_actions=noisy.n_actions)
    doubled = OfflineDataset.concatenate([noisy, noisy])
    assert state_action_coverage(shuffled, replay) == base
    assert state_action_coverage(doubled, replay) == base
    assert state_action_coverage(doubled, replay, method="hll") == pytest.approx(base, rel=0.03)


def test_discretize_edges():
    low, high = np.array([0.0, 1.0]), np.array([1.0, 1.0])
    x = np.array([[0.0, 1.0], [0.999, 1.0], [1.0, 1.0], [-5.0, 3.0], [0.5, 1.0]])
    out = discretize(x, low, high, bins=100)
    assert out[:, 0].tolist() == [0, 99, 99, 0, 50]
    assert out[:, 1].tolist() == [0, 0, 0, 99, 0]  # constant coordinate: one bin (outside values clipped)


def test_exact_count_matches_python_set():
    rows = np.random.default_rng(0).integers(0, 7, size=(5000, 3))
    assert count_unique(rows) == len({tuple(r) for r in rows.tolist()})
    with pytest.raises(ValueError, match="method"):
        count_unique(rows, method="approx")


def test_hyperloglog_within_two_percent_on_50k_distinct_rows():
    rng = np.random.default_rng(3)
    rows = rng.integers(0, 100, size=(70_000, 5))
    rows = np.concatenate([rows, rows[:20_000]])  # duplicates must not count
    exact = count_unique(rows)
    assert 45_000 < exact < 75_000
    for p in (14, 16):
        assert abs(hyperloglog(rows, p) - exact) / exact < 0.02
    assert hyperloglog(rows[:0]) == 0.0


def test_hash_and_leading_zeros():
    rows = np.random.default_rng(0).integers(-50, 50, size=(20_000, 4))
    h = hash_rows(rows)
    assert np.unique(h).size == count_unique(rows)
    assert np.array_equal(h, hash_rows(rows.copy()))
    vals = np.random.default_rng(1).integers(0, 2**63, size=1000, dtype=np.uint64) >> np.random.default_rng(
        2).integers(0, 63, size=1000).astype(np.uint64)
    vals = vals | np.uint64(1)
    expected = [64 - int(v).bit_length() for v in vals.tolist()]
    assert _leading_zeros(vals).tolist() == expected


def test_normalized_entropy():
    assert normalized_entropy(np.full((4, 3), 1 / 3)) == pytest.approx(1.0)
    assert normalized_entropy(np.eye(3)) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="probs"):
        normalized_entropy(np.ones(3))
