"""Distillation data, the OFT loss and the tiny-LM backend (shared tiny GPT-2 of latentlab.preference.lm)."""

from __future__ import annotations

import numpy as np
import pytest

from latentlab.agents import bernoulli_bandit
from latentlab.agents.distill import (
    OFTConfig,
    TinyLMBackend,
    answer_loss,
    build_tiny_agent,
    prompt_vocabulary,
    train_oft,
    training_accuracy,
    ucb_demonstrations,
)
from latentlab.agents.text import ActionParser, ContextBuilder, TextBanditPolicy, scenario


def test_demonstrations_are_ucb_actions_on_the_rendered_counts():
    builder = ContextBuilder(scenario("VideoWatching", 3), "guide")
    inst = bernoulli_bandit(3, 0.5, 4, np.random.default_rng(0))
    for eps in (0.0, 0.5):  # noise injection changes the states played, never the labels
        prompts, actions = ucb_demonstrations(inst, builder, 20, np.random.default_rng(1), behaviour_epsilon=eps)
        assert len(prompts) == 80 and actions.shape == (80,)
        parser = ActionParser(builder.scenario.action_names)
        for prompt, action in zip(prompts[::7], actions[::7]):
            index = []  # recompute UCB's choice from the guide fields of the prompt
            for line in prompt.splitlines():
                if " times , " in line:
                    bonus, value = line.split("exploration bonus ")[1].split()[0], line.split("exploitation value ")[1]
                    index.append(np.inf if bonus == "inf" else float(bonus) + float(value))
            top = np.flatnonzero(np.isclose(index, np.max(index), atol=0.011) | (np.array(index) == np.inf))
            assert action in top
            assert parser.parse(builder.scenario.verbalise(action)) == action


def test_demonstration_sampling_keeps_the_first_rounds():
    builder = ContextBuilder(scenario("VideoWatching", 3), "summary")
    inst = bernoulli_bandit(3, 0.5, 5, np.random.default_rng(0))
    prompts, actions = ucb_demonstrations(inst, builder, 30, np.random.default_rng(1), per_trajectory=6,
                                          first_rounds=3)
    assert len(prompts) == 30 and actions.shape == (30,)
    assert sum(p.count(", 0 times") == 3 for p in prompts) == 5  # round 0 of every trajectory
    with pytest.raises(ValueError):
        ucb_demonstrations(inst, builder, 30, np.random.default_rng(1), per_trajectory=2, first_rounds=3)
    with pytest.raises(ValueError):
        ucb_demonstrations(inst, builder, 30, np.random.default_rng(1), behaviour_epsilon=1.5)


def test_compact_encoding_keeps_every_varying_word():
    pytest.importorskip("transformers")
    builder = ContextBuilder(scenario("VideoWatching", 5), "guide")
    agent = build_tiny_agent(builder, 300, seed=0, config=OFTConfig(compact=True, name_last=True))
    prompt = builder.render_counts(np.array([3.0, 0, 1, 2, 5]), np.array([1.0, 0, 1, 0, 4]))
    words = agent.strip(prompt).split()
    assert words[:5] == ["3", "0.33", "0.63", "0.33", "video_A"]  # bonus sqrt(0.5 log 11 / 3)
    assert words[5:10] == ["0", "0.00", "inf", "0.00", "video_B"] and words[-2:] == ["answer", ":"]
    assert len(words) == 27 and agent.encode([prompt]).shape == (1, 27)
    full = build_tiny_agent(builder, 300, seed=0, config=OFTConfig())
    assert full.encode([prompt]).shape[1] == len(prompt.split()) - len(builder.instruction().split())
    with pytest.raises(ValueError, match="vocabulary"):
        agent.encode([prompt.replace("0.33", "9.99")])


class _FixedLogits:
    """A stand-in causal LM whose next-token logits at the last position are set by hand."""

    def __init__(self, torch, vocab: int, last: list[float]) -> None:
        self.torch, self.vocab, self.last = torch, vocab, torch.tensor(last)

    def __call__(self, input_ids):
        b, length = input_ids.shape
        logits = self.torch.full((b, length, self.vocab), 50.0)  # any other position would dominate the loss
        logits[:, -1] = self.last
        return type("Out", (), {"logits": logits})()


def test_oft_loss_is_minus_log_p_of_the_answer_token():
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    builder = ContextBuilder(scenario("VideoWatching", 3), "summary")
    agent = build_tiny_agent(builder, 10, seed=0, config=OFTConfig())
    vocab = len(agent.tokenizer)
    last = torch.zeros(vocab)
    last[agent.action_ids] = torch.tensor([1.0, 2.0, 4.0])
    last[0] = 30.0  # a non-action token: constrained answers ignore it
    stub = TinyLMBackend(_FixedLogits(torch, vocab, last.tolist()), agent.tokenizer, builder.scenario.action_names,
                         prefix=agent.prefix)
    prompts = [builder.render_counts(np.array([1.0, 2, 0]), np.array([1.0, 1, 0]))] * 2
    inputs = stub.encode(prompts)
    p = torch.softmax(torch.tensor([1.0, 2.0, 4.0]), 0)
    loss = answer_loss(stub, inputs, torch.tensor([0, 2]))
    assert torch.isclose(loss, -(p[0].log() + p[2].log()) / 2)
    assert stub.generate(prompts) == ["video_C", "video_C"]
    # the real model: the loss reads the last position's logits over the action names only
    with torch.no_grad():
        logits = agent.model(input_ids=inputs).logits[:, -1, agent.action_ids]
        expected = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2]))
        assert torch.isclose(answer_loss(agent, inputs, torch.tensor([0, 2])), expected, atol=1e-6)


def test_tiny_model_overfits_a_batch_of_guide_prompts():
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    builder = ContextBuilder(scenario("VideoWatching", 5), "guide")
    inst = bernoulli_bandit(5, 0.2, 32, np.random.default_rng(0))
    prompts, actions = ucb_demonstrations(inst, builder, 300, np.random.default_rng(1), per_trajectory=1)
    assert len(prompts) == 32
    config = OFTConfig(steps=250, batch_size=32, lr=1e-2, compact=True, name_last=True)
    agent = build_tiny_agent(builder, 300, seed=0, config=config)
    history = train_oft(agent, prompts, actions, config, torch.Generator().manual_seed(0))
    assert history[-1] < 0.05 and training_accuracy(agent, prompts, actions) == 1.0


def test_constrained_decoding_returns_only_action_names():
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    builder = ContextBuilder(scenario("ClothesShopping", 4), "summary")
    agent = build_tiny_agent(builder, 50, seed=3, config=OFTConfig(compact=True))
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 12, (20, 4)).astype(float)
    prompts = [builder.render_counts(c, np.floor(c * rng.random(4))) for c in counts]
    assert set(agent.generate(prompts)) <= set(builder.scenario.action_names)
    # even when a non-action word is the LM's favourite next token
    vocab = len(agent.tokenizer)
    last = torch.linspace(0.0, 1.0, vocab)
    last[agent.action_ids] = torch.tensor([0.1, 0.7, 0.3, 0.2])
    stub = TinyLMBackend(_FixedLogits(torch, vocab, last.tolist()), agent.tokenizer, builder.scenario.action_names,
                         prefix=agent.prefix, compact=True)
    assert int(last.argmax()) not in agent.action_ids
    assert stub.generate(prompts[:3]) == ["jacket"] * 3
    policy = TextBanditPolicy(builder, stub)
    policy.reset(3, 4)
    assert list(policy.act(rng)) == [1, 1, 1] and policy.invalid == 0 and policy.retries == 0


def test_tiny_agent_plays_and_trains():
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    builder = ContextBuilder(scenario("VideoWatching", 3), "summary")
    agent = build_tiny_agent(builder, 30, seed=0, config=OFTConfig(n_embd=32))
    vocab = set(prompt_vocabulary(builder, 30))
    assert {"video_A", "0.50", "30", "inf"} <= vocab
    # a learnable rule: always answer video_B; 60 steps of OFT must make it the argmax
    inst = bernoulli_bandit(3, 0.5, 4, np.random.default_rng(0))
    prompts, _ = ucb_demonstrations(inst, builder, 10, np.random.default_rng(1))
    history = train_oft(agent, prompts, np.ones(len(prompts), dtype=int), OFTConfig(steps=60, batch_size=16),
                        torch.Generator().manual_seed(0))
    assert history[-1] < 0.2 * history[0]
    policy = TextBanditPolicy(builder, agent)
    policy.reset(2, 3)
    policy.update(np.array([0, 2]), np.array([1.0, 0.0]))
    assert list(policy.act(np.random.default_rng(0))) == [1, 1] and policy.invalid == 0
    # the generic local-LM backend reads the full prompt (instruction included); the tiny backend drops the
    # constant instruction, so the two agree on the answer, not on the logits
    from latentlab.agents.backends import CausalLMBackend, ScoringBackend

    generic = CausalLMBackend(agent.model, agent.tokenizer, max_new_tokens=2)
    prompts = policy.prompts()
    scores = generic.score(prompts, builder.scenario.action_names)
    assert scores.shape == (2, 3) and torch.isfinite(scores).all()
    assert ScoringBackend(generic, builder.scenario.action_names).generate(prompts) == ["video_B", "video_B"]
    assert all(isinstance(text, str) for text in generic.generate(prompts))
