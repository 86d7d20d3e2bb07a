"""The driver's counters and the metric rows built from what rollout workers and the learner report.

Counters are the run's one source of truth for env steps, episodes, updates and versions: rollout workers get
the global step count with each call (their epsilon schedule), a restarted learner numbers on from ``version``.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

CHART_NAMES = {"return": "charts/episodic_return", "length": "charts/episodic_length"}  # CleanRL's names


@dataclass
class Counters:
    env_steps: int = 0  # joint environment steps, all workers
    episodes: int = 0  # finished training episodes
    updates: int = 0  # learner updates (equals the learner's version; restarts number on)
    version: int = 0  # learner version last reported
    published: int = -1  # version of the weights last published to rollout workers
    partial_rows: int = 0  # sampled batch rows that were not whole episodes (must stay 0)
    sample_errors: int = 0  # sample requests lost to a failed shard
    elapsed_s: float = 0.0  # wall time of the run before this session (resumes add up)


class MetricRows:
    """Accumulates rollout and learner reports between two rows and turns them into one row."""

    def __init__(self, counters: Counters):
        self.c = counters
        self._window: dict = defaultdict(list)  # what happened since the last row
        self._learner_sums: dict = defaultdict(float)
        self._last = (time.perf_counter(), counters.env_steps, counters.updates)

    def reset_clock(self) -> None:
        self._last = (time.perf_counter(), self.c.env_steps, self.c.updates)

    def absorb_rollout(self, out: dict) -> None:
        self.c.env_steps += int(out["env_steps"])
        self.c.episodes += len(out["episodes"])
        self._window["episodes"].extend(out["episodes"])
        self._window["shard_errors"].append(out["shard_errors"])
        if "epsilon" in out:
            self._window["epsilon"].append(float(out["epsilon"]))

    def absorb_learner(self, out: dict) -> None:
        n = int(out["updates"])
        self.c.updates += n
        self.c.version = int(out["version"])
        self.c.partial_rows += int(out["partial_rows"])
        self.c.sample_errors += int(out["sample_errors"])
        for k in ("wait_s", "train_s"):
            self._learner_sums[k] += float(out[k])
        for k, v in out.items():
            if "/" in k:  # the learner's own namespaced metrics, averaged over its updates
                self._learner_sums[k] += float(v) * n
        self._learner_sums["_n"] += n

    def row(self, time_s: float) -> dict:
        """One row: counters, rates since the last row, episode means, learner means."""
        now = time.perf_counter()
        t_prev, steps_prev, updates_prev = self._last
        dt = max(now - t_prev, 1e-9)
        c = self.c
        row = {"env_steps": c.env_steps, "updates": c.updates, "episodes": c.episodes, "time_s": time_s,
               "learner/version": c.version,
               "perf/env_steps_per_s": (c.env_steps - steps_prev) / dt,
               "perf/updates_per_s": (c.updates - updates_prev) / dt,
               "replay/partial_rows": c.partial_rows, "replay/sample_errors": c.sample_errors}
        eps = self._window.pop("episodes", [])
        if eps:
            for key in eps[0]:
                if key in ("worker_id", "policy_version"):
                    continue
                vals = [float(e[key]) for e in eps if key in e]
                row[CHART_NAMES.get(key, f"charts/{key}")] = float(np.mean(vals))
            row["rollout/policy_lag"] = float(np.mean([c.version - e.get("policy_version", 0) for e in eps]))
        epsilon = self._window.pop("epsilon", [])
        if epsilon:
            row["rollout/epsilon"] = float(np.mean(epsilon))
        row["rollout/shard_errors"] = int(sum(self._window.pop("shard_errors", [])))
        s = self._learner_sums
        n = s.pop("_n", 0)
        wait, train = s.pop("wait_s", 0.0), s.pop("train_s", 0.0)
        if wait + train > 0:
            row["learner/wait_fraction"] = wait / (wait + train)
        if n:
            row.update({k: v / n for k, v in s.items()})
        s.clear()
        self._last = (now, c.env_steps, c.updates)
        return row
