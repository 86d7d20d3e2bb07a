"""ReplayShard: the plain-class replay role (``ReplayShard`` protocol in :mod:`asyncmarl.platform.roles`).

Segments are reassembled into episodes (:mod:`.assembly`); complete episodes are stored once with per-agent
segment tables (:mod:`.storage`); ``sample`` builds padded Mac-SJERT, Mac-JERT or Mac-CERT batches (:mod:`.batch`,
:mod:`.mac_jert`, :mod:`.mac_cert`); with ``replay.on_policy`` it is a FIFO handing out each fresh episode once.
Methods are plain and thread-safe; the platform runs each shard inside a ``cluster.hosts.ShardHost``, in process or
as a Ray actor, and routes episodes to shards with :func:`.sharding.shard_for`.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

import numpy as np

from asyncmarl.memory_service.replay import batch as batching
from asyncmarl.memory_service.replay.assembly import OpenEpisode, Schema, SegmentError
from asyncmarl.memory_service.replay.config import VIEWS, ReplayConfig
from asyncmarl.memory_service.replay.mac_cert import cert_view
from asyncmarl.memory_service.replay.mac_jert import squeeze
from asyncmarl.memory_service.replay.sampler import PrioritizedSampler, RateLimiter, UniformSampler
from asyncmarl.memory_service.replay.storage import Episode, EpisodeStorage
from asyncmarl.platform.data import Segment
from asyncmarl.platform.roles import Batch

_CLOSED_MEMORY = 100_000  # episode ids remembered as closed (complete, evicted or dropped)


class ReplayShard:
    """One replay shard. ``clock`` (seconds, monotonic) is injectable for tests of the incomplete timeout."""

    def __init__(self, config: ReplayConfig = ReplayConfig(), seed: int | None = None, clock=time.monotonic):
        self.config = config
        self.clock = clock
        self.rng = np.random.default_rng(seed)
        self.storage = EpisodeStorage(config.capacity, config.capacity_unit)
        self.sampler = (PrioritizedSampler(config.priority_alpha, config.priority_beta)
                        if config.sampler == "prioritized" else UniformSampler())
        self.limiter = RateLimiter(config.samples_per_insert, config.rate_slack)
        self.schema: Schema | None = None
        self.open: OrderedDict[int, OpenEpisode] = OrderedDict()  # least recently updated first
        self.closed: OrderedDict[int, str] = OrderedDict()  # episode id -> why it accepts no more segments
        self._lock = threading.RLock()
        self.counts = dict(inserted_segments=0, rejected_segments=0, dropped_incomplete=0, dropped_segments=0,
                           sampled_batches=0, rate_limited=0, stale_dropped=0)

    # ------------------------------------------------------------------ writing
    def add(self, segments: list[Segment], strict: bool = True) -> int:
        """Store ``segments``; returns how many episodes became complete (and sampleable).

        Every segment is checked before it is written; rejected ones leave the stored data unchanged. The good
        ones are stored, then (``strict``) a :class:`SegmentError` lists the rejected ones.
        """
        errors, completed = [], 0
        with self._lock:
            now = self.clock()
            self._expire(now)
            for seg in segments:
                try:
                    completed += self._add_one(seg, now)
                except SegmentError as e:
                    self.counts["rejected_segments"] += 1
                    errors.append(str(e))
        if errors and strict:
            raise SegmentError(f"{len(errors)} of {len(segments)} segments rejected (the others were stored): "
                               + "; ".join(errors[:5]))
        return completed

    def _add_one(self, seg: Segment, now: float) -> int:
        if not isinstance(seg, Segment):
            raise SegmentError(f"expected a Segment, got {type(seg).__name__}")
        eid = int(seg.episode_id)
        if eid in self.closed:
            raise SegmentError(f"segment (episode {eid}, agent {seg.agent}, index {seg.index}): unknown episode, "
                               f"it is not open ({self.closed[eid]})")
        schema = self.schema or Schema(seg)
        schema.check(seg, self.config.gamma, self.config.ret_tolerance)
        op = self.open.get(eid) or OpenEpisode(eid, schema, now)
        op.check(seg, self.config.check_overlap_rows)
        self.schema = schema
        op.write(seg, now)
        self.open[eid] = op
        self.open.move_to_end(eid)
        self.counts["inserted_segments"] += 1
        if not op.complete:
            return 0
        del self.open[eid]
        self._close(eid, "complete")
        ep = Episode(op)
        self.sampler.on_insert(ep)
        self.storage.insert(ep)
        self.limiter.inserted += 1
        return 1

    def _close(self, eid: int, why: str) -> None:
        self.closed[eid] = why
        while len(self.closed) > _CLOSED_MEMORY:
            self.closed.popitem(last=False)

    def _expire(self, now: float) -> None:
        """Drop open episodes that got no segment for ``incomplete_timeout_s`` (their worker died)."""
        limit = now - self.config.incomplete_timeout_s
        while self.open:
            eid, op = next(iter(self.open.items()))
            if op.last_update > limit:
                break
            del self.open[eid]
            self._close(eid, "dropped as incomplete after the timeout")
            self.counts["dropped_incomplete"] += 1
            self.counts["dropped_segments"] += sum(len(s) for s in op.segs)

    # ------------------------------------------------------------------ sampling
    def sample(self, batch_size: int, view: str = "mac_sjert", min_version: int | None = None) -> Batch | None:
        """A padded episode batch (keys in ``platform/schema.py``), or None when fewer than ``min_episodes``
        complete episodes are stored or the samples-per-insert limit holds. With ``replay.on_policy``: up to
        ``batch_size`` of the oldest episodes acted by policy version ``min_version`` or newer, each handed out
        once (None when there is none); older ones are dropped."""
        rows = self.sample_arrays(batch_size, view, min_version)
        return None if rows is None else batching.to_torch(rows)

    def sample_arrays(self, batch_size: int, view: str = "mac_sjert",
                      min_version: int | None = None) -> dict[str, np.ndarray] | None:
        """``sample`` as numpy arrays: what a remote caller should fetch (Ray hands numpy over without copying)."""
        if view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if self.config.on_policy:
            return self._take_fresh(int(batch_size), view, int(min_version or 0))
        with self._lock:
            self._expire(self.clock())
            if len(self.storage) < self.config.min_episodes:
                return None
            if not self.limiter.allows(batch_size):
                self.counts["rate_limited"] += 1
                return None
            ids, weights = self.sampler.choose(self.storage, batch_size, self.rng)
            episodes = [self.storage.episodes[i] for i in ids.tolist()]
            self.storage.pin(ids.tolist())  # eviction waits until the batch is built
            self.limiter.sampled += batch_size
            self.counts["sampled_batches"] += 1
            cuts = [batching.choose_window(e, self.config.window, self.config.burn_in, self.rng) for e in episodes]
        try:
            rows = self._view(episodes, cuts, view)
            if weights is not None:
                rows["weight"] = weights
        finally:
            with self._lock:
                self.storage.unpin(ids.tolist())
        return rows

    def _view(self, episodes: list[Episode], cuts: list, view: str) -> dict[str, np.ndarray]:
        rows = batching.build_rows(episodes, cuts, self.schema.n_agents)
        if view == "mac_jert":
            rows = squeeze(rows, self.config.gamma)
        elif view == "mac_cert":
            rows = cert_view(rows, self.config.gamma)
        return rows

    def _take_fresh(self, batch_size: int, view: str, min_version: int) -> dict[str, np.ndarray] | None:
        """On-policy FIFO: drop what is older than ``min_version`` (stored episodes, and open ones that can never
        complete fresh), then hand out up to ``batch_size`` of the oldest episodes and forget them."""
        with self._lock:
            self._expire(self.clock())
            stale = [eid for eid, ep in self.storage.episodes.items() if ep.policy_version < min_version]
            for eid in stale:
                self.storage.remove(eid)
            self.counts["stale_dropped"] += len(stale)
            for eid in [eid for eid, op in self.open.items() if op.oldest_version() < min_version]:
                op = self.open.pop(eid)
                self._close(eid, "dropped: acted by a policy older than replay.max_policy_lag allows")
                self.counts["stale_dropped"] += 1
                self.counts["dropped_segments"] += sum(len(s) for s in op.segs)
            ids = list(self.storage.episodes)[:batch_size]
            if not ids:
                return None
            episodes = [self.storage.remove(eid) for eid in ids]
            self.limiter.sampled += len(ids)
            self.counts["sampled_batches"] += 1
        return self._view(episodes, [(0, e.T, 0) for e in episodes], view)

    def update_priorities(self, episode_ids, priorities) -> None:
        """Prioritised sampler: set the priorities of sampled episodes (e.g. their mean |TD error|)."""
        with self._lock:
            self.sampler.update(self.storage, episode_ids, priorities)

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict:
        """Complete episodes, counters and sampler state (numpy arrays; pickle it). Open episodes are left
        out: their workers restart too, and their segments would time out."""
        with self._lock:
            return {
                "episodes": [ep.state() for ep in self.storage.episodes.values()],
                "schema": None if self.schema is None else (self.schema.n_agents, dict(self.schema.shapes)),
                "counts": dict(self.counts), "inserted": self.limiter.inserted, "sampled": self.limiter.sampled,
                "evicted": self.storage.evicted, "closed": dict(self.closed),
                "max_priority": getattr(self.sampler, "max_priority", 1.0), "rng": self.rng.bit_generator.state,
            }

    def load_state_dict(self, state: dict) -> None:
        """Replace this shard's contents with ``state`` (from :meth:`state_dict`); capacity is this config's."""
        with self._lock:
            self.storage = EpisodeStorage(self.config.capacity, self.config.capacity_unit)
            for es in state["episodes"]:
                self.storage.insert(Episode.from_state(es))
            self.storage.evicted = state["evicted"]
            self.schema = None
            if state["schema"] is not None:
                self.schema = Schema.__new__(Schema)
                self.schema.n_agents, self.schema.shapes, self.schema._row_bytes = *state["schema"], None
            self.open.clear()
            self.closed = OrderedDict(state["closed"])
            self.counts.update(state["counts"])
            self.limiter.inserted, self.limiter.sampled = state["inserted"], state["sampled"]
            if hasattr(self.sampler, "max_priority"):
                self.sampler.max_priority = state["max_priority"]
            self.rng.bit_generator.state = state["rng"]

    # ------------------------------------------------------------------ reporting
    def num_episodes(self) -> int:
        return len(self.storage)

    def stats(self) -> dict[str, float]:
        """episodes, steps, bytes, dropped incomplete episodes, inserts and samples so far."""
        with self._lock:
            self._expire(self.clock())
            st = self.storage
            return {
                "episodes": len(st), "steps": st.steps, "bytes": st.nbytes,
                "bytes_per_step": st.nbytes / max(st.steps, 1),
                "ncopies_bytes": st.ncopy_bytes, "ncopies_bytes_per_step": st.ncopy_bytes / max(st.steps, 1),
                "open_episodes": len(self.open), "inserted_episodes": self.limiter.inserted,
                "evicted_episodes": st.evicted, "sampled_episodes": self.limiter.sampled,
                **self.counts,
            }
