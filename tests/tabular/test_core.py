"""Known-answer tests of the tabular core: models, exact solvers, rollouts, learners, metrics."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from latentlab.tabular import (
    PSRL,
    UCBVI,
    UCBVIBPI,
    CountModel,
    ExploreThenCommit,
    FiniteHorizonMDP,
    QLearningUCBH,
    chain,
    combination_lock,
    constraint_violations,
    cumulative_regret,
    domingues_hard_mdp,
    episode_mixture_value,
    gridworld,
    occupancy,
    policy_q,
    policy_value,
    random_mdp,
    river_swim,
    rollout,
    run_learner,
    sample_complexity,
    soft_value_iteration,
    step_mixture,
    trajectory_kl,
    value_iteration,
)


@pytest.fixture
def tiny():
    return random_mdp(3, 2, 3, np.random.default_rng(0), initial="uniform")


def test_construction_validates_inputs():
    P = np.full((2, 2, 2, 2), 0.5)
    R = np.zeros((2, 2, 2))
    mu = np.array([1.0, 0.0])
    FiniteHorizonMDP(P, R, mu)
    bad = P.copy()
    bad[0, 0, 0] = [0.7, 0.7]
    with pytest.raises(ValueError, match="probability vectors"):
        FiniteHorizonMDP(bad, R, mu)
    with pytest.raises(ValueError, match="R must lie"):
        FiniteHorizonMDP(P, R + 2.0, mu)
    with pytest.raises(ValueError, match="mu"):
        FiniteHorizonMDP(P, R, np.array([0.5, 0.2]))
    with pytest.raises(ValueError, match="shape"):
        FiniteHorizonMDP(P, np.zeros((3, 2, 2)), mu)
    with pytest.raises(ValueError, match="total_reward_bounded"):
        FiniteHorizonMDP(P, R + 1.0, mu, total_reward_bounded=True)
    with pytest.raises(ValueError, match="alpha"):
        random_mdp(3, 2, 2, np.random.default_rng(0), alpha=0.0)


@pytest.mark.parametrize("make", [
    lambda: river_swim(6, 8),
    lambda: chain(5, 7, slip=0.1),
    lambda: gridworld(3, 4, 6, slip=0.2),
    lambda: combination_lock(5, 3, np.random.default_rng(1)),
    lambda: domingues_hard_mdp(2, 8, 2, 0.2, np.random.default_rng(2)),
])
def test_generators_are_valid_mdps(make):
    mdp = make()
    assert np.allclose(mdp.P.sum(-1), 1.0)
    assert mdp.optimal_value() <= mdp.H * mdp.reward_max + 1e-9


def test_combination_lock_optimum_and_uniform_value():
    mdp = combination_lock(4, 3, np.random.default_rng(3))
    assert mdp.optimal_value() == pytest.approx(1.0)
    assert float(mdp.value(np.full((4, 2, 3), 1 / 3))) == pytest.approx(3.0**-4)


def test_domingues_optimum_uses_the_secret_triple():
    mdp = domingues_hard_mdp(2, 8, 2, 0.25, np.random.default_rng(4))
    # every leaf timing earns the same; only the secret (leaf, action, step) adds epsilon
    assert mdp.optimal_value() == pytest.approx(0.75 * (8 - 3 - 2 - 2))
    flat = domingues_hard_mdp(2, 8, 2, 0.0, np.random.default_rng(4))
    assert flat.optimal_value() == pytest.approx(0.5 * (8 - 3 - 2 - 2))


def test_value_iteration_matches_brute_force_over_deterministic_policies(tiny):
    H, S, A = tiny.H, tiny.S, tiny.A
    best = -np.inf
    for flat in itertools.product(range(A), repeat=H * S):
        best = max(best, float(tiny.value(np.array(flat).reshape(H, S))))
    assert tiny.optimal_value() == pytest.approx(best, abs=1e-12)


def test_value_iteration_batched_equals_per_model():
    rng = np.random.default_rng(5)
    mdps = [random_mdp(4, 3, 5, rng) for _ in range(3)]
    P = np.stack([m.P for m in mdps])
    R = np.stack([m.R for m in mdps])
    V = value_iteration(P, R).V
    for i, m in enumerate(mdps):
        assert np.allclose(V[i], m.optimal().V)


def test_exact_evaluation_matches_monte_carlo():
    rng = np.random.default_rng(6)
    mdp = random_mdp(5, 3, 6, rng, reward_noise="bernoulli")
    pi = rng.dirichlet(np.ones(3), size=(6, 5))
    traj = rollout(mdp, pi, rng, n=40_000)
    mc = traj.rewards.sum(1)
    exact = float(mdp.value(pi))
    assert abs(mc.mean() - exact) < 4 * mc.std() / np.sqrt(mc.size)


def test_occupancy_matches_empirical_frequencies_and_value(tiny):
    rng = np.random.default_rng(7)
    pi = rng.dirichlet(np.ones(tiny.A), size=(tiny.H, tiny.S))
    d = occupancy(tiny.P, tiny.mu, pi)
    assert np.allclose(d.sum((-1, -2)), 1.0)
    assert np.sum(d * tiny.R) == pytest.approx(float(tiny.value(pi)))
    traj = rollout(tiny, pi, rng, n=50_000)
    freq = np.zeros_like(d)
    np.add.at(freq, (np.broadcast_to(np.arange(tiny.H), traj.actions.shape), traj.states[:, :-1], traj.actions), 1)
    assert np.abs(freq / traj.n - d).max() < 0.015


def test_soft_vi_one_step_closed_form():
    # one step, one state: V = lam log sum_a ref(a) exp(r(a)/lam), pi ∝ ref exp(r/lam)
    r = np.array([0.2, 0.9, 0.5])
    ref = np.array([0.5, 0.2, 0.3])
    lam = 0.3
    sol = soft_value_iteration(np.ones((1, 1, 3, 1)), r.reshape(1, 1, 3), ref.reshape(1, 1, 3), lam)
    assert sol.V[0, 0] == pytest.approx(lam * np.log(np.sum(ref * np.exp(r / lam))))
    gibbs = ref * np.exp(r / lam)
    assert np.allclose(sol.policy[0, 0], gibbs / gibbs.sum())


def test_soft_vi_value_equals_value_minus_kl(tiny):
    rng = np.random.default_rng(8)
    ref = rng.dirichlet(np.ones(tiny.A), size=(tiny.H, tiny.S))
    lam = 0.7
    sol = soft_value_iteration(tiny.P, tiny.R, ref, lam)
    pi = sol.policy
    objective = float(tiny.value(pi)) - lam * float(trajectory_kl(tiny.P, tiny.mu, pi, ref))
    assert sol.V[0] @ tiny.mu == pytest.approx(objective)
    # and no other policy does better on the regularised objective
    for _ in range(20):
        other = rng.dirichlet(np.ones(tiny.A), size=(tiny.H, tiny.S))
        assert float(tiny.value(other)) - lam * float(trajectory_kl(tiny.P, tiny.mu, other, ref)) <= objective + 1e-12
    # lam -> 0 recovers the optimum, lam -> inf the reference's value
    low = soft_value_iteration(tiny.P, tiny.R, ref, 1e-4).V[0] @ tiny.mu
    high = soft_value_iteration(tiny.P, tiny.R, ref, 1e5).V[0] @ tiny.mu
    assert low == pytest.approx(tiny.optimal_value(), abs=1e-3)
    assert high == pytest.approx(float(tiny.value(ref)), abs=1e-3)


def test_step_mixture_endpoints_and_continuity(tiny):
    rng = np.random.default_rng(9)
    a = rng.dirichlet(np.ones(tiny.A), size=(tiny.H, tiny.S))
    b = np.eye(tiny.A)[tiny.optimal().greedy()]
    assert np.allclose(step_mixture(a, b, 0, 1.0), b)
    assert np.allclose(step_mixture(a, b, tiny.H - 1, 0.0), a)
    assert np.allclose(step_mixture(a, b, 1, 0.0), step_mixture(a, b, 2, 1.0))
    rhos = np.linspace(0, 1, 101)
    values = tiny.value(step_mixture(a, b, np.ones(101, int), rhos))
    assert np.abs(np.diff(values)).max() < 0.05 * (values.max() - values.min() + 1e-12) + 1e-9
    # episode-level mixture: linear in the weight
    va, vb = float(tiny.value(a)), float(tiny.value(b))
    assert episode_mixture_value(np.array([va, vb]), np.array([0.3, 0.7])) == pytest.approx(0.3 * va + 0.7 * vb)


def test_step_mixture_value_matches_monte_carlo(tiny):
    rng = np.random.default_rng(10)
    a = rng.dirichlet(np.ones(tiny.A), size=(tiny.H, tiny.S))
    b = np.eye(tiny.A)[tiny.optimal().greedy()]
    mix = step_mixture(a, b, 1, 0.4)
    traj = rollout(tiny, mix, rng, n=40_000)
    ret = traj.rewards.sum(1)
    assert abs(ret.mean() - float(tiny.value(mix))) < 4 * ret.std() / np.sqrt(ret.size)


def test_count_model_recovers_kernel():
    mdp = random_mdp(3, 2, 2, np.random.default_rng(11))
    model = CountModel(1, 2, 3, 2)
    rng = np.random.default_rng(12)
    for _ in range(5):
        traj = rollout(mdp, np.full((2, 3, 2), 0.5), rng, n=4000)
        batch = CountModel(4000, 2, 3, 2)
        batch.update(traj)
        model.N += batch.N.sum(0, keepdims=True)
        model.visits += batch.visits.sum(0, keepdims=True)
    seen = model.visits[0] > 2000
    assert np.abs(model.p_hat()[0][seen] - mdp.P[seen]).max() < 0.05


def test_learners_reach_the_optimum():
    mdp = random_mdp(3, 2, 4, np.random.default_rng(20))
    K, n = 400, 4
    for learner in (UCBVI(4, 3, 2, K, n, bonus_scale=0.2), UCBVI(4, 3, 2, K, n, bonus="bernstein", bonus_scale=0.2),
                    PSRL(4, 3, 2, np.random.default_rng(14), n), QLearningUCBH(4, 3, 2, K, n, bonus_scale=0.02)):
        curve = run_learner(mdp, learner, K, np.random.default_rng(13))
        assert curve.played[-50:].mean() > 0.95 * curve.v_star, type(learner).__name__
        assert np.all(np.diff(curve.regret(), axis=0) >= -1e-12)
        # sublinear: the second half costs less than the first
        half = curve.regret()[K // 2 - 1].mean()
        assert curve.regret()[-1].mean() - half < 0.5 * half, type(learner).__name__


def test_explore_then_commit_and_bpi_stop():
    mdp = random_mdp(3, 2, 4, np.random.default_rng(20))
    etc = ExploreThenCommit(4, 3, 2, n_explore=300, n_replicates=2)
    curve = run_learner(mdp, etc, 320, np.random.default_rng(15))
    assert np.allclose(curve.played[:300], float(mdp.value(np.full((4, 3, 2), 0.5))))
    assert np.all(curve.played[300:] > 0.9 * curve.v_star)
    bpi = UCBVIBPI(4, 3, 2, 2000, mdp.mu, epsilon=0.6, n_replicates=2, bonus_scale=0.1)
    curve = run_learner(mdp, bpi, 800, np.random.default_rng(16), record_recommendation=True)
    assert np.all(bpi.stop_episode > 0)
    # the certificate is valid: the stopped recommendation is epsilon-optimal
    assert np.all(curve.v_star - curve.recommended[-1] <= 0.6 + 1e-9)
    assert np.allclose(curve.recommended[-1], curve.recommended[bpi.stop_episode.max()])


def test_metrics():
    values = np.array([[0.0, 1.0], [0.9, 1.0], [0.5, 1.0], [1.0, 1.0], [1.0, 0.0]])
    assert np.allclose(cumulative_regret(1.0, values)[-1], [1.6, 1.0])
    sc = sample_complexity(values, 1.0, 0.2)
    assert sc[0] == 3 and np.isinf(sc[1])
    assert np.array_equal(constraint_violations(values, 0.8), [2, 1])
    with pytest.raises(ValueError, match="epsilon"):
        sample_complexity(values, 1.0, 0.0)


def test_policy_q_accepts_deterministic(tiny):
    greedy = tiny.optimal().greedy()
    assert np.allclose(policy_q(tiny.P, tiny.R, greedy).V, tiny.optimal().V)
    assert float(policy_value(tiny.P, tiny.R, tiny.mu, greedy)) == pytest.approx(tiny.optimal_value())
    with pytest.raises(ValueError, match="actions must be in"):
        tiny.value(greedy + 5)
