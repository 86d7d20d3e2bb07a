"""The driver: owns the run directory (and its lock), the counters, the logs (metrics.jsonl, wandb, progress bar),
evaluation and the stop signal. Checkpoint contents live in :mod:`.checkpointer`, metric rows in
:mod:`.metric_rows`, fault handling in :mod:`.supervisor`; the loops that move data (:mod:`.loops`) call back into
the driver.

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
from collections.abc import Callable
from pathlib import Path

from asyncmarl.cluster.checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint
from asyncmarl.cluster.checkpointer import Checkpointer, RunDirLock, truncate_metrics
from asyncmarl.cluster.config import RunConfig, config_differences
from asyncmarl.cluster.handles import call, failure_types, get
from asyncmarl.cluster.media import write_gif
from asyncmarl.cluster.metric_rows import CHART_NAMES, Counters, MetricRows  # noqa: F401 - re-exported
from asyncmarl.cluster.monitor import MetricsLog, Progress, WandbSink, announce_run_dir
from asyncmarl.cluster.provenance import code_version, record_resume, write_provenance
from asyncmarl.cluster.roles import Roles
from asyncmarl.cluster.rundir import check_run_root, create_run_dir, run_dir_of, run_name, write_config
from asyncmarl.cluster.supervisor import ROLES, GaveUp, Supervisor
from asyncmarl.cluster.topology import Topology, check_fits

log = logging.getLogger("asyncmarl.cluster")

# Keys that may differ when resuming: how long to run, where, how to log, evaluate and checkpoint (never what is
# learned: evaluation uses its own environments, policy copy and random stream).
RESUMABLE_CHANGES = ("cluster.total_env_steps", "cluster.runtime", "cluster.address", "cluster.actor_cpus",
                     "cluster.checkpoint_interval", "cluster.eval_interval", "cluster.eval_episodes",
                     "cluster.max_restarts", "cluster.checkpoint_replay", "cluster.stall_warn_s",
                     "cluster.memory_limit_gb", "cluster.rate_limit",
                     "cluster.rate_tolerance", "cluster.eval_gif", "cluster.stop_return", "name")


def check_resumable(saved: dict, cfg: RunConfig) -> None:
    """Raise :class:`CheckpointError` naming the keys that differ from the checkpoint's config."""
    diff = [d for d in config_differences(saved, cfg, ("logging.",)) if d[0] not in RESUMABLE_CHANGES]
    if diff:
        shown = "; ".join(f"{k}: checkpoint {a!r}, now {b!r}" for k, a, b in diff[:6])
        raise CheckpointError(f"cannot resume: the config differs from the checkpoint's in {len(diff)} key(s): "
                              f"{shown}. Resume with the run's own config (omit CONFIG) or start a new run.")


class Driver:
    """One training run. ``hooks`` are called as ``hook(driver)`` once per loop round (tests use them to kill
    actors or stop the run)."""

    def __init__(self, cfg: RunConfig, run_dir: str | Path | None = None, resume: str | Path | None = None,
                 roles: Roles | None = None, hooks: tuple[Callable, ...] = ()):
        self.cfg, self.roles, self.hooks = cfg, roles or Roles(), tuple(hooks)
        self.resume_state = None
        self._resume_ckpt: Path | None = None
        if resume is not None:
            ckpt = self._resume_ckpt = resolve_checkpoint(resume)
            self.resume_state = load_checkpoint(ckpt)
            check_resumable(self.resume_state["config"], cfg)
            run_dir = run_dir or run_dir_of(ckpt)
        self._run_dir_arg = run_dir
        self.run_dir: Path | None = None
        self.c = Counters()
        self.rows = MetricRows(self.c)
        self.topo: Topology | None = None
        self.supervisor: Supervisor | None = None
        self.checkpointer: Checkpointer | None = None
        self.rate_limiter = None  # set by the Ray loop
        self.weights = None  # (version, weights) in one process (a LocalRef); an ObjectRef of it under Ray
        self.stop_reason: str | None = None
        self.reached: int | None = None  # env steps at which an evaluation reached cluster.stop_return
        self._eval: dict = {}
        self._t0 = time.perf_counter()
        self._next_log = self._next_ckpt = self._next_eval = 0
        self._last_row_t = time.perf_counter()
        self.final_row: dict = {}

    @property
    def last_checkpoint(self) -> Path | None:
        return self.checkpointer.last if self.checkpointer is not None else None

    # ------------------------------------------------------------------ progress
    def finished(self) -> bool:
        return (self.stop_reason is not None or self.reached is not None
                or self.c.env_steps >= self.cfg.cluster.total_env_steps)

    def request_stop(self, reason: str = "requested") -> None:
        self.stop_reason = reason

    def absorb_rollout(self, out: dict) -> None:
        self.rows.absorb_rollout(out)

    def absorb_learner(self, out: dict) -> None:
        self.rows.absorb_learner(out)

    # ------------------------------------------------------------------ rounds
    def end_round(self) -> None:
        """After each loop round: hooks, stall watch, then logging, evaluation and checkpoints when due."""
        for hook in self.hooks:
            hook(self)
        stall = self.supervisor.watch()
        if stall is not None:
            self.metrics.write({"env_steps": self.c.env_steps, "updates": self.c.updates, "warning": stall})
        cl, lg = self.cfg.cluster, self.cfg.logging
        if self.c.updates >= self._next_log or time.perf_counter() - self._last_row_t > 30:
            self.log_row()
            self._next_log = self.c.updates + lg.log_interval
        if cl.eval_interval and self.c.env_steps >= self._next_eval:
            self.evaluate()
            self._next_eval = self.c.env_steps + cl.eval_interval
        if self.c.updates >= self._next_ckpt:
            if self.c.updates > 0:
                self.checkpoint()
            self._next_ckpt = self.c.updates + cl.checkpoint_interval

    def _time_s(self) -> float:
        return self.c.elapsed_s + time.perf_counter() - self._t0

    def log_row(self) -> dict:
        row = self.rows.row(self._time_s())
        sup = self.supervisor
        for role in ROLES:
            row[f"faults/restarts_{role}"] = sup.restarts[role] if sup else 0
        row["faults/updates_lost"] = sup.updates_lost if sup else 0
        if self.rate_limiter is not None:
            row["rate/lag_updates"] = self.rate_limiter.lag()  # updates made minus due at the configured ratio
        row.update(self._replay_stats())
        if self.topo.legem is not None:
            try:
                row.update(get(call(self.topo.legem, "stats")))
            except failure_types():
                pass
        self.metrics.write(row)
        self.wandb.log(row, step=self.c.env_steps)
        self.progress.update(self.c.env_steps, self.c.episodes, row.get("charts/episodic_return", float("nan")),
                             self.c.updates, row.get("rollout/policy_lag", 0.0))
        self._last_row_t = time.perf_counter()
        self.final_row.update(row)
        return row

    def _replay_stats(self) -> dict:
        total: dict[str, float] = {}
        refs = [call(s, "stats") for s in self.topo.shards]
        for ref in refs:
            try:
                for k, v in get(ref).items():
                    total[f"replay/{k}"] = total.get(f"replay/{k}", 0.0) + float(v)
            except failure_types():
                continue
        return total

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, final: bool = False) -> dict:
        """Greedy episodes on rollout worker 0 (and a GIF of one unless ``cluster.eval_gif`` is off); logged under
        ``eval/``. Reaching ``cluster.stop_return`` stops the run after this round.

        During training worker 0 evaluates the policy it acts with, a publish or two behind the learner. The
        ``final`` evaluation first hands it the learner's newest weights, so the run's final figures are those of
        the policy its last checkpoint holds (on Quarry the greedy outcome can flip within four updates)."""
        r0 = self.topo.rollouts[0]
        newest = None
        if final:
            try:
                newest = get(call(self.topo.learner, "publish"))
            except failure_types() as e:  # the run has ended: evaluate what worker 0 holds rather than nothing
                log.warning("final evaluation of rollout worker 0's weights: the learner failed (%s)", e)
        try:
            ev = get(call(r0, "evaluate", self.cfg.cluster.eval_episodes, newest))
        except failure_types() as e:
            log.warning("evaluation skipped: rollout worker 0 failed (%s)", e)
            return {}
        row = {f"eval/{k}": float(v) for k, v in ev.items()}
        row.update({"env_steps": self.c.env_steps, "updates": self.c.updates, "time_s": self._time_s()})
        self.metrics.write(row)
        self.wandb.log(row, step=self.c.env_steps)
        self._eval = row
        target = self.cfg.cluster.stop_return
        if target is not None and row.get("eval/return_mean", float("-inf")) >= target and self.reached is None:
            self.reached = self.c.env_steps  # a finished run, not an interrupted one (studies count it as done)
            self.metrics.write({"env_steps": self.c.env_steps, "updates": self.c.updates, "time_s": self._time_s(),
                                "reached_stop_return": target, "unix_time": time.time()})
        if not self.cfg.cluster.eval_gif:
            return row
        try:
            frames = get(call(r0, "render_episode"))
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
    def collect_state(self, with_replay: bool = False, salvage: bool = False) -> dict:
        c = dataclasses.replace(self.c, elapsed_s=self._time_s())
        return self.checkpointer.collect(self.topo, c, self.supervisor.restarts, self.wandb.run_id, with_replay,
                                         salvage=salvage)

    def checkpoint(self, final: bool = False, salvage: bool = False) -> Path | None:
        """Save a checkpoint; replay contents go in when ``cluster.checkpoint_replay`` is ``always``, or
        ``final`` and this is the run's last checkpoint. ``salvage``: roles that are gone are left out."""
        mode = self.cfg.cluster.checkpoint_replay
        try:
            state = self.collect_state(with_replay=mode == "always" or (final and mode == "final"), salvage=salvage)
        except failure_types() as e:
            log.warning("checkpoint skipped: a role failed while saving (%s)", e)
            return None
        return self.checkpointer.save(state)

    def restore(self, state: dict) -> None:
        """Counters, learner, LeGEM, rollout workers and (when the checkpoint holds it) replay from a checkpoint."""
        for k, v in state["counters"].items():
            setattr(self.c, k, v)
        self.c.published = -1
        # the learner's state may include updates whose results the driver had not absorbed yet (a train call in
        # flight while the checkpoint was collected): its version is the count that holds
        self.c.updates = self.c.version = int(state["learner"].get("version", self.c.version))
        Checkpointer.restore(self.topo, state)
        if self.supervisor is not None:
            self.supervisor.restarts.update(state.get("restarts", {}))

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

    def _open_run_dir(self) -> RunDirLock:
        """Create or reopen the run directory, take its lock, and on a resume record it and drop the metric rows
        a killed driver logged after the checkpoint."""
        self.run_dir = self._make_run_dir()
        lock = RunDirLock(self.run_dir)
        self.checkpointer = Checkpointer(self.run_dir, self.cfg)
        self.checkpointer.last = self._resume_ckpt  # a learner restart before the first save reloads this one
        code = write_provenance(self.run_dir).get("code")
        if self.resume_state is not None:
            saved = self.resume_state["counters"]
            dropped = truncate_metrics(self.run_dir / "metrics.jsonl", saved["env_steps"], saved["updates"])
            if dropped:
                log.warning("dropped %d metric row(s) logged after the checkpoint being resumed", dropped)
            record_resume(self.run_dir, self.cfg, self.resume_state["config"], saved)
            code = code_version()
        announce_run_dir(self.run_dir, resumed=self.resume_state is not None)
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl")
        wid = self.resume_state.get("wandb_id") if self.resume_state else None
        self.wandb = WandbSink.for_run(self.cfg, self.run_dir, resume_id=wid, code=code)
        return lock

    def _give_up(self, why: str) -> None:
        """Save what can still be saved, log the reason, and raise :class:`GaveUp` with one line."""
        self.stop_reason = f"gave up: {why}"
        saved = None
        try:
            saved = self.checkpoint(final=True, salvage=True)
        except Exception as e:  # noqa: BLE001 - the cluster may be gone; the last checkpoint stays
            log.warning("final checkpoint not written (%s)", type(e).__name__)
        try:
            self.metrics.write({"env_steps": self.c.env_steps, "updates": self.c.updates, "episodes": self.c.episodes,
                                "time_s": self._time_s(), "stopped": self.stop_reason})
        except OSError:
            pass
        where = saved or self.last_checkpoint
        resume = f"; resume with: asyncmarl train --resume {self.run_dir}" if where else ""
        raise GaveUp(f"run gave up after {self.c.env_steps} env steps and {self.c.updates} updates: {why}; "
                     f"last checkpoint {where}{resume}") from None

    def run(self) -> dict:
        """Train until ``cluster.total_env_steps`` or a stop signal; returns the final metrics."""
        from asyncmarl.cluster.loops import run_local, run_ray
        from asyncmarl.cluster.topology import build_topology

        cfg = self.cfg
        started_ray = False
        if self._run_dir_arg is None:
            check_run_root(cfg)  # a run root that cannot hold a run fails before Ray starts
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
        lock = None
        old = {}
        try:
            lock = self._open_run_dir()
            if threading.current_thread() is threading.main_thread():
                old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
            self.topo = build_topology(cfg, self.roles)
            self.supervisor = Supervisor(self.topo, self.checkpointer, self.c, cfg.cluster.max_restarts,
                                         cfg.cluster.stall_warn_s)
            if self.resume_state is not None:
                self.restore(self.resume_state)
            self.progress = Progress(cfg.cluster.total_env_steps, self.c.env_steps, cfg.logging.progress,
                                     self.c.updates)
            self._next_log = self.c.updates + cfg.logging.log_interval
            self._next_ckpt = self.c.updates + cfg.cluster.checkpoint_interval
            self._next_eval = self.c.env_steps + cfg.cluster.eval_interval
            self.rows.reset_clock()
            try:
                (run_ray if self.topo.remote else run_local)(self)
            except GaveUp as e:
                self._give_up(str(e))
            except failure_types() as e:  # the raylet or GCS itself failed: nothing can be restarted
                self._give_up(f"the Ray cluster failed ({type(e).__name__}: {str(e).splitlines()[0][:200]})")
            self.log_row()
            self.checkpoint(final=True)
            if self.stop_reason is None and self.reached is None:
                self.evaluate(final=True)
            self._log_curve()
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            if getattr(self, "progress", None):
                self.progress.close()
            if getattr(self, "metrics", None):
                self.metrics.close()
            if getattr(self, "wandb", None):
                self.wandb.finish()
            if self.topo is not None:
                self.topo.shutdown()
            if started_ray:
                import ray

                ray.shutdown()
            if lock is not None:
                lock.release()
        out = dict(self.final_row)
        out.update(self._eval)
        out.update({"run_dir": str(self.run_dir), "checkpoint": str(self.last_checkpoint),
                    "stopped": self.stop_reason, "reached_at": self.reached,
                    **{f"counters/{k}": v for k, v in dataclasses.asdict(self.c).items()}})
        return out


def train(cfg: RunConfig, run_dir: str | Path | None = None, resume: str | Path | None = None,
          roles: Roles | None = None, hooks: tuple[Callable, ...] = ()) -> dict:
    """Train ``cfg`` (in this process, or on Ray per ``cluster.runtime``); returns the final metrics.

    ``resume``: a run directory or checkpoint to continue (same config, except how long/where it runs).
    With ``learner.legem`` every batch gets ``batch["reward_redistributed"] = legem.redistribute(batch)``.
    ``learner.algo=rllib_ppo`` runs RLlib's PPO over the macro-action adapter instead (:mod:`.rllib_run`), with the
    same run directory layout, metrics, checkpoints and hooks.
    """
    if cfg.learner.algo == "rllib_ppo":
        from asyncmarl.cluster.rllib_run import train_rllib

        return train_rllib(cfg, run_dir=run_dir, resume=resume, hooks=hooks)
    return Driver(cfg, run_dir=run_dir, resume=resume, roles=roles, hooks=hooks).run()


__all__ = ["Driver", "GaveUp", "train", "run_name", "write_gif"]
