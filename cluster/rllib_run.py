"""``learner.algo: rllib_ppo``: RLlib's PPO over the macro-action adapter, run like any other algorithm.

Parameter-shared PPO with action masking over :class:`~asyncmarl.platform.envs.rllib.MacroActionMultiAgentEnv`
(each agent acts only when its macro-action ends: macro-action independent PPO; ``learner.ppo.central_critic``
gives MAPPO's value function on the global state). RLlib trains it on this driver's Ray session; this module owns
what a run of ours owns: the run directory (config.yaml, provenance, lock, metrics.jsonl with our metric names,
checkpoints, evaluation GIFs, wandb), greedy evaluation, the stop signal and ``--resume``.

    final = train_rllib(load_config("boxpushing6_rllib_ppo"))

Checkpoints are our own format (``checkpoints/ckpt_<iteration>.pt``, no pickle): RLlib's learner state
(``algo.get_state``: weights, optimiser, counters) for ``--resume``, and the policy weights that ``asyncmarl
evaluate``/``render`` load into :class:`RllibPolicy` (greedy: the most probable allowed action).
"""
from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from ray.rllib.callbacks.callbacks import RLlibCallback

from asyncmarl.cluster.checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint, save_checkpoint
from asyncmarl.cluster.config import RunConfig, config_to_dict
from asyncmarl.cluster.rllib_module import MaskedPPOModule
from asyncmarl.platform.envs import make_batched
from asyncmarl.platform.envs.rllib import MacroActionMultiAgentEnv

log = logging.getLogger("asyncmarl.cluster")
ALGO = "rllib_ppo"
MODULE_ID = "shared"  # every agent maps to this one module (parameter sharing)
FORMAT = "rllib_ppo/1"  # the "format" of our checkpoints of RLlib runs
_EP = "asyncmarl"  # namespace of the per-episode sums the callback logs on the env runners


def env_config(cfg: RunConfig) -> dict:
    """The adapter's ``env_config`` for a run config."""
    return {"scenario": cfg.env.scenario, "settings": dict(cfg.env.settings), "gamma": cfg.learner.gamma,
            "global_state": cfg.learner.ppo.central_critic}


def model_config(cfg: RunConfig) -> dict:
    p = cfg.learner.ppo
    return {"hidden_dim": p.hidden_dim, "num_layers": p.num_layers, "central_critic": p.central_critic}


def _shared(agent_id, episode=None, **kwargs) -> str:
    return MODULE_ID


class EpisodeMetrics(RLlibCallback):
    """Logs each finished episode's undiscounted team return, length and scenario metrics (the adapter puts them
    in every agent's final info) as sums and a count, so the driver can report per-episode means."""

    def on_episode_end(self, *, episode, metrics_logger=None, **kwargs) -> None:
        info = {}
        for sa in episode.agent_episodes.values():
            info = sa.get_infos(-1) or {}
            if "team_return" in info:
                break
        if "team_return" not in info or metrics_logger is None:
            return
        metrics_logger.log_value((_EP, "count"), 1, reduce="sum")
        metrics_logger.log_value((_EP, "return"), float(info["team_return"]), reduce="sum")
        metrics_logger.log_value((_EP, "length"), float(info["length"]), reduce="sum")
        for k, v in info.items():
            if k not in ("team_return", "length", "macro_action", "elapsed"):
                metrics_logger.log_value((_EP, k), float(v), reduce="sum")


def ppo_config(cfg: RunConfig, env_cls: type = MacroActionMultiAgentEnv):
    """RLlib's ``PPOConfig`` for ``cfg``: one shared masked module, the adapter as env, our episode metrics.

    ``cluster.runtime=local`` samples in this process (``num_env_runners=0``); ``ray`` uses
    ``cluster.num_rollout_workers`` env runner actors. RLlib's env pre-check is off: it steps the env with
    unmasked random actions, which the adapter refuses.
    """
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    lc, p = cfg.learner, cfg.learner.ppo
    remote = cfg.cluster.runtime == "ray"
    gpu = lc.device == "cuda" or (lc.device == "auto" and torch.cuda.is_available())
    spec = MultiRLModuleSpec(rl_module_specs={MODULE_ID: RLModuleSpec(module_class=MaskedPPOModule,
                                                                      model_config=model_config(cfg))})
    return (PPOConfig()
            .environment(env_cls, env_config=env_config(cfg), disable_env_checking=True)
            .multi_agent(policies={MODULE_ID}, policy_mapping_fn=_shared)
            .rl_module(rl_module_spec=spec)
            .env_runners(num_env_runners=cfg.cluster.num_rollout_workers if remote else 0,
                         num_envs_per_env_runner=p.num_envs_per_runner)
            .learners(num_learners=0, num_gpus_per_learner=1 if gpu else 0)
            .training(lr=lc.lr, gamma=lc.gamma, lambda_=p.gae_lambda, clip_param=p.clip_param,
                      vf_clip_param=p.vf_clip_param, vf_loss_coeff=p.vf_loss_coeff, entropy_coeff=p.entropy_coeff,
                      grad_clip=lc.grad_clip or None, train_batch_size_per_learner=p.train_batch_size,
                      minibatch_size=p.minibatch_size, num_epochs=p.num_epochs)
            .callbacks(EpisodeMetrics)
            .debugging(seed=cfg.seed))


# ---------------------------------------------------------------------------------------------- acting greedily
def build_module(cfg: RunConfig) -> MaskedPPOModule:
    """A fresh :class:`MaskedPPOModule` with the spaces and sizes of ``cfg`` (no Ray session needed)."""
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    env = MacroActionMultiAgentEnv(env_config(cfg))
    a = env.possible_agents[0]
    return RLModuleSpec(module_class=MaskedPPOModule, observation_space=env.observation_spaces[a],
                        action_space=env.action_spaces[a], model_config=model_config(cfg)).build()


class RllibPolicy:
    """A trained PPO policy acting greedily and decentralised (each agent from its own macro-observation, all
    copies and agents in one forward pass). Same ``evaluate``/``render_episode`` as a rollout worker's."""

    def __init__(self, cfg: RunConfig, weights: dict, seed: int = 0):
        self.cfg, self.seed = cfg, seed
        self.module = build_module(cfg)
        try:
            self.module.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in weights.items()})
        except RuntimeError as e:
            raise CheckpointError(f"the checkpoint's policy does not fit the run config "
                                  f"({cfg.env.scenario}, learner.ppo sizes): {str(e).splitlines()[0]}") from None
        self.module.eval()

    @classmethod
    def from_checkpoint(cls, cfg: RunConfig, state: dict, seed: int = 0) -> RllibPolicy:
        if state.get("format") != FORMAT or "policy" not in state:
            raise CheckpointError(f"not a checkpoint of an {ALGO} run (format {state.get('format')!r})")
        return cls(cfg, state["policy"], seed)

    @torch.no_grad()
    def act(self, step) -> np.ndarray:
        """``[B, n]`` greedy allowed actions (busy agents' entries are ignored by the env)."""
        obs = torch.from_numpy(np.array(step.obs, np.float32))  # [B, n, obs_dim] (a copy: the core's may be read-only)
        mask = torch.from_numpy(step.action_mask.astype(np.float32))  # [B, n, A]
        return self.module.greedy(obs, mask).numpy()

    def evaluate(self, episodes: int, seed: int | None = None) -> dict[str, float]:
        """Greedy episodes on fresh copies: mean return, its 95% CI half-width and the scenario's metrics."""
        from asyncmarl.rollout_workers.worker import summarize_episodes

        if episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {episodes}")
        B = min(episodes, 64)
        env = make_batched(self.cfg.env.scenario, B, **self.cfg.env.settings)
        rng = np.random.default_rng(self.seed + 7 if seed is None else seed)
        step = env.reset(seed=rng.integers(0, 2**31 - 1, size=B))
        returns, finished = np.zeros(B), []
        active, started = np.ones(B, bool), B  # copies whose episode still counts, episodes begun
        while len(finished) < episodes:
            step = env.step(self.act(step))
            returns += step.reward
            for b in np.flatnonzero(step.done & active):
                row = {"return": float(returns[b]), "length": int(step.t[b])}
                row.update({k: float(v[b]) for k, v in step.extras.items()})
                finished.append(row)
            if step.done.any():
                again = step.done & active
                restart = np.flatnonzero(again)[:max(0, episodes - started)]
                keep = np.zeros(B, bool)
                keep[restart] = True
                active &= ~(again & ~keep)
                started += len(restart)
                returns[step.done] = 0.0
                step = env.reset(seed=rng.integers(0, 2**31 - 1, size=B), where=step.done)
        return summarize_episodes(finished[:episodes])

    def render_episode(self, seed: int = 0, max_frames: int | None = None) -> list[np.ndarray]:
        """RGB frames of one greedy episode (for GIFs)."""
        env = make_batched(self.cfg.env.scenario, 1, **self.cfg.env.settings)
        step = env.reset(seed=seed)
        frames = [env.render_rgb(0)]
        while not step.done[0] and (max_frames is None or len(frames) < max_frames):
            step = env.step(self.act(step))
            frames.append(env.render_rgb(0))
        return frames


# ---------------------------------------------------------------------------------------------- the run
@dataclass
class RllibCounters:
    env_steps: int = 0  # joint environment steps sampled
    episodes: int = 0  # finished training episodes
    updates: int = 0  # PPO iterations (each: num_epochs of minibatch SGD on train_batch_size steps)
    elapsed_s: float = 0.0  # wall time of the run before this session (resumes add up)


def _row_from_result(result: dict) -> tuple[dict, int, int]:
    """Our metric names from one ``algo.train()`` result; and the env steps and episodes it sampled."""
    er = result.get("env_runners", {})
    steps, row = int(er.get("num_env_steps_sampled", 0)), {}
    sums = er.get(_EP, {}) or {}
    count = int(sums.get("count", 0) or 0)
    if count:
        for k, v in sums.items():
            if k != "count":
                row[{"return": "charts/episodic_return", "length": "charts/episodic_length"}.get(k, f"charts/{k}")] \
                    = float(v) / count
    learner = result.get("learners", {}).get(MODULE_ID, {})
    names = {"policy_loss": "losses/policy_loss", "vf_loss": "losses/vf_loss", "entropy": "losses/entropy",
             "mean_kl_loss": "losses/kl", "total_loss": "losses/total", "vf_explained_var": "learner/vf_explained_var"}
    for k, name in names.items():
        if k in learner:
            row[name] = float(learner[k])
    return row, steps, count


class RllibRun:
    """One ``rllib_ppo`` training run (see :func:`train_rllib`)."""

    def __init__(self, cfg: RunConfig, run_dir: str | Path | None = None, resume: str | Path | None = None,
                 hooks: tuple[Callable, ...] = ()):
        from asyncmarl.cluster.driver import check_resumable
        from asyncmarl.cluster.rundir import run_dir_of

        if cfg.learner.algo != ALGO:
            raise ValueError(f"train_rllib runs learner.algo {ALGO!r}, got {cfg.learner.algo!r}")
        self.cfg, self.resume_state, self.hooks = cfg, None, tuple(hooks)
        if resume is not None:
            ckpt = resolve_checkpoint(resume)
            self.resume_state = load_checkpoint(ckpt)
            if self.resume_state.get("format") != FORMAT:
                raise CheckpointError(f"{ckpt} is not a checkpoint of an {ALGO} run; resume it with its own algo")
            check_resumable(self.resume_state["config"], cfg)
            run_dir = run_dir or run_dir_of(ckpt)
        self._run_dir_arg = run_dir
        self.c = RllibCounters()
        self.stop_reason: str | None = None
        self.last_checkpoint: Path | None = None
        self.final_row: dict = {}
        self._eval: dict = {}

    # ------------------------------------------------------------------ pieces
    def _open_run_dir(self):
        from asyncmarl.cluster.checkpointer import RunDirLock, truncate_metrics
        from asyncmarl.cluster.monitor import MetricsLog, WandbSink, announce_run_dir
        from asyncmarl.cluster.provenance import code_version, record_resume, write_provenance
        from asyncmarl.cluster.rundir import create_run_dir, write_config

        if self._run_dir_arg is None:
            self.run_dir = create_run_dir(self.cfg)
        else:
            self.run_dir = Path(self._run_dir_arg)
            if not (self.run_dir / "config.yaml").exists():
                (self.run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
                (self.run_dir / "media").mkdir(exist_ok=True)
                write_config(self.run_dir, self.cfg)
        lock = RunDirLock(self.run_dir)
        code = write_provenance(self.run_dir).get("code")
        if self.resume_state is not None:
            saved = self.resume_state["counters"]
            truncate_metrics(self.run_dir / "metrics.jsonl", saved["env_steps"], saved["updates"])
            record_resume(self.run_dir, self.cfg, self.resume_state["config"], saved)
            code = code_version()
        announce_run_dir(self.run_dir, resumed=self.resume_state is not None)
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl")
        wid = self.resume_state.get("wandb_id") if self.resume_state else None
        self.wandb = WandbSink.for_run(self.cfg, self.run_dir, resume_id=wid, code=code)
        return lock

    def policy(self) -> RllibPolicy:
        """The learner's current weights as a greedy policy (in this process)."""
        weights = self.algo.learner_group.get_weights(module_ids=[MODULE_ID])[MODULE_ID]
        return RllibPolicy(self.cfg, weights, seed=self.cfg.seed)

    def evaluate(self) -> dict:
        """Greedy episodes of the current policy (and a GIF of one); logged under ``eval/``."""
        from asyncmarl.cluster.media import write_gif

        pol = self.policy()
        ev = pol.evaluate(self.cfg.cluster.eval_episodes)
        row = {f"eval/{k}": float(v) for k, v in ev.items()}
        row.update({"env_steps": self.c.env_steps, "updates": self.c.updates})
        self.metrics.write(row)
        self.wandb.log(row, step=self.c.env_steps)
        self._eval = row
        try:
            gif = write_gif(self.run_dir / "media" / f"eval_{self.c.env_steps:010d}.gif", pol.render_episode())
            self.wandb.log_media("media/eval_episode", gif, step=self.c.env_steps)
        except (NotImplementedError, ValueError, OSError) as e:
            log.warning("evaluation GIF skipped: %s", e)
        return row

    def checkpoint(self) -> Path:
        c = dataclasses.replace(self.c, elapsed_s=self._time_s())
        state = {"format": FORMAT, "config": config_to_dict(self.cfg), "counters": dataclasses.asdict(c),
                 "rllib": self.algo.get_state(components=["learner_group"]),
                 "policy": self.algo.learner_group.get_weights(module_ids=[MODULE_ID])[MODULE_ID],
                 "wandb_id": self.wandb.run_id}
        self.last_checkpoint = save_checkpoint(self.run_dir / "checkpoints", self.c.updates, state)
        return self.last_checkpoint

    def _time_s(self) -> float:
        return self.c.elapsed_s + time.perf_counter() - self._t0

    def request_stop(self, reason: str = "requested") -> None:
        self.stop_reason = reason

    def _on_signal(self, signum, _frame) -> None:
        if self.stop_reason is not None:  # second signal: stop now
            raise KeyboardInterrupt
        self.stop_reason = signal.Signals(signum).name

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> None:
        from asyncmarl.cluster.monitor import Progress

        cfg, cl = self.cfg, self.cfg.cluster
        progress = Progress(cl.total_env_steps, self.c.env_steps, cfg.logging.progress, self.c.updates)
        next_eval = self.c.env_steps + cl.eval_interval
        next_ckpt = self.c.updates + cl.checkpoint_interval
        last = (time.perf_counter(), self.c.env_steps, self.c.updates)
        try:
            while self.c.env_steps < cl.total_env_steps and self.stop_reason is None:
                row, steps, episodes = _row_from_result(self.algo.train())
                self.c.env_steps += steps
                self.c.episodes += episodes
                self.c.updates += 1
                now = time.perf_counter()
                dt = max(now - last[0], 1e-9)
                row.update({"env_steps": self.c.env_steps, "updates": self.c.updates, "episodes": self.c.episodes,
                            "time_s": self._time_s(), "learner/version": self.c.updates,
                            "perf/env_steps_per_s": (self.c.env_steps - last[1]) / dt,
                            "perf/updates_per_s": (self.c.updates - last[2]) / dt})
                last = (now, self.c.env_steps, self.c.updates)
                for hook in self.hooks:  # like the driver's: hook(run) once per iteration (progress reports, stops)
                    hook(self)
                self.metrics.write(row)
                self.wandb.log(row, step=self.c.env_steps)
                self.final_row.update(row)
                progress.update(self.c.env_steps, self.c.episodes,
                                self.final_row.get("charts/episodic_return", float("nan")), self.c.updates, 0.0)
                evaluated = bool(cl.eval_interval) and self.c.env_steps >= next_eval
                if evaluated:
                    self.evaluate()
                    next_eval = self.c.env_steps + cl.eval_interval
                # PPO makes few updates (one per iteration): a checkpoint also goes with every evaluation
                if evaluated or self.c.updates >= next_ckpt:
                    self.checkpoint()
                    next_ckpt = self.c.updates + cl.checkpoint_interval
        finally:
            progress.close()

    def run(self) -> dict:
        """Train until ``cluster.total_env_steps`` or a stop signal; returns the final metrics."""
        import ray

        from asyncmarl.cluster.ray_session import connect

        started_ray = connect(self.cfg.cluster.address) if not ray.is_initialized() else False
        lock, old, self.algo = None, {}, None
        self._t0 = time.perf_counter()
        try:
            lock = self._open_run_dir()
            if threading.current_thread() is threading.main_thread():
                old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
            self.algo = ppo_config(self.cfg).build_algo()
            if self.resume_state is not None:
                self.algo.set_state(self.resume_state["rllib"])
                self.c = RllibCounters(**self.resume_state["counters"])
            self._t0 = time.perf_counter()
            self._loop()
            self.checkpoint()
            if self.stop_reason is None and self._eval.get("env_steps") != self.c.env_steps:  # not evaluated yet
                self.evaluate()
            self._log_curve()
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            if getattr(self, "metrics", None):
                self.metrics.close()
            if getattr(self, "wandb", None):
                self.wandb.finish()
            if self.algo is not None:
                self.algo.stop()
            if started_ray:
                ray.shutdown()
            if lock is not None:
                lock.release()
        out = dict(self.final_row)
        out.update(self._eval)
        out.update({"run_dir": str(self.run_dir), "checkpoint": str(self.last_checkpoint),
                    "stopped": self.stop_reason, **{f"counters/{k}": v for k, v in dataclasses.asdict(self.c).items()}})
        return out

    def _log_curve(self) -> None:
        from asyncmarl.cluster.plot import plot_runs

        try:
            path = plot_runs([self.run_dir], self.run_dir / "media" / "curves.png")
        except ValueError:  # nothing logged yet (a very short run)
            return
        self.wandb.log_media("media/learning_curve", path, step=self.c.env_steps)


def train_rllib(cfg: RunConfig, run_dir: str | Path | None = None, resume: str | Path | None = None,
                hooks: tuple[Callable, ...] = ()) -> dict:
    """Train ``learner.algo: rllib_ppo`` with RLlib on this process's Ray session (started here if none runs);
    returns the final metrics with the keys :meth:`asyncmarl.cluster.driver.Driver.run` returns.

    ``resume``: a run directory or checkpoint of an ``rllib_ppo`` run (same config, except how long/where).
    ``hooks``: called as ``hook(run)`` after every PPO iteration; ``run.c`` has the driver's counters' names
    (env_steps, episodes, updates) and ``run.request_stop(reason)`` ends the run after the iteration."""
    return RllibRun(cfg, run_dir=run_dir, resume=resume, hooks=hooks).run()


__all__ = ["EpisodeMetrics", "RllibPolicy", "RllibRun", "build_module", "env_config", "ppo_config", "train_rllib"]
