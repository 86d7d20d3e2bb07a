"""Micro-transitions (ToMacVF eq. 4) and macro-transitions (eq. 5) derived from a sampled Mac-SJERT batch.

The learner works on the padded batch directly; these flatten the valid ones, for tests, analysis and
learners that want transition lists. Observations are the real ones (what Mac-SJERT stores); ``t``
and ``elapsed`` are what the agent network encodes as f_e(t), f_e(t_m).
"""
from __future__ import annotations

import torch

from asyncmarl.platform.roles import Batch


def micro_transitions(batch: Batch) -> dict[str, torch.Tensor]:
    """T^{t:t+1} = {s_t, o_t, m_t, r_t, s_{t+1}, o_{t+1}} for every valid step; leading axis N = filled steps."""
    b, t = torch.nonzero(batch["filled"] > 0, as_tuple=True)  # [N] each
    return {
        "episode_id": batch["episode_id"][b], "t": t,
        "state": batch["state"][b, t], "obs": batch["real_obs"][b, t],  # [N, S], [N, n, O]
        "actions": batch["actions"][b, t], "elapsed": batch["elapsed"][b, t],  # [N, n]
        "reward": batch["reward"][b, t], "terminated": batch["terminated"][b, t],  # [N]
        "next_state": batch["state"][b, t + 1], "next_obs": batch["real_obs"][b, t + 1],
    }


def macro_transitions(batch: Batch, agent: int | None = None) -> dict[str, torch.Tensor]:
    """T_{m_k^i} = {s, o, m, R_m, s', o'} for every valid segment (of ``agent`` only, if given).

    ``s, o, m`` are taken at the action's first step, ``s', o'`` at the row after its last step; ``duration``
    is the number of steps it ran, so a macro-TD target is ``R_m + gamma^duration * (1 - terminated) * V(s')``.
    """
    mask = batch["seg_mask"] > 0  # [B, n, K]
    if agent is not None:
        if not 0 <= agent < mask.shape[1]:
            raise ValueError(f"agent must be in [0, {mask.shape[1]}), got {agent}")
        mask = mask & (torch.arange(mask.shape[1]) == agent)[None, :, None]
    b, i, k = torch.nonzero(mask, as_tuple=True)  # [M] each
    start, end = batch["seg_start"][b, i, k], batch["seg_end"][b, i, k]
    return {
        "episode_id": batch["episode_id"][b], "agent": i, "index": k, "start": start, "end": end,
        "duration": end - start + 1,
        "state": batch["state"][b, start], "obs": batch["real_obs"][b, start], "actions": batch["actions"][b, start],
        "ret": batch["seg_return"][b, i, k],
        "next_state": batch["state"][b, end + 1], "next_obs": batch["real_obs"][b, end + 1],
        "terminated": batch["terminated"][b, end],
    }
