"""Checks a run config must pass before anything starts, beyond what each section's dataclass checks alone.

- :func:`check_values`: every number in the config is finite and fits a 64-bit integer (YAML's ``.nan`` and
  ``.inf`` parse as floats, and a sign-less ``2**70`` parses as a Python int; both would reach numpy and torch
  silently).
- :func:`check_combinations`: settings that are each valid but cannot work together (a learner that could wait
  for ever, a CUDA learner in a process without CUDA).

:func:`check_for_training` runs them with the memory bound of :mod:`asyncmarl.cluster.validation_memory`;
``load_config`` calls it for configs that are about to train. Every error is a :class:`ConfigError` naming the
key.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

INT64_MAX = 2**63 - 1


class ConfigError(ValueError):
    """A config value, or a combination of values, that cannot run; the message names the key."""


def _walk(value: Any, key: str):
    """(dotted key, leaf value) for every leaf under ``value`` (dataclasses, dicts, lists, tuples)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _walk(getattr(value, f.name), f"{key}.{f.name}" if key else f.name)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk(v, f"{key}[{i}]")
    else:
        yield key, value


def check_values(cfg) -> None:
    """Every float finite, every int within int64; :class:`ConfigError` naming the first bad key."""
    for key, v in _walk(cfg, ""):
        if isinstance(v, bool):
            continue
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"config key {key!r}: must be a finite number, got {v}")
        if isinstance(v, int) and not -INT64_MAX - 1 <= v <= INT64_MAX:
            raise ConfigError(f"config key {key!r}: {v} does not fit a 64-bit integer")


def check_combinations(cfg, info) -> None:
    """Refuse settings that are valid one by one but cannot train together. ``info``: the scenario's EnvInfo."""
    rp, cl = cfg.replay, cfg.cluster
    if rp.capacity_unit == "steps" and rp.capacity < rp.min_episodes * info.horizon:
        held = rp.capacity // info.horizon
        raise ConfigError(
            f"replay.capacity={rp.capacity} steps holds {held} episode(s) of {info.name}'s full length "
            f"({info.horizon} steps) per shard, fewer than replay.min_episodes={rp.min_episodes} that a shard needs "
            f"before the learner samples from it: once episodes run to the horizon the learner stalls for good; "
            f"set replay.capacity >= {rp.min_episodes * info.horizon} or lower replay.min_episodes")
    if cl.total_env_steps < rp.min_episodes:
        raise ConfigError(
            f"cluster.total_env_steps={cl.total_env_steps} cannot finish replay.min_episodes={rp.min_episodes} "
            f"episodes (each takes at least one step): the learner would never update")
    if cfg.learner.on_policy != rp.on_policy:
        need = "true" if cfg.learner.on_policy else "false"
        raise ConfigError(f"replay.on_policy must be {need} for learner.algo={cfg.learner.algo!r}: the actor-critic "
                          f"baselines train on fresh episodes only, the value-based learners replay")
    if cfg.learner.device == "cuda" and cl.runtime == "local":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("learner.device='cuda' with cluster.runtime=local, but this machine has no CUDA "
                              "device; use learner.device=auto or cpu (or cluster.runtime=ray on a GPU cluster)")


def check_for_training(cfg, info=None) -> None:
    """Everything :func:`load_config` checks before a run may start: finite values, working combinations and
    the memory bound. ``info`` defaults to the scenario's EnvInfo (built without stepping the environment)."""
    from asyncmarl.cluster.validation_memory import check_memory

    if info is None:
        from asyncmarl.platform.envs import env_info

        info = env_info(cfg.env.scenario, **cfg.env.settings)
    check_combinations(cfg, info)
    check_memory(cfg, info)
