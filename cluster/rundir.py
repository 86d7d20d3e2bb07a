"""Run directories: ``<logging.run_root>/<env>__<algo>__<seed>__<time>/`` holding ``config.yaml`` (the resolved
config), ``metrics.jsonl``, ``checkpoints/`` and ``media/`` (evaluation GIFs, curves).

A run root that is a file, not writable or full fails with one :class:`RunDirError` naming ``logging.run_root``
before anything is created; a run directory that cannot be completed (a full disk half-way) is removed again,
with any folders above it this call created, so a failed start leaves nothing behind."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import yaml

from asyncmarl.cluster.config import RunConfig, config_to_dict, load_config

CONFIG_FILE = "config.yaml"
MIN_FREE_BYTES = 16 * 1024**2  # a run root with less free space than this is refused before the run starts


class RunDirError(ValueError):
    """``logging.run_root`` or a run directory cannot be used (a file, not writable, full, outside the root)."""


def run_name(cfg: RunConfig) -> str:
    """``cfg.name`` or ``env__algo__seed__time`` (CleanRL's convention)."""
    if cfg.name:
        return cfg.name
    return f"{cfg.env.scenario}__{cfg.learner.algo}__{cfg.seed}__{time.strftime('%Y%m%d-%H%M%S')}"


def check_run_root(cfg: RunConfig) -> Path:
    """``logging.run_root`` as a path, after checking that a run directory can be made under it: its nearest
    existing folder is a folder, writable, with at least MIN_FREE_BYTES free. Creates nothing."""
    given = cfg.logging.run_root
    root = Path(given).expanduser()
    probe = root
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise RunDirError(f"logging.run_root={given!r}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise RunDirError(f"logging.run_root={given!r}: {probe} is not writable")
    free = shutil.disk_usage(probe).free
    if free < MIN_FREE_BYTES:
        raise RunDirError(f"logging.run_root={given!r}: only {free / 1024**2:.1f} MB free on {probe} (at least "
                          f"{MIN_FREE_BYTES // 1024**2} MB needed to start a run)")
    return root


def create_run_dir(cfg: RunConfig) -> Path:
    """A new, empty run directory with the resolved config written into it. On any failure nothing it created
    is left behind and a :class:`RunDirError` names logging.run_root."""
    root = check_run_root(cfg)
    base = run_name(cfg)
    new_parents = [p for p in (root, *root.parents) if not p.exists()]  # folders this call will create
    path = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        path, k = root / base, 1
        while True:  # mkdir without exist_ok: two runs started in the same second get different folders
            try:
                path.mkdir()
                break
            except FileExistsError:
                path, k = root / f"{base}-{k}", k + 1
        if path.resolve().parent != root.resolve():  # the name is checked in the config; this is the last guard
            raise RunDirError(f"name={cfg.name!r} would place the run directory outside logging.run_root")
        (path / "checkpoints").mkdir()
        (path / "media").mkdir()
        write_config(path, cfg)
    except (OSError, RunDirError) as e:
        if path is not None and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        for p in new_parents:  # deepest first
            try:
                p.rmdir()
            except OSError:
                break
        if isinstance(e, RunDirError):
            raise
        raise RunDirError(f"logging.run_root={cfg.logging.run_root!r}: cannot create the run directory "
                          f"{path or root}: {e.strerror or e}") from None
    return path


def write_config(run_dir: Path, cfg: RunConfig) -> None:
    """Write ``config.yaml`` atomically (a temporary file renamed over it), so a reader never sees half."""
    text = yaml.safe_dump(_plain(config_to_dict(cfg)), sort_keys=False)
    final = Path(run_dir) / CONFIG_FILE
    tmp = final.with_name(f".{CONFIG_FILE}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def read_config(run_dir: str | Path, overrides: list[str] | tuple[str, ...] = (),
                for_training: bool = False) -> RunConfig:
    """The resolved config a run directory was started with (plus ``overrides``); ``for_training`` (resuming)
    adds the checks a run must pass before it starts (combinations, memory)."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise RunDirError(f"{run_dir} is not a run directory: it has no {CONFIG_FILE}")
    return load_config(str(path), list(overrides), for_training=for_training)


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
