"""ATPG: the causal temporal mask, alpha_ii = 0, and agent-attention weights below delta set to zero."""
import torch

from asyncmarl.learner.atpg import ATPG
from asyncmarl.learner.config import AtpgConfig


def _atpg(delta=0.05, n_first=8):
    torch.manual_seed(0)
    return ATPG(AtpgConfig(embed_dim=16, delta=delta), feature_dim=9, state_dim=5, first_width=n_first)


def test_future_inputs_do_not_change_the_encoding_at_t():
    atpg = _atpg()
    feats, state = torch.randn(2, 10, 4, 9), torch.randn(2, 10, 5)
    t = 4
    e = atpg.temporal(feats)
    w1, b1 = atpg(feats, state)
    feats2, state2 = feats.clone(), state.clone()
    feats2[:, t + 1:] = torch.randn_like(feats2[:, t + 1:]) * 10
    state2[:, t + 1:] = torch.randn_like(state2[:, t + 1:])
    e2 = atpg.temporal(feats2)
    w1b, b1b = atpg(feats2, state2)
    torch.testing.assert_close(e2[:, :t + 1], e[:, :t + 1])
    torch.testing.assert_close(w1b[:, :t + 1], w1[:, :t + 1])
    torch.testing.assert_close(b1b[:, :t + 1], b1[:, :t + 1])
    assert not torch.allclose(e2[:, t + 1:], e[:, t + 1:])
    # and a change at t itself does reach t
    feats2[:, t] += 1.0
    assert not torch.allclose(atpg.temporal(feats2)[:, t], e[:, t])


def test_agent_attention_no_self_weight_and_delta_threshold():
    delta = 0.2
    atpg = _atpg(delta=delta)
    for p in atpg.agent_qkv.parameters():
        p.data.normal_(0, 2.0)  # peaked attention so that some weights fall below delta
    e = torch.randn(3, 7, 5, 16)
    e_hat, alpha = atpg.agent_attention(e)
    diag = torch.diagonal(alpha, dim1=-2, dim2=-1)
    assert torch.all(diag == 0)
    assert torch.all((alpha == 0) | (alpha >= delta))
    assert (alpha == 0).sum() > diag.numel()  # some off-diagonal weights were cut
    # e_hat is built only from the kept weights
    _, _, v = atpg.agent_qkv(e).chunk(3, dim=-1)
    torch.testing.assert_close(e_hat, alpha @ v)


def test_single_agent_has_no_one_to_attend():
    atpg = _atpg()
    e_hat, alpha = atpg.agent_attention(torch.randn(2, 3, 1, 16))
    assert torch.all(alpha == 0) and torch.all(e_hat == 0)
    w1, b1 = atpg(torch.randn(2, 3, 1, 9), torch.randn(2, 3, 5))
    assert torch.isfinite(w1).all() and (w1 >= 0).all() and (b1 >= 0).all()


def test_attend_shortcut_for_one_or_two_agents_equals_the_general_attention():
    """The 1-2 agent shortcut returns the general attention's values and gives every parameter the same
    gradient (exactly zero for the queries and keys: one logit left after alpha_ii = 0)."""
    for n in (1, 2, 3):
        atpg = _atpg(delta=0.3)  # delta below 1: a lone partner's weight 1 is kept
        for p in atpg.agent_qkv.parameters():
            p.data.normal_(0, 1.0)
        e = torch.randn(3, 7, n, 16, requires_grad=True)
        g = torch.randn(3, 7, n, 16)
        ref, _ = atpg.agent_attention(e)
        (ref * g).sum().backward()
        ref_grads = (e.grad.clone(), atpg.agent_qkv.weight.grad.clone())
        e.grad = None
        atpg.zero_grad(set_to_none=True)
        out = atpg.attend(e)
        torch.testing.assert_close(out, ref, rtol=0, atol=0)
        if out.requires_grad:  # one agent: a constant 0, nothing to differentiate
            (out * g).sum().backward()
        got_e = e.grad if e.grad is not None else torch.zeros_like(e)
        got_w = atpg.agent_qkv.weight.grad
        got_w = got_w if got_w is not None else torch.zeros_like(ref_grads[1])
        torch.testing.assert_close(got_e, ref_grads[0], rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(got_w, ref_grads[1], rtol=1e-6, atol=1e-7)
        if n == 2:
            assert torch.all(ref_grads[1][:2 * 16] == 0)  # queries and keys get no gradient on either path
