"""SAC's compiled update (``SACConfig(compile=True)``): the same update as the eager one for every
supported variant, one compile cache per agent, and clear errors where it cannot run."""

from __future__ import annotations

import shutil
from dataclasses import replace

import gymnasium as gym
import pytest
import torch

from latentlab.deeprl import SAC, SACConfig
from latentlab.deeprl.sac import has_cpp_compiler

pytestmark = pytest.mark.skipif(not has_cpp_compiler(), reason="torch.compile's CPU backend needs a C++ compiler")


def _batches(n: int, batch: int = 32, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [{"obs": torch.randn(batch, 3, generator=g), "actions": torch.rand(batch, 2, generator=g) * 2 - 1,
             "rewards": torch.randn(batch, generator=g), "next_obs": torch.randn(batch, 3, generator=g),
             "terminated": (torch.rand(batch, generator=g) < 0.2).float()} for _ in range(n)]


def _agent(config: SACConfig) -> SAC:
    return SAC(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-1, 1, (2,)), config, seed=4)


def test_compiled_update_equals_eager_update_with_pmoe_mdpo_and_delayed_actor():
    """PMOE (router draws), off-policy MDPO (lagged actor), CleanRL's two actor steps every second update:
    four updates agree with the eager path (same draws; round-off only) and log the same statistics."""
    config = SACConfig.cleanrl(hidden=(32, 32), n_components=3, mdpo_kl_coef=0.5, actor_lr=1e-2, critic_lr=1e-2,
                               alpha_lr=1e-2)
    eager, compiled = _agent(config), _agent(replace(config, compile=True))
    for batch in _batches(4):
        logged = eager.update(batch), compiled.update(batch)
        assert list(logged[0]) == list(logged[1])
        for key in logged[0]:
            assert logged[1][key] == pytest.approx(logged[0][key], rel=1e-4, abs=1e-5), key
    for name in ("actor", "critics", "critic_targets"):
        for p, q in zip(getattr(eager, name).parameters(), getattr(compiled, name).parameters()):
            torch.testing.assert_close(q, p, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(compiled.log_alpha.detach(), eager.log_alpha.detach())
    assert compiled.generator.get_state().equal(eager.generator.get_state())  # the same number of draws


def test_compiled_critic_ensemble_and_fixed_alpha_equal_eager():
    config = SACConfig(hidden=(16, 16), n_critics=4, alpha=0.1)
    eager, compiled = _agent(config), _agent(replace(config, compile=True))
    for batch in _batches(2):
        eager.update(batch)
        compiled.update(batch)
    for p, q in zip(eager.critics.parameters(), compiled.critics.parameters()):
        torch.testing.assert_close(q, p, atol=2e-5, rtol=1e-4)


def test_many_compiled_agents_in_one_process():
    """dynamo keeps at most 8 graphs per code object: 5 agents x 2 losses would overflow a shared cache
    (a hard error with fullgraph=True); each agent has its own."""
    batch = _batches(1, batch=8)[0]
    for hidden in (4, 5, 6, 7, 8):
        _agent(SACConfig(hidden=(hidden,), compile=True)).update(batch)


def test_compile_errors_name_the_cause(monkeypatch):
    with pytest.raises(ValueError, match="compile=True does not support critic_diversity_coef"):
        SACConfig(n_critics=4, critic_diversity_coef=1.0, compile=True)
    monkeypatch.setenv("CXX", "no-such-compiler")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="C\\+\\+ compiler"):
        _agent(SACConfig(hidden=(4,), compile=True))


def test_compiled_update_follows_a_new_batch_shape():
    """The guards kept are those on the batch: a new batch size compiles a new graph, it does not reuse
    the old one (whose shapes would be wrong)."""
    config = SACConfig(hidden=(16, 16))
    eager, compiled = _agent(config), _agent(replace(config, compile=True))
    for batch in (*_batches(1, batch=32), *_batches(1, batch=16, seed=1)):
        logged = eager.update(batch), compiled.update(batch)
        assert logged[1]["critic_loss"] == pytest.approx(logged[0]["critic_loss"], rel=1e-4)
    for p, q in zip(eager.actor.parameters(), compiled.actor.parameters()):
        torch.testing.assert_close(q, p, atol=2e-5, rtol=1e-4)


def test_compiled_agent_resumes_from_a_checkpoint_bit_for_bit(tmp_path):
    """Save after two updates, load into a fresh compiled agent: both continue identically (the parameter
    aliases of the compiled graphs see load()'s in-place restore)."""
    config = SACConfig(hidden=(16, 16), compile=True)
    first, batches = _agent(config), _batches(4)
    for batch in batches[:2]:
        first.update(batch)
    first.save(tmp_path / "sac.pt")
    second = _agent(config).load(tmp_path / "sac.pt")
    for batch in batches[2:]:
        assert first.update(batch) == second.update(batch)
    for p, q in zip(first.actor.parameters(), second.actor.parameters()):
        assert torch.equal(p, q)
