"""Where a run came from: the code version it ran (git commit, uncommitted changes) and every resume.

A run directory gets ``provenance.json`` when it starts (code version, package versions, command line, host) and
one line in ``resumes.jsonl`` per ``--resume`` (when, at which counters, which config keys changed, the code
version of the resuming process); ``config.yaml`` is rewritten on resume so it always describes the run as it
now continues (the original values stay in ``resumes.jsonl`` and in the first checkpoints).
"""
from __future__ import annotations

import dataclasses
import json
import platform as _platform  # the standard library module (our namespace is asyncmarl.platform)
import socket
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path

from asyncmarl.cluster.config import RunConfig, config_to_dict
from asyncmarl.cluster.rundir import write_config

PROVENANCE_FILE = "provenance.json"
RESUMES_FILE = "resumes.jsonl"
SOURCE_ROOT = Path(__file__).resolve().parents[1]  # the repository (an editable install) or site-packages


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def package_version() -> str:
    """The installed asyncmarl version (package metadata), or ``unknown`` outside an install."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("asyncmarl")
    except PackageNotFoundError:
        return "unknown"


@lru_cache(maxsize=4)
def code_version(root: str | Path = SOURCE_ROOT) -> dict:
    """``{"commit": sha, "dirty": bool, "version": package version}`` of the code at ``root``.

    ``dirty`` means tracked files differ from the commit (untracked files are ignored: run directories and
    virtual environments live in the checkout). Outside a git checkout commit and dirty are None.
    """
    root = Path(root)
    commit = _git("rev-parse", "HEAD", cwd=root)
    dirty = None
    if commit is not None:
        status = _git("status", "--porcelain", "--untracked-files=no", cwd=root)
        dirty = None if status is None else bool(status)
    return {"commit": commit, "dirty": dirty, "version": package_version()}


def _versions() -> dict:
    import numpy
    import torch

    out = {"python": _platform.python_version(), "numpy": numpy.__version__, "torch": torch.__version__}
    try:
        import ray

        out["ray"] = ray.__version__
    except ImportError:
        pass
    return out


def write_provenance(run_dir: str | Path) -> dict:
    """Write ``provenance.json`` into a new run directory (kept as is when it already exists: a resume) and
    return its contents."""
    path = Path(run_dir) / PROVENANCE_FILE
    if path.is_file():
        return json.loads(path.read_text())
    record = {"code": code_version(), "versions": _versions(), "argv": sys.argv, "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    path.write_text(json.dumps(record, indent=2) + "\n")
    return record


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}{k}.") if isinstance(v, dict) and v else {f"{prefix}{k}": v})
    return out


def config_changes(saved: dict, cfg: RunConfig) -> dict[str, list]:
    """``{dotted key: [old, new]}`` for every key where ``cfg`` differs from the config dict ``saved``."""
    a, b = _flatten(json.loads(json.dumps(saved, default=list))), _flatten(json.loads(json.dumps(
        config_to_dict(cfg), default=list)))
    return {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def record_resume(run_dir: str | Path, cfg: RunConfig, saved_config: dict, counters) -> dict:
    """Record a resume of ``run_dir``: append a line to ``resumes.jsonl`` and rewrite ``config.yaml`` as ``cfg``.

    ``saved_config``: the checkpoint's config dict (what the run had been running); ``counters``: the restored
    counters (a dataclass or dict with env_steps, updates, episodes). Returns the line written.
    """
    run_dir = Path(run_dir)
    c = dataclasses.asdict(counters) if dataclasses.is_dataclass(counters) else dict(counters)
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
             "at": {k: c.get(k) for k in ("env_steps", "updates", "episodes")},
             "changes": config_changes(saved_config, cfg), "code": code_version(), "argv": sys.argv}
    with open(run_dir / RESUMES_FILE, "a") as f:
        f.write(json.dumps(entry) + "\n")
    write_config(run_dir, cfg)
    return entry


def read_resumes(run_dir: str | Path) -> list[dict]:
    """The resume records of a run directory (empty if it was never resumed)."""
    path = Path(run_dir) / RESUMES_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
