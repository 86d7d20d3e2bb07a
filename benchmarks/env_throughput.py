"""Joint environment steps per second of the batched cores, on one core, with random valid actions.

    python benchmarks/env_throughput.py [--scenarios NAME ...] [--batch-sizes 1 64 1024] [--seconds 2]

A "joint step" is one timestep of one environment copy (all agents), so a batched step of B copies counts B.
Copies whose episode ended are reset in place, as a rollout worker does.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from asyncmarl.platform.envs import make_batched, names  # noqa: E402


def measure(name: str, batch_size: int, seconds: float, seed: int = 0) -> float:
    env = make_batched(name, batch_size)
    rng = np.random.default_rng(seed)
    # A pool of random scores, cycled, keeps action sampling cheap next to the environment step.
    pool = rng.random((16, batch_size, env.n_agents, env.n_actions)).astype(np.float32)
    step = env.reset(seed=seed)
    steps, k = 0, 0
    start = time.perf_counter()
    while True:
        for _ in range(50):
            actions = (pool[k % 16] * step.action_mask).argmax(-1)
            k += 1
            step = env.step(actions)
            done = step.done
            if done.any():
                step = env.reset(seed=seed + k, where=done)
            steps += batch_size
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenarios", nargs="*", default=None, help="default: every registered scenario")
    p.add_argument("--batch-sizes", nargs="*", type=int, default=[1, 64, 1024])
    p.add_argument("--seconds", type=float, default=2.0, help="measuring time per cell")
    a = p.parse_args()
    scen = a.scenarios or names()
    header = "| scenario | " + " | ".join(f"B = {b}" for b in a.batch_sizes) + " |"
    print(header)
    print("|---|" + "---:|" * len(a.batch_sizes))
    for name in scen:
        cells = [f"{measure(name, b, a.seconds):,.0f}" for b in a.batch_sizes]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
