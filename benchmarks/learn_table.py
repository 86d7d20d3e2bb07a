"""One results table from the run folders that ``benchmarks/learn.py`` leaves under ``<out>/<scenario>__<algo>/runs/``
(seeds run by separate invocations into the same --out are pooled; for a seed run twice the longer run counts).

    python benchmarks/learn_table.py benchmarks/out/boxpushing-6__tomacvf benchmarks/out/boxpushing-6__avf_qmix \
        --threshold 280 --at 100000

Per method: seeds, final greedy return (mean ± std over seeds, last evaluation at or before --at), seeds whose
final return reaches the threshold, env steps of the first evaluation at or above it, and the mean greedy
return over all evaluations up to --at (area under the curve / evaluations).
"""
from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from asyncmarl.cluster.monitor import read_metrics


def load(folders: list[str], at: float) -> dict[str, dict[int, list[tuple[float, float]]]]:
    """method -> seed -> [(env_steps, greedy return)] in order, cut at ``at`` env steps."""
    out: dict[str, dict[int, list]] = defaultdict(dict)
    for folder in folders:
        runs = sorted(Path(folder).glob("runs/*/metrics.jsonl"))
        if not runs:
            raise SystemExit(f"{folder}: no runs/*/metrics.jsonl (run benchmarks/learn.py with --out first)")
        for path in runs:
            seed = int(yaml.safe_load((path.parent / "config.yaml").read_text())["seed"])
            curve = [(float(r["env_steps"]), float(r["eval/return_mean"])) for r in read_metrics(path)
                     if "eval/return_mean" in r and r["env_steps"] <= at]
            if curve and len(curve) >= len(out[Path(folder).name].get(seed, [])):
                out[Path(folder).name][seed] = curve
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="+")
    p.add_argument("--threshold", type=float, default=280.0)
    p.add_argument("--at", type=float, default=float("inf"), help="use evaluations up to this many env steps")
    a = p.parse_args()
    print(f"| method | seeds | final greedy return | seeds >= {a.threshold:g} "
          f"| env steps to {a.threshold:g} (per seed) | mean over evaluations |")
    print("|---|---:|---:|---:|---|---:|")
    for method, seeds in load(a.folders, a.at).items():
        finals = np.array([c[-1][1] for c in seeds.values()])
        firsts = [next((int(s) for s, r in c if r >= a.threshold), None) for c in seeds.values()]
        auc = np.mean([np.mean([r for _, r in c]) for c in seeds.values()])
        steps = ", ".join("-" if f is None else f"{f // 1000}k" for f in firsts)
        print(f"| {method} | {len(finals)} | {finals.mean():.1f} ± {finals.std():.1f} | "
              f"{int((finals >= a.threshold).sum())}/{len(finals)} | {steps} | {auc:.1f} |")


if __name__ == "__main__":
    main()
