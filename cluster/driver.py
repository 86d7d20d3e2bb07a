"""The driver: owns the run directory, the counters, the logs (metrics.jsonl, wandb, progress bar), checkpoints,
evaluation and the stop signal. The loops that move data (:mod:`.loops`) call back into it.

    from asyncmarl.cluster import train
    final = train(load_config("tiny"))                 # in one process (cluster.runtime=local)
    final = train(cfg, resume="runs/<run>")            # continue a stopped run
"""
from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from asyncmarl.cluster.checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint, save_checkpoint
from asyncmarl.cluster.config import RunConfig, config_group_key, config_to_dict
from asyncmarl.cluster.hosts import call, failure_types, resolve
from asyncmarl.cluster.monitor import MetricsLog, Progress, WandbSink, wandb_mode
from asyncmarl.cluster.roles import Roles
from asyncmarl.cluster.rundir import create_run_dir, run_dir_of, run_name, write_config
from asyncmarl.cluster.topology import Topology, check_fits

log = logging.getLogger("asyncmarl.cluster")

# Keys that may differ when resuming: how long to run, where, and how to log (never what is learned).
RESUMABLE_CHANGES = ("cluster.total_env_steps", "cluster.runtime", "cluster.address", "cluster.actor_cpus",
                     "cluster.max_restarts", "cluster.checkpoint_replay", "name")

CHART_NAMES = {"return": "charts/episodic_return", "length": "charts/episodic_length"}  # CleanRL's names


@dataclass
class Counters:
    env_steps: int = 0  # joint environment steps, all workers
    episodes: int = 0  # finished training episodes
    updates: int = 0  # learner updates
    version: int = 0  # learner version last reported
    published: int = -1  # version of the weights last published to rollout workers
    partial_rows: int = 0  # sampled batch rows that were not whole episodes (must stay 0)
    sample_errors: int = 0  # sample requests lost to a failed shard
    elapsed_s: float = 0.0  # wall time of the run before this session (resumes add up)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(_flatten(v, key + ".") if isinstance(v, dict) else {key: v})
    return out


def check_resumable(saved: dict, cfg: RunConfig) -> None:
    """Raise :class:`CheckpointError` naming the keys that differ from the checkpoint's config."""
    a, b = _flatten(saved), _flatten(config_to_dict(cfg))
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)
                  and not k.startswith("logging.") and k not in RESUMABLE_CHANGES)
    if diff:
        shown = "; ".join(f"{k}: checkpoint {a.get(k)!r}, now {b.get(k)!r}" for k in diff[:6])
        raise CheckpointError(f"cannot resume: the config differs from the checkpoint's in {len(diff)} key(s): "
                              f"{shown}. Resume with the run's own config (omit CONFIG) or start a new run.")


class Driver:
    """One training run. ``hooks`` are called as ``hook(driver)`` once per loop round (tests use them to kill
    actors or stop the run)."""

    def __init__(self, cfg: RunConfig, run_dir: str | Path | None = None, resume: str | Path | None = None,
                 roles: Roles | None = None, hooks: tuple[Callable, ...] = ()):
        self.cfg, self.roles, self.hooks = cfg, roles or Roles(), tuple(hooks)
        self.resume_state = None
        if resume is not None:
            ckpt = resolve_checkpoint(resume)
            self.resume_state = load_checkpoint(ckpt)
            check_resumable(self.resume_state["config"], cfg)
            run_dir = run_dir or run_dir_of(ckpt)
        self._run_dir_arg = run_dir
        self.run_dir: Path | None = None
        self.c = Counters()
        self.topo: Topology | None = None
        self.weights = None  # (version, weights) in one process; an ObjectRef of it under Ray
        self.stop_reason: str | None = None
        self.last_checkpoint: Path | None = None
        self._window: dict = defaultdict(list)  # what happened since the last log row
        self._learner_sums: dict = defaultdict(float)
        self._eval: dict = {}
        self._t0 = time.perf_counter()
        self._last_log = (time.perf_counter(), 0, 0)  # time, env steps, updates at the last row
        self._next_log = self._next_ckpt = self._next_eval = 0
        self.final_row: dict = {}

    # ------------------------------------------------------------------ progress
    def finished(self) -> bool:
        return self.stop_reason is not None or self.c.env_steps >= self.cfg.cluster.total_env_steps

    def request_stop(self, reason: str = "requested") -> None:
        self.stop_reason = reason

    def absorb_rollout(self, out: dict) -> None:
        self.c.env_steps += int(out["env_steps"])
        self.c.episodes += len(out["episodes"])
        self._window["episodes"].extend(out["episodes"])
        self._window["shard_errors"].append(out["shard_errors"])

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

    # ------------------------------------------------------------------ rounds
    def end_round(self) -> None:
        """After each loop round: hooks, then logging, evaluation and checkpoints when due."""
        for hook in self.hooks:
            hook(self)
        cl, lg = self.cfg.cluster, self.cfg.logging
        if self.c.updates >= self._next_log or time.perf_counter() - self._last_log[0] > 30:
            self.log_row()
            self._next_log = self.c.updates + lg.log_interval
        if cl.eval_interval and self.c.env_steps >= self._next_eval:
            self.evaluate()
            self._next_eval = self.c.env_steps + cl.eval_interval
        if self.c.updates >= self._next_ckpt:
            if self.c.updates > 0:
                self.checkpoint()
            self._next_ckpt = self.c.updates + cl.checkpoint_interval

    def log_row(self) -> dict:
        now = time.perf_counter()
        t_prev, steps_prev, updates_prev = self._last_log
        dt = max(now - t_prev, 1e-9)
        row = {"env_steps": self.c.env_steps, "updates": self.c.updates, "episodes": self.c.episodes,
               "time_s": self.c.elapsed_s + now - self._t0, "learner/version": self.c.version,
               "perf/env_steps_per_s": (self.c.env_steps - steps_prev) / dt,
               "perf/updates_per_s": (self.c.updates - updates_prev) / dt,
               "replay/partial_rows": self.c.partial_rows, "replay/sample_errors": self.c.sample_errors}
        eps = self._window.pop("episodes", [])
        if eps:
            for key in eps[0]:
                if key in ("worker_id", "policy_version"):
                    continue
                vals = [float(e[key]) for e in eps if key in e]
                row[CHART_NAMES.get(key, f"charts/{key}")] = float(np.mean(vals))
            row["rollout/policy_lag"] = float(np.mean([self.c.version - e.get("policy_version", 0) for e in eps]))
        row["rollout/shard_errors"] = int(sum(self._window.pop("shard_errors", [])))
        s = self._learner_sums
        n = s.pop("_n", 0)
        wait, train = s.pop("wait_s", 0.0), s.pop("train_s", 0.0)
        if wait + train > 0:
            row["learner/wait_fraction"] = wait / (wait + train)
        if n:
            row.update({k: v / n for k, v in s.items()})
        s.clear()
        for role in ("rollout", "shard", "learner", "legem"):
            row[f"faults/restarts_{role}"] = self.topo.restarts[role] if self.topo else 0
        row.update(self._replay_stats())
        if self.topo.legem is not None:
            try:
                row.update(resolve(call(self.topo.legem, "stats")))
            except failure_types():
                pass
        self.metrics.write(row)
        self.wandb.log(row, step=self.c.env_steps)
        self.progress.update(self.c.env_steps, self.c.episodes, row.get("charts/episodic_return", float("nan")),
                             self.c.updates, row.get("rollout/policy_lag", 0.0))
        self._last_log = (now, self.c.env_steps, self.c.updates)
        self.final_row.update(row)
        return row

    def _replay_stats(self) -> dict:
        total: dict[str, float] = defaultdict(float)
        refs = [call(s, "stats") for s in self.topo.shards]
        for ref in refs:
            try:
                for k, v in resolve(ref).items():
                    total[f"replay/{k}"] += float(v)
            except failure_types():
                continue
        return dict(total)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self) -> dict:
        """Greedy episodes on rollout worker 0 (and a GIF of one); logged under ``eval/``."""
        r0 = self.topo.rollouts[0]
        try:
            ev = resolve(call(r0, "evaluate", self.cfg.cluster.eval_episodes))
        except failure_types() as e:
            log.warning("evaluation skipped: rollout worker 0 failed (%s)", e)
            return {}
        row = {f"eval/{k}": float(v) for k, v in ev.items()}
        row.update({"env_steps": self.c.env_steps, "updates": self.c.updates})
        self.metrics.write(row)
        self.wandb.log(row, step=self.c.env_steps)
        self._eval = row
        try:
            frames = resolve(call(r0, "render_episode"))
            gif = self.run_dir / "media" / f"eval_{self.c.env_steps:010d}.gif"
            write_gif(gif, frames)
            self.wandb.log_media("media/eval_episode", gif, step=self.c.env_steps)
        except (*failure_types(), NotImplementedError, ValueError) as e:
            log.warning("evaluation GIF skipped: %s", e)
        return row

    def _log_curve(self) -> None:
        """The run's learning curve as ``media/curves.png`` and a wandb image."""
        from asyncmarl.cluster.plot import plot_runs

        try:
            path = plot_runs([self.run_dir], self.run_dir / "media" / "curves.png")
        except ValueError:  # nothing logged yet (a very short run)
            return
        self.wandb.log_media("media/learning_curve", path, step=self.c.env_steps)

    # ------------------------------------------------------------------ checkpoints
    def collect_state(self, with_replay: bool = False) -> dict:
        topo = self.topo
        refs = {"learner": call(topo.learner, "state_dict"), "policy": call(topo.learner, "publish"),
                "legem": call(topo.legem, "state_dict") if topo.legem is not None else None,
                "rollouts": [call(r, "state_dict") for r in topo.rollouts],
                "replay": [call(s, "state_dict") for s in topo.shards] if with_replay else None}
        c = dataclasses.replace(self.c, elapsed_s=self.c.elapsed_s + time.perf_counter() - self._t0)
        return {"format": 1, "config": config_to_dict(self.cfg), "counters": dataclasses.asdict(c),
                "learner": resolve(refs["learner"]),
                "legem": resolve(refs["legem"]) if refs["legem"] is not None else None,
                "policy": resolve(refs["policy"]), "rollouts": [resolve(r) for r in refs["rollouts"]],
                "replay": [resolve(r) for r in refs["replay"]] if with_replay else None,
                "restarts": dict(topo.restarts),
                "wandb_id": self.wandb.run_id}

    def checkpoint(self, final: bool = False) -> Path | None:
        """Save a checkpoint; replay contents go in when ``cluster.checkpoint_replay`` is ``always``, or
        ``final`` and this is the run's last checkpoint."""
        mode = self.cfg.cluster.checkpoint_replay
        try:
            state = self.collect_state(with_replay=mode == "always" or (final and mode == "final"))
        except failure_types() as e:
            log.warning("checkpoint skipped: a role failed while saving (%s)", e)
            return None
        self.last_checkpoint = save_checkpoint(self.run_dir / "checkpoints", self.c.updates, state)
        return self.last_checkpoint

    def restore(self, state: dict) -> None:
        """Counters, learner, LeGEM, rollout workers and (when the checkpoint holds it) replay from a checkpoint."""
        topo = self.topo
        self.c = Counters(**state["counters"])
        self.c.published = -1
        refs = [call(topo.learner, "load_state_dict", state["learner"])]
        if topo.legem is not None and state.get("legem") is not None:
            refs.append(call(topo.legem, "load_state_dict", state["legem"]))
        if len(state["rollouts"]) == len(topo.rollouts):
            refs += [call(r, "load_state_dict", s) for r, s in zip(topo.rollouts, state["rollouts"])]
        replay = state.get("replay")
        if replay is not None and len(replay) == len(topo.shards):
            refs += [call(s, "load_state_dict", r) for s, r in zip(topo.shards, replay)]
        elif replay is not None:
            log.warning("replay not restored: the checkpoint holds %d shard(s), this run has %d", len(replay),
                        len(topo.shards))
        for ref in refs:
            resolve(ref)
        topo.restarts.update(state.get("restarts", {}))

    def learner_restarted(self) -> None:
        """Load the last checkpoint's learner state into a freshly restarted learner."""
        if self.last_checkpoint is None:
            log.warning("learner restarted from scratch: no checkpoint yet")
            return
        resolve(call(self.topo.learner, "load_state_dict", load_checkpoint(self.last_checkpoint)["learner"]))

    def legem_restarted(self) -> None:
        """Load the last checkpoint's LeGEM graphs into a freshly restarted LeGEM host."""
        state = load_checkpoint(self.last_checkpoint).get("legem") if self.last_checkpoint else None
        if state is None:
            log.warning("LeGEM restarted empty: no checkpoint yet")
            return
        resolve(call(self.topo.legem, "load_state_dict", state))

    # ------------------------------------------------------------------ the run
    def _on_signal(self, signum, _frame) -> None:
        if self.stop_reason is not None:  # second signal: stop now
            raise KeyboardInterrupt
        self.stop_reason = signal.Signals(signum).name

    def _make_run_dir(self) -> Path:
        if self._run_dir_arg is None:
            return create_run_dir(self.cfg)
        path = Path(self._run_dir_arg)
        if not (path / "config.yaml").exists():
            (path / "checkpoints").mkdir(parents=True, exist_ok=True)
            (path / "media").mkdir(exist_ok=True)
            write_config(path, self.cfg)
        return path

    def run(self) -> dict:
        """Train until ``cluster.total_env_steps`` or a stop signal; returns the final metrics."""
        from asyncmarl.cluster.loops import run_local, run_ray
        from asyncmarl.cluster.topology import build_topology

        cfg = self.cfg
        started_ray = False
        if cfg.cluster.runtime == "ray":  # an unreachable cluster fails before a run directory exists
            from asyncmarl.cluster.ray_session import connect

            started_ray = connect(cfg.cluster.address)
            try:
                check_fits(cfg)
            except ValueError:
                if started_ray:
                    import ray

                    ray.shutdown()
                raise
        self.run_dir = self._make_run_dir()
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl")
        wid = self.resume_state.get("wandb_id") if self.resume_state else None
        self.wandb = WandbSink(wandb_mode(cfg.logging.wandb_mode), cfg.logging.wandb_project, self.run_dir.name,
                               config_group_key(cfg), config_to_dict(cfg), self.run_dir, resume_id=wid)
        old = {}
        if threading.current_thread() is threading.main_thread():
            old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.topo = build_topology(cfg, self.roles)
            if self.resume_state is not None:
                self.restore(self.resume_state)
            self.progress = Progress(cfg.cluster.total_env_steps, self.c.env_steps, cfg.logging.progress,
                                     self.c.updates)
            self._next_log = self.c.updates + cfg.logging.log_interval
            self._next_ckpt = self.c.updates + cfg.cluster.checkpoint_interval
            self._next_eval = self.c.env_steps + cfg.cluster.eval_interval
            self._last_log = (time.perf_counter(), self.c.env_steps, self.c.updates)
            (run_ray if self.topo.remote else run_local)(self)
            self.log_row()
            self.checkpoint(final=True)
            if self.stop_reason is None:
                self.evaluate()
            self._log_curve()
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            if getattr(self, "progress", None):
                self.progress.close()
            self.metrics.close()
            self.wandb.finish()
            if self.topo is not None:
                self.topo.shutdown()
            if started_ray:
                import ray

                ray.shutdown()
        out = dict(self.final_row)
        out.update(self._eval)
        out.update({"run_dir": str(self.run_dir), "checkpoint": str(self.last_checkpoint),
                    "stopped": self.stop_reason, **{f"counters/{k}": v for k, v in dataclasses.asdict(self.c).items()}})
        return out


def write_gif(path: Path, frames: list, fps: int = 8) -> Path:
    """An animated GIF of RGB frames ``[H, W, 3] uint8``."""
    import imageio.v2 as imageio

    if not frames:
        raise ValueError("no frames to write")
    imageio.mimsave(path, [np.asarray(f, np.uint8) for f in frames], duration=1.0 / fps, loop=0)
    return path


def train(cfg: RunConfig, run_dir: str | Path | None = None, resume: str | Path | None = None,
          roles: Roles | None = None, hooks: tuple[Callable, ...] = ()) -> dict:
    """Train ``cfg`` (in this process, or on Ray per ``cluster.runtime``); returns the final metrics.

    ``resume``: a run directory or checkpoint to continue (same config, except how long/where it runs).
    With ``learner.legem`` every batch gets ``batch["reward_redistributed"] = legem.redistribute(batch)``.
    """
    return Driver(cfg, run_dir=run_dir, resume=resume, roles=roles, hooks=hooks).run()


__all__ = ["Driver", "train", "run_name", "write_gif"]
