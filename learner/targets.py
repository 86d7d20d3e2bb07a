"""TD targets: the conditional argmax of To-Mac-IGM, n-step and TD(lambda) returns over per-row discounts, and
the macro-TD targets at each agent's segment end (ToMacVF eq. 13-14). Pure tensor functions; values carry a
trailing axis X (1 for a mixed Q_tot, n for IQL's per-agent values)."""
from __future__ import annotations

import torch
from torch import Tensor

NEG = -1e9  # logit for unavailable actions (finite: padded rows must not produce NaN)


def sanitize_available(avail: Tensor) -> Tensor:
    """Rows where nothing is available (padding) allow everything, so maxima stay finite."""
    return avail | ~avail.any(-1, keepdim=True)


def conditional_argmax(q: Tensor, avail: Tensor, choosing: Tensor, running: Tensor) -> Tensor:
    """Joint action ``[..., n]``: agents whose action ended (``choosing``) take their greedy available action, the
    others keep their ``running`` one (To-Mac-IGM eq. 7). ``q``/``avail`` ``[..., n, A]``."""
    greedy = q.masked_fill(~sanitize_available(avail), NEG).argmax(-1)
    return torch.where(choosing, greedy, running)


def _shift(x: Tensor, k: int) -> Tensor:
    """x[:, t + k] along dim 1, zero beyond the end."""
    if k == 0:
        return x
    pad = torch.zeros_like(x[:, :k])
    return torch.cat([x[:, k:], pad], dim=1)


def nstep_returns(reward: Tensor, discount: Tensor, terminated: Tensor, filled: Tensor, next_value: Tensor,
                  n: int) -> Tensor:
    """n-step targets ``[B, T, X]``.

    reward/discount/terminated/filled ``[B, T]`` (discount[t] multiplies what comes after row t: gamma on
    per-step batches, gamma ** duration on Mac-JERT views); next_value ``[B, T, X]`` is the bootstrap value of
    row t + 1. The sum stops at a terminal step (no bootstrap) or at the last real step (bootstrap there).
    """
    reward, discount, term, filled = (x.unsqueeze(-1) for x in (reward, discount, terminated, filled))
    alive = filled  # row t + k is reachable and real
    scale = torch.ones_like(discount)
    out = torch.zeros_like(next_value)
    for k in range(n):
        r_k, d_k, c_k = _shift(reward, k), _shift(discount, k), 1.0 - _shift(term, k)
        out = out + alive * scale * r_k
        more = _shift(filled, k + 1) * c_k if k < n - 1 else torch.zeros_like(c_k)
        stop = alive * (1.0 - more)  # the fold ends at row t + k: bootstrap from row t + k + 1
        out = out + stop * scale * d_k * c_k * _shift(next_value, k)
        scale = scale * d_k
        alive = alive * more
    return out


def lambda_returns(reward: Tensor, discount: Tensor, terminated: Tensor, filled: Tensor, next_value: Tensor,
                   lam: float) -> Tensor:
    """TD(lambda) targets ``[B, T, X]``: G_t = r_t + d_t (1 - term_t) ((1 - lam) V_{t+1} + lam G_{t+1}), with
    lam = 0 at the last real step (its successor has no return). Same inputs as :func:`nstep_returns`."""
    T = reward.shape[1]
    reward, discount, term, filled = (x.unsqueeze(-1) for x in (reward, discount, terminated, filled))
    cont = lam * _shift(filled, 1)  # [B, T, 1]
    out = torch.empty_like(next_value)
    g = torch.zeros_like(next_value[:, 0])
    for t in reversed(range(T)):  # a linear recursion with varying coefficients: one fold over time
        bootstrap = (1.0 - cont[:, t]) * next_value[:, t] + cont[:, t] * g
        g = reward[:, t] + discount[:, t] * (1.0 - term[:, t]) * bootstrap
        out[:, t] = g
    return out


def macro_targets(seg_start: Tensor, seg_end: Tensor, seg_return: Tensor, terminated: Tensor, next_value: Tensor,
                  gamma: float) -> tuple[Tensor, Tensor]:
    """Macro-TD (eq. 14) for every segment ``[B, n, K]``: returns (row of the segment's start ``[B, n, K]``,
    target ``[B, n, K, X]`` = R_m + gamma ** duration * (1 - terminated at its end) * V(row end + 1))."""
    B, n, K = seg_start.shape
    T = terminated.shape[1]
    end = seg_end.long().clamp(0, T - 1)
    start = seg_start.long().clamp(0, T - 1)
    flat_end = end.reshape(B, n * K)
    term = terminated.gather(1, flat_end).reshape(B, n, K)
    X = next_value.shape[-1]
    v = next_value.gather(1, flat_end.unsqueeze(-1).expand(B, n * K, X)).reshape(B, n, K, X)
    dur = (end - start + 1).to(next_value.dtype)
    target = seg_return.unsqueeze(-1) + (gamma ** dur * (1.0 - term)).unsqueeze(-1) * v
    return start, target


def gather_rows(values: Tensor, rows: Tensor) -> Tensor:
    """values ``[B, T, X]`` at rows ``[B, n, K]`` -> ``[B, n, K, X]``."""
    B, n, K = rows.shape
    X = values.shape[-1]
    return values.gather(1, rows.reshape(B, n * K, 1).expand(B, n * K, X)).reshape(B, n, K, X)


def discounted_segment_returns(reward: Tensor, seg_start: Tensor, seg_end: Tensor, gamma: float) -> Tensor:
    """R_m = sum_{t=start}^{end} gamma^(t - start) r_t ``[B, n, K]`` from per-step rewards ``[B, T]`` (used when
    the rewards are replaced, e.g. by LeGEM's redistribution). Float64 prefix sums, no loops."""
    r = reward.double()
    B, T = r.shape
    powers = gamma ** torch.arange(T, dtype=torch.float64, device=r.device)  # [T]
    csum = torch.cat([torch.zeros(B, 1, dtype=torch.float64, device=r.device), (r * powers).cumsum(1)], dim=1)
    s = seg_start.long().clamp(0, T - 1)
    e = seg_end.long().clamp(0, T - 1)
    B_, n, K = s.shape
    hi = csum.gather(1, (e + 1).reshape(B, -1)).reshape(B, n, K)
    lo = csum.gather(1, s.reshape(B, -1)).reshape(B, n, K)
    return ((hi - lo) / powers[s]).to(reward.dtype)
