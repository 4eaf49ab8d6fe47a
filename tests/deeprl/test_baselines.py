"""``deeprl-baselines``: presets equal the published hyper-parameters, thresholds equal the
published numbers, every unit runs at smoke size (MuJoCo included), claims can fail, listing."""

from __future__ import annotations

import dataclasses
import inspect
import json

import pytest

from latentlab.deeprl import PPOConfig, SACConfig
from latentlab.deeprl import baselines as exp
from latentlab.repro import registry
from latentlab.repro.context import RunContext


def test_zoo_pendulum_preset_equals_the_zoo_yaml_and_sb3_defaults():
    # DLR-RM/rl-baselines3-zoo hyperparams/sac.yml, Pendulum-v1: n_timesteps 20000, learning_rate 1e-3
    preset = SACConfig.zoo_pendulum()
    assert (preset.total_steps, preset.actor_lr, preset.critic_lr, preset.alpha_lr) == (20_000, 1e-3, 1e-3, 1e-3)
    # everything else is SB3's SAC default (written out from stable_baselines3 2.x SAC.__init__)
    sb3 = dict(buffer_size=1_000_000, learning_starts=100, batch_size=256, tau=0.005, gamma=0.99,
               gradient_steps=1, policy_frequency=1, alpha=None, alpha_init=1.0, target_entropy=None,
               hidden=(256, 256), log_std_bounds=(-20.0, 2.0), log_std_mode="clip", n_envs=1)
    assert {k: getattr(preset, k) for k in sb3} == sb3
    changed = {f.name for f in dataclasses.fields(SACConfig) if getattr(preset, f.name) != getattr(SACConfig(), f.name)}
    assert changed == {"total_steps", "actor_lr", "critic_lr", "alpha_lr"}
    try:
        from stable_baselines3 import SAC as SB3SAC
    except ImportError:
        return
    defaults = {k: v.default for k, v in inspect.signature(SB3SAC.__init__).parameters.items()}
    assert (defaults["buffer_size"], defaults["learning_starts"], defaults["batch_size"], defaults["tau"],
            defaults["gamma"], defaults["train_freq"], defaults["gradient_steps"], defaults["ent_coef"]) == (
        preset.buffer_size, preset.learning_starts, preset.batch_size, preset.tau, preset.gamma, 1,
        preset.gradient_steps, "auto")


def test_thresholds_are_published_mean_minus_spread():
    expected = {  # CleanRL docs / RL-Zoo benchmark.md, mean - one reported std
        "sac-pendulum-within-zoo-spread": -156.995 - 88.714,
        "ppo-matches-cleanrl-cartpole": 492.40 - 13.05,
        "sac-matches-cleanrl-hopper": 2310.46 - 342.82,
        "sac-matches-cleanrl-halfcheetah": 9634.89 - 1423.73,
        "ppo-matches-cleanrl-hopper": 2231.12 - 656.72,
        "ppo-matches-cleanrl-halfcheetah": 1822.82 - 928.11,
        "ppo-matches-zoo-cartpole": 475.0,
        "sac-pendulum-core-criterion": -200.0,
    }
    got = {c.name: c.threshold for c in exp.PAPER.claims}
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-9), name


def test_units_run_the_presets_at_the_published_budgets():
    config = exp.Config()
    budgets = {"ppo-zoo-cartpole": 100_000, "sac-zoo-pendulum": 20_000, "ppo-cleanrl-cartpole": 500_000,
               "sac-cleanrl-hopper": 1_000_000, "sac-cleanrl-halfcheetah": 1_000_000,
               "ppo-cleanrl-hopper": 1_000_000, "ppo-cleanrl-halfcheetah": 1_000_000}
    for name, unit in exp.UNITS.items():
        learner = exp.learner_config(unit, config)
        assert learner.total_steps == budgets[name], name
        assert learner == unit.preset(eval_every=unit.eval_every, eval_episodes=10)
    assert exp.learner_config(exp.UNITS["ppo-zoo-cartpole"], config) == PPOConfig.zoo_cartpole(
        eval_every=10_000, eval_episodes=10)
    assert exp.learner_config(exp.UNITS["ppo-cleanrl-cartpole"], config) == PPOConfig(
        total_steps=500_000, eval_every=50_000, eval_episodes=10)


def test_each_job_is_one_unit_and_quick_balances_sac_and_ppo():
    quick = exp.PAPER.budgets["quick"]
    units = [exp.unit_of_seed(quick.config, s) for s in range(quick.seeds)]
    assert units == ["sac-zoo-pendulum", "ppo-zoo-cartpole"] * 2
    full = exp.PAPER.budgets["full"]
    full_units = [exp.unit_of_seed(full.config, s) for s in range(full.seeds)]
    assert {u: full_units.count(u) for u in exp.UNITS} == {u: 3 for u in exp.UNITS}
    assert set(exp.PAPER.budgets["smoke"].config.units) == set(exp.UNITS)
    with pytest.raises(ValueError, match="units"):
        exp.Config(units=("sac-on-the-moon",))
    with pytest.raises(ValueError, match="step_cap"):
        exp.Config(step_cap=-1)


def test_step_cap_shortens_runs_and_keeps_learning():
    smoke = exp.PAPER.budgets["smoke"].config
    sac = exp.learner_config(exp.UNITS["sac-cleanrl-hopper"], smoke)
    assert sac.total_steps == 300 and 0 < sac.learning_starts < 300
    ppo = exp.learner_config(exp.UNITS["ppo-cleanrl-halfcheetah"], smoke)
    assert ppo.total_steps == 300 and ppo.n_envs * ppo.n_steps <= 300


@pytest.mark.parametrize("seed", range(len(exp.FULL_UNITS)))
def test_smoke_runs_every_unit(seed):
    config = exp.PAPER.budgets["smoke"].config
    name = exp.unit_of_seed(config, seed)
    if exp.UNITS[name].mujoco and not exp.mujoco_available():
        pytest.skip(exp.MUJOCO_MISSING)
    out = exp.run(config, seed, RunContext(exp.SLUG, "smoke", seed))
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    assert out["unit"] == name and out["run"]["total_steps"] >= 256
    metric = exp.UNITS[name].metric
    if name.endswith("halfcheetah"):  # 1000-step episodes: none ends within the 300-step cap
        assert metric not in out and "no training episode finished" in out["skipped"]
    else:
        assert isinstance(out[metric], float)


def test_missing_mujoco_is_skipped_at_smoke_and_an_error_otherwise(monkeypatch):
    monkeypatch.setattr(exp, "mujoco_available", lambda: False)
    config = exp.Config(units=("ppo-cleanrl-hopper",), step_cap=300)
    out = exp.run(config, 0, RunContext(exp.SLUG, "smoke", 0))
    assert out["skipped"] == exp.MUJOCO_MISSING
    verdict = next(v for v in exp.check([dict(out, seed=0)], "smoke") if v.claim == "ppo-matches-cleanrl-hopper")
    assert verdict.status == "INCONCLUSIVE" and "mujoco" in verdict.detail
    with pytest.raises(RuntimeError, match="mujoco"):
        exp.run(config, 0, RunContext(exp.SLUG, "full", 0))


def _fabricated(good: bool) -> list[dict]:
    rows = []
    for seed, name in enumerate(exp.FULL_UNITS * 3):
        mean, spread = exp.UNITS[name].published
        value = mean + 0.1 * spread + 1.0 if good else mean - 3 * spread - 100.0
        rows.append({"unit": name, exp.UNITS[name].metric: value, "seed": seed})
    return rows


def test_claims_pass_on_good_numbers_fail_on_bad_and_wait_for_missing_units():
    assert all(v.status == "PASS" for v in exp.check(_fabricated(True), "full"))
    assert all(v.status == "FAIL" for v in exp.check(_fabricated(False), "full"))
    quick_only = [r for r in _fabricated(True) if r["unit"] in exp.QUICK_UNITS]
    verdicts = {v.claim: v for v in exp.check(quick_only, "quick")}
    assert verdicts["sac-matches-cleanrl-hopper"].status == "INCONCLUSIVE"
    assert "not run at the quick budget" in verdicts["sac-matches-cleanrl-hopper"].detail
    assert verdicts["ppo-matches-zoo-cartpole"].status == "PASS"


def test_figures_draw_the_published_band(tmp_path):
    config = exp.Config(units=("ppo-zoo-cartpole",), step_cap=300, eval_episodes=2)
    out = exp.run(config, 0, RunContext(exp.SLUG, "smoke", 0))
    paths = exp.figures([dict(out, seed=0)], tmp_path)
    assert [p.name for p in paths] == ["learning_curves.png"] and paths[0].stat().st_size > 0


def test_registered_as_a_hidden_experiment(cli):
    entry = registry.entry("deeprl-baselines")
    assert entry.status == "implemented" and entry.number == 0
    assert "deeprl-baselines" not in {e.slug for e in registry.entries()}  # the 60-paper table is unchanged
    assert registry.load("deeprl-baselines").paper is exp.PAPER
    listed = json.loads(cli("papers", "--json", "--all").stdout)  # without --all: the 60 (tests/repro)
    assert len(listed) == 60 + len(registry.HIDDEN)
    assert {"deeprl-baselines", "selftest"} <= {r["slug"] for r in listed}
    shown = cli("show", "deeprl-baselines")
    assert shown.returncode == 0 and "sac-pendulum-within-zoo-spread" in shown.stdout
