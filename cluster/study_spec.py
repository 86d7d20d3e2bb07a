"""Study files: which presets, seeds and override grid a study runs, expanded into trials.

A study file (``studies/*.yaml``) is a :class:`StudySpec`::

    name: fig7_ablations
    presets: [overcookedb_tomacvf, overcookedb_tomacvf_no_atpg]
    seeds: [0, 1, 2]
    overrides: [cluster.total_env_steps=1000000]
    grid: {learner.lr: [0.0003, 0.001]}
    threshold: 200

Every preset runs with every seed at every grid point; each is one :class:`Trial`, an ordinary training run
whose id (``overcookedb_tomacvf__learner.lr=0.001__seed1``) names its folders. Every trial's config is built and
checked when the study is read, so a bad key fails before anything starts.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from asyncmarl.cluster.presets import composed_presets, method_label, parse_yaml
from asyncmarl.cluster.validation import ConfigError

ID_MAX = 120  # trial ids longer than this are cut and end in a hash (they name folders and wandb runs)


class StudyError(ConfigError):
    """A study file that cannot run; the message names the file and the key."""


@dataclass(frozen=True)
class StudySpec:
    """One study: presets x seeds x grid points, each a training run (a Ray Tune trial)."""

    name: str = ""  # study name: wandb group and default output folder (default: the file's name)
    presets: list = field(default_factory=list)  # run presets (asyncmarl list), each run at every seed and grid point
    seeds: list = field(default_factory=lambda: [0, 1, 2])  # seeds of every preset and grid point
    overrides: list = field(default_factory=list)  # key=value for every trial (e.g. cluster.total_env_steps=...)
    grid: dict = field(default_factory=dict)  # key -> list of values; every combination is a set of trials
    labels: dict = field(default_factory=dict)  # preset -> its name in reports (default: the method's label)
    threshold: Any = None  # report: greedy return counted as reached (steps, time to it):
        # a number or scenario -> number
    max_concurrent: int = 0  # trials running at once (0: as many as Ray's resources allow)
    max_failures: int = 1  # Ray Tune retries of a failed trial (a retry resumes from the trial's last checkpoint)


@dataclass(frozen=True)
class Trial:
    """One training run of a study."""

    id: str  # folder and wandb run name: preset, grid point and seed
    preset: str  # run preset
    seed: int  # the run's seed
    overrides: tuple  # the study's overrides and the grid point (key=value), the seed excluded
    point: dict  # the grid point, key -> value
    label: str  # method name in reports: the preset's label and the grid point

    def config_overrides(self, study: str) -> list[str]:
        """Everything a trial's run config adds to its preset: overrides, seed, name, wandb group and tags."""
        tags = [f"preset={self.preset}", *(f"{k}={v}" for k, v in self.point.items())]
        return [*self.overrides, f"seed={self.seed}", f"name={self.id}", "logging.progress=false",
                f"logging.wandb_group={study}", f"logging.wandb_tags={_yaml_list(tags)}"]


def _yaml_list(items: list[str]) -> str:
    return "[" + ", ".join("'" + s.replace("'", "''") + "'" for s in items) + "]"


def read_study(path: str | Path) -> StudySpec:
    """The checked :class:`StudySpec` of a study file."""
    path = Path(path)
    if not path.is_file():
        raise StudyError(f"study file {path} does not exist")
    try:
        node = parse_yaml(path.read_text(encoding="utf-8"), str(path))
        spec = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(StudySpec), node))
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or ""
        raise StudyError(f"study file {path}: key {key!r}: {str(getattr(e, 'msg', e)).splitlines()[0]}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise StudyError(f"study file {path}: cannot be read: {e}") from None
    spec = dataclasses.replace(spec, name=spec.name or path.stem)
    _check(spec, path)
    return spec


def _check(spec: StudySpec, path: Path) -> None:
    def bad(msg: str) -> StudyError:
        return StudyError(f"study file {path}: {msg}")

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", spec.name):
        raise bad(f"name must be letters, digits, '_', '.' or '-' (it names a folder and a wandb group), got "
                  f"{spec.name!r}")
    if not spec.presets or not all(isinstance(p, str) and p for p in spec.presets):
        raise bad(f"presets must be a non-empty list of preset names (asyncmarl list), got {spec.presets!r}")
    if len(set(spec.presets)) != len(spec.presets):
        raise bad(f"presets lists a preset twice: {spec.presets}")
    seeds = spec.seeds
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds) \
            or len(set(seeds)) != len(seeds):
        raise bad(f"seeds must be a non-empty list of distinct ints >= 0, got {seeds!r}")
    if not all(isinstance(o, str) and "=" in o for o in spec.overrides):
        raise bad(f"overrides must be key=value strings, got {spec.overrides!r}")
    for key, values in spec.grid.items():
        if not isinstance(values, list) or not values:
            raise bad(f"grid.{key} must be a non-empty list of values, got {values!r}")
    unknown = sorted(set(spec.labels) - set(spec.presets))
    if unknown:
        raise bad(f"labels names presets the study does not run: {unknown}")
    th = spec.threshold
    numbers = th.values() if isinstance(th, dict) else [] if th is None else [th]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        raise bad(f"threshold must be a number or a mapping scenario -> number, got {th!r}")
    if spec.max_concurrent < 0 or spec.max_failures < 0:
        raise bad("max_concurrent and max_failures must be >= 0")


def _label(spec: StudySpec, preset: str) -> str:
    if preset in spec.labels:
        return spec.labels[preset]
    parts = composed_presets().get(preset)
    return method_label(parts[1]) if parts else preset


def _value(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def trial_id(preset: str, point: dict, seed: int) -> str:
    """``<preset>__<key>=<value>...__seed<k>``, reduced to characters safe in folder names."""
    raw = "__".join([preset, *(f"{k}={_value(v)}" for k, v in point.items()), f"seed{seed}"])
    safe = re.sub(r"[^A-Za-z0-9_.=-]", "-", raw)
    if len(safe) > ID_MAX:
        safe = f"{safe[:ID_MAX - 9]}-{hashlib.sha1(raw.encode()).hexdigest()[:8]}"
    return safe


def trials(spec: StudySpec) -> list[Trial]:
    """Every trial of the study: presets x grid points x seeds, in that order."""
    keys = list(spec.grid)
    points = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(spec.grid[k] for k in keys))] or [{}]
    out = []
    for preset in spec.presets:
        for point in points:
            grid_overrides = [f"{k}={_value(v)}" for k, v in point.items()]
            label = _label(spec, preset)
            if point:
                label += " (" + ", ".join(f"{k.rsplit('.', 1)[-1]}={_value(v)}" for k, v in point.items()) + ")"
            for seed in spec.seeds:
                out.append(Trial(trial_id(preset, point, seed), preset, seed,
                                 tuple([*spec.overrides, *grid_overrides]), point, label))
    ids = [t.id for t in out]
    if len(set(ids)) != len(ids):
        raise StudyError(f"study {spec.name}: two trials share an id ({sorted({i for i in ids if ids.count(i) > 1})})")
    return out


def trial_config(trial: Trial, study: str, for_training: bool = True):
    """The run config of ``trial`` (checked; the error names the trial)."""
    from asyncmarl.cluster.config import load_config

    try:
        return load_config(trial.preset, trial.config_overrides(study), for_training=for_training)
    except ValueError as e:
        raise StudyError(f"study {study}, trial {trial.id}: {e}") from None
