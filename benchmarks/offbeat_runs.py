"""Shared runner of the off-beat learning tables (``stag_hunter_table.py``, ``offbeat_table.py``).

Each run trains in this process with ``asyncmarl.cluster.train`` and is summarised by its final greedy
evaluation. Finished runs are appended to a JSONL cache keyed by everything that defines the run, so a table
command that is interrupted (or extended by more seeds) only trains what is missing; ``--fresh`` ignores it.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import time

import numpy as np

# Settings every table run shares (the budget the measured tables use; see docs/legem.md "Learning results").
# n_step 1: the paper's off-beat TD (eq. 4) is a one-step target, and PyMARL's learners (the paper's baselines)
# also default to one step; the n-step / TD(lambda) table varies it explicitly.
BASE = (
    "learner.atpg=false",
    "learner.agent_net.temporal=false",
    "learner.n_step=1",
    "cluster.updates_per_iteration=4",
    "rollout.epsilon_anneal_steps=100000",
    "cluster.eval_episodes=64",
    "cluster.eval_interval=0",
    "logging.wandb_mode=disabled",
    "logging.progress=false",
)

# Committed (a results file, not a scratch folder): finished runs outlive the machine, and a rerun on a fresh
# checkout skips them.
DEFAULT_CACHE = os.path.join("benchmarks", "results", "offbeat_runs.jsonl")


_CODE: dict | None = None  # the code version of this process's runs (fixed when the package is first imported)
SOURCE_DIRS = ("platform", "learner", "memory_service", "rollout_workers", "cluster")  # what a run executes


def code_version() -> dict:
    """{"commit": HEAD, "dirty": package files that differ from HEAD, "diff": hash of that difference}, taken once
    per process right before the package is first imported (a run uses the code of that moment even if the
    working tree changes later). Empty strings when git is not available."""
    global _CODE
    if _CODE is None:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

        def git(*args: str) -> str:
            try:
                return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout
            except (OSError, subprocess.CalledProcessError):
                return ""
        diff = git("diff", "HEAD", "--", *SOURCE_DIRS)
        _CODE = {"commit": git("rev-parse", "--short", "HEAD").strip(),
                 "dirty": git("diff", "HEAD", "--name-only", "--", *SOURCE_DIRS).split(),
                 "diff": hashlib.sha1(diff.encode()).hexdigest()[:10] if diff else ""}
    return _CODE


def run_key(scenario: str, algo: str, legem: bool, seed: int, steps: int, extra: list[str]) -> str:
    """The cache key of one run: every input that changes what it trains."""
    return json.dumps([scenario, algo, bool(legem), int(seed), int(steps), list(BASE), sorted(extra)])


def load_cache(path: str) -> dict[str, dict]:
    """Key -> result of every run recorded in ``path`` (later lines win)."""
    out: dict[str, dict] = {}
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    out[row["key"]] = row
    return out


def run_one(scenario: str, algo: str, legem: bool, seed: int, steps: int, extra: list[str], cache: dict,
            cache_path: str | None, train_missing: bool = True) -> dict | None:
    """Train one run (or return its cached result): {"return", "success", "seconds", ...}; None when it is not
    cached and ``train_missing`` is false. Overrides already in ``BASE`` are dropped (the same run, one key)."""
    extra = [e for e in extra if e not in BASE]
    key = run_key(scenario, algo, legem, seed, steps, extra)
    if key in cache:
        return cache[key]
    if not train_missing:
        return None
    code = code_version()
    import asyncmarl.memory_service.legem  # noqa: F401  (imported now, with the code version just recorded)
    from asyncmarl.cluster import train
    from asyncmarl.cluster.config import load_config

    overrides = [f"env.scenario={scenario}", f"learner.algo={algo}", f"learner.legem={str(legem).lower()}",
                 f"seed={seed}", f"cluster.total_env_steps={steps}",
                 f"logging.run_root={tempfile.mkdtemp(prefix='offbeat_runs_')}", *BASE, *extra]
    start = time.time()
    out = train(load_config(None, overrides))
    success = out.get("eval/catch_rate_mean", out.get("eval/success_mean", float("nan")))
    row = {"key": key, "scenario": scenario, "algo": algo, "legem": bool(legem), "seed": int(seed),
           "steps": int(steps), "extra": list(extra), "return": float(out.get("eval/return_mean", float("nan"))),
           "success": float(success), "seconds": time.time() - start, **code}
    if not np.isfinite(row["success"]):  # a run stopped early (e.g. by SIGTERM) has no final evaluation
        raise RuntimeError(f"run {scenario} {algo} legem={legem} seed={seed} ended without a final evaluation")
    remember(row, cache, cache_path)
    print(f"  {scenario} {algo} legem={legem} seed={seed} {' '.join(extra)}: return {row['return']:.2f}, "
          f"success {row['success']:.2f} ({row['seconds']:.0f} s)", flush=True)
    return row


def remember(row: dict, cache: dict, cache_path: str | None) -> None:
    """Put a finished run's row in the cache and append it to the cache file (when there is one)."""
    cache[row["key"]] = row
    if cache_path:
        os.makedirs(os.path.dirname(cache_path) or ".", exist_ok=True)
        with open(cache_path, "a") as f:
            f.write(json.dumps(row) + "\n")


def cell(values, percent: bool = True, expected: int | None = None) -> str:
    """'mean +- std' over seeds (population std), as a percentage or a plain number; None entries are runs not
    made, and a cell with fewer than ``expected`` runs says how many it has."""
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    if v.size == 0:
        return "not run"
    text = f"{100 * v.mean():.0f} ± {100 * v.std():.0f}%" if percent else f"{v.mean():.2f} ± {v.std():.2f}"
    return text if expected is None or v.size >= expected else f"{text} ({v.size} seed{'s' if v.size != 1 else ''})"
