"""A GRU unroll over whole sequences with a hand-written backward, for the learner's training pass.

``torch.nn.GRU`` on CPU records about 15 autograd nodes per time step (a GEMM, chunks, gates and their backward
nodes) and forms the weight gradients with one small GEMM per step. Here the forward is ``nn.GRU``'s own
(``torch.gru`` without autograd: a loop in C++); the backward recomputes the gates of many steps at once from
the saved hidden states, walks back through time with two ops per step (an elementwise product and one GEMM),
and forms every weight gradient with one GEMM per chunk of steps. Same equations and parameters as ``nn.GRU``
(PyTorch's gate order r, z, n):

    r = sigmoid(x W_ir + b_ir + h W_hr + b_hr)        z = sigmoid(x W_iz + b_iz + h W_hz + b_hz)
    n = tanh(x W_in + b_in + r * (h W_hn + b_hn))      h' = (1 - z) * n + z * h

Sequences may have different lengths (:func:`gru_packed`, the layout of ``nn.utils.rnn.PackedSequence``): rows
are time-major and step t holds the first ``steps[t]`` sequences, longest first, so padding costs nothing.
Values equal ``nn.GRU``'s exactly and gradients up to float rounding (tests/platform/nets/test_gru.py). On
CUDA the module's own (cuDNN) forward and backward run instead.
"""
from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable
from torch.nn.utils.rnn import PackedSequence

CHUNK_ELEMENTS = 1 << 16  # the backward walks time in chunks of about this many rows x H elements (cache-sized)


def gru_sequence(x: Tensor, gru: nn.GRU) -> Tensor:
    """Hidden states ``[L, N, H]`` of the one-layer, unidirectional, time-major ``gru`` over ``x`` ``[L, N, I]``
    from a zero initial state (what ``gru(x)[0]`` returns)."""
    L, N = x.shape[:2]
    return gru_packed(x.reshape(L * N, -1), (N,) * L, gru).view(L, N, -1)


def gru_packed(data: Tensor, steps: Sequence[int], gru: nn.GRU) -> Tensor:
    """Hidden states ``[R, H]`` of ``gru`` over packed sequences ``data`` ``[R, I]``: step t's rows follow step
    t - 1's, and are the first ``steps[t]`` sequences (non-increasing, positive, summing to R), each from h = 0."""
    if gru.num_layers != 1 or gru.bidirectional or gru.batch_first or not gru.bias:
        raise ValueError("gru_sequence supports one-layer, unidirectional, time-major GRUs with biases")
    steps = tuple(int(s) for s in steps)
    if not steps or steps[-1] < 1 or any(a < b for a, b in pairwise(steps)) or sum(steps) != data.shape[0]:
        raise ValueError(f"steps must be positive, non-increasing and sum to the {data.shape[0]} rows of data; "
                         f"got {len(steps)} steps summing to {sum(steps)}")
    if data.device.type != "cpu":  # cuDNN fuses the GRU's forward and backward: the module's own path
        if steps[0] == steps[-1]:
            return gru(data.view(len(steps), steps[0], -1))[0].reshape(data.shape[0], -1)
        return gru(PackedSequence(data, torch.tensor(steps, dtype=torch.int64)))[0].data
    params = (gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)
    if torch.is_grad_enabled() and (data.requires_grad or any(p.requires_grad for p in params)):
        return _GRUUnroll.apply(data, steps, *params)
    return _gru_forward(data, steps, *params)


def _gru_forward(data: Tensor, steps: tuple[int, ...], w_ih: Tensor, w_hh: Tensor, b_ih: Tensor,
                 b_hh: Tensor) -> Tensor:
    """nn.GRU's forward (a loop in C++) with these parameters, from h = 0: ``[R, H]``."""
    H = w_hh.shape[1]
    params = [w_ih, w_hh, b_ih, b_hh]
    if steps[0] == steps[-1]:  # equal lengths: the dense layout
        L, N = len(steps), steps[0]
        h0 = data.new_zeros(1, N, H)
        return torch.gru(data.view(L, N, -1), h0, params, True, 1, 0.0, False, False, False)[0].view(L * N, H)
    h0 = data.new_zeros(1, steps[0], H)
    sizes = torch.tensor(steps, dtype=torch.int64)  # PackedSequence keeps its batch sizes on the CPU
    return torch.gru(data, sizes, h0, params, True, 1, 0.0, False, False)[0]


class _GRUUnroll(torch.autograd.Function):
    """Autograd node for the whole unroll: data [R, I], the step sizes and the GRU's four parameters."""

    @staticmethod
    def forward(ctx, data, steps, w_ih, w_hh, b_ih, b_hh):
        out = _gru_forward(data, steps, w_ih, w_hh, b_ih, b_hh)  # [R, H]; autograd is off in Function.forward
        ctx.steps = steps
        ctx.save_for_backward(data, w_ih, w_hh, b_ih, b_hh, out)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        data, w_ih, w_hh, b_ih, b_hh, out = ctx.saved_tensors
        steps = ctx.steps
        H = out.shape[1]
        offsets = [0]
        for s in steps:
            offsets.append(offsets[-1] + s)
        grad_out = grad_out.contiguous()
        eye = torch.eye(H, dtype=w_hh.dtype, device=w_hh.device)
        w_back = torch.cat([w_hh[:2 * H], eye, w_hh[2 * H:]])  # [W_hr; W_hz; I; W_hn]: see _chunk_backward
        dh = grad_out.clone()  # d loss / d h_t (output plus recurrent paths); last steps keep the output's
        grads = (data.new_zeros(w_ih.shape), data.new_zeros(w_hh.shape), data.new_zeros(4 * H))
        grad_x = torch.empty_like(data)
        target = max(1, CHUNK_ELEMENTS // H)  # rows per chunk
        chunks, end = [], len(steps)
        for t in range(len(steps) - 1, -1, -1):  # from the end, chunks of about `target` rows
            if offsets[end] - offsets[t] >= target or t == 0:
                chunks.append((t, end))
                end = t
        for s, e in chunks:
            _chunk_backward(data, w_ih, w_hh, b_ih, b_hh, out, grad_out, w_back, dh, grads, grad_x, steps, offsets,
                            s, e)
        sums = grads[2]
        return (grad_x if ctx.needs_input_grad[0] else None, None, grads[0], grads[1], sums[:3 * H],
                torch.cat([sums[:2 * H], sums[3 * H:]]))


def _previous_rows(out: Tensor, steps, offsets, s: int, e: int) -> Tensor:
    """The states steps s..e-1 (s >= 1) started from: for each, the first steps[t] rows of step t - 1."""
    if steps[s - 1] == steps[e - 1]:  # equal sizes: one contiguous block
        return out[offsets[s - 1]:offsets[e - 1]]
    starts = torch.tensor(offsets[s - 1:e - 1], device=out.device)  # first row of each previous step
    sizes = torch.tensor(steps[s:e], device=out.device)
    within = torch.arange(int(sizes.sum()), device=out.device) - torch.repeat_interleave(sizes.cumsum(0) - sizes, sizes)
    return out.index_select(0, torch.repeat_interleave(starts, sizes) + within)


def _chunk_backward(data, w_ih, w_hh, b_ih, b_hh, out, grad_out, w_back, dh, grads, grad_x, steps, offsets, s, e):
    """Backward through steps s..e-1: needs dh of step e-1 complete; adds the recurrent part to dh of steps
    s-1..e-2, fills grad_x of these rows and adds to grads (d W_ih, d W_hh, the 4H bias sums in slot order)."""
    H = out.shape[1]
    lo, hi = offsets[s], offsets[e]
    M = hi - lo
    x2 = data[lo:hi]
    k = steps[0] if s == 0 else 0  # rows that start from h = 0 (step 0)
    hp = _previous_rows(out, steps, offsets, max(s, 1), e) if e > max(s, 1) else out[:0]  # [M - k, H]
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
    c = out.new_empty(M, 4, H)
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
        a, n = offsets[t], steps[t]
        dt = c[a - lo:a - lo + n]
        dt.mul_(dh[a:a + n].unsqueeze(1))  # coefficients -> gradients of step t
        if t:
            p = offsets[t - 1]
            torch.addmm(grad_out[p:p + n], dt.view(n, 4 * H), w_back, out=dh[p:p + n])
    torch.mul(dh[lo:hi], dn, out=c[:, 2])  # the direct slot becomes x W_in's gradient (not scaled by r)
    flat = c.view(M, 4 * H)
    dgi = flat[:, :3 * H]  # [r, z, n] of the input side: a strided view, no copy
    g_ih, g_hh, sums = grads
    g_ih.addmm_(dgi.t(), x2)  # one GEMM per chunk for each weight gradient
    g_hh[:2 * H].addmm_(flat[k:, :2 * H].t(), hp)
    g_hh[2 * H:].addmm_(flat[k:, 3 * H:].t(), hp)
    sums += flat.sum(0)
    torch.mm(dgi, w_ih, out=grad_x[lo:hi])
