"""Text harness: verbalise-then-parse round trip, context layers, invalid-answer handling."""

from __future__ import annotations

import numpy as np
import pytest

from latentlab.agents import UCB, bernoulli_bandit, run_bandit
from latentlab.agents.backends import ScriptedBackend
from latentlab.agents.text import (
    ActionParser,
    ContextBuilder,
    TextBanditPolicy,
    few_shot_block,
    scenario,
)


@pytest.mark.parametrize("name,k", [("VideoWatching", 26), ("ClothesShopping", 20), ("VideoWatching", 5)])
def test_verbalise_then_parse_round_trips_every_action(name, k):
    sc = scenario(name, k)
    parser = ActionParser(sc.action_names)
    for a in range(k):
        text = sc.verbalise(a)
        assert parser.parse(text) == a
        assert parser.parse(f"I would pick {text}.") == a
        assert parser.parse(text.upper()) == a


def test_parser_fuzzy_index_and_invalid():
    parser = ActionParser(["shirt", "jacket", "sweater"])
    assert parser.parse("jackett") == 1
    assert parser.parse("2") == 2
    assert parser.parse("no idea") is None
    assert parser.parse("7") is None


def test_summary_and_guide_layers():
    sc = scenario("VideoWatching", 3)
    summary = ContextBuilder(sc, "summary").render([0, 0, 1], [1.0, 0.0, 1.0])
    assert "video_A video , 2 times , average reward 0.50" in summary
    assert "video_C video , 0 times , average reward 0.00" in summary
    guide = ContextBuilder(sc, "guide", alpha=0.5).render([0, 0, 1], [1.0, 0.0, 1.0])
    bonus = np.sqrt(0.5 * np.log(3) / 2)
    assert f"exploration bonus {bonus:.2f} exploitation value 0.50" in guide
    assert "video_C video , 0 times , average reward 0.00 , exploration bonus inf" in guide
    raw = ContextBuilder(sc, "raw").render([2], [0.25])
    assert "video video_C reward 0.25" in raw


def test_few_shot_takes_every_second_step_after_two():
    sc = scenario("VideoWatching", 3)
    builder = ContextBuilder(sc, "summary")
    block = few_shot_block(builder, [0, 1, 2, 0, 1, 2, 0, 1], [1, 0, 1, 0, 1, 0, 1, 0], n_examples=3)
    assert len(block) == 3
    assert [b.split()[-1] for b in block] == ["video_C", "video_B", "video_A"]  # steps 2, 4, 6


def test_text_policy_with_ucb_script_equals_ucb():
    """A scripted backend that answers with UCB's choice computed from the prompt reproduces UCB exactly."""
    sc = scenario("VideoWatching", 4)
    builder = ContextBuilder(sc, "guide", alpha=0.5)

    def ucb_from_prompt(prompt: str) -> str:
        values = []
        for line in prompt.splitlines():
            if " times , " in line:
                bonus = line.split("exploration bonus ")[1].split()[0]
                mean = line.split("exploitation value ")[1].split()[0]
                values.append(np.inf if bonus == "inf" else float(bonus) + float(mean))
        return sc.action_names[int(np.argmax(values))]

    inst = bernoulli_bandit(4, 0.5, 3, np.random.default_rng(0))
    text = TextBanditPolicy(builder, ScriptedBackend(ucb_from_prompt))
    run = run_bandit(inst, text, 60, np.random.default_rng(1))
    assert text.invalid == 0
    assert run.regret[:, -1].mean() < run_bandit(inst, UCB(0.0), 60, np.random.default_rng(1)).regret[:, -1].mean() + 15


def test_invalid_answers_are_reasked_then_counted():
    sc = scenario("ClothesShopping", 3)
    backend = ScriptedBackend(["gibberish", "still nothing", "banana"])  # never valid
    policy = TextBanditPolicy(ContextBuilder(sc, "summary"), backend, max_retries=2)
    policy.reset(2, 3)
    actions = policy.act(np.random.default_rng(0))
    assert policy.invalid == 2 and policy.retries == 4
    assert len(backend.prompts) == 6 and "answer with exactly one of" in backend.prompts[-1]
    assert np.all((actions >= 0) & (actions < 3))
    second = ScriptedBackend(["???", "jacket"])
    policy = TextBanditPolicy(ContextBuilder(sc, "summary"), second, max_retries=2)
    policy.reset(1, 3)
    assert policy.act(np.random.default_rng(0))[0] == 1 and policy.invalid == 0 and policy.retries == 1


def test_bad_input_raises():
    with pytest.raises(ValueError):
        scenario("Cooking", 3)
    with pytest.raises(ValueError):
        ContextBuilder(scenario("VideoWatching", 3), "poetry")
    with pytest.raises(ValueError):
        scenario("ClothesShopping", 21)
