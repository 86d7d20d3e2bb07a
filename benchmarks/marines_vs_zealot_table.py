"""2m-vs-1z (two Marines against one Zealot, attacks of 9 steps): final greedy win rate and return of IQL, VDN
and QMIX with and without LeGEM (SimHash keys), as the LeGEM paper's Fig. 8 compares them on SMAC's 2m_vs_1z.

Usage: python benchmarks/marines_vs_zealot_table.py [--algos iql vdn qmix] [--seeds 0 1 2 3 4]
       [--steps 40000] [--anneal 20000] [--set key=value ...] [--cache PATH | --fresh] [--no-train]
       [--train-only plain|legem]

Same runner as the other off-beat tables (``offbeat_runs.run_one``: one run at a time in this process, the
shared ``BASE`` settings, a final greedy evaluation of 64 episodes), plus the scenario preset's LeGEM keys
(``cluster/configs/scenarios/2mvs1z.yaml``: SimHash, 32 bits, return buckets 0 / 10 / 19.9) and the exploration
schedule below, given to every run so that with and without LeGEM differ only in ``learner.legem``. Runs are
cached in ``benchmarks/out/marines_vs_zealot_runs.jsonl``; ``--no-train`` prints the table from the cache.
"""
from __future__ import annotations

import argparse
import os

from offbeat_runs import cell, load_cache, run_one  # a sibling script: its folder is on the path

NAMES = {"iql": "IQL", "vdn": "VDN", "qmix": "QMIX", "qplex": "QPLEX"}
SCENARIO_LEGEM = ("legem.key=simhash", "legem.simhash_bits=32", "legem.return_edges=[0.0,10.0,19.9]")
LEGEM_ONLY = ("legem.ranking=ended",)  # named, not left to the default, so the runs' keys say which ranking ran
CACHE = os.path.join("benchmarks", "out", "marines_vs_zealot_runs.jsonl")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--algos", nargs="+", default=["iql", "vdn", "qmix"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--steps", type=int, default=40_000, help="joint environment steps per run")
    ap.add_argument("--anneal", type=int, default=20_000, help="joint steps over which epsilon falls to 0.05")
    ap.add_argument("--set", dest="extra", nargs="*", default=[], help="more run-config overrides (key=value)")
    ap.add_argument("--cache", default=CACHE, help="JSONL of finished runs (reused when the key matches)")
    ap.add_argument("--fresh", action="store_true", help="ignore and do not write the cache")
    ap.add_argument("--no-train", action="store_true", help="print what the cache holds; train nothing")
    ap.add_argument("--train-only", choices=["both", "plain", "legem"], default="both",
                    help="train only the runs without (plain) or with LeGEM; the table shows the others if cached")
    args = ap.parse_args()
    cache_path = None if args.fresh else args.cache
    cache = {} if args.fresh else load_cache(args.cache)
    extra = [*SCENARIO_LEGEM, f"rollout.epsilon_anneal_steps={args.anneal}", *args.extra]
    lines = ["| algo | win rate | win rate + LeGEM | return | return + LeGEM | seconds per run |",
             "|---|---:|---:|---:|---:|---:|"]
    for algo in args.algos:
        train = {False: args.train_only != "legem", True: args.train_only != "plain"}
        res = {legem: [run_one("2m-vs-1z", algo, legem, s, args.steps, [*extra, *(LEGEM_ONLY if legem else ())],
                               cache, cache_path, train_missing=train[legem] and not args.no_train)
                       for s in args.seeds]
               for legem in (False, True)}
        n = len(args.seeds)
        win = {k: cell([r and r["success"] for r in v], expected=n) for k, v in res.items()}
        ret = {k: cell([r and r["return"] for r in v], percent=False, expected=n) for k, v in res.items()}
        secs = [r["seconds"] for v in res.values() for r in v if r]
        mean_s = f"{sum(secs) / len(secs):.0f}" if secs else "-"
        lines.append(f"| {NAMES.get(algo, algo)} | {win[False]} | {win[True]} | {ret[False]} | {ret[True]} | "
                     f"{mean_s} |")
    print("\n".join(lines))
    print(f"\n{args.steps} joint steps per run, seeds {args.seeds}, final greedy evaluation (64 episodes): win rate "
          "and return (normalised, a won battle returns 20), mean ± std over seeds.")


if __name__ == "__main__":
    main()
