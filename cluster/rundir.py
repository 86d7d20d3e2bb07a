"""Run directories: ``<logging.run_root>/<env>__<algo>__<seed>__<time>/`` holding ``config.yaml`` (the resolved
config), ``metrics.jsonl``, ``checkpoints/`` and ``media/`` (evaluation GIFs, curves)."""
from __future__ import annotations

import time
from pathlib import Path

import yaml

from asyncmarl.cluster.config import RunConfig, config_to_dict, load_config

CONFIG_FILE = "config.yaml"


def run_name(cfg: RunConfig) -> str:
    """``cfg.name`` or ``env__algo__seed__time`` (CleanRL's convention)."""
    if cfg.name:
        return cfg.name
    return f"{cfg.env.scenario}__{cfg.learner.algo}__{cfg.seed}__{time.strftime('%Y%m%d-%H%M%S')}"


def create_run_dir(cfg: RunConfig) -> Path:
    """A new, empty run directory with the resolved config written into it."""
    root = Path(cfg.logging.run_root)
    base = run_name(cfg)
    path, k = root / base, 1
    while path.exists():  # two runs started in the same second
        path, k = root / f"{base}-{k}", k + 1
    (path / "checkpoints").mkdir(parents=True)
    (path / "media").mkdir()
    write_config(path, cfg)
    return path


def write_config(run_dir: Path, cfg: RunConfig) -> None:
    text = yaml.safe_dump(_plain(config_to_dict(cfg)), sort_keys=False)
    (Path(run_dir) / CONFIG_FILE).write_text(text)


def read_config(run_dir: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """The resolved config a run directory was started with (plus ``overrides``)."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise ValueError(f"{run_dir} is not a run directory: it has no {CONFIG_FILE}")
    return load_config(str(path), list(overrides))


def run_dir_of(path: str | Path) -> Path:
    """The run directory of a run directory, its checkpoints folder or a checkpoint file."""
    path = Path(path).resolve()
    for p in (path, *path.parents):
        if (p / CONFIG_FILE).is_file():
            return p
    raise ValueError(f"{path} is not inside a run directory (no {CONFIG_FILE} found above it)")


def _plain(x):
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x
