"""Distillation data and the tiny-LM backend (shared tiny GPT-2 of latentlab.preference.lm)."""

from __future__ import annotations

import numpy as np
import pytest

from latentlab.agents import bernoulli_bandit
from latentlab.agents.distill import OFTConfig, build_tiny_agent, prompt_vocabulary, train_oft, ucb_demonstrations
from latentlab.agents.text import ActionParser, ContextBuilder, TextBanditPolicy, scenario


def test_demonstrations_are_ucb_actions_on_the_rendered_counts():
    builder = ContextBuilder(scenario("VideoWatching", 3), "guide")
    inst = bernoulli_bandit(3, 0.5, 4, np.random.default_rng(0))
    prompts, actions = ucb_demonstrations(inst, builder, 20, np.random.default_rng(1))
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
    # the generic local-LM backend reads the same next-token distribution
    from latentlab.agents.backends import CausalLMBackend, ScoringBackend

    generic = CausalLMBackend(agent.model, agent.tokenizer, max_new_tokens=2)
    prompts = policy.prompts()
    scores = generic.score(prompts, builder.scenario.action_names)
    logits = agent.action_logits(prompts)
    assert torch.allclose(scores - scores.logsumexp(1, keepdim=True), logits.log_softmax(1), atol=1e-5)
    assert ScoringBackend(generic, builder.scenario.action_names).generate(prompts) == ["video_B", "video_B"]
    assert all(isinstance(text, str) for text in generic.generate(prompts))
