"""Known answers for the bandit suite: Lai-Robbins constant and UCB/TS regret growth."""

from __future__ import annotations

import numpy as np
import pytest

from latentlab.agents import (
    UCB,
    BanditInstance,
    EpsilonGreedy,
    Greedy,
    LinUCB,
    RandomPolicy,
    ThompsonSampling,
    bernoulli_bandit,
    gaussian_bandit,
    lai_robbins_constant,
    low_rank_contextual_bandit,
    run_bandit,
    run_contextual_bandit,
)


def test_bernoulli_instances_follow_banditbench():
    inst = bernoulli_bandit(5, 0.2, 100, np.random.default_rng(0))
    assert np.allclose(np.sort(inst.means, axis=1)[:, -1], 0.6)
    assert np.allclose(np.sort(inst.means, axis=1)[:, :-1], 0.4)
    assert len(set(inst.means.argmax(axis=1))) == 5  # the best arm is shuffled


def test_lai_robbins_constant_closed_form():
    inst = BanditInstance(np.array([[0.4, 0.6]]))
    kl = 0.4 * np.log(0.4 / 0.6) + 0.6 * np.log(0.6 / 0.4)
    assert lai_robbins_constant(inst)[0] == pytest.approx(0.2 / kl)
    gauss = BanditInstance(np.array([[0.0, 1.0, 0.5]]), "gaussian", noise_std=2.0)
    assert lai_robbins_constant(gauss)[0] == pytest.approx(2 * 4 / 1.0 + 2 * 4 / 0.5)


def test_ts_and_ucb_against_lai_robbins():
    """TS regret stays within 1.3 C log T; UCB1's growth in log T is at least the lower-bound constant C."""
    inst = BanditInstance(np.tile([0.4, 0.6], (200, 1)))
    c = lai_robbins_constant(inst)[0]
    horizon = 5000
    ts = run_bandit(inst, ThompsonSampling(), horizon, np.random.default_rng(1)).regret.mean(axis=0)
    assert ts[-1] <= 1.3 * c * np.log(horizon)
    assert ts[-1] / ts[499] < 2.5  # logarithmic, not linear (x10 rounds)
    ucb = run_bandit(inst, UCB(alpha=2.0), horizon, np.random.default_rng(2)).regret.mean(axis=0)
    slope = (ucb[-1] - ucb[499]) / np.log(10)
    assert c <= slope <= 8 / 0.2  # between Lai-Robbins and Auer et al.'s 8/Delta


def test_classical_ordering_on_hard_instances():
    inst = bernoulli_bandit(5, 0.2, 300, np.random.default_rng(3))
    final = {}
    for name, policy in {"ts": ThompsonSampling(), "ucb": UCB(), "greedy": Greedy(), "random": RandomPolicy(),
                         "eps": EpsilonGreedy(0.1)}.items():
        final[name] = run_bandit(inst, policy, 300, np.random.default_rng(4)).regret[:, -1].mean()
    assert final["ts"] < final["ucb"] < final["greedy"] < final["random"]
    assert final["random"] == pytest.approx(300 * 0.2 * 4 / 5, rel=0.05)


def test_gaussian_thompson_learns():
    inst = gaussian_bandit(5, 1.0, 200, np.random.default_rng(5))
    ts = run_bandit(inst, ThompsonSampling("gaussian", 1.0), 400, np.random.default_rng(6)).regret[:, -1].mean()
    rnd = run_bandit(inst, RandomPolicy(), 400, np.random.default_rng(6)).regret[:, -1].mean()
    assert ts < 0.25 * rnd


def test_vectorised_equals_per_seed_loop_for_deterministic_policy():
    """On a (nearly) noiseless bandit UCB is deterministic once every arm was tried (the first K
    pulls are a random permutation): batched and per-instance runs then take the same actions."""
    means = np.array([[0.1, 0.5, 0.3], [0.9, 0.2, 0.4]])
    inst = BanditInstance(means, "gaussian", noise_std=1e-9)
    batched = run_bandit(inst, UCB(alpha=0.5), 50, np.random.default_rng(7)).actions
    for i in range(2):
        single = run_bandit(inst.subset(slice(i, i + 1)), UCB(alpha=0.5), 50, np.random.default_rng(8)).actions
        assert np.array_equal(np.sort(batched[i, :3]), [0, 1, 2]) and np.array_equal(np.sort(single[0, :3]), [0, 1, 2])
        assert np.array_equal(batched[i, 3:], single[0, 3:])


def test_linucb_beats_context_free_on_low_rank_bandit():
    bandit = low_rank_contextual_bandit(10, 3, 20, 50, np.random.default_rng(9))
    lin = run_contextual_bandit(bandit, LinUCB(alpha=0.5), 300, np.random.default_rng(10)).regret[:, -1].mean()
    ucb = run_contextual_bandit(bandit, UCB(), 300, np.random.default_rng(10)).regret[:, -1].mean()
    assert lin < 0.6 * ucb


@pytest.mark.parametrize("call", [
    lambda: bernoulli_bandit(1, 0.2, 3, np.random.default_rng(0)),
    lambda: bernoulli_bandit(5, 1.5, 3, np.random.default_rng(0)),
    lambda: gaussian_bandit(5, -1.0, 3, np.random.default_rng(0)),
    lambda: UCB(alpha=-1),
    lambda: EpsilonGreedy(2.0),
    lambda: BanditInstance(np.array([[0.2, 1.4]])),
])
def test_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()


def test_linucb_sherman_morrison_equals_direct_ridge():
    rng = np.random.default_rng(11)
    policy = LinUCB(alpha=0.7, ridge=2.0)
    policy.reset(3, 2, 4)
    xs, actions, rewards = rng.normal(size=(20, 3, 4)), rng.integers(0, 2, (20, 3)), rng.normal(size=(20, 3))
    for x, a, r in zip(xs, actions, rewards):
        policy.update(x, a, r)
    query = rng.normal(size=(3, 4))
    index = policy.index(query)
    for s in range(3):
        for arm in range(2):
            chosen = actions[:, s] == arm
            x = xs[chosen, s]
            a_matrix = 2.0 * np.eye(4) + x.T @ x
            theta = np.linalg.solve(a_matrix, x.T @ rewards[chosen, s])
            width = query[s] @ np.linalg.solve(a_matrix, query[s])
            assert index[s, arm] == pytest.approx(query[s] @ theta + 0.7 * np.sqrt(width))
