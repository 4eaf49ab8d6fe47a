"""The Gymnasium wrapper passes the env checker and reproduces exact values by Monte Carlo."""

from __future__ import annotations

import numpy as np
from gymnasium.utils.env_checker import check_env

from latentlab.tabular import random_mdp
from latentlab.tabular.gym_env import FiniteHorizonEnv


def test_env_checker_passes():
    check_env(FiniteHorizonEnv(random_mdp(4, 3, 5, np.random.default_rng(0))), skip_render_check=True)


def test_episode_returns_match_exact_value():
    mdp = random_mdp(3, 2, 4, np.random.default_rng(1), reward_noise="none")
    env = FiniteHorizonEnv(mdp)
    greedy = mdp.optimal().greedy()
    returns = []
    obs, _ = env.reset(seed=0)
    for _ in range(3000):
        total, done = 0.0, False
        while not done:
            obs, r, terminated, truncated, _ = env.step(int(greedy[obs[0], obs[1]]))
            total += r
            done = terminated or truncated
        returns.append(total)
        obs, _ = env.reset()
    returns = np.array(returns)
    assert abs(returns.mean() - mdp.optimal_value()) < 4 * returns.std() / np.sqrt(returns.size) + 1e-9
