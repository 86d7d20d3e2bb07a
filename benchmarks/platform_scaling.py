"""Platform throughput: env steps/s and learner updates/s with 1, 2 and 4 rollout actors and 1 and 2 replay
shards on Ray, against the in-process loop, plus the fraction of the learner's time spent waiting for data.

    python benchmarks/platform_scaling.py [--preset boxpushing6_tomacvf] [--steps 20000] [--workers 1 2 4]
                                          [--shards 1 2] [--json benchmarks/out/platform_scaling.json]

Each cell is one short training run (`asyncmarl.cluster.train`). Rates are measured in steady state: between
the first logged row after the learner started and the last row, from the run's metrics.jsonl (actor start-up
is excluded). Ray actors reserve no CPUs (`cluster.actor_cpus=0`), so every layout fits on a small machine.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("WANDB_MODE", "disabled")

from asyncmarl.cluster import train  # noqa: E402
from asyncmarl.cluster.config import load_config  # noqa: E402
from asyncmarl.cluster.monitor import read_metrics  # noqa: E402


def steady_rates(run_dir: str) -> dict:
    """Env steps/s, updates/s and mean learner wait fraction between the first row with updates and the last."""
    rows = [r for r in read_metrics(run_dir) if "perf/env_steps_per_s" in r]
    live = [r for r in rows if r["updates"] > 0]
    if len(live) < 2:
        raise RuntimeError(f"{run_dir}: too few logged rows after the learner started; raise --steps")
    a, b = live[0], live[-1]
    dt = b["time_s"] - a["time_s"]
    waits = [r["learner/wait_fraction"] for r in live[1:] if r.get("learner/wait_fraction") is not None]
    lags = [r["rollout/policy_lag"] for r in live[1:] if r.get("rollout/policy_lag") is not None]
    return {"env_steps_per_s": (b["env_steps"] - a["env_steps"]) / dt,
            "updates_per_s": (b["updates"] - a["updates"]) / dt,
            "wait_fraction": sum(waits) / len(waits) if waits else float("nan"),
            "policy_lag": sum(lags) / len(lags) if lags else float("nan"), "seconds": dt}


def run_cell(preset: str, steps: int, runtime: str, workers: int, shards: int, root: str) -> dict:
    cfg = load_config(preset, [
        f"cluster.runtime={runtime}", f"cluster.num_rollout_workers={workers}",
        f"cluster.num_replay_shards={shards}", f"cluster.total_env_steps={steps}", "cluster.actor_cpus=0",
        "cluster.eval_interval=0", "cluster.eval_episodes=1", "cluster.checkpoint_interval=1000000",
        "logging.log_interval=10", "logging.progress=false", "logging.wandb_mode=disabled",
        f"logging.run_root={root}", f"name={runtime}_w{workers}_s{shards}"])
    t0 = time.perf_counter()
    final = train(cfg)
    out = steady_rates(final["run_dir"])
    out.update(runtime=runtime, workers=workers, shards=shards, wall_s=time.perf_counter() - t0)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="boxpushing6_tomacvf")
    p.add_argument("--steps", type=int, default=20000, help="env steps per cell")
    p.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    p.add_argument("--shards", type=int, nargs="*", default=[1, 2])
    p.add_argument("--json", default=None, help="also write the rows here")
    a = p.parse_args()
    import ray

    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    root = tempfile.mkdtemp(prefix="platform_scaling_")
    rows = [run_cell(a.preset, a.steps, "local", w, 1, root) for w in (1, 2)]
    rows += [run_cell(a.preset, a.steps, "ray", w, s, root) for s in a.shards for w in a.workers]
    ray.shutdown()
    print(f"\n{a.preset}, {a.steps} env steps per run, {os.cpu_count()} CPUs\n")
    print("| loop | rollout workers | shards | env steps/s | updates/s | learner waiting | policy lag |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['runtime']} | {r['workers']} | {r['shards']} | {r['env_steps_per_s']:.0f} | "
              f"{r['updates_per_s']:.1f} | {100 * r['wait_fraction']:.0f}% | {r['policy_lag']:.1f} |")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
