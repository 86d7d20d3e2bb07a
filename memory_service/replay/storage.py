"""Complete episodes, each joint timestep stored once, with per-agent segment tables over them (the paper's
D_i as index tables, not copies), in FIFO order with pinning so an episode being sampled is never evicted."""
from __future__ import annotations

from collections import Counter, OrderedDict

import numpy as np

from asyncmarl.memory_service.replay.assembly import OpenEpisode
from asyncmarl.platform.schema import ACTION_FIELDS, FINAL_FIELDS


class Episode:
    """One complete episode: ``rows[f]`` is ``[T+1, ...]`` for FINAL_FIELDS (row T after the last step) and
    ``[T, ...]`` for ACTION_FIELDS (actions, elapsed, reward), in their stored dtypes; ``seg[k]`` are the per-agent
    segment tables ``[S]``, sorted by (agent, index); ``policy_version`` is the oldest policy version that chose
    one of its actions (what on-policy learners check against ``replay.max_policy_lag``)."""

    __slots__ = ("episode_id", "T", "terminated", "extras", "rows", "seg", "nbytes", "ncopy_bytes", "priority",
                 "policy_version")

    def __init__(self, op: OpenEpisode):
        T = op.T
        self.episode_id, self.T, self.terminated, self.extras = op.episode_id, T, op.terminated, op.extras
        self.rows = {f: np.concatenate([op.field(f), op.final[f][None]]) for f in FINAL_FIELDS}
        self.rows.update({f: op.field(f) for f in ACTION_FIELDS})
        recs = [(a, k) + r for a, segs in enumerate(op.segs) for k, r in sorted(segs.items())]
        cols = list(zip(*recs, strict=True))  # agent, index, start, end, ret, action, version
        self.seg = {
            "agent": np.asarray(cols[0], np.int64), "index": np.asarray(cols[1], np.int64),
            "start": np.asarray(cols[2], np.int64), "end": np.asarray(cols[3], np.int64),
            "ret": np.asarray(cols[4], np.float64),
        }  # each [S]
        self.nbytes = sum(v.nbytes for v in self.rows.values()) + sum(v.nbytes for v in self.seg.values())
        self.ncopy_bytes = op.ncopy_bytes + sum(v.nbytes for v in self.seg.values())
        self.priority = 1.0
        self.policy_version = int(min(cols[6]))

    def state(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}

    @classmethod
    def from_state(cls, state: dict) -> Episode:
        ep = cls.__new__(cls)
        for k in cls.__slots__:
            setattr(ep, k, state[k] if k != "policy_version" else state.get(k, 0))  # older checkpoints lack it
        return ep


class EpisodeStorage:
    """FIFO store of complete episodes bounded by ``capacity`` episodes or joint steps."""

    def __init__(self, capacity: int, unit: str):
        self.capacity, self.unit = capacity, unit
        self.episodes: OrderedDict[int, Episode] = OrderedDict()  # oldest first
        self.pins: Counter = Counter()  # episode id -> samples in flight
        self.steps = 0
        self.nbytes = 0
        self.ncopy_bytes = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self.episodes)

    def _size(self) -> int:
        return len(self.episodes) if self.unit == "episodes" else self.steps

    def insert(self, ep: Episode) -> None:
        self.episodes[ep.episode_id] = ep
        self.steps += ep.T
        self.nbytes += ep.nbytes
        self.ncopy_bytes += ep.ncopy_bytes
        self.evict()

    def remove(self, eid: int) -> Episode:
        """Take episode ``eid`` out of the store (on-policy FIFO: handed out once)."""
        ep = self.episodes.pop(eid)
        self.steps -= ep.T
        self.nbytes -= ep.nbytes
        self.ncopy_bytes -= ep.ncopy_bytes
        return ep

    def evict(self) -> int:
        """Drop the oldest episodes while over capacity. Strict FIFO: if the oldest is pinned (being sampled),
        the store stays over capacity until ``unpin`` releases it, then eviction resumes."""
        dropped = 0
        while len(self.episodes) > 1 and self._size() > self.capacity:  # the newest always stays
            eid = next(iter(self.episodes))
            if self.pins[eid]:
                break
            self.remove(eid)
            dropped += 1
        self.evicted += dropped
        return dropped

    def pin(self, ids) -> None:
        self.pins.update(ids)

    def unpin(self, ids) -> None:
        self.pins.subtract(ids)
        self.pins += Counter()  # drop zero counts
        self.evict()
