"""Sublinearity tests, the regret-curve fit and win-rates on curves with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from latentlab.agents import checkpoints, classify_regret, fit_regret_curve, regression_test, trend_test, win_rate_table


def test_tests_reject_linear_and_accept_sqrt():
    t = np.arange(1, 201, dtype=float)
    ts = checkpoints(200, 10)
    rng = np.random.default_rng(0)
    sqrt_curve = 3 * np.sqrt(t) + 0.1 * rng.standard_normal(200)
    linear_curve = 0.3 * t + 0.1 * rng.standard_normal(200)
    assert trend_test(sqrt_curve, ts).p_value < 0.05
    assert trend_test(linear_curve + 5 * (1 - np.exp(-t / 50)) * 0 - 1, ts).p_value > 0.1  # Reg/t increasing
    sqrt_fit, linear_fit = regression_test(sqrt_curve, ts), regression_test(linear_curve, ts)
    assert sqrt_fit.slope == pytest.approx(0.5, abs=0.05) and sqrt_fit.p_value < 0.01
    assert linear_fit.slope == pytest.approx(1.0, abs=0.05) and linear_fit.p_value > 0.1


def test_trend_test_p_value_is_binomial_tail():
    curve = np.arange(1, 11, dtype=float) ** 0.5  # Reg_t / t strictly decreasing: 9 of 9
    assert trend_test(curve).p_value == pytest.approx(2.0**-9)


def test_fit_recovers_planted_parameters():
    ts = np.arange(2, 1001, 10, dtype=float)
    planted = 4.0 * np.log(ts) ** 1.5 / 0.2 + 3.0
    fit = fit_regret_curve(ts, planted, delta_min=0.2)
    assert fit.alpha == pytest.approx(1.5, abs=0.05)
    assert fit.lambda1 == pytest.approx(4.0, rel=0.05) and fit.beta < 1e-3
    assert classify_regret(fit, 1000) == "sublinear"
    linear = 0.1 * ts + 2 * np.log(ts) + 1.0
    assert classify_regret(fit_regret_curve(ts, linear, 0.2), 1000) == "linear"


def test_win_rate_table():
    rng = np.random.default_rng(1)
    data = {"good": {"e1": rng.normal(1, 0.1, 30), "e2": rng.normal(1, 0.1, 30)},
            "bad": {"e1": rng.normal(5, 0.1, 30), "e2": rng.normal(5, 0.1, 30)},
            "same": {"e1": rng.normal(5, 0.1, 30), "e2": rng.normal(1, 0.1, 30)}}
    rates = win_rate_table(data)
    assert rates["good"] == pytest.approx(3 / 4)  # beats bad twice and same on e1
    assert rates["bad"] == 0.0


def test_bad_input_raises():
    with pytest.raises(ValueError):
        fit_regret_curve(np.arange(2, 10.0), np.arange(8.0), delta_min=0.0)
    with pytest.raises(ValueError):
        trend_test(np.ones(2))
