"""Reward redistribution (paper eq. 2): move each reward r_t to its pivot step e_t < t, leaving beta * r_t at t.

Iterating t = 0..T-1 as the paper does, a move only ever writes to an earlier step than its source, so the
loop equals one vectorised pass: out = r * (beta where moved, else 1), then out[e_t] += r_t for every moved t.
(our design) Rewards mapping to the same pivot add up, and a pivot's own reward is kept (the paper's eq. 2
overwrites r^{e_t} with r_t); the total thus grows by beta * (sum of moved rewards), as in the paper.
"""
from __future__ import annotations

import numpy as np
import torch


def redistribute_numpy(reward: np.ndarray, pivots: np.ndarray, beta: float) -> np.ndarray:
    """``reward`` [B, T] float, ``pivots`` [B, T] int (e_t; t where nothing moves) -> [B, T] same dtype."""
    t = np.arange(reward.shape[1])[None, :]  # [1, T]
    moved = (pivots < t) & (reward != 0)  # [B, T]
    out = np.where(moved, reward * reward.dtype.type(beta), reward).astype(reward.dtype)
    rows, cols = np.nonzero(moved)
    np.add.at(out, (rows, pivots[rows, cols]), reward[rows, cols])
    return out


def redistribute_torch(reward: torch.Tensor, pivots: np.ndarray, beta: float) -> torch.Tensor:
    """``reward`` [B, T] tensor, ``pivots`` [B, T] int array -> [B, T] tensor (same dtype and device)."""
    e = torch.as_tensor(pivots, dtype=torch.int64, device=reward.device)  # [B, T]
    t = torch.arange(reward.shape[1], device=reward.device)[None, :]  # [1, T]
    moved = (e < t) & (reward != 0)  # [B, T]
    out = torch.where(moved, reward * beta, reward)
    rows, cols = torch.nonzero(moved, as_tuple=True)
    return out.index_put((rows, e[rows, cols]), reward[rows, cols], accumulate=True)
