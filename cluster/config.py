"""The run configuration: one frozen dataclass per role, composed into :class:`RunConfig`, loaded from YAML
presets in ``cluster/configs/`` with ``key=value`` overrides (OmegaConf does the parsing and type checks).

    cfg = load_config("boxpushing6_tomacvf", ["learner.lr=0.001", "seed=3"])

Every error names the offending key (or the file and line of a broken YAML file) and, where there is a fixed set,
the valid choices; nothing starts before the whole config has been checked (including the scenario name and its
settings, every number being finite, and, for a config about to train, the combinations and the memory it needs:
:mod:`asyncmarl.cluster.validation`).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from asyncmarl.cluster.presets import PRESET_DIR, parse_yaml, presets, read_layers  # noqa: F401 (re-exported)
from asyncmarl.cluster.validation import ConfigError, check_for_training, check_values
from asyncmarl.learner.config import LearnerConfig
from asyncmarl.memory_service.legem import LegemConfig
from asyncmarl.memory_service.replay import ReplayConfig
from asyncmarl.rollout_workers.config import RolloutConfig

# Run-config fields whose value another field decides (one source per fact): setting them is an error.
DERIVED = {"replay.gamma": "learner.gamma"}  # the replay discounts R_m and Mac-JERT rewards with the learner's gamma
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
    eval_gif: bool = True  # render one episode to media/eval_*.gif at each evaluation (off: evaluations cost less)
    stop_return: float | None = None  # stop early once a greedy evaluation's mean return reaches this (None: never)
    max_restarts: int = 5  # restarts per failed actor before the run fails
    batch_size: int = 32  # episodes per learner batch (split across the replay shards)
    actor_cpus: float = 1.0  # CPUs Ray reserves per rollout/learner actor (shards and LeGEM reserve none)
    checkpoint_replay: str = "final"  # replay contents in checkpoints: never, final (the run's last one) or always
    memory_limit_gb: float = 0.0  # memory budget the size check compares against (0: this machine's available)
    stall_warn_s: float = 120.0  # warn (with the reason) when the learner has made no update for this long; 0: off
    rate_limit: bool = True  # ray: hold updates per env step at the in-process loop's ratio
        # (updates_per_iteration per round)
    rate_tolerance: float = 2.0  # how far either side may run ahead, in rounds of the in-process loop

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
        if not self.stall_warn_s >= 0:  # also refuses NaN
            raise ValueError(f"cluster.stall_warn_s must be >= 0 seconds, got {self.stall_warn_s}")
        if not self.rate_tolerance > 0:  # also refuses NaN
            raise ValueError(f"cluster.rate_tolerance must be > 0 rounds, got {self.rate_tolerance}")
        if self.stop_return is not None and not math.isfinite(self.stop_return):
            raise ValueError(f"cluster.stop_return must be a finite number or null, got {self.stop_return}")
        if self.eval_interval < 0 or self.max_restarts < 0 or self.actor_cpus < 0 or self.memory_limit_gb < 0:
            raise ValueError("cluster.eval_interval, cluster.max_restarts, cluster.actor_cpus and "
                             "cluster.memory_limit_gb must be >= 0")


@dataclass(frozen=True)
class LoggingConfig:
    run_root: str = "runs"  # run directories are created under this folder
    wandb_project: str = "asyncmarl"  # wandb project name
    wandb_mode: str = "auto"  # auto: online with an API key, else offline; or online/offline/disabled
    log_interval: int = 50  # learner updates between metric logs
    progress: bool = True  # progress bar on the driver
    wandb_group: str | None = None  # wandb group; None: scenario__algorithm__config hash (a study sets its name)
    wandb_tags: tuple = ()  # extra wandb tags (a study adds each trial's varying keys, as key=value)

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

    def __post_init__(self):
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < SEED_LIMIT:
            raise ConfigError(f"seed must be an int in [0, 2**32), got {self.seed!r}")
        if self.name is not None:
            check_run_name(self.name)


SEED_LIMIT = 2**32  # numpy and torch seeds; every stream is a named child of SeedSequence(seed) (platform/seeding.py)
NAME_MAX_BYTES = 200  # below the usual 255-byte file-name limit, leaving room for the "-<k>" suffix


def check_run_name(name: str) -> None:
    """``name`` must be one plain path component: the run directory has to land inside logging.run_root."""
    bad = (not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name
           or name != name.strip() or name.startswith("~"))
    if bad:
        raise ConfigError(f"name must be a plain folder name (no '/', '\\', '..', leading '~' or surrounding "
                          f"spaces), got {name!r}")
    if len(name.encode()) > NAME_MAX_BYTES:
        raise ConfigError(f"name must be at most {NAME_MAX_BYTES} bytes, got {len(name.encode())}")


@functools.lru_cache(maxsize=1)
def _schema() -> Any:
    """The structured RunConfig node every load merges over (built once: it is the slow part of a load; merging
    copies it, so it is never changed)."""
    return OmegaConf.structured(RunConfig)


def _valid_keys(schema: Any, dotted: str) -> list[str]:
    node = schema
    for part in [p for p in dotted.split(".")[:-1] if p]:
        node = node.get(part) if OmegaConf.is_dict(node) else None
        if node is None:
            return []
    return sorted(node.keys()) if OmegaConf.is_dict(node) else []


def load_config(preset_or_path: str | None = None, overrides: list[str] | tuple[str, ...] = (),
                for_training: bool = True) -> RunConfig:
    """Build a checked :class:`RunConfig` from a preset name or YAML path plus ``key=value`` overrides.

    ``for_training`` (the default) also refuses combinations that cannot train and configs whose replay,
    batches and rollouts would not fit in memory (:func:`asyncmarl.cluster.validation.check_for_training`);
    reading a finished run's config for evaluation or plots skips that."""
    schema = _schema()
    try:
        layers = config_layers(preset_or_path, overrides)
        merged = OmegaConf.merge(schema, *(node for _, node in layers))
        cfg = OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or ""
        msg = (getattr(e, "msg", None) or str(e)).splitlines()[0]
        valid = _valid_keys(schema, key) if key else []
        hint = f"; valid keys here: {valid}" if valid and "not in" in msg else ""
        raise ValueError(f"config key {key!r}: {msg}{hint}") from None
    except TypeError as e:  # a dataclass rejected a value
        raise ValueError(f"config: {e}") from None
    except yaml.YAMLError as e:  # an override whose value is not YAML
        raise ConfigError(f"overrides {list(overrides)}: not valid YAML: {str(e).splitlines()[0]}") from None
    cfg = _finish(cfg)
    if for_training:
        check_for_training(cfg)
    return cfg


def config_layers(preset_or_path: str | None, overrides: list[str] | tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    """``[(source, node)]`` that :func:`load_config` merges over the dataclass defaults, in order: the preset's
    ``base:`` chain (sources relative to cluster/configs/, or the file's path), then the overrides (source
    ``"override"``). A derived field (:data:`DERIVED`) set anywhere is refused."""
    layers = read_layers(preset_or_path) if preset_or_path else []
    bad = [o for o in overrides if "=" not in o]
    if bad:
        raise ValueError(f"overrides must look like key=value, got {bad}")
    layers.append(("override", OmegaConf.from_dotlist(list(overrides))))
    for source, node in layers:
        _drop_derived(node, source)
    return layers


_ABSENT = object()


def _drop_derived(node: Any, source: str) -> None:
    """Refuse a derived field set in ``node``; a file that repeats the derived value next to its source (every
    saved run config does) has the copy removed."""
    for key, origin in DERIVED.items():
        value = OmegaConf.select(node, key, default=_ABSENT)
        if value is _ABSENT:
            continue
        if source != "override" and OmegaConf.select(node, origin, default=_ABSENT) == value:
            parent, leaf = key.rsplit(".", 1)
            OmegaConf.select(node, parent).pop(leaf)
            continue
        where = "in the overrides" if source == "override" else f"in {source}"
        raise ConfigError(f"{key} cannot be set ({where}): it is derived from {origin}, its one source; set "
                          f"{origin} instead")


def _finish(cfg: RunConfig) -> RunConfig:
    """Cross-section rules: every number finite; derived fields take their source's value (:data:`DERIVED`);
    the scenario and its settings exist."""
    check_values(cfg)
    cfg = dataclasses.replace(cfg, replay=dataclasses.replace(cfg.replay, gamma=cfg.learner.gamma))
    _check_env(cfg)
    return cfg


def _check_env(cfg: RunConfig) -> None:
    from asyncmarl.platform.envs import resolve_settings

    resolve_settings(cfg.env.scenario, **cfg.env.settings)  # raises ValueError naming the scenario/setting


def config_to_dict(cfg: RunConfig) -> dict:
    """Plain nested dict (JSON/YAML-serialisable) of a RunConfig."""
    return dataclasses.asdict(cfg)


def flat_config(d: dict, prefix: str = "") -> dict:
    """``{"learner.lr": 0.001, ...}`` of a nested config dict; tuples become lists (as a YAML or JSON copy has them)."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flat_config(v, key + "."))
        else:
            out[key] = _as_lists(v)
    return out


def _as_lists(v):
    if isinstance(v, (list, tuple)):
        return [_as_lists(x) for x in v]
    if isinstance(v, dict):
        return {k: _as_lists(x) for k, x in v.items()}
    return v


def config_differences(saved: dict, cfg: RunConfig, ignore: tuple[str, ...] = ()) -> list[tuple[str, object, object]]:
    """``(key, saved value, cfg's value)`` for every key where a saved config (a checkpoint's, a run's or a study
    trial's) and ``cfg`` differ, keys starting with one of ``ignore`` aside. A field added to the code after the
    config was saved is no difference while it keeps its default (new fields default to the behaviour that existed
    before them)."""
    a, b = flat_config(saved), flat_config(config_to_dict(cfg))
    defaults = flat_config(config_to_dict(RunConfig()))
    added = {k for k in set(b) - set(a) if k in defaults and b[k] == defaults[k]}
    return [(k, a.get(k, "<absent>"), b.get(k, "<absent>")) for k in sorted(set(a) | set(b))
            if a.get(k, "<absent>") != b.get(k, "<absent>") and k not in added and not k.startswith(ignore)]


def config_from_dict(data: dict) -> RunConfig:
    """Inverse of :func:`config_to_dict` (validated like a loaded config)."""
    flat = OmegaConf.to_yaml(OmegaConf.create(data))
    return load_config_text(flat)


def load_config_text(text: str, source: str = "config text") -> RunConfig:
    """A checked :class:`RunConfig` from YAML text (a checkpoint's or a run directory's config)."""
    schema = _schema()
    node = parse_yaml(text, source)
    _drop_derived(node, source)
    try:
        cfg = OmegaConf.to_object(OmegaConf.merge(schema, node))
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
