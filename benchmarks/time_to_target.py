"""End to end: wall time and env steps until the default run's greedy return first reaches a target, per seed and
runtime, measured from the launch of ``asyncmarl train`` (Python start, imports, Ray start included).

    python benchmarks/time_to_target.py                                  # default preset, seeds 0-4, local and ray
    python benchmarks/time_to_target.py --runtimes local --seeds 3 cluster.num_rollout_workers=2

Each run is the preset (default ``boxpushing6_tomacvf``, what ``bash scripts/train.sh`` runs) plus
``cluster.stop_return=TARGET cluster.eval_interval=EVERY cluster.eval_gif=false``: a greedy evaluation every
EVERY joint steps (32 episodes, counted in the wall time) and no GIF rendering; the run stops at the first
evaluation reaching the target, or at ``--max-steps``. Runs go one at a time, alternating runtimes per seed, so
both see the same machine load. ``--ray-niceness`` sets Ray's worker niceness (Ray's own default is 15, which
on a machine shared with other jobs hands the CPU to them; the in-process runtime runs at the shell's niceness).
Prints one row per run and a median table (markdown) at the end; rows also go to ``--out`` as JSON lines.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(preset: str, runtime: str, seed: int, a, overrides: list[str]) -> dict:
    """Launch one ``asyncmarl train`` and return wall seconds and env steps to the target (None if missed)."""
    root = Path(tempfile.mkdtemp(prefix=f"ttt_{runtime}_{seed}_"))
    args = [str(ROOT / ".venv" / "bin" / "asyncmarl"), "train", preset, f"seed={seed}", f"cluster.runtime={runtime}",
            f"cluster.stop_return={a.target}", f"cluster.eval_interval={a.every}", "cluster.eval_gif=false",
            f"cluster.total_env_steps={a.max_steps}", f"logging.run_root={root}", "logging.progress=false",
            "logging.wandb_mode=disabled", *overrides]
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_worker_niceness=str(a.ray_niceness))
    load = os.getloadavg()[0]
    t0 = time.time()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=a.timeout)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{runtime} seed {seed} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    run_dir = next(root.iterdir())
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    hit = next((r for r in rows if "reached_stop_return" in r), None)
    evals = [r for r in rows if "eval/return_mean" in r]
    last = [r for r in rows if "updates" in r and "perf/env_steps_per_s" in r]
    return {"runtime": runtime, "seed": seed, "reached": hit is not None,
            "wall_s_to_target": round(hit["unix_time"] - t0, 1) if hit else None,
            "steps_to_target": hit["env_steps"] if hit else None,
            "process_s": round(wall, 1), "final_return": evals[-1]["eval/return_mean"] if evals else None,
            "updates": last[-1]["updates"] if last else None, "env_steps": last[-1]["env_steps"] if last else None,
            "cpu_s": round(_children_cpu(), 1), "load_at_start": round(load, 2), "run_dir": str(run_dir)}


_cpu_seen = 0.0


def _children_cpu() -> float:
    """CPU seconds (user + system) of the children finished since the previous call (all their processes)."""
    global _cpu_seen
    r = os.times()
    total = r.children_user + r.children_system
    out, _cpu_seen = total - _cpu_seen, total
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="boxpushing6_tomacvf")
    p.add_argument("--runtimes", nargs="+", default=["local", "ray"], choices=["local", "ray"])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--target", type=float, default=280.0)
    p.add_argument("--every", type=int, default=2000, help="joint env steps between greedy evaluations")
    p.add_argument("--max-steps", type=int, default=150_000, help="give up on a seed after this many joint steps")
    p.add_argument("--timeout", type=float, default=1200.0, help="seconds before a run is killed")
    p.add_argument("--ray-niceness", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/time_to_target.jsonl")
    p.add_argument("overrides", nargs="*", help="key=value config overrides for every run")
    a = p.parse_intermixed_args()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    _children_cpu()
    results = []
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        for runtime in a.runtimes:
            r = one_run(a.preset, runtime, seed, a, a.overrides)
            r.update(preset=a.preset, overrides=a.overrides, target=a.target)
            results.append(r)
            with open(a.out, "a") as f:
                f.write(json.dumps(r) + "\n")
            print(json.dumps(r), flush=True)
    print(f"\n{a.preset} {' '.join(a.overrides)}: greedy return >= {a.target:g}, evaluation every {a.every} steps")
    print("| runtime | seeds reaching | median wall s to target | wall s per seed | median steps to target | "
          "steps per seed | CPU s / wall s |")
    print("|---|---:|---:|---|---:|---|---:|")
    for runtime in a.runtimes:
        rs = [r for r in results if r["runtime"] == runtime]
        # a seed that misses counts as infinitely slow in the median (it did not reach the target in budget)
        walls = [r["wall_s_to_target"] if r["reached"] else float("inf") for r in rs]
        steps = [r["steps_to_target"] if r["reached"] else float("inf") for r in rs]
        cores = sum(r["cpu_s"] for r in rs) / sum(r["process_s"] for r in rs)
        fmt = lambda v: "-" if v == float("inf") else f"{v:,.0f}"  # noqa: E731
        print(f"| {runtime} | {sum(r['reached'] for r in rs)}/{len(rs)} | {fmt(statistics.median(walls))} | "
              f"{', '.join(fmt(w) for w in walls)} | {fmt(statistics.median(steps))} | "
              f"{', '.join(fmt(s) for s in steps)} | {cores:.2f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
