"""Sharding by episode: which shard holds an episode, and one batch from the parts several shards sampled.

The platform's rollout hosts route segments with :func:`shard_for` and its learner host merges the shards'
answers with :func:`merge_batches` (``asyncmarl.cluster.hosts`` / ``learner_host``); a shard never sees another.
"""
from __future__ import annotations

import torch

from asyncmarl.platform.roles import Batch
from asyncmarl.platform.schema import BY_NAME, EPISODE, OBS_ROWS

_MASK = (1 << 64) - 1


def shard_for(episode_id: int, num_shards: int) -> int:
    """The shard that holds every segment of ``episode_id``: a splitmix64 hash of the id modulo ``num_shards``
    (the same in every process, unlike Python's salted ``hash``)."""
    if num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {num_shards}")
    z = (int(episode_id) + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return (z ^ (z >> 31)) % num_shards


def merge_batches(batches: list[Batch]) -> Batch:
    """Concatenate batches along B, zero-padding the time (T, T+1) and segment (K) axes to the largest; absolute
    time ``t`` keeps counting on the padding, as replay pads it."""
    if len(batches) == 1:
        return batches[0]
    T = max(int(b["filled"].shape[1]) for b in batches)
    K = max(int(b["seg_mask"].shape[2]) for b in batches)
    out = {}
    for key in batches[0]:
        f = BY_NAME[key]
        parts = []
        for b in batches:
            x = b[key]
            if f.is_segment_table:
                pad = (0, K - x.shape[2])  # [B, n, K]
            elif f.rows != EPISODE:
                rows = T + 1 if f.rows == OBS_ROWS else T
                pad = (0, 0) * (x.dim() - 2) + (0, rows - x.shape[1])
            else:
                pad = ()
            if key == "t" and any(pad):
                x = torch.cat([x, x[:, -1:] + torch.arange(1, pad[-1] + 1)], 1)
            elif any(pad):
                x = torch.nn.functional.pad(x, pad)
            parts.append(x)
        out[key] = torch.cat(parts)
    return out
