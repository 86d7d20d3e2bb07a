"""Sample efficiency of the off-beat table runs: joint steps until the exploring (training) episodic return first
reaches a share of the game's best return, per (scenario, algo, LeGEM, n / lambda) over seeds.

Usage: python benchmarks/offbeat_speed.py [--roots '/tmp/offbeat_runs_*'] [--share 0.5]

Reads the run directories that ``offbeat_runs.run_one`` trains into (``config.yaml`` and ``metrics.jsonl``);
the best returns are the exact optima of ``offbeat_optimum.py`` (Stag-Hunter 10, Quarry 30, Afforestation 6).
The exploring return is logged per ~5,200 steps and includes epsilon-greedy actions, so it is a lower bound of
the greedy return at that time.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
from collections import defaultdict

import numpy as np
import yaml

BEST = {"stag-hunter": 10.0, "quarry": 30.0, "afforestation": 6.0}


def first_crossing(metrics_path: str, threshold: float) -> tuple[float, int]:
    """(first env_steps whose logged exploring return >= threshold, or inf; total logged steps)."""
    first, last = float("inf"), 0
    with open(metrics_path) as f:
        for line in f:
            row = json.loads(line)
            last = max(last, int(row.get("env_steps", 0)))
            if first == float("inf") and row.get("charts/episodic_return", -np.inf) >= threshold:
                first = float(row["env_steps"])
    return first, last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--roots", default="/tmp/offbeat_runs_*", help="glob of run roots")
    ap.add_argument("--share", type=float, default=0.5, help="threshold as a share of the best return")
    args = ap.parse_args()
    groups: dict[tuple, dict[int, float]] = defaultdict(dict)  # run kind -> seed -> steps (a rerun replaces)
    paths = glob.glob(os.path.join(args.roots, "*", "config.yaml"))
    for cfg_path in sorted(paths, key=lambda p: os.path.basename(os.path.dirname(p))):  # ends with its start time
        run = os.path.dirname(cfg_path)
        if not os.path.exists(os.path.join(run, "metrics.jsonl")):
            continue
        cfg = yaml.safe_load(open(cfg_path))
        game, lrn = cfg["env"]["scenario"], cfg["learner"]
        steps, last = first_crossing(os.path.join(run, "metrics.jsonl"), args.share * BEST[game])
        if last < int(cfg["cluster"]["total_env_steps"]) * 0.9:
            continue  # an interrupted run
        timed = bool((cfg["env"].get("settings") or {}).get("observe_time", True))  # Stag-Hunter's no-time variant
        key = (game if timed else f"{game} (no time)", lrn["algo"], bool(lrn["legem"]), lrn["n_step"], lrn["td_lambda"])
        groups[key][int(cfg["seed"])] = steps
    print(f"| game | algo | LeGEM | n | lambda | seeds | steps to {args.share:g} x best (exploring) | not reached |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for (game, algo, legem, n, lam), vals in sorted(groups.items(), key=lambda kv: str(kv[0])):
        v = np.asarray(list(vals.values()))
        hit = v[np.isfinite(v)]
        mean = f"{hit.mean() / 1e3:.0f}K ± {hit.std() / 1e3:.0f}K" if hit.size else "-"
        print(f"| {game} | {algo} | {'yes' if legem else 'no'} | {n} | {lam if lam is not None else '-'} | "
              f"{v.size} | {mean} | {int((~np.isfinite(v)).sum())} |")


if __name__ == "__main__":
    main()
