"""The run config each study trial was started with, and what to do when a preset changes under a study.

``prepare`` writes ``trials/<id>/config.yaml`` (the resolved run config) for every trial that has not started,
and it is committed with the trial's curve and result. When the study runs again, a trial that has already
trained (finished, or checkpointed part-way) is compared with the config its preset and overrides give now: a
changed preset would otherwise mix old results with new settings without a word (a finished trial is skipped, a
checkpointed one resumes). :func:`changed_trials` finds them; the study then stops with a message naming each
trial and the keys that differ, or, with ``--rerun-changed``, runs them again from scratch.

Only keys that shape the result are compared: logging, the run name and the cluster's plumbing (checkpoint
cadence, GIFs, restarts, Ray addresses, memory and stall checks) are not.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from asyncmarl.cluster.config import config_differences
from asyncmarl.cluster.rundir import write_config

RECORD = "config.yaml"  # in trials/<id>/: the run config the trial was started with
NOT_COMPARED = ("logging.", "name", "cluster.address", "cluster.checkpoint_interval", "cluster.checkpoint_replay",
                "cluster.eval_gif", "cluster.max_restarts", "cluster.memory_limit_gb", "cluster.stall_warn_s",
                "cluster.actor_cpus")


def _read(path: Path) -> dict | None:
    if not path.is_file():
        return None
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else None


def recorded_config(out: Path, trial_id: str) -> dict | None:
    """The run config a trial was started with: its record, else its run directory's ``config.yaml`` (trials of
    studies run before the record existed), else None."""
    return _read(out / "trials" / trial_id / RECORD) or _read(out / "runs" / trial_id / RECORD)


def record_config(out: Path, trial_id: str, cfg, started: bool) -> None:
    """Write the trial's record unless it has one: ``cfg`` for a trial that has not trained yet, the run
    directory's config for one that has (when it still exists)."""
    folder = out / "trials" / trial_id
    if (folder / RECORD).is_file():
        return
    if not started:
        write_config(folder, cfg)
        return
    run_config = out / "runs" / trial_id / RECORD
    if run_config.is_file():
        (folder / RECORD).write_text(run_config.read_text(encoding="utf-8"), encoding="utf-8")


def config_changes(recorded: dict, cfg) -> list[tuple[str, object, object]]:
    """``(key, value then, value now)`` for every compared key where the record and ``cfg`` differ."""
    return config_differences(recorded, cfg, NOT_COMPARED)


def changed_trials(out: Path, started: list[str], configs: dict) -> dict[str, list[tuple[str, object, object]]]:
    """``{trial id: changes}`` for the trials in ``started`` (finished or checkpointed) whose recorded config
    differs from ``configs[id]``; trials with no record and no run directory are not compared."""
    changed = {}
    for tid in started:
        recorded = recorded_config(out, tid)
        if recorded is None:
            continue
        diff = config_changes(recorded, configs[tid])
        if diff:
            changed[tid] = diff
    return changed


def describe_changes(study: str, changed: dict) -> str:
    """The error a study stops with when trials that already trained would now get other settings."""
    lines = []
    for tid, diff in changed.items():
        shown = "; ".join(f"{k}: {a!r} then, {b!r} now" for k, a, b in diff[:4])
        lines.append(f"  {tid}: {shown}" + (f" (and {len(diff) - 4} more)" if len(diff) > 4 else ""))
    return (f"study {study}: {len(changed)} trial(s) already trained with other settings than their presets and "
            f"overrides give now:\n" + "\n".join(lines) + "\nTheir results would mix with runs of the new settings. "
            "Restore the old values, or run the study with --rerun-changed to train those trials again from scratch "
            "(their curves and results are replaced).")
