"""Replay throughput: segment inserts per second, sampled batches per second (B = 32 episodes) in both views,
and bytes per stored joint step (ours vs an n-copies layout), for one in-process shard and for 2 shards as
Ray actors behind a ReplayClient.

    python benchmarks/replay_throughput.py [--scenarios boxpushing-10 wtd-e] [--episodes 96] [--seconds 3] [--no-ray] [--synthetic]

Episodes come from the registered scenarios with uniformly random valid actions, cut by the SegmentCutter as a
rollout worker does (if a scenario is not registered, synthetic episodes of its length and sizes are used).
Generation is not timed; inserts are timed in chunks of 256 segments, as workers hand them over.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from asyncmarl.memory_service.replay import ReplayConfig, ReplayShard  # noqa: E402
from asyncmarl.memory_service.replay.client import ReplayClient, make_shard_actor  # noqa: E402
from asyncmarl.memory_service.replay.synthetic import ScriptedMacroEnv, ScriptedSettings, scripted_segments  # noqa: E402

# Sizes used when a scenario is not registered: (n_agents, n_actions, obs_dim, state_dim, horizon)
SYNTHETIC = {"boxpushing-10": (2, 8, 5, 18, 100), "wtd-e": (4, 7, 28, 44, 300)}
CHUNK = 256


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


def timed_inserts(add, segs) -> float:
    start = time.perf_counter()
    for i in range(0, len(segs), CHUNK):
        add(segs[i : i + CHUNK])
    return len(segs) / (time.perf_counter() - start)


def timed_samples(sample, view: str, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        assert sample(32, view) is not None
        n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenarios", nargs="*", default=["boxpushing-10", "wtd-e"])
    p.add_argument("--episodes", type=int, default=96, help="complete episodes inserted per scenario")
    p.add_argument("--seconds", type=float, default=3.0, help="sampling time per cell")
    p.add_argument("--no-ray", action="store_true", help="skip the 2-shard Ray measurement")
    p.add_argument("--synthetic", action="store_true", help="also measure full-horizon scripted episodes")
    a = p.parse_args()
    cfg = ReplayConfig(min_episodes=32, gamma=0.98)
    rows = []
    cases = [(n, False) for n in a.scenarios] + ([(n, True) for n in a.scenarios] if a.synthetic else [])
    for name, synthetic in cases:
        segs, trajs, env, kind = generate(name, a.episodes, cfg.gamma, synthetic)
        steps = sum(t["length"] for t in trajs)
        wire = sum(s.nbytes() for s in segs) / steps
        shard = ReplayShard(cfg, seed=0)
        ins = timed_inserts(shard.add, segs)
        st = shard.stats()
        assert st["episodes"] == len(trajs), st
        sj = timed_samples(shard.sample, "mac_sjert", a.seconds)
        mj = timed_samples(shard.sample, "mac_jert", a.seconds)
        info = f"{name} ({kind}, n={env.n_agents}, obs {env.obs_dim}, state {env.state_dim}, mean T {steps / len(trajs):.0f})"
        rows.append((info, "1 shard, in process", ins, sj, mj, st["bytes_per_step"], st["ncopies_bytes_per_step"], wire))
        if not a.no_ray:
            rows.append((info, "2 shards, Ray actors", *ray_cells(cfg, segs, a.seconds), st["bytes_per_step"],
                         st["ncopies_bytes_per_step"], wire))
        print(rows[-1], flush=True)
    print("\n| episodes | replay | segments inserted / s | Mac-SJERT batches / s | Mac-JERT batches / s "
          "| bytes / joint step | n-copies bytes / step | Segment wire bytes / step |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:,.0f} | {r[3]:,.1f} | {r[4]:,.1f} | {r[5]:,.0f} | {r[6]:,.0f} | {r[7]:,.0f} |")


def ray_cells(cfg: ReplayConfig, segs, seconds: float):
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    shards = [make_shard_actor(cfg, num_cpus=1, seed=i) for i in range(2)]
    client = ReplayClient(shards, factory=lambda i: make_shard_actor(cfg, num_cpus=1, seed=10 + i), seed=0)
    ray.get([s.num_episodes.remote() for s in shards])  # actors up before timing
    ins = timed_inserts(client.add, segs)
    sj = timed_samples(client.sample, "mac_sjert", seconds)
    mj = timed_samples(client.sample, "mac_jert", seconds)
    for s in shards:
        ray.kill(s)
    return ins, sj, mj


if __name__ == "__main__":
    main()
