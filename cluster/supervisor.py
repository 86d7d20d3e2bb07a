"""Fault handling in one place: detecting failed roles, restarting them, reloading their state, keeping the
counters consistent across a restart, noticing a learner that has stopped updating, and giving up.

Policy:
- a rollout worker that fails is replaced by a fresh one (new seed; its open episodes are never completed);
- a replay shard that fails comes back empty; LeGEM and the learner come back from the last checkpoint;
- a restarted learner continues the version numbering where the driver last saw it (``learner/version`` and
  ``updates`` never go backwards and rollout workers accept its weights at once); the updates it lost since that
  checkpoint are counted in ``faults/updates_lost``;
- after ``cluster.max_restarts`` restarts of one role the run gives up (:class:`GaveUp`): the driver writes what
  can still be saved and exits non-zero with one line.
"""
from __future__ import annotations

import logging
import time
from collections import Counter

from asyncmarl.cluster.handles import call, failure_types, get

log = logging.getLogger("asyncmarl.cluster")
PING_TIMEOUT_S = 10.0  # a peer that does not answer a ping within this long is taken as dead
ROLES = ("rollout", "shard", "learner", "legem")


class GaveUp(RuntimeError):
    """The run cannot continue (restarts exhausted, or the Ray cluster itself failed)."""


class Supervisor:
    """Watches one :class:`~asyncmarl.cluster.topology.Topology` on behalf of the driver."""

    def __init__(self, topo, checkpointer, counters, max_restarts: int, stall_warn_s: float = 0.0,
                 clock=time.monotonic):
        self.topo, self.ckpt, self.c = topo, checkpointer, counters
        self.max_restarts = int(max_restarts)
        self.restarts: Counter = Counter()
        self.updates_lost = 0  # learner updates thrown away by learner restarts (since their last checkpoint)
        self.stall_warn_s, self.clock = float(stall_warn_s), clock
        self._last_progress = (clock(), counters.updates)
        self._warned_at = None

    # ------------------------------------------------------------------ restarts
    def _count(self, role: str, why: str) -> None:
        self.restarts[role] += 1
        if self.restarts[role] > self.max_restarts:
            raise GaveUp(f"{role} failed {self.restarts[role]} times (cluster.max_restarts={self.max_restarts}; "
                         f"last failure: {why})")

    def rollout_failed(self, i: int, err: BaseException) -> None:
        log.warning("rollout worker %d failed (%s); restarting it", i, type(err).__name__)
        self._count("rollout", type(err).__name__)
        self.topo.restart_rollout(i)

    def learner_failed(self, err: BaseException) -> None:
        """A fresh learner with the last checkpoint's state, numbered on from the last version seen."""
        log.warning("learner failed (%s); restarting it from the last checkpoint", type(err).__name__)
        self._count("learner", type(err).__name__)
        self.topo.restart_learner()
        state = self.ckpt.role_state("learner")
        saved_version = 0
        if state is None:
            log.warning("learner restarted from scratch: no checkpoint yet")
        else:
            get(call(self.topo.learner, "load_state_dict", state))
            saved_version = int(state["version"])
        self.updates_lost += max(self.c.version - saved_version, 0)
        get(call(self.topo.learner, "set_version", self.c.version))
        self.c.published = -1  # the weights it had published died with it

    def shard_failed(self, s: int, err: BaseException) -> None:
        log.warning("replay shard %d failed (%s); restarting it empty", s, type(err).__name__)
        self._count("shard", type(err).__name__)
        self.topo.restart_shard(s)

    def legem_failed(self, err: BaseException) -> None:
        log.warning("LeGEM failed (%s); restarting it from the last checkpoint", type(err).__name__)
        self._count("legem", type(err).__name__)
        self.topo.restart_legem()
        state = self.ckpt.role_state("legem")
        if state is None:
            log.warning("LeGEM restarted empty: no checkpoint yet")
            return
        get(call(self.topo.legem, "load_state_dict", state))

    def check_peers(self) -> None:
        """Ping every shard and LeGEM (after a caller saw a failed call to one); restart those that are gone."""
        if not self.topo.remote:
            return
        import ray
        from ray.exceptions import GetTimeoutError

        dead = (*failure_types(), GetTimeoutError)
        pings = [s.ping.remote() for s in self.topo.shards]
        for s, ref in enumerate(pings):
            try:
                ray.get(ref, timeout=PING_TIMEOUT_S)
            except dead as e:
                self.shard_failed(s, e)
        if self.topo.legem is not None:
            try:
                ray.get(self.topo.legem.ping.remote(), timeout=PING_TIMEOUT_S)
            except dead as e:
                self.legem_failed(e)

    # ------------------------------------------------------------------ stalls
    def watch(self) -> str | None:
        """Called once per loop round: a warning (also logged) when the learner has made no update for
        ``stall_warn_s`` seconds, saying why as far as replay can tell; None otherwise."""
        now, updates = self.clock(), self.c.updates
        if updates != self._last_progress[1]:
            self._last_progress, self._warned_at = (now, updates), None
            return None
        if not self.stall_warn_s or now - self._last_progress[0] < self.stall_warn_s:
            return None
        if self._warned_at is not None and now - self._warned_at < self.stall_warn_s:
            return None
        self._warned_at = now
        msg = f"the learner has made no update for {now - self._last_progress[0]:.0f} s: {self.diagnose()}"
        log.warning(msg)
        return msg

    def diagnose(self) -> str:
        """Why the learner gets no batch, from the shards' own statistics."""
        cfg = self.topo.cfg
        need = cfg.replay.min_episodes
        try:
            stats = [get(call(s, "stats")) for s in self.topo.shards]
        except failure_types() as e:
            return f"a replay shard does not answer ({type(e).__name__})"
        held = [int(st["episodes"]) for st in stats]
        if all(h < need for h in held):
            full = [st.get("evicted_episodes", 0) > 0 for st in stats]
            if any(full):
                return (f"replay shards hold {held} complete episodes and evict at capacity "
                        f"(replay.capacity={cfg.replay.capacity} {cfg.replay.capacity_unit}), below "
                        f"replay.min_episodes={need} each shard needs before it samples; raise replay.capacity or "
                        "lower replay.min_episodes")
            return (f"replay shards hold {held} complete episodes, each needs replay.min_episodes={need} before "
                    f"it samples; {self.c.env_steps} env steps and {self.c.episodes} episodes so far")
        return (f"replay shards hold {held} complete episodes (>= replay.min_episodes={need} somewhere) yet no "
                "update finished: the learner may be too slow for this batch size, or blocked")
