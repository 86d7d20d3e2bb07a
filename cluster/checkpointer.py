"""A run's checkpoints and its run-directory lock: what goes into a checkpoint, restoring one, and keeping
``metrics.jsonl`` consistent with the checkpoint a run resumes from.

The checkpoint file format itself lives in :mod:`.checkpoint`.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

from asyncmarl.cluster.checkpoint import load_checkpoint, save_checkpoint
from asyncmarl.cluster.config import config_to_dict
from asyncmarl.cluster.handles import call, get

log = logging.getLogger("asyncmarl.cluster")
LOCK_FILE = ".lock"


class RunDirBusy(ValueError):
    """Another process holds the run directory (a second ``train --resume`` of the same run)."""


class RunDirLock:
    """An OS file lock on ``run_dir/.lock`` for the life of a run: a second process that tries to take it is
    refused at once. The kernel drops the lock when the holder exits, even after ``kill -9``."""

    def __init__(self, run_dir: Path):
        import fcntl

        self.path = Path(run_dir) / LOCK_FILE
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            raise RunDirBusy(f"run directory {run_dir} is in use by another asyncmarl process (pid {holder}); "
                             "wait for it to finish or stop it first") from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def truncate_metrics(path: Path, env_steps: int, updates: int) -> int:
    """Drop the rows of ``metrics.jsonl`` logged after a checkpoint at (``env_steps``, ``updates``): a driver
    killed after its last checkpoint leaves rows a resumed run would log again. Returns the rows dropped; a
    truncated last line (the killed writer's) is dropped too."""
    path = Path(path)
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            dropped += 1
            continue
        if row.get("env_steps", 0) > env_steps or row.get("updates", 0) > updates:
            dropped += 1
        else:
            kept.append(line)
    if dropped:
        tmp = path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(f"{k}\n" for k in kept))
        os.replace(tmp, path)
    return dropped


class Checkpointer:
    """Collects every role's state into one checkpoint file in ``run_dir/checkpoints`` and restores it."""

    def __init__(self, run_dir: Path, cfg):
        self.folder = Path(run_dir) / "checkpoints"
        self.cfg = cfg
        self.last: Path | None = None

    def collect(self, topo, counters, restarts: dict, wandb_id: str | None, with_replay: bool,
                salvage: bool = False) -> dict:
        """Every role's state (requests sent to all roles before waiting on any).

        ``salvage`` (a run giving up): a rollout worker or shard that cannot answer is saved as None (a resume
        gives it a fresh state) instead of failing the whole checkpoint; the learner must answer."""
        from asyncmarl.cluster.handles import failure_types

        def take(ref):
            if not salvage:
                return get(ref)
            try:
                return get(ref)
            except failure_types() as e:
                log.warning("a role's state was not saved: %s", type(e).__name__)
                return None

        refs = {"learner": call(topo.learner, "state_dict"), "policy": call(topo.learner, "publish"),
                "legem": call(topo.legem, "state_dict") if topo.legem is not None else None,
                "rollouts": [call(r, "state_dict") for r in topo.rollouts],
                "replay": [call(s, "state_dict") for s in topo.shards] if with_replay else None}
        return {"format": 2, "config": config_to_dict(self.cfg), "counters": dataclasses.asdict(counters),
                "learner": get(refs["learner"]),
                "legem": take(refs["legem"]) if refs["legem"] is not None else None,
                "policy": get(refs["policy"]), "rollouts": [take(r) for r in refs["rollouts"]],
                "replay": [take(r) for r in refs["replay"]] if with_replay else None,
                "restarts": dict(restarts), "wandb_id": wandb_id}

    def save(self, state: dict) -> Path:
        self.last = save_checkpoint(self.folder, int(state["counters"]["updates"]), state)
        return self.last

    def role_state(self, role: str) -> Any:
        """One role's state from the last checkpoint this run wrote (None before the first)."""
        return load_checkpoint(self.last).get(role) if self.last is not None else None

    @staticmethod
    def restore(topo, state: dict) -> None:
        """Learner, LeGEM, rollout workers and (when the checkpoint holds it) replay from ``state``."""
        refs = [call(topo.learner, "load_state_dict", state["learner"])]
        if topo.legem is not None and state.get("legem") is not None:
            refs.append(call(topo.legem, "load_state_dict", state["legem"]))
        if len(state["rollouts"]) == len(topo.rollouts):  # None: not saved (the worker was gone), start fresh
            refs += [call(r, "load_state_dict", s)
                     for r, s in zip(topo.rollouts, state["rollouts"], strict=True) if s is not None]
        replay = state.get("replay")
        if replay is not None and len(replay) == len(topo.shards):
            refs += [call(s, "load_state_dict", r) for s, r in zip(topo.shards, replay, strict=True) if r is not None]
        elif replay is not None:
            log.warning("replay not restored: the checkpoint holds %d shard(s), this run has %d", len(replay),
                        len(topo.shards))
        for ref in refs:
            get(ref)
