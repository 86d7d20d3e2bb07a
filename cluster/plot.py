"""Learning curves of runs against environment steps: runs that differ only by seed form one group, drawn as the
mean over its runs with a 95% confidence band (Student t over the runs at each step) and point markers.

Groups are labelled by the config keys whose values differ between them (``mixer=vdn, atpg=False``), what they
share goes in the title, and the legend counts distinct seeds (and runs, when a seed was run twice). Nothing is
cut: where only some of a group's runs reached a step (a run resumed to a longer budget, a run still going) the
mean continues over the runs that did, drawn dashed.
"""
from __future__ import annotations

import logging
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

from asyncmarl.cluster.config import config_group_key, config_to_dict
from asyncmarl.cluster.monitor import algo_label, read_metrics
from asyncmarl.cluster.rundir import read_config

log = logging.getLogger("asyncmarl.cluster")
MAX_POINTS = 400  # a group's curve is evaluated on at most this many steps
MARKERS_UP_TO = 60  # draw point markers when a group has at most this many steps
LABEL_KEYS = 4  # config keys named in a legend label (more are counted)
_IGNORED = ("seed", "name", "logging")  # never part of what distinguishes groups


def curve(run_dir: str | Path, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(env steps, values) of ``metric`` in a run's metrics.jsonl, in step order.

    A resumed run continues from its last checkpoint, so its file may log some steps twice; the rows written
    later (by the resumed run) replace the earlier ones from that step on.
    """
    xs: list[float] = []
    ys: list[float] = []
    for r in read_metrics(run_dir):
        v, x = r.get(metric), r.get("env_steps")
        if v is None or x is None:
            continue
        while xs and xs[-1] >= x:  # the run went back (resume): forget what the interrupted run logged past it
            xs.pop()
            ys.pop()
        xs.append(float(x))
        ys.append(float(v))
    return np.array(xs, float), np.array(ys, float)


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = tuple(v) if isinstance(v, list) else v
    return out


def _describe(cfg) -> dict:
    d = config_to_dict(cfg)
    for k in _IGNORED:
        d.pop(k, None)
    return _flat(d)


def group_labels(configs: dict[str, object]) -> tuple[dict[str, str], str]:
    """Legend labels for groups ``{group key: a config of the group}`` naming the keys that differ between them,
    and a title naming what they share (scenario and algorithm when common)."""
    flat = {g: _describe(c) for g, c in configs.items()}
    keys = sorted(set().union(*flat.values()))
    differ = [k for k in keys if len({repr(f.get(k)) for f in flat.values()}) > 1]
    leaves = [k.rsplit(".", 1)[-1] for k in differ]
    short = {k: (leaf if leaves.count(leaf) == 1 else k) for k, leaf in zip(differ, leaves, strict=True)}
    any_cfg = next(iter(configs.values()))
    scenarios = {c.env.scenario for c in configs.values()}
    algos = {algo_label(c) for c in configs.values()}
    shared = (([any_cfg.env.scenario] if len(scenarios) == 1 else [])
              + ([algo_label(any_cfg)] if len(algos) == 1 else []))
    if len(configs) == 1:
        return {g: " ".join(shared) for g in configs}, " ".join(shared)
    labels = {}
    for g, f in flat.items():
        parts = [f"{short[k]}={f.get(k)}" for k in differ[:LABEL_KEYS]]
        if len(differ) > LABEL_KEYS:
            parts.append(f"+{len(differ) - LABEL_KEYS} more keys")
        labels[g] = ", ".join(parts)
    return labels, " ".join(shared)


def _t975(dof: np.ndarray) -> np.ndarray:
    from scipy.stats import t

    return t.ppf(0.975, np.maximum(dof, 1))


def group_curve(runs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Mean, 95% CI bounds and run count of one group's runs on the union of their steps.

    Each run counts only between its first and last logged step (linear interpolation between its points)."""
    xs = np.unique(np.concatenate([x for x, _ in runs]))
    if len(xs) > MAX_POINTS:
        xs = np.linspace(xs[0], xs[-1], MAX_POINTS)
    vals = np.full((len(runs), len(xs)), np.nan)  # [runs, steps]
    for k, (x, y) in enumerate(runs):
        inside = (xs >= x[0]) & (xs <= x[-1])
        vals[k, inside] = np.interp(xs[inside], x, y)
    n = (~np.isnan(vals)).sum(0)  # [steps] runs covering each step
    with warnings.catch_warnings():  # a step between runs that do not overlap has no value: NaN, no warning
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(vals, 0)
    sd = np.zeros_like(mean)
    several = n >= 2
    sd[several] = np.nanstd(vals[:, several], 0, ddof=1)
    half = np.where(several, _t975(n - 1) * sd / np.sqrt(np.maximum(n, 1)), np.nan)
    return {"x": xs, "mean": mean, "lo": mean - half, "hi": mean + half, "n": n}


def figure(run_dirs: list[str | Path], metric: str = "charts/episodic_return", title: str | None = None):
    """A matplotlib Figure of ``metric`` for ``run_dirs``; raises ValueError if no run logged it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[str, list] = defaultdict(list)
    configs: dict[str, object] = {}
    for rd in run_dirs:
        cfg = read_config(rd)
        x, y = curve(rd, metric)
        if not len(x):
            log.warning("%s logged no %s; left out of the plot", rd, metric)
            continue
        key = config_group_key(cfg)
        groups[key].append((x, y, cfg.seed))
        configs.setdefault(key, cfg)
    if not groups:
        raise ValueError(f"no run in {list(map(str, run_dirs))} logged {metric!r}")
    labels, shared = group_labels(configs)
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    partial_any = False
    for key, runs in groups.items():
        c = group_curve([(x, y) for x, y, _ in runs])
        seeds = len({s for *_, s in runs})
        count = f"{seeds} seed{'s' * (seeds > 1)}" + (f", {len(runs)} runs" if len(runs) > seeds else "")
        label = f"{labels[key]} ({count})" if labels[key] else f"({count})"
        marker = "o" if len(c["x"]) <= MARKERS_UP_TO else None
        full = c["n"] == len(runs)
        partial_any |= not full.all()
        (line,) = ax.plot(c["x"], np.where(full, c["mean"], np.nan), marker=marker, markersize=4, lw=1.8,
                          label=label if full.any() else None)
        if not full.all():  # steps only some runs reached: dashed, same colour
            ax.plot(c["x"], c["mean"], ls="--", lw=1.2, color=line.get_color(), marker=marker, markersize=3,
                    label=None if full.any() else label)
        if (c["n"] >= 2).any():
            ax.fill_between(c["x"], c["lo"], c["hi"], color=line.get_color(), alpha=0.2, lw=0)
    ax.set_title(title or f"{shared + ': ' if shared else ''}{metric}", fontsize=10)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(metric)
    note = "mean over runs, band: 95% CI" + ("; dashed: not all runs reached these steps" if partial_any else "")
    ax.legend(fontsize=8, title=note, title_fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_runs(run_dirs: list[str | Path], out: str | Path, metric: str = "charts/episodic_return",
              title: str | None = None) -> Path:
    """Write a PNG of ``metric`` for ``run_dirs`` (see :func:`figure`); raises ValueError if no run logged it."""
    import matplotlib.pyplot as plt

    fig = figure(run_dirs, metric, title)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
