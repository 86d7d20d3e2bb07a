"""Learning curves: train a preset for several seeds with the in-process loop, record greedy evaluation return
against episodes and wall time, and print a final table.

    python benchmarks/learn.py boxpushing-6 tomacvf --seeds 3 cluster.total_env_steps=400000
    python benchmarks/learn.py boxpushing-6 avf --seeds 3
    python benchmarks/learn.py stag-hunter qmix_legem --seeds 5

The run config is the preset ``<scenario without dashes>_<ALGO>`` (``boxpushing6_avf``; ``asyncmarl list``,
``asyncmarl show PRESET``): the scenario's file in cluster/configs/scenarios/ with the method's file in
cluster/configs/methods/ on top; then the key=value arguments. Curves go to
``benchmarks/out/<scenario>__<algo>/`` as curves.csv and curves.png. ``asyncmarl study`` runs the same
trials as Ray Tune trials, in parallel and resumable (docs/studies.md).
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from asyncmarl.cluster import train
from asyncmarl.cluster.config import load_config
from asyncmarl.cluster.presets import method_presets
from asyncmarl.cluster.study import curve_rows


def preset_name(scenario: str, algo: str) -> str:
    """The run preset of ``scenario`` (``wtd-e``) and method ``algo`` (``tomacvf_no_atpg``)."""
    return f"{scenario.replace('-', '')}_{algo}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario")
    p.add_argument("algo", choices=sorted(method_presets()))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/out")
    p.add_argument("--threshold", type=float, default=None,
                   help="also report the env steps at which each seed's greedy return first reaches this")
    p.add_argument("overrides", nargs="*", help="key=value config overrides")
    a = p.parse_intermixed_args()

    preset = preset_name(a.scenario, a.algo)
    out = Path(a.out) / f"{a.scenario}__{a.algo}"
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        cfg = load_config(preset, [f"seed={seed}", f"logging.run_root={out}/runs", "logging.progress=false",
                                   *a.overrides])
        t0 = time.perf_counter()
        final = train(cfg)
        wall = time.perf_counter() - t0
        curve = curve_rows(final["run_dir"])  # evaluations, as asyncmarl study records them
        results.append({"seed": seed, "final": final, "curve": curve, "wall_s": wall})
        last = curve[-1] if curve else {}
        print(f"seed {seed}: greedy return {last.get('return_mean', float('nan')):.1f} after "
              f"{final.get('episodes')} episodes, {final.get('env_steps')} env steps, {wall:.0f} s", flush=True)

    with open(out / "curves.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["seed", "env_steps", "episodes", "time_s", "eval_return_mean", "eval_return_ci95"])
        for r in results:
            for row in r["curve"]:
                w.writerow([r["seed"], row.get("env_steps"), row.get("episodes"), row.get("time_s"),
                            row["return_mean"], row.get("return_ci95")])
    _plot(results, out / "curves.png", f"{a.scenario} {a.algo}")

    finals = np.array([r["curve"][-1]["return_mean"] for r in results if r["curve"]])
    metric_keys = sorted({k for r in results if r["curve"] for k in r["curve"][-1]
                          if k.endswith("_mean") and k != "return_mean"})
    print()
    print("| scenario | algo | seeds | final greedy return (mean ± std) | " +
          " | ".join(metric_keys) + " | episodes | env steps | wall s |")
    print("|---|---|---:|---:|" + "---:|" * len(metric_keys) + "---:|---:|---:|")
    metrics = [np.mean([r["curve"][-1].get(k, np.nan) for r in results if r["curve"]]) for k in metric_keys]
    curves = [r["curve"] for r in results if r["curve"]]
    auc = np.mean([np.mean([row["return_mean"] for row in c]) for c in curves])
    print(f"mean greedy return over all evaluations (area under the curve / evaluations): {auc:.1f}")
    if a.threshold is not None:
        firsts = [next((row.get("env_steps") for row in c if row["return_mean"] >= a.threshold), None)
                  for c in curves]
        hit = [f for f in firsts if f is not None]
        print(f"first evaluation at or above {a.threshold:g}: {len(hit)}/{len(firsts)} seeds, env steps "
              f"{[f for f in firsts]}" + (f", mean {np.mean(hit):.0f}" if hit else ""))
    print(f"| {a.scenario} | {a.algo} | {len(finals)} | {finals.mean():.1f} ± {finals.std():.1f} | " +
          " | ".join(f"{m:.2f}" for m in metrics) +
          f" | {np.mean([r['final'].get('episodes', 0) for r in results]):.0f}"
          f" | {np.mean([r['final'].get('env_steps', 0) for r in results]):.0f}"
          f" | {np.mean([r['wall_s'] for r in results]):.0f} |")


def _plot(results: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for r in results:
        c = r["curve"]
        if not c:
            continue
        ret = [row["return_mean"] for row in c]
        axes[0].plot([row.get("episodes", 0) for row in c], ret, label=f"seed {r['seed']}")
        axes[1].plot([row.get("time_s", 0) for row in c], ret)
    axes[0].set_xlabel("episodes")
    axes[1].set_xlabel("wall time (s)")
    for ax in axes:
        ax.set_ylabel("greedy return")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
