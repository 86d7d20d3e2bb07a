"""``asyncmarl report DIR [...]``: a study's results as a markdown table and a PNG figure per scenario.

Reads only what a study folder commits (``trials/<id>/trial.json``, ``curve.csv``, ``result.json``), so a report
can be rebuilt from the repository without the run directories. Per scenario and method (the trial's label):
final greedy return (mean and 95% CI over seeds), seeds whose greedy return reached the threshold, the env steps
and wall time at which each did, the mean greedy return over the run (area under the curve divided by the
steps it spans), episodes, updates, steps and wall time per run. The figure draws greedy return against env steps,
the mean over seeds with a 95% CI band per method (:func:`asyncmarl.cluster.plot.group_curve`).
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from asyncmarl.cluster.plot import group_curve
from asyncmarl.cluster.study import read_curve


class ReportError(ValueError):
    """A folder that holds no study results, or results that cannot be read; the message names the path."""


@dataclass
class Trial:
    """One finished trial as the report sees it."""

    info: dict  # trial.json
    curve: list = field(default_factory=list)  # curve.csv rows
    result: dict = field(default_factory=dict)  # result.json


def load_trials(dirs: list[str | Path]) -> tuple[list[Trial], list[dict], dict]:
    """(finished trials, trial.json of the unfinished ones, the studies' settings by name) of study folders."""
    done, pending, studies = [], [], {}
    for d in map(Path, dirs):
        folders = sorted((d / "trials").glob("*/trial.json"))
        if not folders:
            raise ReportError(f"{d} holds no study trials (expected {d}/trials/<id>/trial.json; run asyncmarl study)")
        if (d / "study.yaml").is_file():
            spec = yaml.safe_load((d / "study.yaml").read_text()) or {}
            studies[spec.get("name", d.name)] = spec
        order = _trial_order(d)
        for f in sorted(folders, key=lambda p: order.get(p.parent.name, len(order))):
            try:
                info = json.loads(f.read_text())
                if not (f.parent / "result.json").is_file():
                    pending.append(info)
                    continue
                done.append(Trial(info, read_curve(f.parent / "curve.csv"),
                                  json.loads((f.parent / "result.json").read_text())))
            except (OSError, ValueError, KeyError) as e:
                raise ReportError(f"{f.parent}: cannot read the trial's files ({e})") from None
    return done, pending, studies


def _trial_order(d: Path) -> dict[str, int]:
    """Trial ids in the study's own order (presets as listed), from study.yaml; else alphabetical."""
    try:
        from asyncmarl.cluster.study_spec import StudySpec, trials

        spec = yaml.safe_load((d / "study.yaml").read_text())
        return {t.id: k for k, t in enumerate(trials(StudySpec(**spec)))}
    except Exception:  # noqa: BLE001 - a hand-edited or older study.yaml only changes the order
        return {}


# ---------------------------------------------------------------------------------------------- numbers
def _xy(t: Trial) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([r["env_steps"] for r in t.curve], float), np.array([r["return_mean"] for r in t.curve], float))


def auc_mean(x: np.ndarray, y: np.ndarray) -> float:
    """Area under the curve divided by the steps it spans: the mean greedy return over the run (one point: it)."""
    if len(x) < 2 or x[-1] == x[0]:
        return float(y[-1]) if len(y) else math.nan
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))


def first_reach(t: Trial, threshold: float) -> tuple[float, float] | None:
    """(env steps, wall seconds) of the first evaluation at or above ``threshold``; None if none."""
    for r in t.curve:
        if r["return_mean"] >= threshold:
            return r["env_steps"], r["time_s"]
    return None


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and 95% CI half-width (Student t over the values; NaN for one value)."""
    c = group_curve([(np.zeros(1), np.array([v], float)) for v in values])
    return float(c["mean"][0]), float(c["hi"][0] - c["mean"][0])


def _k(steps: float) -> str:
    """Env steps, short: 1.52M, 150k, 1.5k, 520."""
    if steps >= 1e6:
        return f"{steps / 1e6:.2f}M"
    if steps >= 1e4:
        return f"{steps / 1e3:.0f}k"
    return f"{steps / 1e3:.1f}k" if steps >= 1e3 else f"{steps:.0f}"


def _s(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 600 else f"{seconds:.0f} s"


def method_rows(trials: list[Trial], threshold: float | None) -> list[list[str]]:
    """One table row per method label, in order of first appearance."""
    by: dict[str, list[Trial]] = defaultdict(list)
    for t in trials:
        by[t.info["label"]].append(t)
    rows = []
    for label, ts in by.items():
        finals = [t.curve[-1]["return_mean"] if t.curve else math.nan for t in ts]
        m, half = mean_ci(finals)
        row = [label, str(len(ts)), f"{m:.1f} ± {half:.1f}" if len(ts) > 1 else f"{m:.1f}"]
        if threshold is not None:
            hits = [first_reach(t, threshold) for t in ts]
            row += [f"{sum(h is not None for h in hits)}/{len(ts)}",
                    ", ".join(_k(h[0]) if h else "-" for h in hits),
                    ", ".join(_s(h[1]) if h else "-" for h in hits)]
        row += [f"{np.mean([auc_mean(*_xy(t)) for t in ts]):.1f}",
                f"{np.mean([t.result.get('episodes') or 0 for t in ts]):,.0f}",
                f"{np.mean([t.result.get('updates') or 0 for t in ts]):,.0f}",
                _k(np.mean([t.result.get('env_steps') or 0 for t in ts])),
                _s(np.mean([t.result.get('time_s') or 0 for t in ts]))]
        rows.append(row)
    return rows


def table(trials: list[Trial], threshold: float | None) -> list[str]:
    """The markdown table of one scenario."""
    head = ["method", "seeds", "final greedy return (mean ± 95% CI)"]
    if threshold is not None:
        head += [f"seeds reaching {threshold:g}", f"env steps to {threshold:g} (per seed)",
                 f"wall time to {threshold:g} (per seed)"]
    head += ["mean greedy return over the run (AUC / steps)", "episodes", "updates", "env steps", "wall time per run"]
    align = ["---"] + ["---:"] * (len(head) - 1)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in method_rows(trials, threshold)]
    return lines


# ---------------------------------------------------------------------------------------------- figures
def figure(trials: list[Trial], scenario: str, path: Path) -> Path:
    """PNG of greedy return against env steps: per method the mean over seeds and its 95% CI band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by: dict[str, list[Trial]] = defaultdict(list)
    for t in trials:
        if t.curve:
            by[t.info["label"]].append(t)
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    partial = False
    for label, ts in by.items():
        c = group_curve([_xy(t) for t in ts])
        full = c["n"] == len(ts)
        partial |= not full.all()
        marker = "o" if len(c["x"]) <= 60 else None
        (line,) = ax.plot(c["x"], np.where(full, c["mean"], np.nan), marker=marker, markersize=3, lw=1.8,
                          label=f"{label} ({len(ts)} seed{'s' * (len(ts) > 1)})")
        if not full.all():
            ax.plot(c["x"], c["mean"], ls="--", lw=1.1, color=line.get_color())
        if (c["n"] >= 2).any():
            ax.fill_between(c["x"], c["lo"], c["hi"], color=line.get_color(), alpha=0.2, lw=0)
    ax.set_title(f"{scenario}: greedy return during training", fontsize=11)
    ax.set_xlabel("environment steps (joint)")
    ax.set_ylabel("greedy return (mean over evaluation episodes)")
    note = "mean over seeds, band: 95% CI" + ("; dashed: not every seed" if partial else "")
    ax.legend(fontsize=8, title=note, title_fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------- the page
def study_threshold(studies: dict, scenario: str) -> float | None:
    """The studies' threshold for ``scenario`` (a study's number, or its entry for the scenario); None when the
    studies give none or disagree."""
    found = set()
    for spec in studies.values():
        th = spec.get("threshold")
        th = th.get(scenario) if isinstance(th, dict) else th
        if th is not None:
            found.add(float(th))
    return found.pop() if len(found) == 1 else None


def write_report(dirs: list[str | Path], out: str | Path | None = None, threshold: float | None = None) -> Path:
    """Write ``report.md`` and ``figures/<scenario>.png`` into ``out`` (default: the only study folder given)."""
    dirs = [Path(d) for d in dirs]
    if out is None:
        if len(dirs) > 1:
            raise ReportError("several study folders: name where the report goes with --out DIR")
        out = dirs[0]
    out = Path(out)
    done, pending, studies = load_trials(dirs)
    by_scenario: dict[str, list[Trial]] = defaultdict(list)
    for t in done:
        by_scenario[t.info["scenario"]].append(t)
    names = ", ".join(sorted(studies)) or ", ".join(d.name for d in dirs)
    lines = [f"# Study report: {names}", "",
             f"Written by `asyncmarl report {' '.join(str(d) for d in dirs)}` from {len(done)} finished "
             f"trial{'s' * (len(done) != 1)}" + (f" ({len(pending)} not finished)" if pending else "") + ". "
             "Greedy return: the mean over one evaluation's episodes (`cluster.eval_episodes`), evaluated every "
             "`cluster.eval_interval` env steps and at the end; the final one is the run's last. CI: Student t "
             "over seeds. Wall time is the run's own clock (resumed runs continue it) on whatever machine ran it.",
             ""]
    for scenario, ts in by_scenario.items():
        budgets = sorted({int(t.info.get("total_env_steps", 0)) for t in ts})
        fig = figure(ts, scenario, out / "figures" / f"{scenario}.png")
        lines += [f"## {scenario}", "",
                  f"Budget per run: {', '.join(f'{b:,}' for b in budgets)} joint env steps "
                  f"(presets: {', '.join(sorted({t.info['preset'] for t in ts}))}).", "",
                  f"![{scenario}: greedy return against env steps]({fig.relative_to(out).as_posix()})", ""]
        lines += table(ts, threshold if threshold is not None else study_threshold(studies, scenario)) + [""]
    if pending:
        lines += ["## Not finished", "", ", ".join(sorted(p["id"] for p in pending)), ""]
    out.mkdir(parents=True, exist_ok=True)
    page = out / "report.md"
    page.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return page
