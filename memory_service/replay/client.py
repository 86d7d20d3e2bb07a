"""Several replay shards behind one client: route segments by episode id, sample proportional to shard size,
merge the shards' batches, and replace a shard that dies with an empty one while the others keep serving.

Shards are plain :class:`ReplayShard` objects or Ray actor handles of one (``make_shard_actor``); the client
speaks to both (Ray calls are issued to all shards first, then gathered, so shards work in parallel).
"""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import torch

from asyncmarl.memory_service.replay.assembly import SegmentError
from asyncmarl.memory_service.replay.batch import to_torch
from asyncmarl.memory_service.replay.config import ReplayConfig
from asyncmarl.platform.data import Segment
from asyncmarl.platform.roles import Batch

log = logging.getLogger(__name__)
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
    """Concatenate batches along B, zero-padding time (T, T+1) and segment (K) axes to the largest."""
    if len(batches) == 1:
        return batches[0]
    T = max(int(b["filled"].shape[1]) for b in batches)
    K = max(int(b["seg_mask"].shape[2]) for b in batches)
    out = {}
    for key in batches[0]:
        parts = []
        for b in batches:
            x = b[key]
            if key.startswith("seg_"):
                pad = (0, K - x.shape[2])  # [B, n, K]
            elif x.dim() >= 2 and key not in ("weight", "episode_id"):
                rows = T + (x.shape[1] - b["filled"].shape[1])  # T or T + 1
                pad = (0, 0) * (x.dim() - 2) + (0, rows - x.shape[1])
            else:
                pad = ()
            if key == "t" and any(pad):  # absolute time keeps counting on padding
                x = torch.cat([x, x[:, -1:] + torch.arange(1, pad[-1] + 1)], 1)
            elif any(pad):
                x = torch.nn.functional.pad(x, pad)
            parts.append(x)
        out[key] = torch.cat(parts)
    return out


def _is_actor(shard) -> bool:
    return hasattr(getattr(shard, "add", None), "remote")


class ReplayClient:
    """Speaks to ``shards`` as one replay. ``factory(i)`` builds a fresh shard ``i`` (plain or actor) when
    one raises anything but a rejected-segment error; without it a failed shard is skipped until replaced."""

    def __init__(self, shards: list, factory: Callable[[int], object] | None = None, seed: int | None = None):
        if not shards:
            raise ValueError("ReplayClient needs at least one shard")
        self.shards, self.factory = list(shards), factory
        self.rng = np.random.default_rng(seed)
        self.restarts = 0
        self.dead: set[int] = set()
        self._sizes: dict[int, int] = {}  # complete episodes per shard, as last reported

    # --------------------------------------------------------------- plumbing
    def _call(self, calls: dict[int, tuple[str, tuple]]) -> dict[int, object]:
        """Run ``{shard: (method, args)}``; returns results, with exceptions in place of failed calls."""
        pending = {}
        for i, (method, args) in calls.items():
            shard = self.shards[i]
            try:
                pending[i] = getattr(shard, method).remote(*args) if _is_actor(shard) else getattr(shard, method)(*args)
            except Exception as e:  # noqa: BLE001 - a dying shard may fail in any way
                pending[i] = e
        out = {}
        for i, p in pending.items():
            if _is_actor(self.shards[i]) and not isinstance(p, Exception):
                import ray

                try:
                    p = ray.get(p)
                except Exception as e:  # noqa: BLE001
                    p = e
            out[i] = p
        return out

    def _failed(self, i: int, err: Exception) -> None:
        log.warning("replay shard %d failed (%s: %s); restarting it empty", i, type(err).__name__, err)
        self.dead.add(i)
        self._sizes[i] = 0
        if self.factory is not None:
            self.shards[i] = self.factory(i)
            self.restarts += 1
            self.dead.discard(i)

    def replace(self, i: int, shard) -> None:
        """Install ``shard`` as shard ``i`` (e.g. after the cluster restarted it)."""
        self.shards[i] = shard
        self.dead.discard(i)
        self._sizes[i] = 0

    # --------------------------------------------------------------- ReplayShard-like API
    def add(self, segments: list[Segment]) -> int:
        """Route each segment to ``shard_for(episode_id)``; returns episodes completed. Rejected segments raise
        :class:`SegmentError` after every shard got its share."""
        groups: dict[int, list[Segment]] = {}
        for s in segments:
            groups.setdefault(shard_for(s.episode_id, len(self.shards)), []).append(s)
        results = self._call({i: ("add", (g,)) for i, g in groups.items() if i not in self.dead})
        done, rejected = 0, []
        for i, r in results.items():
            if isinstance(r, SegmentError):
                rejected.append(f"shard {i}: {r}")
            elif isinstance(r, Exception):
                self._failed(i, r)
            else:
                done += int(r)
                self._sizes[i] = self._sizes.get(i, 0) + int(r)  # corrected by the next answer (eviction)
        if rejected:
            raise SegmentError("; ".join(rejected))
        return done

    def sample(self, batch_size: int, view: str = "mac_sjert") -> Batch | None:
        """A batch drawn from the shards proportional to their episode counts, merged; None if a shard the
        draw needs is not ready (too few episodes, rate limit) or every shard is empty.

        Sizes come from the shards' previous answers (``sample_sized`` returns one with each batch; shards not
        drawn from are probed in the same round), so a draw is one round trip."""
        live = [i for i in range(len(self.shards)) if i not in self.dead]
        if not any(self._sizes.get(i, 0) > 0 for i in live):
            self._refresh_sizes(live)
        ids = [i for i in live if self._sizes.get(i, 0) > 0]
        if not ids:
            return None
        p = np.array([self._sizes[i] for i in ids], np.float64)
        counts = dict(zip(ids, self.rng.multinomial(batch_size, p / p.sum()).tolist()))
        # remote shards answer with numpy arrays (no pickling of tensors), converted here
        calls = {i: ("sample_sized", (counts[i], view, _is_actor(self.shards[i]))) if counts.get(i, 0) > 0
                 else ("num_episodes", ()) for i in live}
        batches, ok = [], True
        for i, r in self._call(calls).items():
            if isinstance(r, ValueError) and not isinstance(r, SegmentError):
                raise r  # a bad argument, not a dead shard
            if isinstance(r, Exception):
                self._failed(i, r)
                self._sizes[i] = 0
                ok = ok and counts.get(i, 0) == 0
            elif calls[i][0] == "num_episodes":
                self._sizes[i] = int(r)
            else:
                batch, self._sizes[i] = r
                ok = ok and batch is not None
                batches.append(to_torch(batch) if isinstance(batch, dict) and _is_actor(self.shards[i]) else batch)
        return merge_batches(batches) if ok else None

    def _refresh_sizes(self, live: list[int]) -> None:
        for i, r in self._call({i: ("num_episodes", ()) for i in live}).items():
            if isinstance(r, Exception):
                self._failed(i, r)
                r = 0
            self._sizes[i] = int(r)

    def stats(self) -> dict[str, float]:
        """Sums of the shards' stats (rates recomputed), plus shard restarts."""
        results = self._call({i: ("stats", ()) for i in range(len(self.shards)) if i not in self.dead})
        total: dict[str, float] = {}
        for i, r in results.items():
            if isinstance(r, Exception):
                self._failed(i, r)
                continue
            for k, v in r.items():
                total[k] = total.get(k, 0) + v
        steps = max(total.get("steps", 0), 1)
        total["bytes_per_step"] = total.get("bytes", 0) / steps
        total["ncopies_bytes_per_step"] = total.get("ncopies_bytes", 0) / steps
        total["shard_restarts"] = self.restarts
        total["live_shards"] = len(self.shards) - len(self.dead)
        return total


def make_shard_actor(config: ReplayConfig, num_cpus: float = 1, seed: int | None = None, **options):
    """A Ray actor running a :class:`ReplayShard` (``ray`` must be initialised). Extra ``options`` go to
    ``.options`` (e.g. ``name``, ``max_restarts``; a restarted actor comes back empty)."""
    import ray

    from asyncmarl.memory_service.replay.shard import ReplayShard

    return ray.remote(ReplayShard).options(num_cpus=num_cpus, **options).remote(config, seed)
