"""Stag-Hunter catch rate over seeds: IQL, VDN, QMIX and QPLEX with and without LeGEM (cf. the paper's Fig. 4),
with and without time in the hunters' observations, and QMIX / VDN with n-step and TD(lambda) targets without
LeGEM (the paper's Table 2).

Usage:
    python benchmarks/stag_hunter_table.py --table main    [--seeds 0 1 2 3 4] [--algos iql vdn qmix qplex]
                                                           [--obs time notime] [--legem off on]
    python benchmarks/stag_hunter_table.py --table targets [--seeds 0 1 2] [--algos qmix vdn]
    common: [--steps 200000] [--scheme II] [--set key=value ...] [--cache PATH | --fresh] [--no-train]

Each run trains in this process (one at a time, single-threaded) and reports its final greedy catch rate over
64 evaluation episodes; cells are mean ± std over seeds. Shared settings: ``offbeat_runs.BASE`` (one-step TD
targets unless a row sets n or lambda). ``--obs notime`` runs the game with ``env.settings.observe_time=false``
(the hunters do not observe t / T; presets ``staghunter-notime_<method>``); the main table trains seed-major
over every cell, so a cut-short run leaves every cell with as many seeds as possible. Finished runs are cached
in benchmarks/results/offbeat_runs.jsonl (committed) with the commit (and any uncommitted change) they ran, so a
rerun prints at once and an interrupted one resumes. About 60 s per run at 200,000 steps on this machine.
"""
from __future__ import annotations

import argparse

from offbeat_runs import DEFAULT_CACHE, cell, load_cache, run_one  # a sibling script: its folder is on the path

N_STEPS = (1, 5, 10, 15)  # the paper's Table 2 columns
LAMBDAS = (0.8, 0.9, 0.99, 1.0)
NAMES = {"iql": "IQL", "vdn": "VDN", "qmix": "QMIX", "qplex": "QPLEX"}


OBS = {"time": [], "notime": ["env.settings.observe_time=false"]}  # the variants' extra overrides
OBS_NAMES = {"time": "t/T observed", "notime": "no time observed"}


def main_table(args, cache, cache_path) -> None:
    """Rows: algorithms; columns: without and with LeGEM, per observation variant (side by side)."""

    def extra(obs: str, legem: bool) -> list[str]:
        return [*OBS[obs], *([f"legem.scheme={args.scheme}"] if legem else []), *args.extra]

    if not args.no_train:
        for s in args.seeds:
            for obs in args.obs:
                for algo in args.algos:
                    for legem in args.legem:
                        run_one("stag-hunter", algo, legem, s, args.steps, extra(obs, legem), cache, cache_path)
    head = " | ".join(f"{OBS_NAMES[o]}: without LeGEM | {OBS_NAMES[o]}: with LeGEM (Scheme {args.scheme})"
                      for o in args.obs)
    lines = [f"| algo | {head} | seconds per run |", "|---" + "|---:" * (2 * len(args.obs) + 1) + "|"]
    for algo in args.algos:
        cells, secs = [], []
        for obs in args.obs:
            for legem in (False, True):
                res = [run_one("stag-hunter", algo, legem, s, args.steps, extra(obs, legem), cache, cache_path,
                               train_missing=False) for s in args.seeds]
                cells.append(cell([None if r is None else r["success"] for r in res], expected=len(args.seeds)))
                secs += [r["seconds"] for r in res if r is not None]
        mean_s = f"{sum(secs) / len(secs):.0f}" if secs else "-"
        lines.append(f"| {NAMES.get(algo, algo)} | " + " | ".join(cells) + f" | {mean_s} |")
    print("\n".join(lines))
    print(f"\n{args.steps} joint steps per run, seeds {args.seeds}, final greedy catch rate, mean ± std over seeds.")
    commits = {}
    for r in cache.values():
        if r.get("scenario") == "stag-hunter" and "commit" in r:
            code = r["commit"] + (f" + uncommitted {r['diff']} ({', '.join(r['dirty'])})" if r["dirty"] else "")
            commits[code] = commits.get(code, 0) + 1
    for code, count in sorted(commits.items()):
        print(f"code of {count} cached Stag-Hunter run(s): {code}")


def targets_table(args, cache, cache_path) -> None:
    """The paper's Table 2 layout: n-step returns (left) and TD(lambda) (right), learners without LeGEM.

    Trains seed by seed over every cell (so a cut-short run leaves every cell with as many seeds as possible);
    ``--no-train`` prints what the cache holds."""
    settings = [f"learner.n_step={n}" for n in N_STEPS] + [f"learner.td_lambda={lam}" for lam in LAMBDAS]
    if not args.no_train:
        for s in args.seeds:
            for algo in args.algos:
                for opt in settings:
                    run_one("stag-hunter", algo, False, s, args.steps, [opt, *args.extra], cache, cache_path)
    head = "| n | " + " | ".join(str(n) for n in N_STEPS) + " | lambda | " + " | ".join(str(l) for l in LAMBDAS) + " |"
    lines = [head, "|---" * (2 * len(N_STEPS) + 2) + "|"]
    for algo in args.algos:
        cells = []
        for opt in settings:
            res = [run_one("stag-hunter", algo, False, s, args.steps, [opt, *args.extra], cache, cache_path,
                           train_missing=False) for s in args.seeds]
            cells.append(cell([None if r is None else r["success"] for r in res], expected=len(args.seeds)))
        name = NAMES.get(algo, algo)
        k = len(N_STEPS)
        lines.append(f"| {name} | " + " | ".join(cells[:k]) + f" | {name} | " + " | ".join(cells[k:]) + " |")
    print("\n".join(lines))
    print(f"\n{args.steps} joint steps per run, seeds {args.seeds}, without LeGEM, final greedy catch rate, "
          "mean ± std over seeds.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table", choices=["main", "targets"], default="main")
    ap.add_argument("--steps", type=int, default=200_000, help="joint environment steps per run")
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="default: 0-4 (main), 0-2 (targets)")
    ap.add_argument("--algos", nargs="+", default=None, help="default: iql vdn qmix qplex (main), qmix vdn (targets)")
    ap.add_argument("--scheme", default="II", choices=["I", "II"])
    ap.add_argument("--legem", nargs="+", default=["off", "on"], choices=["off", "on"],
                    help="main table: which LeGEM arms to train (the table prints both)")
    ap.add_argument("--obs", nargs="+", default=["time", "notime"], choices=list(OBS),
                    help="main table: observation variants, side by side (time: t/T observed, as the default game)")
    ap.add_argument("--set", dest="extra", nargs="*", default=[], help="more run-config overrides (key=value)")
    ap.add_argument("--cache", default=DEFAULT_CACHE, help="JSONL of finished runs (reused when the key matches)")
    ap.add_argument("--fresh", action="store_true", help="ignore and do not write the cache")
    ap.add_argument("--no-train", action="store_true", help="print from the cache only")
    args = ap.parse_args()
    args.legem = [x == "on" for x in args.legem]
    main_tab = args.table == "main"
    args.seeds = args.seeds or ([0, 1, 2, 3, 4] if main_tab else [0, 1, 2])
    args.algos = args.algos or (["iql", "vdn", "qmix", "qplex"] if main_tab else ["qmix", "vdn"])
    cache_path = None if args.fresh else args.cache
    cache = {} if args.fresh else load_cache(args.cache)
    (main_table if main_tab else targets_table)(args, cache, cache_path)


if __name__ == "__main__":
    main()
