"""A GRU unroll over whole sequences with a hand-written backward, for the learner's training pass.

``torch.nn.GRU`` on CPU records about 15 autograd nodes per time step (a GEMM, chunks, gates and their backward
nodes) and forms the weight gradients with one small GEMM per step. Here the forward is ``nn.GRU``'s own
(``torch.gru`` without autograd: a loop in C++); the backward recomputes the gates of many steps at once from
the saved hidden states, walks back through time with two ops per step (an elementwise product and one GEMM),
and forms every weight gradient with one GEMM per chunk of steps. Same equations and parameters as ``nn.GRU``
(PyTorch's gate order r, z, n):

    r = sigmoid(x W_ir + b_ir + h W_hr + b_hr)        z = sigmoid(x W_iz + b_iz + h W_hz + b_hz)
    n = tanh(x W_in + b_in + r * (h W_hn + b_hn))      h' = (1 - z) * n + z * h

Values equal ``nn.GRU``'s exactly and gradients up to float rounding (tests/platform/nets/test_gru.py).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable


def gru_sequence(x: Tensor, gru: nn.GRU) -> Tensor:
    """Hidden states ``[L, N, H]`` of the one-layer, unidirectional, time-major ``gru`` over ``x`` ``[L, N, I]``
    from a zero initial state (what ``gru(x)[0]`` returns)."""
    if gru.num_layers != 1 or gru.bidirectional or gru.batch_first or not gru.bias:
        raise ValueError("gru_sequence supports one-layer, unidirectional, time-major GRUs with biases")
    params = (gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)
    if torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in params)):
        return _GRUUnroll.apply(x, *params)
    return _gru_forward(x, *params)


def _gru_forward(x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> Tensor:
    """nn.GRU's forward (a loop in C++) with these parameters, from h = 0."""
    h0 = x.new_zeros(1, x.shape[1], w_hh.shape[1])
    return torch.gru(x, h0, [w_ih, w_hh, b_ih, b_hh], True, 1, 0.0, False, False, False)[0]


class _GRUUnroll(torch.autograd.Function):
    """Autograd node for the whole unroll: x [L, N, I] and the GRU's four parameters."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh):
        out = _gru_forward(x, w_ih, w_hh, b_ih, b_hh)  # [L, N, H]; autograd is off inside Function.forward
        ctx.save_for_backward(x, w_ih, w_hh, b_ih, b_hh, out)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x, w_ih, w_hh, b_ih, b_hh, out = ctx.saved_tensors
        L, N, H = out.shape
        grad_out = grad_out.contiguous()
        eye = torch.eye(H, dtype=w_hh.dtype, device=w_hh.device)
        w_back = torch.cat([w_hh[:2 * H], eye, w_hh[2 * H:]])  # [W_hr; W_hz; I; W_hn]: see _chunk_backward
        dh = torch.empty_like(out)  # d loss / d h_t (output plus recurrent paths)
        dh[L - 1] = grad_out[L - 1]
        grads = (x.new_zeros(w_ih.shape), x.new_zeros(w_hh.shape), x.new_zeros(4 * H))
        grad_x = torch.empty_like(x)
        step = max(1, min(L, CHUNK_ELEMENTS // (N * H)))  # steps per chunk
        for start in range(((L - 1) // step) * step, -1, -step):
            _chunk_backward(x, w_ih, w_hh, b_ih, b_hh, out, grad_out, w_back, dh, grads, grad_x,
                            start, min(L, start + step))
        sums = grads[2]
        return (grad_x if ctx.needs_input_grad[0] else None, grads[0], grads[1], sums[:3 * H],
                torch.cat([sums[:2 * H], sums[3 * H:]]))


CHUNK_ELEMENTS = 1 << 16  # the backward walks time in chunks of about this many N x H elements (cache-sized)


def _chunk_backward(x, w_ih, w_hh, b_ih, b_hh, out, grad_out, w_back, dh, grads, grad_x, s, e):
    """Backward through steps s..e-1: needs dh[e-1] complete; fills dh[s-1..e-2] and grad_x[s:e] and adds to
    grads (d W_ih, d W_hh, the 4H bias sums in slot order)."""
    N, H = out.shape[1:]
    C = e - s
    M = C * N
    x2 = x[s:e].reshape(M, -1)
    hp = out[max(s - 1, 0):e - 1].reshape(-1, H)  # states these steps started from (step 0 starts from 0)
    k = M - hp.shape[0]  # rows that start from h = 0 (N for the first chunk, else 0)
    # the gates of these steps at once (the forward kept none)
    gi = torch.addmm(b_ih, x2, w_ih.t())  # [M, 3H]
    gh = torch.empty_like(gi)
    gh[:k] = b_hh
    torch.addmm(b_hh, hp, w_hh.t(), out=gh[k:])
    rz = torch.add(gi[:, :2 * H], gh[:, :2 * H]).sigmoid_()
    r, z = rz[:, :H], rz[:, H:]
    ghn = gh[:, 2 * H:]
    new = torch.addcmul(gi[:, 2 * H:], r, ghn).tanh_()
    # per step, d h_t / d(r, z pre-activations, h_{t-1} directly, h W_hn + b_hn): only dh is sequential.
    # Slots [r, z, direct, n] so that [W_hr; W_hz; I; W_hn] carries dh back in one GEMM per step.
    d = out.new_empty(C, N, 4, H)
    c = d.view(M, 4, H)
    one_minus_z = torch.rsub(z, 1.0)
    dn = torch.addcmul(one_minus_z, one_minus_z, new * new, value=-1.0)  # (1 - z)(1 - n^2): through n's tanh
    torch.mul(dn, r, out=c[:, 3])  # h W_hn + b_hn
    t = c[:, 3] * ghn
    torch.addcmul(t, t, r, value=-1.0, out=c[:, 0])  # r's pre-activation: ... * gh_n * r (1 - r)
    torch.sub(hp, new[k:], out=c[k:, 1])  # z's pre-activation: (h_{t-1} - n) z (1 - z)
    torch.neg(new[:k], out=c[:k, 1])
    c[:, 1].mul_(z * one_minus_z)
    c[:, 2] = z  # h' = ... + z h_{t-1}
    for t in range(e - 1, s - 1, -1):
        dt = d[t - s]
        dt.mul_(dh[t].unsqueeze(1))  # coefficients -> gradients of step t
        if t:
            torch.addmm(grad_out[t - 1], dt.view(N, 4 * H), w_back, out=dh[t - 1])
    torch.mul(dh[s:e].reshape(M, H), dn, out=c[:, 2])  # the direct slot becomes x W_in's gradient (not scaled by r)
    flat = d.view(M, 4 * H)
    dgi = flat[:, :3 * H]  # [r, z, n] of the input side: a strided view, no copy
    g_ih, g_hh, sums = grads
    g_ih.addmm_(dgi.t(), x2)  # one GEMM per chunk for each weight gradient
    g_hh[:2 * H].addmm_(flat[k:, :2 * H].t(), hp)
    g_hh[2 * H:].addmm_(flat[k:, 3 * H:].t(), hp)
    sums += flat.sum(0)
    torch.mm(dgi, w_ih, out=grad_x[s:e].view(M, -1))
