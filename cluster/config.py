"""The run configuration: one frozen dataclass per role, composed into :class:`RunConfig`, loaded from YAML
presets in ``cluster/configs/`` with ``key=value`` overrides (OmegaConf does the parsing and type checks).

    cfg = load_config("boxpushing6_tomacvf", ["learner.lr=0.001", "seed=3"])

Every error names the offending key and, where there is a fixed set, the valid choices; nothing starts before the
whole config has been checked (including the scenario name and its settings).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from asyncmarl.learner.config import LearnerConfig
from asyncmarl.memory_service.legem import LegemConfig
from asyncmarl.memory_service.replay import ReplayConfig
from asyncmarl.rollout_workers.config import RolloutConfig

PRESET_DIR = Path(__file__).resolve().parent / "configs"
RUNTIMES = ("local", "ray")
REPLAY_CHECKPOINTS = ("never", "final", "always")
WANDB_MODES = ("auto", "online", "offline", "disabled")


@dataclass(frozen=True)
class EnvConfig:
    scenario: str = "boxpushing-6"  # a name from `asyncmarl list` / asyncmarl.platform.envs.names()
    settings: dict[str, Any] = field(default_factory=dict)  # scenario settings overriding its preset


@dataclass(frozen=True)
class ClusterConfig:
    runtime: str = "local"  # local: every role in this process; ray: roles as Ray actors
    address: str | None = None  # Ray cluster to attach to ("auto" inside `ray job submit`); None starts one
    num_rollout_workers: int = 2  # rollout workers (actors under runtime=ray)
    num_replay_shards: int = 1  # replay shards; an episode's segments always go to one shard
    total_env_steps: int = 200_000  # stop after this many joint environment steps (all workers)
    updates_per_iteration: int = 1  # learner updates per round of rollouts
    publish_interval: int = 1  # publish weights every this many learner updates
    checkpoint_interval: int = 2000  # checkpoint every this many learner updates (and at the end)
    eval_interval: int = 10_000  # greedy evaluation every this many env steps (0: only at the end)
    eval_episodes: int = 32  # episodes per evaluation
    max_restarts: int = 5  # restarts per failed actor before the run fails
    batch_size: int = 32  # episodes per learner batch (split across the replay shards)
    actor_cpus: float = 1.0  # CPUs Ray reserves per rollout/learner actor (shards and LeGEM reserve none)
    checkpoint_replay: str = "final"  # replay contents in checkpoints: never, final (the run's last one) or always

    def __post_init__(self):
        if self.runtime not in RUNTIMES:
            raise ValueError(f"cluster.runtime must be one of {list(RUNTIMES)}, got {self.runtime!r}")
        for name in ("num_rollout_workers", "num_replay_shards", "total_env_steps", "updates_per_iteration",
                     "publish_interval", "checkpoint_interval", "eval_episodes", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"cluster.{name} must be >= 1, got {getattr(self, name)}")
        if self.checkpoint_replay not in REPLAY_CHECKPOINTS:
            raise ValueError(f"cluster.checkpoint_replay must be one of {list(REPLAY_CHECKPOINTS)}, "
                             f"got {self.checkpoint_replay!r}")
        if self.eval_interval < 0 or self.max_restarts < 0 or self.actor_cpus < 0:
            raise ValueError("cluster.eval_interval, cluster.max_restarts and cluster.actor_cpus must be >= 0")


@dataclass(frozen=True)
class LoggingConfig:
    run_root: str = "runs"  # run directories are created under this folder
    wandb_project: str = "asyncmarl"  # wandb project name
    wandb_mode: str = "auto"  # auto: online with an API key, else offline; or online/offline/disabled
    log_interval: int = 50  # learner updates between metric logs
    progress: bool = True  # progress bar on the driver

    def __post_init__(self):
        if self.wandb_mode not in WANDB_MODES:
            raise ValueError(f"logging.wandb_mode must be one of {list(WANDB_MODES)}, got {self.wandb_mode!r}")
        if self.log_interval < 1:
            raise ValueError(f"logging.log_interval must be >= 1, got {self.log_interval}")


@dataclass(frozen=True)
class RunConfig:
    seed: int = 0  # seeds environments, networks and exploration
    name: str | None = None  # run name; default env__algo__seed__time
    env: EnvConfig = field(default_factory=EnvConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    learner: LearnerConfig = field(default_factory=LearnerConfig)
    legem: LegemConfig = field(default_factory=LegemConfig)  # used when learner.legem is true
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)


def presets() -> list[str]:
    """Names of the YAML presets shipped in cluster/configs/."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def _read_yaml(preset_or_path: str, seen: tuple[str, ...] = ()) -> Any:
    path = Path(preset_or_path)
    if not path.suffix:
        path = PRESET_DIR / f"{preset_or_path}.yaml"
    if not path.is_file():
        raise ValueError(f"config {preset_or_path!r} is neither a file nor a preset; presets: {presets()}")
    node = OmegaConf.load(path)
    base = node.pop("base", None)
    if base is None:
        return node
    if base in seen:
        raise ValueError(f"config {path}: preset cycle through {base!r}")
    return OmegaConf.merge(_read_yaml(str(base), seen + (str(base),)), node)


def _valid_keys(schema: Any, dotted: str) -> list[str]:
    node = schema
    for part in [p for p in dotted.split(".")[:-1] if p]:
        node = node.get(part) if OmegaConf.is_dict(node) else None
        if node is None:
            return []
    return sorted(node.keys()) if OmegaConf.is_dict(node) else []


def load_config(preset_or_path: str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Build a checked :class:`RunConfig` from a preset name or YAML path plus ``key=value`` overrides."""
    schema = OmegaConf.structured(RunConfig)
    try:
        layers = [schema]
        if preset_or_path:
            layers.append(_read_yaml(preset_or_path))
        bad = [o for o in overrides if "=" not in o]
        if bad:
            raise ValueError(f"overrides must look like key=value, got {bad}")
        layers.append(OmegaConf.from_dotlist(list(overrides)))
        merged = OmegaConf.merge(*layers)
        cfg = OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or ""
        msg = (getattr(e, "msg", None) or str(e)).splitlines()[0]
        valid = _valid_keys(schema, key) if key else []
        hint = f"; valid keys here: {valid}" if valid and "not in" in msg else ""
        raise ValueError(f"config key {key!r}: {msg}{hint}") from None
    except TypeError as e:  # a dataclass rejected a value
        raise ValueError(f"config: {e}") from None
    return _finish(cfg)


def _finish(cfg: RunConfig) -> RunConfig:
    """Cross-section rules: replay discounts with the learner's gamma (one source of truth); the scenario and
    its settings exist."""
    if cfg.replay.gamma != cfg.learner.gamma:
        cfg = dataclasses.replace(cfg, replay=dataclasses.replace(cfg.replay, gamma=cfg.learner.gamma))
    _check_env(cfg)
    return cfg


def _check_env(cfg: RunConfig) -> None:
    from asyncmarl.platform.envs import resolve_settings

    resolve_settings(cfg.env.scenario, **cfg.env.settings)  # raises ValueError naming the scenario/setting


def config_to_dict(cfg: RunConfig) -> dict:
    """Plain nested dict (JSON/YAML-serialisable) of a RunConfig."""
    return dataclasses.asdict(cfg)


def config_from_dict(data: dict) -> RunConfig:
    """Inverse of :func:`config_to_dict` (validated like a loaded config)."""
    flat = OmegaConf.to_yaml(OmegaConf.create(data))
    return load_config_text(flat)


def load_config_text(text: str) -> RunConfig:
    schema = OmegaConf.structured(RunConfig)
    try:
        cfg = OmegaConf.to_object(OmegaConf.merge(schema, OmegaConf.create(text)))
    except OmegaConfBaseException as e:
        msg = str(getattr(e, "msg", None) or e).splitlines()[0]
        raise ValueError(f"config key {getattr(e, 'full_key', '')!r}: {msg}") from None
    return _finish(cfg)


def config_group_key(cfg: RunConfig) -> str:
    """A short hash of the config without seed and name: runs that differ only by seed share it."""
    d = config_to_dict(cfg)
    d.pop("seed", None)
    d.pop("name", None)
    d.pop("logging", None)
    blob = json.dumps(d, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:10]
