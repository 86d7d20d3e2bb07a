"""Stag-Hunter catch rate over seeds for IQL, VDN, QMIX and QPLEX, with and without LeGEM (cf. the paper's
Fig. 4 / Table 2 setting): each run trains in this process with ``asyncmarl.cluster.train`` and reports its
final greedy evaluation (``eval/catch_rate_mean``).

Usage: python benchmarks/stag_hunter_table.py [--steps 50000] [--seeds 0 1 2] [--algos iql vdn qmix qplex]
       [--scheme II] [--set key=value ...]   (extra run-config overrides for every run)

Runs are slow on a 2-core machine (order of 10 s per 1000 environment steps); the defaults are for a real
comparison, use --steps/--seeds to shrink it.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from asyncmarl.cluster import train
from asyncmarl.cluster.config import load_config


def run_one(algo: str, legem: bool, seed: int, steps: int, scheme: str, extra: list[str], run_root: str) -> dict:
    overrides = [
        "env.scenario=stag-hunter", f"learner.algo={algo}", "learner.atpg=false",
        f"learner.legem={str(legem).lower()}", f"legem.scheme={scheme}",
        f"seed={seed}", f"cluster.total_env_steps={steps}", "logging.wandb_mode=disabled",
        "logging.progress=false", f"logging.run_root={run_root}", *extra,
    ]
    start = time.time()
    out = train(load_config(None, overrides))
    return {"catch": float(out.get("eval/catch_rate_mean", float("nan"))), "seconds": time.time() - start}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=50_000, help="environment steps per run")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--algos", nargs="+", default=["iql", "vdn", "qmix", "qplex"])
    ap.add_argument("--scheme", default="II", choices=["I", "II"])
    ap.add_argument("--set", dest="extra", nargs="*", default=[], help="more run-config overrides (key=value)")
    args = ap.parse_args()
    run_root = tempfile.mkdtemp(prefix="stag_hunter_table_")
    print(f"| algo | without LeGEM | with LeGEM (Scheme {args.scheme}) | seconds per run |")
    print("|---|---|---|---|")
    for algo in args.algos:
        cells, secs = [], []
        for legem in (False, True):
            res = [run_one(algo, legem, s, args.steps, args.scheme, args.extra, run_root) for s in args.seeds]
            catch = np.asarray([r["catch"] for r in res])
            secs += [r["seconds"] for r in res]
            cells.append(f"{100 * catch.mean():.0f} +- {100 * catch.std():.0f}% ({len(catch)} seeds)")
        print(f"| {algo} | {cells[0]} | {cells[1]} | {np.mean(secs):.0f} |", flush=True)
    print(f"\n{args.steps} environment steps per run; final greedy evaluation catch rate, mean +- std over seeds.")


if __name__ == "__main__":
    main()
