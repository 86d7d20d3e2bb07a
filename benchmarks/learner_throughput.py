"""Learner updates per second for ToMacVF, AVF and QMIX on batches sampled from a real replay shard.

Episodes come from real scenarios played with uniformly random valid actions (as early training does), so
episode lengths, action durations and padding are realistic: BoxPushing-10 (n=2, T=100, obs 5, state 18, A=8)
and WTD-E (n=4, T=300, obs 28, state 44, A=7). Network sizes follow the presets (Table 2 10x10: rnn 48;
Table 4: rnn 64).

    .venv/bin/python benchmarks/learner_throughput.py                   # CPU, batch 32 and 128
    .venv/bin/python benchmarks/learner_throughput.py --device cuda     # on a GPU machine
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from asyncmarl.learner import Learner, LearnerConfig
from asyncmarl.memory_service.replay.config import ReplayConfig
from asyncmarl.memory_service.replay.shard import ReplayShard
from asyncmarl.memory_service.replay.synthetic import scripted_segments
from asyncmarl.platform.envs import EnvInfo, make_batched
from asyncmarl.platform.nets import AgentNetConfig

SCENARIOS = {"boxpushing-10": 48, "wtd-e": 64}  # scenario -> rnn-layer size of its preset
ALGOS = {
    "tomacvf": dict(algo="tomacvf"),
    "avf": dict(algo="avf", buffer="mac_jert", atpg=False, target_update="polyak"),
    "qmix": dict(algo="qmix", atpg=False),
}


def collect(scenario: str, episodes: int, gamma: float) -> tuple[EnvInfo, ReplayShard]:
    env = make_batched(scenario, 32)
    info = EnvInfo.from_env(env)
    shard = ReplayShard(ReplayConfig(gamma=gamma, min_episodes=1, capacity=10 * episodes), seed=0)
    rounds = 0
    while shard.num_episodes() < episodes:  # 32 copies; random episodes often run to the horizon
        segments, _ = scripted_segments(None, 32, env.horizon * (episodes // 32 + 1), gamma, seed=rounds, env=env,
                                        first_id=1 + rounds * 10**9)
        shard.add(segments)
        rounds += 1
    return info, shard


def measure(info, shard, algos, hidden, batch_size, device, seconds, gamma) -> dict:
    """Per algo: (median updates/s, best updates/s, T, updates timed). The algorithms take turns, one update
    each, so load from other processes on a shared machine hits them alike."""
    runs = {}
    for algo in algos:
        cfg = LearnerConfig(gamma=gamma, device=device, **ALGOS[algo],
                            agent_net=AgentNetConfig(hidden_dim=hidden, embed_dim=hidden, temporal=algo == "tomacvf"))
        learner = Learner(cfg, info)
        batches = [shard.sample(batch_size, view=cfg.buffer) for _ in range(3)]
        learner.update(batches[0])  # warm-up (allocations, kernel selection)
        runs[algo] = (learner, batches, [])
    start = time.perf_counter()
    while time.perf_counter() - start < seconds * len(algos) or min(len(r[2]) for r in runs.values()) < 3:
        for learner, batches, times in runs.values():
            t0 = time.perf_counter()
            learner.update(batches[len(times) % len(batches)])
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    # the median is the typical rate; the best update shows the code's cost when nothing else competes for
    # the cores (on a shared machine the two differ a lot)
    return {algo: (1.0 / statistics.median(t), 1.0 / min(t), b[0]["actions"].shape[1], len(t))
            for algo, (_, b, t) in runs.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    p.add_argument("--algos", nargs="+", default=list(ALGOS), choices=list(ALGOS))
    p.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    p.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = p.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device available")
    if args.threads:
        torch.set_num_threads(args.threads)
    gamma = 0.98
    print(f"device={args.device} torch={torch.__version__} threads={torch.get_num_threads()}")
    print("| scenario | algo | batch | T (longest episode) | updates/s (median) | updates/s (best) | episodes/s (median) | updates timed |")
    print("|---|---|---|---|---|---|---|---|")
    for scenario in args.scenarios:
        info, shard = collect(scenario, max(args.batch_sizes), gamma)
        for bs in args.batch_sizes:
            results = measure(info, shard, args.algos, SCENARIOS[scenario], bs, args.device, args.seconds, gamma)
            for algo, (ups, best, T, k) in results.items():
                print(f"| {scenario} | {algo} | {bs} | {T} | {ups:.2f} | {best:.2f} | {ups * bs:.0f} | {k} |", flush=True)


if __name__ == "__main__":
    main()
