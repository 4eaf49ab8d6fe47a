"""Known-answer tests of the preference core: tree DP, tabular policy, losses, oracle, trainers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentlab.preference import (
    CombinationLock,
    DPOConfig,
    OfflinePreferenceTrainer,
    OnlineConfig,
    OnlinePreferenceTrainer,
    PreferenceData,
    PreferenceOracle,
    ResponseTree,
    TabularPolicy,
    TabularRewardTask,
    TargetStringTask,
    beam_search,
    bradley_terry_loss,
    dpo_loss,
    exact_kl,
    exact_objective,
    frozen_copy,
    leaf_log_probs,
    leaf_returns,
    leaf_reward_table,
    prefix_log_probs,
    sample,
    sequence_logps,
    sft_loss,
    soft_value_iteration,
    token_reward_table,
    total_variation,
)


def _random_setup(seed=0, vocab=3, horizon=3, prompts=2, beta=0.7):
    rng = np.random.default_rng(seed)
    tree = ResponseTree(vocab, horizon)
    task = TabularRewardTask.random(tree, prompts, rng)
    ref = torch.log_softmax(torch.as_tensor(rng.standard_normal((prompts, tree.n_nodes, vocab))), -1)
    return tree, task, ref, beta


def test_tree_indexing_is_a_bijection():
    tree = ResponseTree(3, 4)
    assert tree.n_nodes == 1 + 3 + 9 + 27
    nodes = tree.leaf_nodes
    assert nodes.min() == 0 and nodes.max() == tree.n_nodes - 1
    # every internal prefix is visited, and its depth matches the step
    assert set(np.unique(nodes)) == set(range(tree.n_nodes))
    assert np.all(tree.node_depth[nodes] == np.arange(4)[None, :])
    # representative rows pass through their prefix at their depth
    rows = tree.node_prefixes
    assert np.all(tree.node_index(rows)[np.arange(tree.n_nodes), tree.node_depth] == np.arange(tree.n_nodes))


def test_soft_value_dp_matches_brute_force():
    tree, task, ref, beta = _random_setup()
    sol = soft_value_iteration(task.table, ref, beta, tree)
    returns = leaf_returns(torch.as_tensor(task.table), tree)
    ref_leaf = leaf_log_probs(ref, tree)
    # pi*(y) ∝ pi_ref(y) exp(R(y)/beta); V*(s0) = beta log sum pi_ref exp(R/beta)
    target = torch.log_softmax(ref_leaf + returns / beta, -1)
    assert torch.allclose(leaf_log_probs(sol.log_policy, tree), target, atol=1e-10)
    assert torch.allclose(sol.v[:, 0], beta * torch.logsumexp(ref_leaf + returns / beta, -1), atol=1e-10)
    # J_beta(pi*) = V*(s0), and pi* beats any other policy
    r = torch.as_tensor(task.table)
    j_star = exact_objective(sol.log_policy, ref, r, beta, tree)
    assert torch.allclose(j_star, sol.v[:, 0], atol=1e-10)
    other = torch.log_softmax(torch.randn(ref.shape, dtype=torch.float64), -1)
    assert torch.all(exact_objective(other, ref, r, beta, tree) < j_star)


def test_token_identity_beta_log_ratio():
    tree, task, ref, beta = _random_setup(seed=1)
    sol = soft_value_iteration(task.table, ref, beta, tree)
    lhs = beta * (sol.log_policy - ref)
    rhs = torch.as_tensor(task.table) + sol.next_v - sol.v[..., None]
    assert torch.allclose(lhs, rhs, atol=1e-10)


def test_potential_shaping_leaves_optimum_and_dpo_loss_unchanged():
    tree, task, ref, beta = _random_setup(seed=2)
    rng = np.random.default_rng(5)
    phi = rng.standard_normal((task.n_prompts, tree.n_nodes + tree.n_leaves))  # potential on all prefixes
    # child index of (node, a): internal children for depth < T-1, leaves (potential index N + leaf code) at T-1
    child = np.zeros((tree.n_nodes, tree.vocab_size), dtype=np.int64)
    for d in range(tree.horizon):
        lo, hi = tree.depth_offsets[d], tree.depth_offsets[d + 1]
        codes = (np.arange(hi - lo)[:, None] * tree.vocab_size + np.arange(tree.vocab_size)[None, :])
        child[lo:hi] = codes + (tree.depth_offsets[d + 1] if d + 1 < tree.horizon else tree.n_nodes)
    phi[:, tree.n_nodes:] = 0.0  # Phi(terminal) = 0 keeps pairwise differences identical
    shaped = task.table + phi[:, child] - phi[:, :tree.n_nodes, None]
    a = soft_value_iteration(task.table, ref, beta, tree)
    b = soft_value_iteration(shaped, ref, beta, tree)
    assert torch.allclose(a.log_policy, b.log_policy, atol=1e-10)
    # sequence returns differ by the same per-prompt constant -> identical BT preferences and DPO loss
    ra = leaf_returns(torch.as_tensor(task.table), tree)
    rb = leaf_returns(torch.as_tensor(shaped), tree)
    diff = rb - ra
    assert torch.allclose(diff, diff[:, :1].expand_as(diff), atol=1e-10)


def test_large_beta_recovers_reference():
    tree, task, ref, _ = _random_setup(seed=3)
    sol = soft_value_iteration(task.table, ref, 1e6, tree)
    assert float(total_variation(sol.log_policy, ref, tree).max()) < 1e-5


def test_kl_zero_iff_equal_and_positive_otherwise():
    tree, _, ref, _ = _random_setup(seed=4)
    assert torch.allclose(exact_kl(ref, ref, tree), torch.zeros(ref.shape[0], dtype=ref.dtype), atol=1e-12)
    other = torch.log_softmax(torch.randn(ref.shape, dtype=torch.float64), -1)
    assert torch.all(exact_kl(other, ref, tree) > 0)


def test_token_reward_table_roundtrip_and_combination_lock():
    rng = np.random.default_rng(0)
    tree = ResponseTree(4, 3)
    task = CombinationLock.random(3, 3, 4, rng)
    table = token_reward_table(task, tree)
    assert np.allclose(leaf_returns(torch.as_tensor(table), tree).numpy(), leaf_reward_table(task, tree))
    codes = task.codes
    assert np.allclose(task.sequence_reward(np.arange(3), codes), 2.0)
    y = codes.copy()
    y[:, 1] = (y[:, 1] + 1) % 4
    assert np.allclose(task.sequence_reward(np.arange(3), y), 1 / 3)


def test_tabular_policy_matches_table_and_samples_correctly():
    tree = ResponseTree(3, 2)
    gen = torch.Generator().manual_seed(0)
    pol = TabularPolicy(tree, 2, torch.randn(2, tree.n_nodes, 3, generator=gen, dtype=torch.float64))
    table = prefix_log_probs(pol, tree, 2)
    leaves = torch.as_tensor(tree.leaves)
    for p in range(2):
        seq = sequence_logps(pol, torch.full((leaves.shape[0],), p), leaves)
        assert torch.allclose(seq, leaf_log_probs(table, tree)[p])
    draws = sample(pol, torch.zeros(40000, dtype=torch.long), gen)
    codes = draws[:, 0] * 3 + draws[:, 1]
    freq = torch.bincount(codes, minlength=9).double() / 40000
    assert torch.allclose(freq, leaf_log_probs(table, tree)[0].exp(), atol=0.015)


def test_beam_search_finds_the_mode_with_enough_beams():
    tree = ResponseTree(3, 4)
    gen = torch.Generator().manual_seed(1)
    pol = TabularPolicy(tree, 1, 2 * torch.randn(1, tree.n_nodes, 3, generator=gen, dtype=torch.float64))
    all_lp = leaf_log_probs(prefix_log_probs(pol, tree, 1), tree)[0]
    seqs, scores = beam_search(pol, 0, beams=27)
    assert torch.allclose(scores[0], all_lp.max())
    greedy, g_score = beam_search(pol, 0, beams=1)
    assert g_score[0] <= all_lp.max() + 1e-12


def test_dpo_sigmoid_hand_value_and_closed_form_gradient():
    # tabular softmax over responses of one prompt: dL/dtheta_w = -beta sigma(-z), dL/dtheta_l = beta sigma(-z),
    # zero gradient on every other logit (the log-partition cancels inside z)
    beta = 0.3
    theta = torch.randn(8, dtype=torch.float64, requires_grad=True)
    ref = torch.log_softmax(torch.randn(8, dtype=torch.float64), -1)
    logp = torch.log_softmax(theta, -1)
    w, lo = 2, 5
    loss = dpo_loss(logp[w:w + 1], logp[lo:lo + 1], ref[w:w + 1], ref[lo:lo + 1], beta)
    z = beta * ((logp[w] - ref[w]) - (logp[lo] - ref[lo]))
    assert torch.allclose(loss, -torch.log(torch.sigmoid(z)))
    loss.sum().backward()
    g = theta.grad
    s = torch.sigmoid(-z).detach()
    assert torch.allclose(g[w], -beta * s) and torch.allclose(g[lo], beta * s)
    others = [i for i in range(8) if i not in (w, lo)]
    assert torch.allclose(g[others], torch.zeros(6, dtype=torch.float64), atol=1e-15)


def test_dpo_gradient_ratio_in_probability_space():
    beta = 0.5
    p = torch.tensor([0.6, 0.05], dtype=torch.float64, requires_grad=True)
    loss = dpo_loss(p[:1].log(), p[1:].log(), torch.tensor([-1.0]), torch.tensor([-2.0]), beta)
    loss.sum().backward()
    ratio = p.grad[1].abs() / p.grad[0].abs()
    assert torch.allclose(ratio, (p[0] / p[1]).detach())


def test_ipo_flex_and_bt_losses_by_hand():
    pc, pr, rc, rr = (torch.tensor([v], dtype=torch.float64) for v in (-3.0, -4.0, -3.5, -3.0))
    beta = 0.2
    ipo = dpo_loss(pc, pr, rc, rr, beta, "ipo", chosen_lengths=torch.tensor([2]), rejected_lengths=torch.tensor([4]))
    assert torch.allclose(ipo, torch.tensor([(0.5 / 2 - (-1.0) / 4 - 1 / (2 * beta)) ** 2], dtype=torch.float64))
    flex = dpo_loss(pc, pr, rc, rr, beta, beta_rejected=0.05)
    assert torch.allclose(flex, -torch.nn.functional.logsigmoid(torch.tensor([0.2 * 0.5 - 0.05 * -1.0],
                                                                           dtype=torch.float64)))
    bt = bradley_terry_loss(torch.tensor([1.0]), torch.tensor([0.5]), margin=0.1, center_coefficient=0.01)
    assert torch.allclose(bt, torch.tensor([-np.log(1 / (1 + np.exp(-0.4))) + 0.01 * 2.25], dtype=torch.float32))
    tok = torch.tensor([[-1.0, -2.0], [-3.0, 0.0]])
    mask = torch.tensor([[1, 1], [1, 0]])
    assert torch.allclose(sft_loss(tok, mask), torch.tensor([3.0, 3.0]))
    assert torch.allclose(sft_loss(tok, mask, "token_mean"), torch.tensor(2.0))


@pytest.mark.parametrize("bad", [dict(beta=0.0), dict(loss_type="hinge")])
def test_dpo_loss_rejects_bad_input(bad):
    x = torch.zeros(1)
    kwargs = dict(beta=0.1, loss_type="sigmoid") | bad
    with pytest.raises(ValueError, match="beta|loss_type"):
        dpo_loss(x, x, x, x, **kwargs)


def test_oracle_probabilities_and_noise():
    o = PreferenceOracle(temperature=2.0, label_noise=0.1)
    p = o.probability(np.array([1.0]), np.array([0.0]))
    base = 1 / (1 + np.exp(-0.5))
    assert np.allclose(p, base * 0.9 + (1 - base) * 0.1)
    det = PreferenceOracle(temperature=0.0)
    assert np.allclose(det.probability(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])), [1.0, 0.0, 0.5])
    with pytest.raises(ValueError, match="label_noise"):
        PreferenceOracle(label_noise=0.7)
    rng = np.random.default_rng(0)
    labels = PreferenceOracle(1.0).prefers_first(np.ones(50000), np.zeros(50000), rng)
    assert abs(labels.mean() - 1 / (1 + np.exp(-1))) < 0.01


def test_offline_dpo_on_tabular_policy_reaches_the_population_optimum():
    # with one pair type (w over l), DPO pushes the margin up; the chosen response gains probability
    tree = ResponseTree(4, 1)
    ref = TabularPolicy(tree, 1)
    pol = TabularPolicy(tree, 1)
    data = PreferenceData(torch.zeros(64, dtype=torch.long), torch.zeros(64, 1, dtype=torch.long),
                          torch.ones(64, 1, dtype=torch.long))
    trainer = OfflinePreferenceTrainer(pol, frozen_copy(ref), DPOConfig(beta=0.5, lr=0.1, batch_size=16))
    losses = trainer.fit(data, 100, torch.Generator().manual_seed(0))
    assert losses[-1] < losses[0]
    lp = pol.table_log_probs()[0, 0]
    assert lp[0] > np.log(0.25) > lp[1]
    # unseen responses 2, 3 keep equal logits (tabular: zero gradient)
    assert torch.allclose(pol.logits[0, 0, 2], pol.logits[0, 0, 3])


def test_online_xpo_alpha_zero_equals_online_dpo_loss():
    rng = np.random.default_rng(0)
    task = CombinationLock.random(2, 2, 3, rng)
    tree = ResponseTree(3, 2)
    ref = TabularPolicy(tree, 2)
    pol = TabularPolicy(tree, 2, torch.randn(2, tree.n_nodes, 3, dtype=torch.float64))
    dpo = OnlinePreferenceTrainer(pol, ref, task, PreferenceOracle(), OnlineConfig(alpha=0.0))
    xpo = OnlinePreferenceTrainer(pol, ref, task, PreferenceOracle(), OnlineConfig(alpha=0.3))
    g = torch.Generator().manual_seed(0)
    dpo.collect(np.random.default_rng(1), g)
    batch = dpo.replay.tensors(False)
    base = dpo.loss(*batch)
    expected = base + 0.3 * sequence_logps(pol, batch[0], batch[3]).mean()
    ref_c = sequence_logps(ref, batch[0], batch[1])
    assert torch.allclose(batch[4], ref_c)
    assert torch.allclose(xpo.loss(*batch), expected)


def test_target_string_corruption():
    task = TargetStringTask(np.array([[0, 1, 2, 3]]), 5)
    y = task.corrupt(np.array([0, 0]), np.array([1, 3]), np.array([1, 4]))
    assert np.array_equal(y, [[0, 2, 2, 3], [0, 1, 2, 2]])
    assert np.allclose(task.sequence_reward(np.array([0, 0]), y), [3, 3])
