"""MuJoCo LQR experts, the MujocoDynamics oracle and MuJoCo datasets (needs the ``mujoco`` extra)."""

import sys

import numpy as np
import pytest
import torch

pytest.importorskip("mujoco")
gym = pytest.importorskip("gymnasium")

from latentlab.offline.datasets import expert_policy, make_dataset  # noqa: E402
from latentlab.offline.envs import Dynamics  # noqa: E402
from latentlab.offline.mujoco import (  # noqa: E402
    MujocoDynamics,
    _import_mujoco,
    linearize,
    lqr_expert,
    state_from_obs,
)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MuJoCo may write MUJOCO_LOG.TXT into the working directory


def _random_transitions(env_id, n, seed=0):
    env = gym.make(env_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    rows = []
    for _ in range(n):
        a = env.action_space.sample()
        nxt, r, term, trunc, _ = env.step(a)
        rows.append((obs, a, nxt, r, term))
        obs = nxt
        if term or trunc:
            obs, _ = env.reset()
    env.close()
    o, a, nxt, r, term = (np.array(x) for x in zip(*rows))
    return o, a, nxt, r.astype(np.float64), term.astype(bool)


@pytest.mark.parametrize("env_id", ["InvertedPendulum-v5", "InvertedDoublePendulum-v5"])
def test_oracle_equals_env_step(env_id):
    o, a, nxt, r, term = _random_transitions(env_id, 1500)
    if env_id == "InvertedDoublePendulum-v5":  # the observation clips qvel at +-10: not a state there
        keep = np.all(np.abs(o[:, 5:8]) < 10, axis=1)
        o, a, nxt, r, term = o[keep], a[keep], nxt[keep], r[keep], term[keep]
    assert term.sum() >= 10
    dyn = MujocoDynamics(env_id)
    assert isinstance(dyn, Dynamics)
    p_next, p_rew, p_term = dyn.step(torch.from_numpy(o), torch.from_numpy(a))
    assert p_next.dtype == torch.float64 and p_term.dtype == torch.bool
    np.testing.assert_allclose(p_next.numpy(), nxt, rtol=0, atol=1e-9)
    np.testing.assert_allclose(p_rew.numpy(), r, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(p_term.numpy(), term)
    if env_id == "InvertedPendulum-v5":  # the observation is the full state: bitwise equal
        np.testing.assert_array_equal(p_next.numpy(), nxt)
    f_next, _, _ = dyn.step(torch.from_numpy(o).float(), torch.from_numpy(a))
    assert f_next.dtype == torch.float32
    with pytest.raises(ValueError, match="actions"):
        dyn.step(torch.from_numpy(o), torch.zeros(len(o), 3))


def test_state_from_obs_recovers_double_pendulum_state():
    env = gym.make("InvertedDoublePendulum-v5")
    obs, _ = env.reset(seed=3)
    qpos, qvel = state_from_obs("InvertedDoublePendulum-v5", obs)
    np.testing.assert_allclose(qpos[0], env.unwrapped.data.qpos, atol=1e-12)
    np.testing.assert_allclose(qvel[0], env.unwrapped.data.qvel, atol=1e-12)
    env.close()


def test_unsupported_env_and_missing_extra(monkeypatch):
    with pytest.raises(ValueError, match="not supported"):
        MujocoDynamics("HalfCheetah-v5")
    monkeypatch.setitem(sys.modules, "mujoco", None)
    with pytest.raises(ImportError, match=r"pip install 'latentlab\[mujoco\]'"):
        _import_mujoco()


def _episode(env_id, policy, seed):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    ret, steps, done = 0.0, 0, False
    while not done:
        obs, r, term, trunc, _ = env.step(policy(obs[None].astype(np.float32), None)[0])
        ret, steps, done = ret + r, steps + 1, term or trunc
    env.close()
    return ret, steps, term


def test_lqr_expert_balances():
    a, b = linearize("InvertedPendulum-v5")
    assert a.shape == (4, 4) and b.shape == (4, 1)
    expert = lqr_expert("InvertedPendulum-v5")
    assert expert_policy("InvertedPendulum-v5") is expert
    for seed in (0, 1):
        ret, steps, term = _episode("InvertedPendulum-v5", expert, seed)
        assert (ret, steps, term) == (1000.0, 1000, False)
    ret, steps, term = _episode("InvertedDoublePendulum-v5", lqr_expert("InvertedDoublePendulum-v5"), 0)
    assert steps == 1000 and not term and ret >= 9000
    acts = expert(np.array([[0.0, 0.19, 0.0, 5.0]], np.float32))  # far from upright: saturates in the box
    assert acts.dtype == np.float32 and acts.shape == (1, 1) and abs(acts[0, 0]) == pytest.approx(3.0)


def test_inverted_pendulum_datasets(tmp_path):
    env_id = "InvertedPendulum-v5"
    expert = make_dataset(env_id, "expert", 2000, 0, cache_dir=tmp_path)
    meta = expert.metadata
    assert meta["recipe"] == "expert" and meta["behaviour"] == "invertedpendulum-lqr" and meta["env_id"] == env_id
    assert meta["ref_max_score"] == pytest.approx(1000.0) and meta["ref_min_score"] < 20
    assert len(expert) == 2000 and not expert.discrete and expert.actions.shape == (2000, 1)
    assert expert.observations.dtype == np.float32 and expert.terminals.sum() == 0
    assert np.all(np.abs(expert.actions) <= 3.0)
    rets = expert.episode_returns()
    assert len(rets) == 2 and expert.normalized_score(rets.mean()) >= 90
    again = make_dataset(env_id, "expert", 2000, 0, cache_dir=tmp_path)  # from the disk cache
    np.testing.assert_array_equal(again.observations, expert.observations)
    medium = make_dataset(env_id, "medium", 1000, 0, cache_dir=tmp_path, cache=False)
    assert medium.metadata["recipe"] == "medium" and medium.metadata["quality_p"] == pytest.approx(0.9)
    assert medium.terminals.sum() >= 1
    # the oracle reproduces the stored transitions up to the float32 storage of observations
    dyn = MujocoDynamics(env_id)
    nxt, rew, term = dyn.step(torch.from_numpy(medium.observations).double(), torch.from_numpy(medium.actions))
    np.testing.assert_allclose(nxt.numpy(), medium.next_observations, atol=1e-4)
    np.testing.assert_array_equal(term.numpy(), medium.terminals > 0)
