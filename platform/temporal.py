"""Temporal positional encoding f_e (ToMacVF eq. 2-3): sinusoidal features of absolute time t and of a
macro-action's elapsed time t_m. Computed when a batch is built or an action is chosen, never stored."""
from __future__ import annotations

import numpy as np
import torch


def _frequencies(dim: int, base: float) -> np.ndarray:
    if dim < 2 or dim % 2:
        raise ValueError(f"positional encoding dim must be an even integer >= 2, got {dim}")
    return 1.0 / base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)  # [dim/2]


def positional_encoding(t, dim: int, base: float = 10000.0):
    """f_e(t): ``[..., dim]`` with sin at even and cos at odd positions. ``t`` is a numpy array or a tensor of
    integer times of any shape; the result has the same type (float32)."""
    freqs = _frequencies(dim, base)
    if isinstance(t, torch.Tensor):
        f = torch.as_tensor(freqs, dtype=torch.float32, device=t.device)
        ang = t.to(torch.float32).unsqueeze(-1) * f  # [..., dim/2]
        return torch.stack((ang.sin(), ang.cos()), dim=-1).flatten(-2)  # [..., dim]
    ang = np.asarray(t, np.float64)[..., None] * freqs  # [..., dim/2]
    return np.stack((np.sin(ang), np.cos(ang)), axis=-1).reshape(*ang.shape[:-1], dim).astype(np.float32)
