"""Quarry and Afforestation: final greedy return of a learner with and without LeGEM against the game's exact
optimum (``offbeat_optimum.search``, undiscounted).

Usage: python benchmarks/offbeat_table.py [--games quarry afforestation] [--algo qmix] [--seeds 0 1 2]
       [--steps 200000] [--set key=value ...] [--cache PATH | --fresh]

Same runner, shared settings and run cache as ``stag_hunter_table.py`` (``offbeat_runs``); the optimum is
cached there too (Afforestation's search takes about 30 s).
"""
from __future__ import annotations

import argparse
import json
import os

from offbeat_runs import DEFAULT_CACHE, cell, load_cache, run_one  # a sibling script: its folder is on the path


def optimum(game: str, cache: dict, cache_path: str | None) -> float:
    """Best undiscounted return of ``game`` with its default settings (exact forward DP)."""
    key = json.dumps(["optimum", game])
    if key not in cache:
        from offbeat_optimum import afforestation_rules, quarry_rules, search

        rules = {"quarry": quarry_rules, "afforestation": afforestation_rules}[game]
        cache[key] = {"key": key, "return": float(search(game, rules, 1.0)["best"])}
        if cache_path:
            os.makedirs(os.path.dirname(cache_path) or ".", exist_ok=True)
            with open(cache_path, "a") as f:
                f.write(json.dumps(cache[key]) + "\n")
    return cache[key]["return"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--games", nargs="+", default=["quarry", "afforestation"], choices=["quarry", "afforestation"])
    ap.add_argument("--algo", default="qmix", help="learner (the best one on Stag-Hunter)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=200_000, help="joint environment steps per run")
    ap.add_argument("--set", dest="extra", nargs="*", default=[], help="more run-config overrides (key=value)")
    ap.add_argument("--cache", default=DEFAULT_CACHE, help="JSONL of finished runs (reused when the key matches)")
    ap.add_argument("--fresh", action="store_true", help="ignore and do not write the cache")
    args = ap.parse_args()
    cache_path = None if args.fresh else args.cache
    cache = {} if args.fresh else load_cache(args.cache)
    lines = [f"| game | optimum | {args.algo} return | {args.algo} + LeGEM return | success | "
             f"success + LeGEM | seconds per run |", "|---|---:|---:|---:|---:|---:|---:|"]
    for game in args.games:
        best = optimum(game, cache, cache_path)
        res = {legem: [run_one(game, args.algo, legem, s, args.steps, list(args.extra), cache, cache_path)
                       for s in args.seeds] for legem in (False, True)}
        ret = {k: cell([r["return"] for r in v], percent=False) for k, v in res.items()}
        succ = {k: cell([r["success"] for r in v]) for k, v in res.items()}
        secs = [r["seconds"] for v in res.values() for r in v]
        lines.append(f"| {game} | {best:g} | {ret[False]} | {ret[True]} | {succ[False]} | {succ[True]} | "
                     f"{sum(secs) / len(secs):.0f} |")
    print("\n".join(lines))
    print(f"\n{args.steps} joint steps per run, seeds {args.seeds}, final greedy return and success (Quarry: share "
          "of evaluation episodes with every rock broken; Afforestation: share of plots mature), mean ± std over "
          "seeds.")


if __name__ == "__main__":
    main()
