"""Scenario registry: ``make``, ``make_batched`` and ``names``.

A scenario module calls :func:`register` at import time with its :class:`BatchedEnv` subclass, that class's
frozen settings dataclass, and the preset values that define the scenario. Every module of this package is
imported on first use, so adding a scenario needs no edit elsewhere.
"""
from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from asyncmarl.platform.envs.base import BatchedEnv


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    factory: Callable[..., BatchedEnv]  # factory(batch_size, settings) -> BatchedEnv
    settings_cls: type  # frozen dataclass of the scenario family's settings
    preset: dict[str, Any]  # values that define this scenario (a user may override them)
    family: str  # "macro" or "offbeat"
    description: str


_REGISTRY: dict[str, ScenarioSpec] = {}
_LOADED = False


def register(name: str, factory: Callable[..., BatchedEnv], settings_cls: type, preset: dict | None = None,
             family: str = "macro", description: str = "") -> None:
    """Register scenario ``name``; ``preset`` fields must exist in ``settings_cls``."""
    preset = dict(preset or {})
    fields = {f.name for f in dataclasses.fields(settings_cls)}
    unknown = sorted(set(preset) - fields)
    if unknown:
        raise ValueError(f"scenario {name!r}: preset has unknown settings {unknown}; valid: {sorted(fields)}")
    _REGISTRY[name] = ScenarioSpec(name, factory, settings_cls, preset, family, description)


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    import asyncmarl.platform.envs as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name not in {"base", "registry", "parallel", "rllib"} and not info.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{info.name}")
    _LOADED = True


def names() -> list[str]:
    """Every registered scenario name, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def spec(name: str) -> ScenarioSpec:
    """The registration of ``name``; ``ValueError`` listing valid names if unknown."""
    _load_all()
    if name not in _REGISTRY:
        raise ValueError(f"unknown scenario {name!r}; valid scenarios: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def resolve_settings(name: str, **overrides: Any):
    """The scenario's settings dataclass with preset values and ``overrides`` applied (validated)."""
    s = spec(name)
    fields = {f.name for f in dataclasses.fields(s.settings_cls)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"scenario {name!r}: unknown settings {unknown}; valid settings: {sorted(fields)}")
    for key, value in overrides.items():
        _check_number(name, key, value)
    return s.settings_cls(**{**s.preset, **overrides})


def _check_number(scenario: str, key: str, value: Any) -> None:
    """Every number in a setting (nested lists and tuples included) finite and within int64: a NaN reward or
    horizon would otherwise run silently and poison every return."""
    if isinstance(value, (list, tuple, np.ndarray)):
        for v in (value.tolist() if isinstance(value, np.ndarray) else value):
            _check_number(scenario, key, v)
    elif isinstance(value, (float, np.floating)) and not math.isfinite(value):
        raise ValueError(f"scenario {scenario!r}: setting {key} must be a finite number, got {value!r}")
    elif isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
        raise ValueError(f"scenario {scenario!r}: setting {key}={value} does not fit a 64-bit integer")


def make_batched(name: str, batch_size: int = 1, **settings: Any) -> BatchedEnv:
    """The batched numpy core of scenario ``name`` with ``batch_size`` copies."""
    return spec(name).factory(batch_size, resolve_settings(name, **settings))


def env_info(name: str, **settings: Any):
    """The :class:`EnvInfo` (dimensions, family) of scenario ``name`` with ``settings``."""
    from asyncmarl.platform.envs.base import EnvInfo

    return EnvInfo.from_env(make_batched(name, 1, **settings), family=spec(name).family)


def make(name: str, render_mode: str | None = None, dict_obs: bool = False, **settings: Any):
    """A PettingZoo ``ParallelEnv`` of scenario ``name`` (a view of the batched core at B = 1); ``dict_obs``
    gives observations as ``{"observation": ..., "action_mask": ...}``."""
    from asyncmarl.platform.envs.parallel import AsyncParallelEnv

    return AsyncParallelEnv(make_batched(name, 1, **settings), render_mode=render_mode, dict_obs=dict_obs)
