"""Learner updates per second for ToMacVF, AVF and QMIX on batches sampled from a real replay shard.

Episodes come from real scenarios played with uniformly random valid actions (as early training does), so
episode lengths, action durations and padding are realistic: BoxPushing-6 (n=2, horizon 100; the default
preset's sizes, rnn 32), BoxPushing-10 (n=2, rnn 48), Overcooked-A (n=3, horizon 200, rnn 32) and WTD-E (n=4,
horizon 300, rnn 64). Rates are medians over updates that take turns between the algorithms, one update each,
so load from other processes hits them alike; "CPU" rates come from the process's CPU time
(``time.process_time``), which load on a shared machine disturbs much less than wall time.

``--compare`` also runs each learner with the reference implementations the fast paths replaced (nn.GRU's
autograd instead of the hand-written GRU backward, the general agent attention instead of its one/two-agent
shortcut, the for-loop Adam instead of the fused one, every padded row instead of the packed real rows), same
seed and batches, interleaved in the same process, and prints the speed-up.

    .venv/bin/python benchmarks/learner_throughput.py                            # CPU, one thread, batch 32 and 128
    .venv/bin/python benchmarks/learner_throughput.py --scenarios boxpushing-6 --batch-sizes 32 --compare
    .venv/bin/python benchmarks/learner_throughput.py --target-process both     # second-process target forward
    .venv/bin/python benchmarks/learner_throughput.py --device cuda              # on a GPU machine

``--target-process`` sets ``learner.target_process`` (default off here, so the one-core figures stay comparable):
``both`` times each learner with the target networks' forward in the learner's process and in a second process
(on a second core), interleaved, and prints the wall-clock ratio; a CPU rate counts the learner's process only.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import statistics
import time
from unittest import mock

import torch

import asyncmarl.platform.nets.agent as agent_module
from asyncmarl.learner import Learner, LearnerConfig
from asyncmarl.learner.atpg import ATPG
from asyncmarl.memory_service.replay.config import ReplayConfig
from asyncmarl.memory_service.replay.shard import ReplayShard
from asyncmarl.memory_service.replay.synthetic import scripted_segments
from asyncmarl.platform.envs import EnvInfo, make_batched
from asyncmarl.platform.nets import AgentNetConfig
from asyncmarl.platform.nets.packing import RowPacking

SCENARIOS = {"boxpushing-6": 32, "boxpushing-10": 48, "overcooked-a": 32, "wtd-e": 64}  # rnn-layer size of its preset
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


@contextlib.contextmanager
def reference_paths():
    """The implementations the fast paths replaced (see the module docstring)."""
    with mock.patch.object(agent_module, "gru_sequence", lambda x, gru: gru(x)[0]), \
            mock.patch.object(ATPG, "attend", lambda self, e: self.agent_attention(e)[0]), \
            mock.patch.object(RowPacking, "of_batch", staticmethod(lambda filled: None)):
        yield


def _learner(cfg: LearnerConfig, info: EnvInfo, reference: bool) -> Learner:
    torch.manual_seed(0)
    learner = Learner(cfg, info)
    if reference:
        learner.optimiser = torch.optim.Adam(learner.online.parameters(), lr=cfg.lr, foreach=False, fused=False)
    return learner


def measure(info, shard, algos, hidden, batch_size, device, seconds, gamma, compare,
            target_modes=("off",)) -> list[dict]:
    """One row per algo and ``learner.target_process`` mode (and per reference learner with ``compare``):
    median updates/s by CPU and wall time."""
    runs = []
    for algo in algos:
        base = LearnerConfig(gamma=gamma, device=device, **ALGOS[algo],
                             agent_net=AgentNetConfig(hidden_dim=hidden, embed_dim=hidden, temporal=algo == "tomacvf"))
        batches = [shard.sample(batch_size, view=base.buffer) for _ in range(3)]
        for mode in target_modes:
            cfg = dataclasses.replace(base, target_process=mode == "on")
            for reference in ((False, True) if compare and mode == "off" else (False,)):
                ctx = reference_paths if reference else contextlib.nullcontext
                with ctx():
                    learner = _learner(cfg, info, reference)
                    learner.update(batches[0])  # warm-up (allocations, kernel selection)
                runs.append(dict(algo=algo, mode=mode, reference=reference, ctx=ctx, learner=learner,
                                 batches=batches, cpu=[], wall=[]))
    start = time.perf_counter()
    while time.perf_counter() - start < seconds * len(runs) or min(len(r["cpu"]) for r in runs) < 3:
        for r in runs:
            batch = r["batches"][len(r["cpu"]) % len(r["batches"])]
            with r["ctx"]():
                c0, t0 = time.process_time(), time.perf_counter()
                r["learner"].update(batch)
                if device == "cuda":
                    torch.cuda.synchronize()
                r["cpu"].append(time.process_time() - c0)
                r["wall"].append(time.perf_counter() - t0)
    rows = []
    for r in runs:
        filled = torch.cat([torch.as_tensor(b["filled"]).flatten() for b in r["batches"]])
        r["learner"].close()
        rows.append(dict(algo=r["algo"], mode=r["mode"], reference=r["reference"],
                         T=r["batches"][0]["actions"].shape[1],
                         real=float(filled.mean()), cpu=1.0 / statistics.median(r["cpu"]),
                         wall=1.0 / statistics.median(r["wall"]), n=len(r["cpu"])))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    p.add_argument("--algos", nargs="+", default=list(ALGOS), choices=list(ALGOS))
    p.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    p.add_argument("--seconds", type=float, default=5.0, help="time per learner and measurement")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    p.add_argument("--compare", action="store_true", help="also time the reference implementations")
    p.add_argument("--target-process", default="off", choices=["off", "on", "both"],
                   help="learner.target_process of the timed learners (both: off and on side by side; the on rows' "
                        "CPU rate counts the learner's process only, so compare their wall rates)")
    args = p.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device available")
    if args.threads:
        torch.set_num_threads(args.threads)
    gamma = 0.98
    print(f"device={args.device} torch={torch.__version__} threads={torch.get_num_threads()}")
    modes = ("off", "on") if args.target_process == "both" else (args.target_process,)
    head = ["scenario", "algo", "target process", "batch", "T (longest episode)", "real rows", "updates/s (CPU)",
            "updates/s (wall)", "episodes/s (CPU)", "updates timed"]
    if args.compare:
        head[8:8] = ["reference updates/s (CPU)", "speed-up (CPU)", "speed-up (wall)"]
    if len(modes) == 2:
        head.append("on / off (wall)")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for scenario in args.scenarios:
        info, shard = collect(scenario, max(args.batch_sizes), gamma)
        for bs in args.batch_sizes:
            rows = measure(info, shard, args.algos, SCENARIOS[scenario], bs, args.device, args.seconds, gamma,
                           args.compare, modes)
            ref = {r["algo"]: r for r in rows if r["reference"]}
            off = {r["algo"]: r for r in rows if r["mode"] == "off" and not r["reference"]}
            for r in (r for r in rows if not r["reference"]):
                cells = [scenario, r["algo"], r["mode"], bs, r["T"], f"{r['real']:.0%}", f"{r['cpu']:.2f}",
                         f"{r['wall']:.2f}", f"{r['cpu'] * bs:.0f}", r["n"]]
                if args.compare:
                    b = ref.get(r["algo"])
                    cells[8:8] = (["-"] * 3 if r["mode"] != "off" else
                                  [f"{b['cpu']:.2f}", f"{r['cpu'] / b['cpu']:.2f}", f"{r['wall'] / b['wall']:.2f}"])
                if len(modes) == 2:
                    cells.append(f"{r['wall'] / off[r['algo']]['wall']:.2f}")
                print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
