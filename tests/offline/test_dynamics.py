"""Gaussian ensemble dynamics, uncertainty heuristics and the calibration protocol (paper 11's extra checks)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import latentlab  # noqa: F401  (one torch thread)
from latentlab.offline.dynamics import (
    CALIBRATION_HEURISTICS,
    DISAGREEMENT_HEURISTICS,
    HEURISTICS,
    TERMINATION_FNS,
    EnsembleDynamicsConfig,
    GaussianEnsembleDynamics,
    calibrate,
    ensemble_std,
    ensemble_variance,
    loo_kl,
    max_aleatoric,
    max_pairwise_diff,
    model_error,
    penalty,
    spearman,
)
from latentlab.offline.envs import PendulumDynamics


class LinearGaussian:
    """s' = s + A s + B a + sigma * eps, r = c.s + d.a + sigma_r * eps (a known-answer system)."""

    obs_dim, act_dim = 2, 1
    A = torch.tensor([[-0.1, 0.2], [0.05, -0.2]])
    B = torch.tensor([[0.3], [-0.1]])
    c = torch.tensor([0.5, -1.0])
    d = torch.tensor([0.2])
    sigma = torch.tensor([0.05, 0.1, 0.05])  # Δs_0, Δs_1, r

    def mean(self, obs, actions):
        ds = obs @ self.A.T + actions @ self.B.T
        r = obs @ self.c + actions @ self.d
        return torch.cat([obs + ds, r[:, None]], 1)

    def step(self, obs, actions, generator=None):
        m = self.mean(obs, actions)
        y = m + self.sigma * torch.randn(m.shape, generator=generator)
        return y[:, :2], y[:, 2], torch.zeros(len(obs), dtype=torch.bool)

    def dataset(self, n, seed=0):
        g = torch.Generator().manual_seed(seed)
        obs = torch.rand(n, 2, generator=g) * 2 - 1
        actions = torch.rand(n, 1, generator=g) * 2 - 1
        nxt, r, _ = self.step(obs, actions, g)
        return {"observations": obs.numpy(), "actions": actions.numpy(), "next_observations": nxt.numpy(),
                "rewards": r.numpy()}


SMALL = EnsembleDynamicsConfig(n_members=5, n_elites=3, hidden=(32, 32), max_epochs=60, patience=5)


@pytest.fixture(scope="module")
def fitted():
    system = LinearGaussian()
    model = GaussianEnsembleDynamics(2, 1, SMALL.replace(min_epochs=60, max_epochs=60, lr=3e-3), seed=0)
    result = model.fit(system.dataset(6000), seed=0)
    return system, model, result


# --------------------------------------------------------------------------- heuristics: closed-form checks


def test_single_member_disagreement_is_exactly_zero_but_aleatoric_is_not():
    g = torch.Generator().manual_seed(0)
    means, stds = torch.randn(1, 64, 4, generator=g), torch.rand(1, 64, 4, generator=g) + 0.1
    for name in DISAGREEMENT_HEURISTICS:
        assert torch.equal(HEURISTICS[name](means, stds, generator=g), torch.zeros(64)), name
    assert (max_aleatoric(means, stds) > 0).all()
    assert (ensemble_variance(means, stds) > 0).all()  # total variance keeps the aleatoric part


def test_single_member_model_has_zero_disagreement():
    model = GaussianEnsembleDynamics(2, 1, EnsembleDynamicsConfig(n_members=1, n_elites=1, hidden=(16,)), seed=1)
    obs, act = torch.randn(32, 2), torch.randn(32, 1)
    for name in DISAGREEMENT_HEURISTICS:
        assert torch.equal(model.uncertainty(name, obs, act), torch.zeros(32)), name
    assert (model.uncertainty("max_aleatoric", obs, act) > 0).all()


@pytest.mark.parametrize("n", [2, 3, 5, 7])
def test_identical_members_have_exactly_zero_disagreement(n):
    g = torch.Generator().manual_seed(n)
    means = torch.randn(1, 50, 3, generator=g).expand(n, 50, 3).clone() * 123.4
    stds = (torch.rand(1, 50, 3, generator=g) + 0.01).expand(n, 50, 3).clone()
    for name in DISAGREEMENT_HEURISTICS:
        assert torch.equal(HEURISTICS[name](means, stds, generator=g), torch.zeros(50)), name


def test_identical_members_in_a_model_have_exactly_zero_disagreement():
    model = GaussianEnsembleDynamics(3, 1, EnsembleDynamicsConfig(n_members=7, n_elites=7, hidden=(16, 16)), seed=2)
    with torch.no_grad():
        for layer in model.net.layers:
            layer.weight.copy_(layer.weight[:1].expand_as(layer.weight))
            layer.bias.copy_(layer.bias[:1].expand_as(layer.bias))
    obs, act = torch.randn(40, 3), torch.randn(40, 1)
    for name in DISAGREEMENT_HEURISTICS:
        assert torch.equal(model.uncertainty(name, obs, act), torch.zeros(40)), name
    assert (model.uncertainty("max_aleatoric", obs, act) > 0).all()


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 8), b=st.integers(1, 6), d=st.integers(1, 5), seed=st.integers(0, 2**31 - 1),
       scale=st.floats(1e-3, 1e3))
def test_ensemble_std_never_exceeds_max_pairwise_diff(n, b, d, seed, scale):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, b, d, generator=g, dtype=torch.float64) * scale
    stds = torch.rand(n, b, d, generator=g, dtype=torch.float64) + 0.1
    lhs, rhs = ensemble_std(means, stds), max_pairwise_diff(means, stds)
    assert (lhs <= rhs * (1 + 1e-9) + 1e-12).all()


def test_heuristics_match_their_equations_on_a_two_member_example():
    means = torch.tensor([[[0.0, 0.0]], [[3.0, 4.0]]], dtype=torch.float64)
    stds = torch.tensor([[[1.0, 1.0]], [[2.0, 1.0]]], dtype=torch.float64)
    assert max_pairwise_diff(means, stds).item() == pytest.approx(5.0)
    assert ensemble_std(means, stds).item() == pytest.approx(2.5)
    assert max_aleatoric(means, stds).item() == pytest.approx(math.sqrt(5))
    # total variance: mean sigma^2 (2.5 + 1) + var of means (2.25 + 4)
    assert ensemble_variance(means, stds).item() == pytest.approx(3.5 + 6.25)
    # LOO-KL with N = 2: KL(p_i || p_j) for the sampled member i; both directions in closed form
    kl01 = 0.5 * (math.log(4) + (1 + 9) / 4 - 1) + 0.5 * (0 + (1 + 16) / 1 - 1)
    kl10 = 0.5 * (math.log(1 / 4) + (4 + 9) / 1 - 1) + 0.5 * (0 + (1 + 16) / 1 - 1)
    values = {round(loo_kl(means, stds, torch.Generator().manual_seed(s)).item(), 9) for s in range(20)}
    assert values == {round(kl01, 9), round(kl10, 9)}


def test_registry_and_penalty_errors_name_the_parameter():
    assert set(CALIBRATION_HEURISTICS) <= set(HEURISTICS)
    model = GaussianEnsembleDynamics(2, 1, SMALL, seed=0)
    with pytest.raises(ValueError, match="heuristic"):
        penalty(model, "nope", 1.0)
    with pytest.raises(ValueError, match="lam"):
        penalty(model, "max_aleatoric", -1.0)
    obs, act = torch.randn(8, 2), torch.randn(8, 1)
    fn = model.penalty("ensemble_std", 2.0)
    assert torch.allclose(fn(obs, act), 2.0 * model.uncertainty("ensemble_std", obs, act))


# --------------------------------------------------------------------------- model


def test_vectorised_ensemble_equals_its_member_loop():
    model = GaussianEnsembleDynamics(3, 2, EnsembleDynamicsConfig(n_members=4, n_elites=2, hidden=(16, 8)), seed=3)
    obs, act = torch.randn(20, 3), torch.randn(20, 2)
    pred = model.predict(obs, act)
    x = model._inputs(obs, act)
    for i in range(4):
        out = model.net.member(i)(x)
        mean, raw = out[:, :4], out[:, 4:]
        logvar = model.max_logvar[0] - torch.nn.functional.softplus(model.max_logvar[0] - raw)
        logvar = model.min_logvar[0] + torch.nn.functional.softplus(logvar - model.min_logvar[0])
        expected_mean = torch.cat([obs + mean[:, :3], mean[:, 3:]], 1)
        torch.testing.assert_close(pred.means[i], expected_mean.detach(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(pred.stds[i], torch.exp(0.5 * logvar).detach(), rtol=1e-5, atol=1e-6)


def test_ensemble_recovers_a_linear_gaussian_system(fitted):
    system, model, result = fitted
    assert result.epochs >= 5 and len(result.elites) == 3
    g = torch.Generator().manual_seed(9)
    obs, act = torch.rand(2000, 2, generator=g) * 1.6 - 0.8, torch.rand(2000, 1, generator=g) * 1.6 - 0.8
    pred = model.predict(obs, act, "elites")
    truth = system.mean(obs, act)
    mean_err = (pred.means.mean(0) - truth).abs().mean(0)
    assert (mean_err < 0.3 * system.sigma).all(), mean_err
    sigma_hat = pred.stds.median(1).values.median(0).values  # heteroscedastic fit: compare typical values
    assert torch.allclose(sigma_hat, system.sigma, rtol=0.3), (sigma_hat, system.sigma)


def test_step_samples_an_elite_with_the_predicted_noise(fitted):
    system, model, _ = fitted
    obs = torch.tensor([[0.3, -0.2]]).expand(4000, 2)
    act = torch.tensor([[0.5]]).expand(4000, 1)
    nxt, r, term = model.step(obs, act, torch.Generator().manual_seed(0))
    assert nxt.shape == (4000, 2) and r.shape == (4000,) and term.dtype == torch.bool and not term.any()
    sample = torch.cat([nxt, r[:, None]], 1)
    truth = system.mean(obs[:1], act[:1])[0]
    assert torch.allclose(sample.mean(0), truth, atol=0.02)
    assert torch.allclose(sample.std(0), system.sigma, rtol=0.35)


def test_oracle_model_has_zero_error_and_calibration_runs(fitted):
    _, model, _ = fitted
    oracle = PendulumDynamics()

    class OracleModel:  # the true dynamics as a point model
        def mean_next_obs(self, obs, actions):
            return oracle.step(obs, actions)[0]

    g = torch.Generator().manual_seed(1)
    theta = torch.rand(500, generator=g) * 2 * math.pi
    obs = torch.stack([theta.cos(), theta.sin(), torch.randn(500, generator=g) * 3], 1)
    act = torch.rand(500, 1, generator=g) * 4 - 2
    assert torch.equal(model_error(OracleModel(), oracle, obs, act), torch.zeros(500))
    # the linear model's calibration against itself-as-oracle: errors = |mean - truth| on a 2-D system
    sys = LinearGaussian()

    class MeanOracle:
        obs_dim, act_dim = 2, 1

        def step(self, obs, actions, generator=None):
            m = sys.mean(obs, actions)
            return m[:, :2], m[:, 2], torch.zeros(len(obs), dtype=torch.bool)

    s2, a2 = torch.rand(300, 2, generator=g) * 6 - 3, torch.rand(300, 1, generator=g) * 6 - 3
    res = calibrate(model, MeanOracle(), s2, a2, generator=g)
    assert res.errors.shape == (300,) and res.pairwise.shape == (6, 6)
    assert np.allclose(np.diag(res.pairwise), 1.0)
    assert all(np.isfinite(v) for v in res.rho.values())
    # far outside the data (|s| up to 3 vs training in [-1, 1]) disagreement should track error
    assert res.rho["ensemble_std"] > 0.3


def test_spearman_closed_forms():
    x = np.arange(10.0)
    assert spearman(x, x**3) == pytest.approx(1.0)
    assert spearman(x, -x) == pytest.approx(-1.0)
    assert math.isnan(spearman(x, np.ones(10)))


def test_termination_functions():
    nxt = torch.tensor([[1.2, 0.0, 0.0], [0.5, 0.0, 0.0], [1.2, 0.5, 0.0], [1.2, 0.0, 200.0]])
    assert TERMINATION_FNS["hopper"](nxt, None, nxt).tolist() == [False, True, True, True]
    assert TERMINATION_FNS["walker2d"](nxt, None, nxt).tolist() == [False, True, False, False]
    assert not TERMINATION_FNS["pendulum"](nxt, None, nxt).any()


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize("changes, name", [
    ({"n_members": 0}, "n_members"),
    ({"n_elites": 8}, "n_elites"),
    ({"holdout": 0.9}, "holdout"),
    ({"lr": 0.0}, "lr"),
    ({"hidden": ()}, "hidden"),
    ({"weight_decays": (1e-4,)}, "weight_decays"),
    ({"termination": "ant"}, "termination"),
    ({"lr_drop": 1.5}, "lr_drop"),
    ({"batch_size": 0}, "batch_size"),
])
def test_bad_config_values_raise_naming_the_parameter(changes, name):
    with pytest.raises(ValueError, match=name):
        EnsembleDynamicsConfig(**changes)


def test_config_round_trip_and_input_checks():
    c = EnsembleDynamicsConfig(hidden=(64, 64, 64))
    assert EnsembleDynamicsConfig.from_json(c.to_json()) == c
    assert c.layer_weight_decays() == (2.5e-5, 5e-5, 7.5e-5, 1e-4)
    model = GaussianEnsembleDynamics(2, 1, SMALL)
    with pytest.raises(ValueError, match="actions"):
        model.step(torch.zeros(3, 2), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="reward_fn"):
        GaussianEnsembleDynamics(2, 1, EnsembleDynamicsConfig(learn_reward=False))


def test_fit_selects_elites_by_validation_mse_and_implements_dynamics(fitted):
    from latentlab.offline.envs import Dynamics

    _, model, result = fitted
    assert isinstance(model, Dynamics)
    best = np.argsort(result.best_holdout_mse)[:3]
    assert result.elites == sorted(best.tolist()) == model.elites.tolist()
    assert result.holdout_indices is not None and len(result.holdout_indices) == result.n_holdout == 600
    assert result.lr_drops in (0, 1) and len(result.holdout_mse) == result.epochs


def test_grouped_evaluation_equals_the_full_ensemble_on_both_paths():
    """Each row through its own elite only (CPU loop and accelerator block layouts) = picking from all members."""
    model = GaussianEnsembleDynamics(3, 1, EnsembleDynamicsConfig(hidden=(16, 16)), seed=0)
    x = torch.randn(101, 4)
    pick = torch.randint(len(model.elites), (101,), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full_mean, full_logvar = model._forward(x)
        rows = torch.arange(101)
        for mean, logvar in (model._grouped_by_loop(x, pick), model._grouped_by_block(x, pick)):
            torch.testing.assert_close(mean, full_mean[model.elites[pick], rows])
            torch.testing.assert_close(logvar, full_logvar[model.elites[pick], rows])
