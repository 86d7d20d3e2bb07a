"""What the baselines read from a Mac-CERT / Mac-JERT batch: each agent's own decision sequence (its Mac-CERT,
gathered from the squeezed rows by the segment tables) and the joint inputs of the centralised networks.

Agent i's k-th action starts at squeezed row ``seg_start[b, i, k]`` and it decides again at row
``seg_end[b, i, k] + 1``; its decision rows are ``[seg_start[..., 0], seg_end + 1]`` (``K + 1`` rows, the last
real one being the row after its last action: the next decision or the final observation). Sequences are laid
out ``[B, K(+1), n, ...]`` so one agent-network call (agents side by side, as when acting) unrolls every agent's
own history; rows past an agent's last action are padding (``mask`` 0).
"""
from __future__ import annotations

import torch
from torch import Tensor

from asyncmarl.platform.nets.joint import joint_input


def decision_rows(b: dict[str, Tensor]) -> Tensor:
    """Squeezed row of each agent's decisions ``[B, n, K+1]`` (0 on padding)."""
    mask = b["seg_mask"] > 0  # [B, n, K]
    nxt = torch.where(mask, b["seg_end"] + 1, 0)
    first = torch.where(mask[..., :1], b["seg_start"][..., :1], 0)
    return torch.cat([first, nxt], -1).long()


def at_agent_rows(x: Tensor, rows: Tensor) -> Tensor:
    """``x[b, rows[b, i, l], i, ...]`` as ``[B, L, n, ...]`` from ``x`` ``[B, R, n, ...]`` and ``rows``
    ``[B, n, L]``."""
    idx = rows.transpose(1, 2)  # [B, L, n]
    idx = idx.reshape(idx.shape + (1,) * (x.dim() - 3)).expand(idx.shape + x.shape[3:])
    return x.gather(1, idx)


def at_rows(x: Tensor, rows: Tensor) -> Tensor:
    """``x[b, rows[b, i, l], ...]`` as ``[B, L, n, ...]`` from a joint tensor ``x`` ``[B, R, ...]`` (one value
    per row) and ``rows`` ``[B, n, L]``."""
    B, n, L = rows.shape
    flat = rows.transpose(1, 2).reshape(B, L * n)  # [B, L*n]
    idx = flat.reshape(flat.shape + (1,) * (x.dim() - 2)).expand(flat.shape + x.shape[2:])
    return x.gather(1, idx).reshape((B, L, n) + x.shape[2:])


def cert_sequences(b: dict[str, Tensor]) -> dict[str, Tensor]:
    """Each agent's Mac-CERT, agents side by side.

    rows ``[B, n, K+1]``; obs ``[B, K+1, n, O]`` (frozen macro-observations at its decisions), avail ``[B, K+1,
    n, A]``, prev_action ``[B, K+1, n]`` (its previous action, -1 before the first); action, reward (its
    accumulated ``cert_return``), discount (gamma ** duration), terminated (at the action's end), mask and
    t_start (absolute step of the decision) ``[B, K, n]``.
    """
    rows = decision_rows(b)  # [B, n, K+1]
    start = torch.where(b["seg_mask"] > 0, b["seg_start"], 0).long()  # [B, n, K] (a step row, also on padding)
    action = at_agent_rows(b["actions"], start)  # [B, K, n]
    none = torch.full_like(action[:, :1], -1)
    mask = b["seg_mask"].transpose(1, 2)  # [B, K, n]
    end = b["seg_end"].clamp(min=0)  # [B, n, K]
    return {
        "rows": rows,
        "obs": at_agent_rows(b["obs"], rows), "avail": at_agent_rows(b["action_mask"], rows),
        "prev_action": torch.cat([none, torch.where(mask > 0, action, -1)], 1),
        "action": action, "mask": mask,
        "reward": b["cert_return"].transpose(1, 2), "discount": b["cert_discount"].transpose(1, 2),
        "terminated": b["terminated"].gather(1, end.reshape(end.shape[0], -1)).reshape(end.shape).transpose(1, 2),
        "t_start": b["t"].gather(1, start.reshape(start.shape[0], -1)).reshape(start.shape).transpose(1, 2),
    }


def joint_obs(b: dict[str, Tensor]) -> Tensor:
    """Joint observation of every squeezed row ``[B, T+1, n * O]``."""
    return joint_input(b["obs"])


def per_agent_nstep(reward: Tensor, discount: Tensor, terminated: Tensor, mask: Tensor, next_value: Tensor,
                    n_step: int) -> Tensor:
    """n-step targets ``[B, K, n]`` along each agent's own sequence (inputs ``[B, K, n]``; ``next_value`` the
    bootstrap value at each transition's next decision row)."""
    from asyncmarl.learner.targets import nstep_returns

    B, K, n = reward.shape
    flat = [x.transpose(1, 2).reshape(B * n, K) for x in (reward, discount, terminated, mask)]
    v = next_value.transpose(1, 2).reshape(B * n, K, 1)
    return nstep_returns(*flat, v, n_step).reshape(B, n, K).transpose(1, 2)
