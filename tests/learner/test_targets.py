"""TD targets: the conditional argmax, macro-TD on the paper's Figure 1 episode, n-step and TD(lambda) folds."""
import numpy as np
import pytest
import torch

from asyncmarl.learner.targets import (
    conditional_argmax,
    discounted_segment_returns,
    lambda_returns,
    macro_targets,
    nstep_returns,
)

G = 0.9


def test_conditional_argmax_keeps_running_actions():
    q = torch.tensor([[[1.0, 5.0, 2.0], [9.0, 0.0, 0.0], [0.0, 1.0, 7.0]]])  # [1, n=3, A=3]
    avail = torch.tensor([[[True, True, True], [True, True, True], [True, True, False]]])
    choosing = torch.tensor([[True, False, True]])
    running = torch.tensor([[0, 2, 0]])
    a = conditional_argmax(q, avail, choosing, running)
    assert a.tolist() == [[1, 2, 1]]  # agent 1 keeps action 2 although 0 is its greedy; agent 2's 2 is masked


def figure1():
    """Figure 1: agent 1's first action spans t = 0..3, agent 2's first ends at t = 2; both second actions run
    to the end of a 6-step episode (not terminated). Rewards r_t = t + 1; V(row t + 1) = 10 + t."""
    seg_start = torch.tensor([[[0, 4], [0, 3]]])  # [B=1, n=2, K=2]
    seg_end = torch.tensor([[[3, 5], [2, 5]]])
    reward = torch.arange(1.0, 7.0).unsqueeze(0)  # [1, 6]
    next_value = (10.0 + torch.arange(6.0)).reshape(1, 6, 1)  # [1, T, 1]
    return seg_start, seg_end, reward, next_value


def test_macro_td_targets_on_figure1_episode():
    seg_start, seg_end, reward, next_value = figure1()
    seg_return = discounted_segment_returns(reward, seg_start, seg_end, G)
    # hand computation: R_m = sum over the action's own steps (Mac-SJERT does not reset it when agent 2 ends)
    r_agent1_first = 1 + G * 2 + G**2 * 3 + G**3 * 4
    r_agent2_first = 1 + G * 2 + G**2 * 3
    r_agent1_second = 5 + G * 6
    r_agent2_second = 4 + G * 5 + G**2 * 6
    expected_returns = [[r_agent1_first, r_agent1_second], [r_agent2_first, r_agent2_second]]
    np.testing.assert_allclose(seg_return[0].numpy(), expected_returns, rtol=1e-6)
    terminated = torch.zeros(1, 6)
    start, target = macro_targets(seg_start, seg_end, seg_return, terminated, next_value, G)
    expected = [[r_agent1_first + G**4 * 13, r_agent1_second + G**2 * 15],  # V(row 4) = 13, V(row 6) = 15
                [r_agent2_first + G**3 * 12, r_agent2_second + G**3 * 15]]  # V(row 3) = 12
    np.testing.assert_allclose(target[0, ..., 0].numpy(), expected, rtol=1e-6)
    assert start[0].tolist() == [[0, 4], [0, 3]]
    terminated[0, 5] = 1.0  # the task finished at t = 5: no bootstrap after the last actions
    _, target = macro_targets(seg_start, seg_end, seg_return, terminated, next_value, G)
    np.testing.assert_allclose(target[0, :, 1, 0].numpy(), [r_agent1_second, r_agent2_second], rtol=1e-6)


def _brute_nstep(r, d, term, filled, v, n):
    B, T = r.shape
    out = np.zeros((B, T))
    for b in range(B):
        last = int(filled[b].sum()) - 1
        for t in range(last + 1):
            g, scale = 0.0, 1.0
            for k in range(n):
                s = t + k
                g += scale * r[b, s]
                if term[b, s]:
                    break
                if k == n - 1 or s == last:
                    g += scale * d[b, s] * v[b, s]
                    break
                scale *= d[b, s]
            out[b, t] = g
    return out


def _brute_lambda(r, d, term, filled, v, lam):
    B, T = r.shape
    out = np.zeros((B, T))
    for b in range(B):
        last = int(filled[b].sum()) - 1
        g = 0.0
        for t in range(last, -1, -1):
            c = 0.0 if term[b, t] else 1.0
            l_t = 0.0 if t == last else lam
            g = r[b, t] + d[b, t] * c * ((1 - l_t) * v[b, t] + l_t * g)
            out[b, t] = g
    return out


def _random_case(seed):
    rng = np.random.default_rng(seed)
    B, T = 4, 9
    lengths = [9, 5, 7, 3]
    r = rng.normal(size=(B, T)).astype(np.float32)
    d = rng.uniform(0.5, 1.0, size=(B, T)).astype(np.float32)  # per-row discounts (Mac-JERT-like)
    filled = np.array([[1.0] * L + [0.0] * (T - L) for L in lengths], np.float32)
    term = np.zeros((B, T), np.float32)
    term[1, 4] = 1.0
    term[2, 3] = 1.0  # terminated mid-way (as if the rest were padding with garbage)
    filled[2, 4:] = 0.0
    r *= filled
    v = rng.normal(size=(B, T)).astype(np.float32)
    return r, d, term, filled, v


@pytest.mark.parametrize("n", [1, 3, 5, 20])
def test_nstep_matches_brute_force(n):
    r, d, term, filled, v = _random_case(n)
    got = nstep_returns(*map(torch.as_tensor, (r, d, term, filled)), torch.as_tensor(v)[..., None], n)[..., 0]
    want = _brute_nstep(r, d, term, filled, v, n)
    np.testing.assert_allclose(got.numpy() * filled, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("lam", [0.0, 0.8, 1.0])
def test_lambda_returns_match_brute_force(lam):
    r, d, term, filled, v = _random_case(7)
    got = lambda_returns(*map(torch.as_tensor, (r, d, term, filled)), torch.as_tensor(v)[..., None], lam)[..., 0]
    want = _brute_lambda(r, d, term, filled, v, lam)
    np.testing.assert_allclose(got.numpy() * filled, want, rtol=1e-5, atol=1e-5)
    if lam == 0.0:  # TD(0) is the one-step target
        one = nstep_returns(*map(torch.as_tensor, (r, d, term, filled)), torch.as_tensor(v)[..., None], 1)[..., 0]
        np.testing.assert_allclose(got.numpy() * filled, one.numpy() * filled, rtol=1e-5, atol=1e-6)
