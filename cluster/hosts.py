"""Hosts: the platform's side of each role. Each wraps one plain role object (RolloutWorker, ReplayShard,
LegemMemory) and adds what the topology needs -- routing, admission, incarnations -- and nothing about where it
runs: the same class is used in-process or as a Ray actor. Peers are either plain objects or actor handles;
:func:`call` and :func:`resolve` hide the difference. The learner's host lives in :mod:`.learner_host`.

A restarted shard comes back empty; the tail of an episode whose head it lost never completes there (replay
only completes an episode whose segments cover every step for every agent) and is dropped after
``replay.incomplete_timeout_s``, like the open episodes of a rollout worker that died.
"""
from __future__ import annotations

import uuid
from typing import Any

from asyncmarl.cluster.handles import call, failure_types, get, is_remote  # noqa: F401 - re-exported
from asyncmarl.cluster.roles import Roles

resolve = get  # the value behind an ObjectRef or LocalRef (kept under this name for the hosts' readers)


class ShardHost:
    """One replay shard as a peer. Rejected segments are counted, not raised (a rollout host must not die
    because a restarted shard refuses the tail of an episode it never saw begin); ``sample`` also reports the
    shard's size so the learner can split its next batch across shards in proportion."""

    def __init__(self, cfg, shard_id: int, info, roles: Roles):
        self.shard = roles.shard(cfg, shard_id, info)
        self.shard_id = shard_id
        self.incarnation = uuid.uuid4().hex[:12]  # changes when the shard is restarted

    def ping(self) -> str:
        return self.incarnation

    def add(self, segments: list) -> int:
        return int(self.shard.add(segments, strict=False))

    def sample(self, batch_size: int, view: str, min_version: int | None = None):
        """(batch or None, complete episodes stored); ``min_version``: on-policy shards hand out only episodes
        acted by that policy version or newer."""
        if min_version is None:
            return self.shard.sample(batch_size, view), int(self.shard.num_episodes())
        return self.shard.sample(batch_size, view, min_version), int(self.shard.num_episodes())

    def num_episodes(self) -> int:
        return int(self.shard.num_episodes())

    def update_priorities(self, episode_ids, priorities) -> None:
        """Prioritised sampler: the learner's per-episode TD priorities (evicted episodes are skipped)."""
        self.shard.update_priorities(episode_ids, priorities)

    def stats(self) -> dict:
        return dict(self.shard.stats())

    def state_dict(self) -> dict:
        """The shard's complete episodes, priorities and counters (see ``ReplayShard.state_dict``)."""
        return self.shard.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.shard.load_state_dict(state)


class LegemHost:
    """The LeGEM memory as a peer: trajectories come straight from rollout hosts, batches from the learner."""

    def __init__(self, cfg, info, roles: Roles):
        self.memory = roles.legem(cfg, info)

    def ping(self) -> bool:
        return True

    def add_episodes(self, trajectories: list[dict]) -> None:
        if trajectories:
            self.memory.add_episodes(trajectories)

    def redistribute(self, *parts):
        """Redistributed rewards [B_s, T_s] for each shard's ``(batch, size)`` answer (None where no batch)."""
        return [None if p[0] is None else self.memory.redistribute(p[0]) for p in parts]

    def stats(self) -> dict:
        return dict(self.memory.stats())

    def state_dict(self) -> dict:
        return self.memory.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.memory.load_state_dict(state)


class RolloutHost:
    """A rollout worker that sends its segments straight to their shard (``shard_for(episode_id, S)``) and its
    finished trajectories straight to the LeGEM host; only small statistics go back to the driver."""

    def __init__(self, cfg, worker_id: int, seed: int, shards: list, legem: Any, roles: Roles):
        self.worker = roles.rollout(cfg, worker_id, seed)
        self.steps_per_call = cfg.rollout.steps_per_call
        self.shard_for = roles.shard_for
        self.legem = legem
        self.set_shards(shards)

    def ping(self) -> int:
        return self.worker.version

    def set_shards(self, shards: list) -> None:
        self.shards = list(shards)

    def set_legem(self, legem: Any) -> None:
        self.legem = legem

    def step(self, weights: tuple[int, dict] | None = None, global_steps: int | None = None) -> dict:
        """Load newer weights if given, run ``steps_per_call`` steps (epsilon from the run's ``global_steps``),
        ship segments and trajectories.

        Under Ray the shipping calls of one step complete while the next step runs (at most one step's calls in
        flight); failures are reported with the step that finds them."""
        if weights is not None:
            self.worker.set_weights(*weights)
        res = self.worker.run(self.steps_per_call, global_steps=global_steps)
        shard_errors, legem_errors = self._settle()
        S = len(self.shards)
        by_shard: dict[int, list] = {}
        for seg in res.segments:
            by_shard.setdefault(int(self.shard_for(seg.episode_id, S)), []).append(seg)
        self._inflight = [("shard", call(self.shards[s], "add", segs)) for s, segs in by_shard.items()]
        if self.legem is not None and res.trajectories:
            self._inflight.append(("legem", call(self.legem, "add_episodes", res.trajectories)))
        eps = self.worker.epsilon(None if global_steps is None else global_steps + res.env_steps)
        return {"env_steps": res.env_steps, "episodes": res.episodes, "segments": len(res.segments),
                "epsilon": float(eps),
                "version": self.worker.version, "shard_errors": shard_errors, "legem_errors": legem_errors}

    def _settle(self) -> tuple[int, int]:
        """Wait for the previous step's shipping calls; (failed shard calls, failed LeGEM calls)."""
        errors = {"shard": 0, "legem": 0}
        for kind, ref in getattr(self, "_inflight", []):
            try:
                resolve(ref)
            except failure_types():
                errors[kind] += 1
        self._inflight = []
        return errors["shard"], errors["legem"]

    def evaluate(self, episodes: int, weights: tuple[int, dict] | None = None) -> dict:
        """Greedy episodes of the worker's policy, after loading ``weights`` when given and newer; the result
        holds the evaluated ``policy_version``."""
        if weights is not None:
            self.worker.set_weights(*weights)
        return {**self.worker.evaluate(episodes), "policy_version": float(self.worker.version)}

    def render_episode(self) -> list:
        return self.worker.render_episode()

    def state_dict(self) -> dict:
        return self.worker.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.worker.load_state_dict(state)
