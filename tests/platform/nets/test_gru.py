"""The hand-written GRU backward against torch.nn.GRU: outputs and every gradient (input, weights, biases)."""
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

import asyncmarl.platform.nets.gru as gru_module
from asyncmarl.platform.nets.gru import gru_packed, gru_sequence


def _grads(out_fn, x, gru, weight):
    x.grad = None
    gru.zero_grad(set_to_none=True)
    out = out_fn()
    (out * weight).sum().backward()
    return out.detach(), [x.grad] + [p.grad for p in gru.parameters()]


@pytest.mark.parametrize("L, N, I, H, chunk", [
    (1, 3, 4, 5, 1 << 16),  # a single step (no recurrent gradient)
    (37, 6, 7, 8, 1 << 16),  # one chunk
    (37, 6, 7, 8, 5 * 6 * 8),  # chunks of 5 steps, the last one short: carries dh across chunk borders
    (9, 4, 3, 16, 1),  # one step per chunk
])
def test_values_and_gradients_match_nn_gru(monkeypatch, L, N, I, H, chunk):
    monkeypatch.setattr(gru_module, "CHUNK_ELEMENTS", chunk)
    torch.manual_seed(0)
    gru = nn.GRU(I, H)
    for p in gru.parameters():  # weights large enough that gates saturate somewhere and h is not tiny
        p.data.uniform_(-0.8, 0.8)
    x = torch.randn(L, N, I, requires_grad=True)
    weight = torch.randn(L, N, H)  # a loss that reads every step
    ref_out, ref_grads = _grads(lambda: gru(x)[0], x, gru, weight)
    out, grads = _grads(lambda: gru_sequence(x, gru), x, gru, weight)
    torch.testing.assert_close(out, ref_out, rtol=0, atol=0)  # the forward is nn.GRU's own
    for name, g, ref in zip(["x", "weight_ih", "weight_hh", "bias_ih", "bias_hh"], grads, ref_grads, strict=True):
        assert g is not None and g.shape == ref.shape, name
        torch.testing.assert_close(g, ref, rtol=1e-5, atol=1e-6, msg=lambda m, name=name: f"{name}: {m}")


def test_gradient_of_parameters_only_and_no_grad_path():
    torch.manual_seed(1)
    gru = nn.GRU(5, 6)
    x = torch.randn(12, 4, 5)  # inputs that need no gradient (e.g. a frozen encoder)
    out = gru_sequence(x, gru)
    out.square().sum().backward()
    got = [p.grad.clone() for p in gru.parameters()]
    gru.zero_grad(set_to_none=True)
    gru(x)[0].square().sum().backward()
    for g, ref in zip(got, (p.grad for p in gru.parameters()), strict=True):
        torch.testing.assert_close(g, ref, rtol=1e-5, atol=1e-6)
    with torch.no_grad():  # target networks: no autograd node at all
        out = gru_sequence(x, gru)
    assert out.grad_fn is None
    torch.testing.assert_close(out, gru(x)[0].detach(), rtol=0, atol=0)


def test_gradcheck_in_double_precision():
    torch.manual_seed(2)
    gru = nn.GRU(3, 4).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    params = tuple(p.detach().clone().requires_grad_(True) for p in gru.parameters())
    # analytic gradients of the whole unroll against finite differences, for the input and all four parameters
    steps = (2,) * 6
    assert torch.autograd.gradcheck(gru_module._GRUUnroll.apply, (x.reshape(12, 3), steps, *params))
    packed = torch.randn(9, 3, dtype=torch.float64, requires_grad=True)  # lengths 4, 3, 2
    assert torch.autograd.gradcheck(gru_module._GRUUnroll.apply, (packed, (3, 3, 2, 1), *params))


@pytest.mark.parametrize("chunk", [1 << 16, 40, 1])
def test_packed_sequences_of_different_lengths_match_nn_gru(monkeypatch, chunk):
    monkeypatch.setattr(gru_module, "CHUNK_ELEMENTS", chunk)  # chunks that start and end inside length changes
    torch.manual_seed(3)
    gru = nn.GRU(4, 5)
    lengths = torch.tensor([9, 9, 6, 3, 3, 1])
    padded = torch.randn(9, 6, 4)
    packed = pack_padded_sequence(padded, lengths)
    data = packed.data.clone().requires_grad_(True)
    weight = torch.randn(data.shape[0], 5)
    ref = gru(PackedSequence(data, packed.batch_sizes))[0].data
    (ref * weight).sum().backward()
    ref_grads = [data.grad.clone()] + [p.grad.clone() for p in gru.parameters()]
    data.grad = None
    gru.zero_grad(set_to_none=True)
    out = gru_packed(data, packed.batch_sizes.tolist(), gru)
    torch.testing.assert_close(out, ref.detach(), rtol=0, atol=0)
    (out * weight).sum().backward()
    for g, r in zip([data.grad] + [p.grad for p in gru.parameters()], ref_grads, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-6)


def test_bad_step_sizes_are_refused():
    gru = nn.GRU(4, 5)
    for steps in ((3, 4), (4, 0), (4, 2)):  # increasing, an empty step, not summing to the rows
        with pytest.raises(ValueError, match="non-increasing and sum to the 7 rows"):
            gru_packed(torch.randn(7, 4), steps, gru)


def test_unsupported_configurations_are_refused():
    x = torch.randn(3, 2, 4)
    for kwargs in (dict(num_layers=2), dict(bidirectional=True), dict(batch_first=True), dict(bias=False)):
        with pytest.raises(ValueError, match="one-layer, unidirectional, time-major GRUs with biases"):
            gru_sequence(x, nn.GRU(4, 5, **kwargs))
