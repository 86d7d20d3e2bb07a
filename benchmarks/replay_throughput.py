"""Replay throughput on the path training takes: segments inserted per second through a rollout host, batches
per second (B = 32 episodes) through the learner host's batch pipeline in both views, and bytes per stored joint
step (ours against an n-copies layout and the Segment objects as produced), with 1 shard in process and with 2
shards as Ray actors.

    python benchmarks/replay_throughput.py [--scenarios boxpushing-10 wtd-e] [--episodes 96] [--seconds 3]
                                           [--no-ray] [--synthetic]

Each cell is the platform's own topology (``asyncmarl.cluster.topology.build_topology``) with two roles swapped
for measurement: the rollout worker hands over pre-generated segments (random valid actions cut by the
SegmentCutter, as a rollout worker cuts them; generation is not timed), 256 per call, which the rollout host
routes to their shards as in training; the learner only counts batches, so learner updates per second are the
batches per second the learner host's pipeline delivers (split across shards in proportion to their sizes,
prefetched under Ray, merged). Inserts are timed until every shard has stored every segment. If a scenario is
not registered (or with --synthetic), scripted episodes of its sizes that always run to the horizon are used.
Takes about 4 x seconds per cell plus generation and, for the Ray cells, actor start-up (10-30 s).
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from asyncmarl.cluster.config import load_config  # noqa: E402
from asyncmarl.cluster.handles import LocalHandle, call, get  # noqa: E402
from asyncmarl.cluster.learner_host import LearnerHost  # noqa: E402
from asyncmarl.cluster.roles import Roles  # noqa: E402
from asyncmarl.cluster.topology import build_topology  # noqa: E402
from asyncmarl.memory_service.replay.synthetic import ScriptedMacroEnv, ScriptedSettings, scripted_segments  # noqa: E402
from asyncmarl.platform.roles import RolloutResult  # noqa: E402

# Sizes used when a scenario is not registered: (n_agents, n_actions, obs_dim, state_dim, horizon)
SYNTHETIC = {"boxpushing-10": (2, 8, 5, 18, 100), "wtd-e": (4, 7, 28, 44, 300)}
CHUNK = 256  # segments a rollout host ships per step call
BATCH = 32  # episodes per sampled batch


def make_env(name: str, batch_size: int, synthetic: bool):
    """The registered scenario, or (``synthetic`` or not registered) scripted episodes that always run to the
    horizon with the scenario's sizes."""
    from asyncmarl.platform.envs import env_info, make_batched, names

    if name in names() and not synthetic:
        return make_batched(name, batch_size), "real"
    if name in names():
        i = env_info(name)
        n, a, o, s, h = i.n_agents, i.n_actions, i.obs_dim, i.state_dim, i.horizon
    else:
        n, a, o, s, h = SYNTHETIC[name]
    settings = ScriptedSettings(n_agents=n, n_actions=a, obs_dim=o, state_dim=s, horizon=h)
    return ScriptedMacroEnv(batch_size, settings), "synthetic"


def generate(name: str, episodes: int, gamma: float, synthetic: bool = False):
    """Segments of ``episodes`` complete episodes (random valid actions), their trajectories, the env and its kind."""
    env, kind = make_env(name, 16, synthetic)
    segs, trajs = [], []
    first = 1
    while len(trajs) < episodes:
        s, t = scripted_segments(None, 16, steps=env.horizon, gamma=gamma, seed=first, first_id=first, env=env)
        first += 100_000
        done_ids = {x["episode_id"] for x in t}
        segs += [g for g in s if g.episode_id in done_ids]  # complete episodes only
        trajs += t
    keep = {x["episode_id"] for x in trajs[:episodes]}
    return [g for g in segs if g.episode_id in keep], trajs[:episodes], env, kind


class SegmentFeeder:
    """The rollout role for this benchmark: each ``run`` hands over the next ``CHUNK`` of ``segments``. Only what
    the rollout host calls while stepping is implemented."""

    def __init__(self, cfg, worker_id: int, seed: int, segments):
        self.segments, self.next, self.version = get(segments), 0, 0  # a list, or an ObjectRef of one (Ray)

    def run(self, num_steps: int, global_steps: int | None = None) -> RolloutResult:
        chunk = self.segments[self.next : self.next + CHUNK]
        self.next += len(chunk)
        return RolloutResult(segments=chunk)

    def epsilon(self, global_steps: int | None = None) -> float:
        return 0.0


class BatchCounter:
    """The learner role for this benchmark: takes batches, trains nothing."""

    def __init__(self, cfg, info):
        self.version, self.last_priorities = 0, None

    def update(self, batch) -> dict:
        self.version += 1
        return {}


def inserted(topo) -> int:
    return int(sum(get(call(s, "stats"))["inserted_segments"] for s in topo.shards))


def timed_inserts(topo, total: int) -> float:
    """Segments per second from the first rollout step until every shard stored every segment."""
    start = time.perf_counter()
    for _ in range(-(-total // CHUNK)):
        get(call(topo.rollouts[0], "step"))
    while inserted(topo) < total:  # under Ray the last step's shipping calls are still in flight
        time.sleep(0.005)
    return total / (time.perf_counter() - start)


def timed_batches(learner, seconds: float) -> float:
    """Batches per second through a learner host's pipeline (10 per train call)."""
    get(call(learner, "train", 2, 60.0))  # warm: first split, prefetch in flight
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        out = get(call(learner, "train", 10, 60.0))
        if out["updates"] == 0:
            raise RuntimeError(f"no batch from the shards: {out}")
        n += out["updates"]
    return n / (time.perf_counter() - start)


def measure(name: str, synthetic: bool, shards: int, runtime: str, episodes: int, seconds: float) -> dict:
    overrides = [f"env.scenario={name}", f"cluster.runtime={runtime}", f"cluster.num_replay_shards={shards}",
                 "cluster.num_rollout_workers=1", "cluster.actor_cpus=0", f"cluster.batch_size={BATCH}",
                 f"replay.min_episodes={BATCH // shards}", f"replay.capacity={episodes}", "replay.sampler=uniform",
                 "logging.wandb_mode=disabled", "logging.progress=false"]
    cfg = load_config(None, overrides)
    segs, trajs, _, kind = generate(name, episodes, cfg.learner.gamma, synthetic)
    shipped = segs
    if runtime == "ray":  # one copy in the object store, not one per actor the roles are handed to
        import ray

        shipped = ray.put(segs)
    roles = Roles(rollout=functools.partial(SegmentFeeder, segments=shipped), learner=BatchCounter)
    topo = build_topology(cfg, roles)
    try:
        ins = timed_inserts(topo, len(segs))
        st = [get(call(s, "stats")) for s in topo.shards]
        assert sum(x["episodes"] for x in st) == len(trajs), st
        sj = timed_batches(topo.learner, seconds)
        jert_cfg = dataclasses.replace(cfg, learner=dataclasses.replace(cfg.learner, buffer="mac_jert"))
        mj = timed_batches(_learner_host(topo, jert_cfg, roles), seconds)
        steps = sum(x["steps"] for x in st)
        return {"kind": kind, "ins": ins, "sj": sj, "mj": mj, "mean_T": steps / len(trajs),
                "bytes": sum(x["bytes"] for x in st) / steps, "ncopies": sum(x["ncopies_bytes"] for x in st) / steps,
                "wire": sum(g.nbytes() for g in segs) / steps}
    finally:
        topo.shutdown()


def _learner_host(topo, cfg, roles):
    if not topo.remote:
        return LocalHandle(LearnerHost(cfg, topo.info, topo.shards, None, roles))
    import ray

    return ray.remote(LearnerHost).options(num_cpus=0).remote(cfg, topo.info, topo.shards, None, roles)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenarios", nargs="*", default=["boxpushing-10", "wtd-e"])
    p.add_argument("--episodes", type=int, default=96, help="complete episodes inserted per scenario")
    p.add_argument("--seconds", type=float, default=3.0, help="sampling time per view and cell")
    p.add_argument("--no-ray", action="store_true", help="skip the 2-shard Ray measurement")
    p.add_argument("--synthetic", action="store_true", help="also measure full-horizon scripted episodes")
    a = p.parse_args()
    cells = [("1 shard, in process", 1, "local")] + ([] if a.no_ray else [("2 shards, Ray actors", 2, "ray")])
    if not a.no_ray:
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    cases = [(n, False) for n in a.scenarios] + ([(n, True) for n in a.scenarios] if a.synthetic else [])
    rows = []
    for name, synthetic in cases:
        for label, shards, runtime in cells:
            r = measure(name, synthetic, shards, runtime, a.episodes, a.seconds)
            rows.append((f"{name} {r['kind']} (mean T {r['mean_T']:.0f})", label, r))
            print(rows[-1], flush=True)
    print("\n| episodes | replay | segments inserted / s | Mac-SJERT batches / s | Mac-JERT batches / s "
          "| bytes / joint step | n-copies bytes / step | Segment bytes / step |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for info, label, r in rows:
        print(f"| {info} | {label} | {r['ins']:,.0f} | {r['sj']:,.1f} | {r['mj']:,.1f} | {r['bytes']:,.0f} "
              f"| {r['ncopies']:,.0f} | {r['wire']:,.0f} |")


if __name__ == "__main__":
    main()
