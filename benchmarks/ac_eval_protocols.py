"""Evaluate the last checkpoint of actor-critic runs under three protocols, to compare with published numbers.

    python benchmarks/ac_eval_protocols.py benchmarks/out/ac1m/boxpushing-6__mac_iaicc/runs/*

* ``greedy``: complete episodes, each agent takes its most likely macro-action (our evaluation).
* ``sampled``: complete episodes, each agent samples its policy (``rollout.eval_sample=true``; what MacroMARL's
  ``test_mode`` does per decision).
* ``first-to-finish``: MacroMARL's pg_based runner in test mode (``EnvsRunner.run(n_epis=10, test_mode=True)``
  with ``--n_env=32``): 32 copies sample their policies, a finished copy starts a new episode at once, and the
  evaluation is the mean of the first 10 episodes to *finish*. Episodes that run long (an agent stuck pushing a
  wall until the 100-step horizon) rarely finish among the first 10, so this protocol reports the short
  (successful) episodes; the published Mac-IAICC / Mac-NIACC numbers were measured this way. Returns here are
  undiscounted team returns, as in every other table.
"""
from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from asyncmarl.cluster.offline import load_policy_worker
from asyncmarl.platform.envs import make_batched


@dataclasses.dataclass(frozen=True)
class Protocol:
    copies: int = 32  # the reference's --n_env
    episodes: int = 10  # the reference's --eval_num_epi: the first this many episodes to finish count
    repeats: int = 10  # evaluations averaged (the published numbers average the last 5)


def first_to_finish(worker, proto: Protocol, seed: int) -> float:
    """Mean undiscounted return of the first ``proto.episodes`` episodes to finish among ``proto.copies``
    copies sampling the policy (finished copies restart at once)."""
    B = proto.copies
    env = make_batched(worker.scenario, B, **worker.env_settings)
    policy = worker._policy(B)  # a fresh acting policy over B copies with the worker's loaded network
    rng = np.random.default_rng(seed)
    step = env.reset(seed=rng.integers(0, 2**31 - 1, size=B))
    returns, finished = np.zeros(B), []
    while len(finished) < proto.episodes:
        step = env.step(policy.act(step, 0.0, rng, explore=True))
        policy.observe(step)
        returns += step.reward
        finished.extend(float(returns[b]) for b in np.flatnonzero(step.done))
        if step.done.any():
            returns[step.done] = 0.0
            step = env.reset(seed=rng.integers(0, 2**31 - 1, size=B), where=step.done)
            policy.reset(step.t == 0)
    return float(np.mean(finished[:proto.episodes]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run directories (their last checkpoint is evaluated)")
    p.add_argument("--episodes", type=int, default=64, help="complete episodes for greedy and sampled")
    p.add_argument("--seed", type=int, default=12345)
    a = p.parse_args()
    proto = Protocol()
    print("| run | greedy | sampled | first-to-finish (10 of 32, mean of 10) |")
    print("|---|---:|---:|---:|")
    for run in a.runs:
        cells = []
        for sample in (False, True):
            worker, _ = load_policy_worker(run, a.seed)
            worker.config = dataclasses.replace(worker.config, eval_sample=sample)
            cells.append(worker.evaluate(a.episodes, seed=a.seed)["return_mean"])
        worker, _ = load_policy_worker(run, a.seed)
        ref = np.mean([first_to_finish(worker, proto, a.seed + k) for k in range(proto.repeats)])
        print(f"| {run} | {cells[0]:.1f} | {cells[1]:.1f} | {ref:.1f} |", flush=True)


if __name__ == "__main__":
    main()
