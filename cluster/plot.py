"""Learning curves: one line per config (runs that differ only by seed are grouped), mean over seeds with a
shaded min-max spread, against environment steps."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from asyncmarl.cluster.config import config_group_key
from asyncmarl.cluster.monitor import read_metrics
from asyncmarl.cluster.rundir import read_config


def curve(run_dir: str | Path, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(env steps, values) of ``metric`` in a run's metrics.jsonl."""
    rows = [r for r in read_metrics(run_dir) if r.get(metric) is not None]
    return np.array([r["env_steps"] for r in rows], float), np.array([r[metric] for r in rows], float)


def plot_runs(run_dirs: list[str | Path], out: str | Path, metric: str = "charts/episodic_return") -> Path:
    """Write a PNG of ``metric`` for ``run_dirs``; raises ValueError if no run logged it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[str, list] = defaultdict(list)
    labels: dict[str, str] = {}
    for rd in run_dirs:
        cfg = read_config(rd)
        x, y = curve(rd, metric)
        if len(x):
            key = config_group_key(cfg)
            groups[key].append((x, y))
            labels[key] = f"{cfg.env.scenario} {cfg.learner.algo} [{key[:6]}]"
    if not groups:
        raise ValueError(f"no run in {list(map(str, run_dirs))} logged {metric!r}")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, runs in groups.items():
        lo = max(float(x[0]) for x, _ in runs)
        hi = min(float(x[-1]) for x, _ in runs)
        grid = np.linspace(lo, hi, 100) if hi > lo else np.array([lo])
        ys = np.stack([np.interp(grid, x, y) for x, y in runs])  # [seeds, 100]
        mean = ys.mean(0)
        (line,) = ax.plot(grid, mean, label=f"{labels[key]} ({len(runs)} seed{'s' * (len(runs) > 1)})")
        if len(runs) > 1:
            ax.fill_between(grid, ys.min(0), ys.max(0), color=line.get_color(), alpha=0.2)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(metric)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
