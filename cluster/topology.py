"""The one place that knows the topology: N rollout hosts, S replay shards, an optional LeGEM host and one
learner host, built in this process (``cluster.runtime=local``) or as Ray actors (``ray``), and rebuilt one at a
time when one fails.

Data paths: rollout host -> its episodes' shard (``shard_for``) and -> LeGEM; shards -> learner (LeGEM's
redistribution chained on the shards' answers). The driver only sees small statistics and ObjectRefs.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from asyncmarl.cluster.handles import LocalHandle, call
from asyncmarl.cluster.hosts import LegemHost, RolloutHost, ShardHost
from asyncmarl.cluster.learner_host import LearnerHost
from asyncmarl.cluster.roles import Roles, legem_enabled
from asyncmarl.cluster.validation_memory import existing_cluster
from asyncmarl.platform import seeding

PLACEMENT_TIMEOUT_S = 300.0  # how long actors may take to be placed and constructed


def learner_gpus(cfg, resources: dict | None = None) -> int:
    """GPUs the learner actor asks Ray for (``resources``: the cluster's, read from Ray when not given).

    ``cpu``: 0. ``cuda``: 1, always: on an existing cluster the request is what makes an autoscaler start a GPU
    node (a KubeRay GPU worker group or a launcher GPU node type with min 0), and the learner waits for it like
    any actor waiting for placement; on a Ray instance this driver started itself (fixed size) without a GPU it
    could never be placed, so that fails now. ``auto``: 1 when the cluster has a GPU right now, else 0 (it never
    waits for one).
    """
    if cfg.learner.device == "cpu":
        return 0
    if resources is None:
        import ray

        resources = ray.cluster_resources()
    has_gpu = resources.get("GPU", 0) >= 1
    if cfg.learner.device == "cuda":
        if not has_gpu and not existing_cluster(cfg):
            raise ValueError("learner.device is 'cuda' but the Ray instance this run started has no GPU; use "
                             "'auto' or 'cpu' here, or attach to a cluster that has (or can scale up) a GPU node "
                             "with cluster.address")
        return 1
    return 1 if has_gpu else 0


@dataclass
class Topology:
    """Handles of every role (Ray actor handles, or :class:`LocalHandle` in one process, called the same way) and
    how to rebuild each one. When to rebuild is the :class:`~asyncmarl.cluster.supervisor.Supervisor`'s call."""

    cfg: Any
    roles: Roles
    info: Any
    remote: bool
    rollouts: list = field(default_factory=list)
    shards: list = field(default_factory=list)
    legem: Any = None
    learner: Any = None
    _incarnation: Counter = field(default_factory=Counter)  # rollout worker id -> restarts

    # ------------------------------------------------------------------ construction
    def _actor(self, cls, cpus: float = 0.0, gpus: int = 0):
        if not self.remote:
            return cls
        import ray

        return ray.remote(cls).options(num_cpus=cpus, num_gpus=gpus, max_restarts=0, max_task_retries=0)

    def _new(self, cls, *args, cpus: float = 0.0, gpus: int = 0):
        maker = self._actor(cls, cpus, gpus)
        return maker.remote(*args) if self.remote else LocalHandle(maker(*args))

    def _rollout_seed(self, worker_id: int) -> int:
        return seeding.rollout_seed(self.cfg.seed, worker_id, self._incarnation[worker_id])

    def make_shard(self, s: int):
        return self._new(ShardHost, self.cfg, s, self.info, self.roles)

    def make_rollout(self, i: int):
        return self._new(RolloutHost, self.cfg, i, self._rollout_seed(i), self.shards, self.legem, self.roles,
                         cpus=self.cfg.cluster.actor_cpus)

    def make_learner(self):
        gpus = learner_gpus(self.cfg) if self.remote else 0
        return self._new(LearnerHost, self.cfg, self.info, self.shards, self.legem, self.roles,
                         cpus=self.cfg.cluster.actor_cpus, gpus=gpus)

    def make_legem(self):
        return self._new(LegemHost, self.cfg, self.info, self.roles) if legem_enabled(self.cfg) else None

    # ------------------------------------------------------------------ restarts
    def _kill(self, handle) -> None:
        if self.remote and handle is not None:
            import ray

            try:
                ray.kill(handle, no_restart=True)
            except Exception:  # noqa: BLE001 - it may be gone already
                pass

    def restart_rollout(self, i: int) -> None:
        """A fresh worker ``i`` with a new seed; the episodes the old one had open are never completed."""
        self._kill(self.rollouts[i])
        self._incarnation[i] += 1
        self.rollouts[i] = self.make_rollout(i)

    def restart_shard(self, s: int) -> None:
        """An empty shard ``s``; rollout hosts and the learner get the new handle list."""
        self._kill(self.shards[s])
        self.shards[s] = self.make_shard(s)
        for peer in [*self.rollouts, self.learner]:
            call(peer, "set_shards", self.shards)

    def restart_legem(self) -> None:
        """A fresh LeGEM host (the driver loads the last checkpoint into it); peers get the new handle."""
        self._kill(self.legem)
        self.legem = self.make_legem()
        for peer in [*self.rollouts, self.learner]:
            call(peer, "set_legem", self.legem)

    def restart_learner(self) -> None:
        """A fresh learner host (the driver loads the last checkpoint into it)."""
        self._kill(self.learner)
        self.learner = self.make_learner()

    def shutdown(self) -> None:
        for h in [*self.rollouts, self.learner, self.legem, *self.shards]:
            self._kill(h)


def build_topology(cfg, roles: Roles | None = None) -> Topology:
    """Every role of ``cfg``, wired: in this process, or as Ray actors (Ray must be initialised)."""
    roles = roles or Roles()
    if cfg.cluster.runtime == "ray":
        check_fits(cfg)
    topo = Topology(cfg, roles, roles.env_info(cfg), remote=cfg.cluster.runtime == "ray")
    topo.shards = [topo.make_shard(s) for s in range(cfg.cluster.num_replay_shards)]
    topo.legem = topo.make_legem()
    topo.rollouts = [topo.make_rollout(i) for i in range(cfg.cluster.num_rollout_workers)]
    topo.learner = topo.make_learner()
    if topo.remote:
        _wait_until_placed(topo)
    return topo


def _placement_error(cfg, have: float) -> ValueError:
    cl = cfg.cluster
    need = cl.actor_cpus * (cl.num_rollout_workers + 1)
    return ValueError(f"the actors reserve {need:g} CPUs (cluster.actor_cpus={cl.actor_cpus:g} x "
                      f"{cl.num_rollout_workers + 1} rollout and learner actors) and the cluster has {have:g}; "
                      f"lower cluster.actor_cpus (0 packs any number of actors) or add nodes")


def check_fits(cfg) -> None:
    """On a Ray instance this driver started (fixed size, no autoscaler) a layout that cannot fit fails now."""
    import os

    import ray

    if cfg.cluster.address or os.environ.get("RAY_ADDRESS"):
        return  # an existing cluster may autoscale; _wait_until_placed has the last word
    learner_gpus(cfg)  # a CUDA learner on a GPU-less instance of our own fails before the run directory exists
    cl = cfg.cluster
    have = ray.cluster_resources().get("CPU", 0)
    if cl.actor_cpus * (cl.num_rollout_workers + 1) > have:
        raise _placement_error(cfg, have)


def _wait_until_placed(topo: Topology, timeout_s: float = PLACEMENT_TIMEOUT_S) -> None:
    """Wait until every actor is constructed (so no role starts minutes ahead of another); a layout the cluster
    cannot place fails with the numbers instead of waiting forever."""
    import ray
    from ray.exceptions import GetTimeoutError

    handles = [*topo.shards, *topo.rollouts, topo.learner] + ([topo.legem] if topo.legem is not None else [])
    try:
        ray.get([h.ping.remote() for h in handles], timeout=timeout_s)
    except GetTimeoutError:
        topo.shutdown()
        err = _placement_error(topo.cfg, ray.cluster_resources().get("CPU", 0))
        raise ValueError(f"the actors could not all start within {timeout_s:.0f} s: {err}") from None
