"""OfflineDataset: validation, episodes, sampling, persistence (npz, Minari), recipes and the cache."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from latentlab.deeprl.buffers import ReplayBuffer
from latentlab.offline.datasets import (
    OfflineDataset,
    default_cache_dir,
    dqn_behaviour_datasets,
    make_dataset,
)
from latentlab.offline.discrete import DiscreteConfig


def _toy(n=10, discrete=True):
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(n, 3)).astype(np.float32)
    nxt = np.roll(obs, -1, axis=0)
    term = np.zeros(n, np.float32)
    term[4] = 1
    tout = np.zeros(n, np.float32)
    tout[-1] = 1
    nxt[4] = rng.normal(size=3)
    nxt[-1] = rng.normal(size=3)
    acts = rng.integers(0, 2, n) if discrete else rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    return dict(observations=obs, actions=acts, rewards=np.arange(n, dtype=np.float32), next_observations=nxt,
                terminals=term, timeouts=tout)


def test_from_arrays_derives_episodes_and_returns():
    d = OfflineDataset.from_arrays(**_toy(), n_actions=2, env_id="toy")
    assert d.discrete and d.actions.dtype == np.int64 and d.n_actions == 2
    assert d.observations.dtype == np.float32 and d.terminals.dtype == np.float32
    assert d.episode_starts.tolist() == [True] + [False] * 4 + [True] + [False] * 4
    eps = list(d.episodes())
    assert [(e.start, e.stop, e.terminal, e.timeout) for e in eps] == [(0, 5, True, False), (5, 10, False, True)]
    np.testing.assert_allclose(d.episode_returns(), [0 + 1 + 2 + 3 + 4, 5 + 6 + 7 + 8 + 9])
    d.metadata.update(ref_min_score=10.0, ref_max_score=35.0)
    assert d.normalized_score(35.0) == pytest.approx(100.0)
    assert d.normalized_score(10.0) == pytest.approx(0.0)


@pytest.mark.parametrize(("field", "change", "message"), [
    ("observations", lambda a: a["observations"].__setitem__((2, 1), np.nan), "observations"),
    ("next_observations", lambda a: a.__setitem__("next_observations", a["next_observations"][:-1]),
     "next_observations"),
    ("rewards", lambda a: a.__setitem__("rewards", a["rewards"][:-2]), "rewards"),
    ("terminals", lambda a: a["terminals"].__setitem__(3, 2.0), "terminals"),
    ("timeouts", lambda a: a["timeouts"].__setitem__(4, 1.0), "terminals and timeouts"),
    ("actions", lambda a: a.__setitem__("actions", a["actions"] + 5), "actions"),
])
def test_validation_errors_name_the_field(field, change, message):
    arrays = _toy()
    change(arrays)
    with pytest.raises(ValueError, match=message):
        OfflineDataset(**arrays, metadata={"n_actions": 2})


def test_episode_start_must_follow_an_episode_end():
    arrays = _toy()
    starts = np.zeros(10, bool)
    starts[0] = True
    with pytest.raises(ValueError, match="episode_starts"):
        OfflineDataset(**arrays, episode_starts=starts, metadata={"n_actions": 2})


def test_sample_has_the_replay_buffer_keys_and_dtypes():
    d = OfflineDataset.from_arrays(**_toy(discrete=False))
    buf = ReplayBuffer(4, 3, 2)
    buf.add(np.zeros((1, 3)), np.zeros((1, 2)), np.zeros(1), np.zeros((1, 3)), np.zeros(1))
    batch = d.sample(16, np.random.default_rng(0))
    ref = buf.sample(2, np.random.default_rng(0))
    assert set(batch) == set(ref)
    for k in batch:
        assert batch[k].dtype == ref[k].dtype, k
        assert batch[k].shape[0] == 16
    assert OfflineDataset.from_arrays(**_toy()).sample(5, np.random.default_rng(0))["actions"].dtype == torch.int64


def test_save_load_round_trip(tmp_path):
    d = make_dataset("CartPole-v1", "noisy", 600, 3, cache=False, n_envs=4)
    path = d.save(tmp_path / "x.npz")
    e = OfflineDataset.load(path)
    for k, v in d.as_dict().items():
        assert np.array_equal(v, getattr(e, k)) and v.dtype == getattr(e, k).dtype, k
    assert e.metadata == d.metadata
    assert (tmp_path / "x.json").is_file()


def test_minari_round_trip(tmp_path, monkeypatch):
    pytest.importorskip("minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    for env_id, recipe in (("Pendulum-v1", "medium-replay"), ("CartPole-v1", "mixed")):
        d = make_dataset(env_id, recipe, 700, 1, cache=False, n_envs=4)
        name = f"latentlab/{env_id.split('-')[0].lower()}/{recipe}-v0"
        d.to_minari(name)
        e = OfflineDataset.from_minari(name)
        for k, v in d.as_dict().items():
            assert np.array_equal(v, getattr(e, k)) and v.dtype == getattr(e, k).dtype, (env_id, k)
        assert e.metadata == d.metadata


@pytest.mark.parametrize("recipe", ["random", "medium", "expert", "medium-replay"])
def test_pendulum_recipes_for_paper_11(recipe, tmp_path):
    d = make_dataset("Pendulum-v1", recipe, 1000, 0, cache_dir=tmp_path)
    assert len(d) == 1000 and not d.discrete
    assert d.actions.dtype == np.float32 and d.actions.shape == (1000, 1)
    assert np.all(np.abs(d.actions) <= 2.0)
    assert d.metadata["env_id"] == "Pendulum-v1" and d.metadata["recipe"] == recipe and d.metadata["seed"] == 0
    assert d.timeouts.sum() >= 1 and d.terminals.sum() == 0


def test_quality_grades_are_ordered():
    scores = {}
    for r in ("random", "medium", "expert"):
        d = make_dataset("Pendulum-v1", r, 2000, 0, cache=False)
        scores[r] = np.mean(d.normalized_score(d.episode_returns()))
    assert scores["random"] < 15 < scores["medium"] < 70 < scores["expert"]
    cart = make_dataset("CartPole-v1", "expert", 2000, 0, cache=False, n_envs=2)
    assert np.all(cart.episode_returns() == 500.0)
    assert cart.actions.dtype == np.int64


def test_mixed_and_sweep_recipes():
    mixed = make_dataset("CartPole-v1", "mixed", 1000, 0, cache=False, n_envs=4)
    assert len(mixed) == 1000 and mixed.metadata["recipe"] == "mixed"
    sweep = make_dataset("CartPole-v1", "sweep-0.25", 500, 0, cache=False, n_envs=4)
    assert sweep.metadata["quality_p"] == 0.25
    with pytest.raises(ValueError, match="recipe"):
        make_dataset("CartPole-v1", "superb", 100, 0, cache=False)


def test_cache_hit_and_env_override(tmp_path, monkeypatch):
    a = make_dataset("CartPole-v1", "random", 300, 5, cache_dir=tmp_path)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1
    b = make_dataset("CartPole-v1", "random", 300, 5, cache_dir=tmp_path)
    assert np.array_equal(a.observations, b.observations)
    c = make_dataset("CartPole-v1", "random", 300, 6, cache_dir=tmp_path)
    assert not np.array_equal(a.observations, c.observations) and len(list(tmp_path.glob("*.npz"))) == 2
    monkeypatch.setenv("LATENTLAB_CACHE", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    make_dataset("CartPole-v1", "expert", 200, 0)
    assert len(list((tmp_path / "env").glob("*.npz"))) == 1


def test_dqn_behaviour_datasets(tmp_path):
    cfg = DiscreteConfig.online_dqn(learning_starts=200)
    sets = dqn_behaviour_datasets("CartPole-v1", 1500, 0, cache_dir=tmp_path, config=cfg, eval_points=3,
                                  eval_episodes=3)
    assert sorted(sets) == sorted(["random", "mixed", "replay", "noisy", "expert"])
    for d in sets.values():
        assert len(d) == 1500 and d.discrete and d.metadata["ref_min_score"] == sets["random"].episode_returns().mean()
    replay = sets["replay"]
    inner = ~replay.episode_starts[1:]
    assert np.array_equal(replay.next_observations[:-1][inner], replay.observations[1:][inner])
    assert replay.metadata["ref_max_score"] == max(m for _, m, _ in replay.metadata["online_evals"])
    again = dqn_behaviour_datasets("CartPole-v1", 1500, 0, cache_dir=tmp_path, config=cfg, eval_points=3,
                                   eval_episodes=3)
    assert np.array_equal(again["expert"].observations, sets["expert"].observations)
    assert isinstance(gym.make("CartPole-v1").action_space, gym.spaces.Discrete)
