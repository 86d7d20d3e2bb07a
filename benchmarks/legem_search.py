"""LeGEM cost: insert and search time per episode against episode length, and memory against episodes stored.

Two workloads of scripted off-beat episodes (no learning involved):

* ``single``: Stag-Hunter episodes stretched to length L (the hunters wait, then shoot so the first arrow lands
  in the last step): one reward per caught episode, at the end; a third of the episodes are caught.
* ``repeated``: a repeated hunt of fixed length L: hunters reload at once, each shoots with probability 0.2
  per ready step (flights 8 and 3), and every step in which both arrows land pays 1; the agents observe
  [ready, in flight, t / L]. About one reward per 100 steps, so the number of searches grows with L.
  The memory table adds the hunter's own shot count to its observation so that paths keep branching.

For each L, ``--train`` episodes are inserted first; then ``--probe`` more are timed through ``add_episodes``
(insert) and through ``redistribute`` (search, every rewarded step of every episode, ranking and eq. 2),
for Scheme I and Scheme II, best of 3 repeats, in CPU time of this process (``time.process_time``: the
benchmark shares a 2-core machine, and wall time there mostly measures the neighbours). Then memory (``stats()``)
is read after 250 .. 8000 inserted episodes.

Usage: python benchmarks/legem_search.py [--lengths 20 50 100 200 500 1000] [--train 200] [--probe 50]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from asyncmarl.memory_service.legem import LegemConfig, LegemMemory
from asyncmarl.memory_service.legem.synthetic import stag_hunter_episode


def single_reward_episodes(rng: np.random.Generator, n: int, length: int) -> list[dict]:
    """Stag-Hunter episodes of exactly ``length`` steps (first landing in the last step)."""
    a, b = length - 9, length - 4  # hunter 0's and hunter 1's shots that land in step length - 1
    out = []
    for i in range(n):
        case = rng.integers(3)
        if case == 0:
            shots = [a, b]  # caught
        elif case == 1:
            shots = [a, [None, length - 3, length - 2, length - 1][rng.integers(4)]]  # hunter 0 alone
        else:
            shots = [[None, *range(a + 1, length)][rng.integers(length - a)], b]  # hunter 1 alone
        out.append(stag_hunter_episode(shots, horizon=length + 1, episode_id=i))
    return out


def repeated_hunt_episodes(rng: np.random.Generator, n: int, length: int, flights=(8, 3), p: float = 0.2,
                           history: bool = False):
    """Fixed-length repeated hunts: reward 1 in every step where both arrows land (see the module doc).
    ``history`` adds the hunter's shots so far to its observation, so afterstates keep branching."""
    flights = np.asarray(flights)
    k = len(flights)
    out = []
    for i in range(n):
        land = np.full(k, -1)  # step the current arrow lands, -1 when ready
        shots = np.zeros(k)
        real_obs = np.zeros((length + 1, k, 4 if history else 3), np.float32)
        actions = np.zeros((length, k), np.int64)
        choosing = np.zeros((length + 1, k), bool)
        reward = np.zeros(length, np.float32)
        draws = rng.random((length, k)) < p
        for t in range(length + 1):
            ready = land < t
            choosing[t] = ready
            real_obs[t, :, 0], real_obs[t, :, 1], real_obs[t, :, 2] = ready, ~ready, t / length
            if history:
                real_obs[t, :, 3] = shots / length
            if t == length:
                break
            shoot = ready & draws[t]
            land = np.where(shoot, t + flights, land)
            shots += shoot
            actions[t] = np.where(ready, shoot, 1)
            if (land == t).all():
                reward[t] = 1.0
        out.append({"episode_id": i, "real_obs": real_obs, "obs": real_obs, "actions": actions,
                    "choosing": choosing, "reward": reward, "return": float(reward.sum()), "length": length,
                    "extras": {}})
    return out


LENGTH_HEADER = ("| L | insert ms/episode | insert us/step | rewards per rewarded episode | Scheme I search ms/episode "
                 "| Scheme II search ms/episode | II us/step |\n|---|---|---|---|---|---|---|")
MEMORY_HEADER = ("| episodes (L = {length}, node_cap = {cap}) | nodes | edges | MiB | bytes/node | evicted |\n"
                 "|---|---|---|---|---|---|")

WORKLOADS = {"single": single_reward_episodes, "repeated": repeated_hunt_episodes}


def time_length(workload: str, length: int, scheme: str, train: int, probe: int, seed: int, repeats: int = 3):
    """Best of ``repeats`` timings (ms per episode) of inserting and of redistributing ``probe`` episodes."""
    rng = np.random.default_rng(seed)
    make = WORKLOADS[workload]
    config = LegemConfig(scheme=scheme)
    trained = LegemMemory(config)
    trained.add_episodes(make(rng, train, length))
    state = trained.state_dict()
    probes = make(rng, probe, length)
    inserts, searches = [], []
    rewarded = [ep for ep in probes if ep["reward"].any()] or probes
    for _ in range(repeats):
        mem = LegemMemory(config)
        mem.load_state_dict(state)
        start = time.process_time()
        mem.add_episodes(probes)
        inserts.append((time.process_time() - start) / probe)
        start = time.process_time()
        for ep in rewarded:
            mem.redistribute(ep)
        searches.append((time.process_time() - start) / len(rewarded))
    rewards = sum(int(np.count_nonzero(ep["reward"])) for ep in rewarded) / len(rewarded)
    return {"insert_ms": 1e3 * min(inserts), "search_ms": 1e3 * min(searches), "rewards": rewards}


def length_table(workload: str, lengths, train: int, probe: int, seed: int) -> str:
    rows = [LENGTH_HEADER]
    for length in lengths:
        one = time_length(workload, length, "I", train, probe, seed)
        two = time_length(workload, length, "II", train, probe, seed)
        insert = min(one["insert_ms"], two["insert_ms"])
        rows.append(f"| {length} | {insert:.2f} | {1e3 * insert / length:.1f} | {one['rewards']:.1f} "
                    f"| {one['search_ms']:.2f} | {two['search_ms']:.2f} | {1e3 * two['search_ms'] / length:.1f} |")
        print(rows[-1], flush=True)
    return "\n".join(rows)


def memory_table(length: int, counts, node_cap: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    mem = LegemMemory(LegemConfig(node_cap=node_cap))
    rows = [MEMORY_HEADER.format(length=length, cap=node_cap)]
    stored = 0
    for target in counts:
        mem.add_episodes(repeated_hunt_episodes(rng, target - stored, length, history=True))
        stored = target
        s = mem.stats()
        rows.append(f"| {target} | {int(s['legem/nodes'])} | {int(s['legem/edges'])} | "
                    f"{s['legem/bytes'] / 2**20:.1f} | {s['legem/bytes'] / max(s['legem/nodes'], 1):.0f} | "
                    f"{int(s['legem/evicted_nodes'])} |")
        print(rows[-1], flush=True)
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[20, 50, 100, 200, 500, 1000])
    ap.add_argument("--train", type=int, default=200, help="episodes inserted before timing")
    ap.add_argument("--probe", type=int, default=50, help="episodes timed")
    ap.add_argument("--memory-length", type=int, default=500)
    ap.add_argument("--memory-counts", type=int, nargs="+", default=[250, 500, 1000, 2000, 4000, 8000])
    ap.add_argument("--node-caps", type=int, nargs="+", default=[200_000, 20_000])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for workload in ("single", "repeated"):
        print(f"\n## time per episode, workload {workload!r}\n")
        print(LENGTH_HEADER)
        length_table(workload, [max(l, 12) for l in args.lengths], args.train, args.probe, args.seed)
    for cap in args.node_caps:
        print("\n## memory against episodes stored (repeated hunt with shot history)\n")
        print(MEMORY_HEADER.format(length=args.memory_length, cap=cap))
        memory_table(args.memory_length, args.memory_counts, cap, args.seed)


if __name__ == "__main__":
    main()
