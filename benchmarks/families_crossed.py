"""The two asynchrony families crossed: ToMacVF on the off-beat games and LeGEM on BoxPushing-6.

Usage:
    python benchmarks/families_crossed.py --part offbeat    [--games stag-hunter quarry afforestation] [--seeds 0 1 2]
                                                            [--algos qmix tomacvf]
    python benchmarks/families_crossed.py --part boxpushing [--seeds 0 1 2] [--steps 100000]
    common: [--steps N] [--cache PATH | --fresh] [--no-train]

``offbeat``: QMIX and ToMacVF (QMIX mixer with ATPG, temporal agent network, Mac-SJERT), each with and without
LeGEM (Scheme II, one-step targets), on each off-beat game with the shared settings of the off-beat tables
(``offbeat_runs.BASE``, 200,000 joint steps; ToMacVF switches ATPG and the temporal agent network back on).
The QMIX runs have the keys of ``stag_hunter_table.py --table main`` and ``offbeat_table.py``, so runs those
tables made are reused. Cells: final greedy success (Stag-Hunter catch rate, Quarry all rocks broken,
Afforestation share of plots mature) and return over 64 episodes, mean ± std over seeds.

``boxpushing``: the ``boxpushing6_tomacvf`` preset (the ToMacVF paper's BoxPushing-6 settings; 5-step targets)
at ``--steps`` joint steps, against the same with one-step targets (what LeGEM requires) and with LeGEM
(``learner.legem=true``, one-step targets; keys are the exact bytes of BoxPushing's 5-value observation).
On macro-action scenarios LeGEM keys a busy agent's step with -1, so every real macro-action (0 included) is a
commit that can be a pivot: see docs/legem.md "The two families crossed". Cells: final greedy return over 32
episodes, mean ± std over seeds, and how many seeds' final policy scores above 100 (the big box, 300, is pushed;
the small ones pay 20 each).

Runs train one at a time in this process and are cached in benchmarks/results/offbeat_runs.jsonl (committed) with
the code version they ran (``offbeat_runs.code_version``), so an interrupted command resumes and a rerun prints at
once.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
from offbeat_runs import DEFAULT_CACHE, cell, code_version, load_cache, remember, run_one  # a sibling script

GAMES = ("stag-hunter", "quarry", "afforestation")
TOMACVF = ["learner.atpg=true", "learner.agent_net.temporal=true"]  # undo BASE's plain-RNN, no-ATPG settings
BOX_PRESET = "boxpushing6_tomacvf"
BOX_ARMS = {  # name -> overrides on the preset
    "ToMacVF (5-step, the preset)": [],
    "ToMacVF (1-step)": ["learner.n_step=1"],
    "ToMacVF + LeGEM (1-step)": ["learner.legem=true", "learner.n_step=1"],
}
BOX_SHARED = ["cluster.eval_gif=false", "logging.wandb_mode=disabled", "logging.progress=false"]


def offbeat_extra(game: str, algo: str, legem: bool) -> list[str]:
    """Overrides of one off-beat cell, spelled as the existing tables spell them (so their runs are reused)."""
    extra = list(TOMACVF) if algo == "tomacvf" else []
    if legem and game == "stag-hunter":
        extra.append("legem.scheme=II")  # stag_hunter_table.py names the scheme; offbeat_table.py does not
    return extra


def offbeat_part(args, cache, cache_path) -> None:
    cells = [(algo, legem) for algo in ("qmix", "tomacvf") for legem in (False, True)]
    if not args.no_train:
        for s in args.seeds:
            for game in args.games:
                for algo, legem in cells:
                    if algo not in args.algos:
                        continue
                    run_one(game, algo, legem, s, args.steps, offbeat_extra(game, algo, legem), cache, cache_path)
    names = {("qmix", False): "QMIX", ("qmix", True): "QMIX + LeGEM", ("tomacvf", False): "ToMacVF",
             ("tomacvf", True): "ToMacVF + LeGEM"}
    lines = ["| game | " + " | ".join(names[c] for c in cells) + " | seconds per run (ToMacVF) |",
             "|---" + "|---:" * (len(cells) + 1) + "|"]
    for game in args.games:
        row, secs = [], []
        for algo, legem in cells:
            res = [run_one(game, algo, legem, s, args.steps, offbeat_extra(game, algo, legem), cache, cache_path,
                           train_missing=False) for s in args.seeds]
            done = [r for r in res if r is not None]
            succ = cell([r["success"] for r in done], expected=len(args.seeds)) if done else "not run"
            ret = cell([r["return"] for r in done], percent=False) if done else ""
            row.append(f"{succ} ({ret})" if done else succ)
            secs += [r["seconds"] for r in done if algo == "tomacvf"]
        mean_s = f"{np.mean(secs):.0f}" if secs else "-"
        lines.append(f"| {game} | " + " | ".join(row) + f" | {mean_s} |")
    print("\n".join(lines))
    print(f"\n{args.steps} joint steps per run, seeds {args.seeds}; cells: final greedy success, mean ± std over "
          "seeds (final greedy return in brackets).")


def box_key(arm: str, seed: int, steps: int) -> str:
    return json.dumps(["preset", BOX_PRESET, int(seed), int(steps), sorted(BOX_ARMS[arm] + BOX_SHARED)])


def box_run(arm: str, seed: int, steps: int, cache: dict, cache_path: str | None, train: bool) -> dict | None:
    """One BoxPushing-6 run of ``arm`` (cached like the off-beat runs); None when not cached and not training."""
    key = box_key(arm, seed, steps)
    if key in cache or not train:
        return cache.get(key)
    code = code_version()
    from asyncmarl.cluster import train as train_run
    from asyncmarl.cluster.config import load_config

    overrides = [f"seed={seed}", f"cluster.total_env_steps={steps}",
                 f"logging.run_root={tempfile.mkdtemp(prefix='crossed_runs_')}", *BOX_SHARED, *BOX_ARMS[arm]]
    start = time.time()
    out = train_run(load_config(BOX_PRESET, overrides))
    row = {"key": key, "scenario": "boxpushing-6", "preset": BOX_PRESET, "arm": arm, "seed": int(seed),
           "steps": int(steps), "extra": BOX_ARMS[arm], "return": float(out.get("eval/return_mean", float("nan"))),
           "seconds": time.time() - start, **code}
    if not np.isfinite(row["return"]):
        raise RuntimeError(f"run {BOX_PRESET} {arm} seed={seed} ended without a final evaluation")
    remember(row, cache, cache_path)
    print(f"  {BOX_PRESET} {arm} seed={seed}: return {row['return']:.1f} ({row['seconds']:.0f} s)", flush=True)
    return row


def box_part(args, cache, cache_path) -> None:
    if not args.no_train:
        for s in args.seeds:
            for arm in BOX_ARMS:
                box_run(arm, s, args.steps, cache, cache_path, train=True)
    lines = ["| method | final greedy return | seeds above 100 (big box) | per seed | seconds per run |",
             "|---|---:|---:|---|---:|"]
    for arm in BOX_ARMS:
        res = [box_run(arm, s, args.steps, cache, cache_path, train=False) for s in args.seeds]
        done = [r for r in res if r is not None]
        if not done:
            lines.append(f"| {arm} | not run | | | |")
            continue
        rets = [r["return"] for r in done]
        lines.append(f"| {arm} | {cell(rets, percent=False, expected=len(args.seeds))} | "
                     f"{sum(r > 100 for r in rets)}/{len(rets)} | {', '.join(f'{r:.1f}' for r in rets)} | "
                     f"{np.mean([r['seconds'] for r in done]):.0f} |")
    print("\n".join(lines))
    print(f"\n{BOX_PRESET}, {args.steps} joint steps per run, seeds {args.seeds}.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=["offbeat", "boxpushing"], required=True)
    ap.add_argument("--games", nargs="+", default=list(GAMES), choices=list(GAMES))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--algos", nargs="+", default=["qmix", "tomacvf"], choices=["qmix", "tomacvf"],
                    help="offbeat part: which learners to train (the table prints both from the cache)")
    ap.add_argument("--steps", type=int, default=None, help="joint steps per run (200,000 off-beat, 100,000 box)")
    ap.add_argument("--cache", default=DEFAULT_CACHE, help="JSONL of finished runs (reused when the key matches)")
    ap.add_argument("--fresh", action="store_true", help="ignore and do not write the cache")
    ap.add_argument("--no-train", action="store_true", help="print from the cache only")
    args = ap.parse_args()
    args.steps = args.steps or (200_000 if args.part == "offbeat" else 100_000)
    cache_path = None if args.fresh else args.cache
    cache = {} if args.fresh else load_cache(args.cache)
    (offbeat_part if args.part == "offbeat" else box_part)(args, cache, cache_path)


if __name__ == "__main__":
    main()
