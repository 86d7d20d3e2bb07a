"""Where metrics go: ``metrics.jsonl`` in the run directory (always), one wandb run owned by the driver
(optional, never fatal) and a tqdm progress bar.

Actors never talk to wandb: they return their metrics to the driver, which logs them here. The wandb run is named
like the run directory, grouped by config without the seed under a readable name
(``boxpushing-6__tomacvf-qmix__3f9a1c``), tagged by scenario, algorithm and variant, and carries the resolved
config (environment settings included) and the code version. Its URL, or offline the ``wandb sync`` command
that uploads it, is printed when it starts and when it ends.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import netrc
import os
import sys
import time
from pathlib import Path

log = logging.getLogger("asyncmarl.cluster")


def _say(msg: str) -> None:
    """One line for the person running the job (stderr: stdout carries the CLI's final JSON)."""
    print(msg, file=sys.stderr, flush=True)


def announce_run_dir(run_dir: str | Path, resumed: bool = False) -> None:
    """Print the run directory when a run starts (it holds config, metrics, checkpoints and GIFs)."""
    _say(f"{'resuming' if resumed else 'run directory'}: {run_dir}")


def algo_label(cfg) -> str:
    """The algorithm and its variant in a few words: ``tomacvf-qmix``, ``tomacvf-vdn-no-atpg-mac-jert``,
    ``avf-qmix-D0``, ``qmix-legem``."""
    lc = cfg.learner
    parts = [lc.algo]
    if lc.algo in ("tomacvf", "avf"):
        parts.append(lc.mixer)
    if lc.algo == "tomacvf":
        parts += ([] if lc.atpg else ["no-atpg"]) + (["mac-jert"] if lc.buffer == "mac_jert" else [])
    if lc.algo == "avf":
        parts.append(lc.avf_scheme)
    if lc.legem:
        parts.append("legem")
    return "-".join(parts)


def run_group(cfg) -> str:
    """wandb group: ``logging.wandb_group`` when set (a study's name), else scenario, algorithm variant and a
    short hash of the config without seed, name and logging (runs that differ only by seed share it; the hash
    separates configs with the same scenario and variant)."""
    from asyncmarl.cluster.config import config_group_key

    if cfg.logging.wandb_group:
        return cfg.logging.wandb_group
    return f"{cfg.env.scenario}__{algo_label(cfg)}__{config_group_key(cfg)[:6]}"


def run_tags(cfg) -> list[str]:
    """wandb tags: scenario, its family, algorithm, variant switches, runtime and ``logging.wandb_tags``."""
    from asyncmarl.platform.envs import spec

    lc = cfg.learner
    tags = [cfg.env.scenario, spec(cfg.env.scenario).family, lc.algo, cfg.cluster.runtime]
    if lc.algo in ("tomacvf", "avf"):
        tags += [f"mixer-{lc.mixer}", lc.buffer.replace("_", "-")]
    if lc.algo == "tomacvf":
        tags.append("atpg" if lc.atpg else "no-atpg")
    if lc.legem:
        tags.append("legem")
    return tags + [t for t in cfg.logging.wandb_tags if t not in tags]


def run_config(cfg, code: dict | None = None) -> dict:
    """The config wandb records: the run's config with the scenario's resolved settings in ``env.settings``
    (preset values and overrides, not only the overrides) and the code version under ``code``."""
    from asyncmarl.cluster.config import config_to_dict
    from asyncmarl.platform.envs import resolve_settings

    d = config_to_dict(cfg)
    resolved = resolve_settings(cfg.env.scenario, **cfg.env.settings)
    d["env"]["settings"] = {k: (list(v) if isinstance(v, tuple) else v)
                            for k, v in dataclasses.asdict(resolved).items()}
    d["env"]["overrides"] = dict(cfg.env.settings)
    if code is not None:
        d["code"] = dict(code)
    return d


def wandb_mode(configured: str) -> str:
    """The wandb mode to use: ``WANDB_MODE`` wins; ``auto`` means online with an API key, offline without."""
    env = os.environ.get("WANDB_MODE")
    if env:
        return {"dryrun": "offline", "run": "online"}.get(env, env)
    if configured != "auto":
        return configured
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        if netrc.netrc().authenticators("api.wandb.ai"):
            return "online"
    except (OSError, netrc.NetrcParseError):
        pass
    return "offline"


class WandbSink:
    """A wandb run that can fail without stopping training: every call is wrapped, the first failure is logged
    as a warning and the sink turns itself off.

    wandb's own console output is off (it would fight the progress bar); the sink prints the run's URL, or
    offline the ``wandb sync`` command that uploads it, when it starts and again when it finishes.
    """

    def __init__(self, mode: str, project: str, name: str, group: str, config: dict, run_dir: Path,
                 resume_id: str | None = None, tags: list[str] | tuple[str, ...] = (), job_type: str = "train"):
        self.run = None
        self.mode = mode
        if mode == "disabled":
            return
        try:
            import wandb

            self._wandb = wandb
            self.run = wandb.init(project=project, name=name, group=group, config=config, mode=mode,
                                  dir=os.environ.get("WANDB_DIR", str(run_dir)), id=resume_id,
                                  resume="allow" if resume_id else None, reinit="create_new",
                                  tags=list(tags), job_type=job_type,
                                  settings=wandb.Settings(silent=True, console="off", init_timeout=30))
        except Exception as e:  # noqa: BLE001 - wandb must never stop training
            self._fail(e)
            return
        self._announce()

    @classmethod
    def for_run(cls, cfg, run_dir: Path, resume_id: str | None = None, code: dict | None = None) -> WandbSink:
        """The driver's wandb run for ``cfg``: mode from ``logging.wandb_mode`` (and ``WANDB_MODE``), named like
        the run directory, readable group, tags, resolved config and ``code`` (see :mod:`.provenance`)."""
        tags = run_tags(cfg) + (["resumed"] if resume_id else [])
        return cls(wandb_mode(cfg.logging.wandb_mode), cfg.logging.wandb_project, Path(run_dir).name,
                   run_group(cfg), run_config(cfg, code), Path(run_dir), resume_id=resume_id, tags=tags,
                   job_type="train")

    @property
    def run_id(self) -> str | None:
        return getattr(self.run, "id", None)

    def where(self) -> str | None:
        """The run's URL (online), or the ``wandb sync <dir>`` command that uploads it (offline)."""
        if self.run is None:
            return None
        if self.mode == "offline":
            sync_dir = getattr(self.run.settings, "sync_dir", None) or Path(self.run.dir).parent
            return f"wandb sync {sync_dir}"
        return getattr(self.run, "url", None)

    def _announce(self, finished: bool = False) -> None:
        try:
            where = self.where()
        except Exception:  # noqa: BLE001 - a wandb attribute missing in some version is no reason to stop
            return
        if not where:
            return
        if self.mode == "offline":
            _say(f"wandb: offline run{' saved' if finished else ''}; upload it with: {where}")
        else:
            _say(f"wandb: run {'finished' if finished else 'at'} {where}")

    def _fail(self, e: Exception) -> None:
        log.warning("wandb disabled for the rest of this run: %s: %s", type(e).__name__, e)
        self.run = None

    def log(self, metrics: dict, step: int) -> None:
        if self.run is None:
            return
        try:
            self.run.log(metrics, step=step)
        except Exception as e:  # noqa: BLE001
            self._fail(e)

    def log_media(self, key: str, path: Path, step: int) -> None:
        """A GIF (as a video) or an image file."""
        if self.run is None:
            return
        try:
            if path.suffix == ".gif":
                media = self._wandb.Video(str(path), format="gif")
            else:
                media = self._wandb.Image(str(path))
            self.run.log({key: media}, step=step)
        except Exception as e:  # noqa: BLE001
            self._fail(e)

    def finish(self) -> None:
        if self.run is None:
            return
        try:
            self.run.finish()
        except Exception as e:  # noqa: BLE001
            self._fail(e)
            return
        self._announce(finished=True)
        self.run = None


class MetricsLog:
    """Appends one JSON object per logging round to ``metrics.jsonl`` (every metric the driver saw)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._f = open(self.path, "a", buffering=1)

    def write(self, row: dict) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        self._f.write(json.dumps(clean, default=float) + "\n")

    def close(self) -> None:
        self._f.close()


class MetricsFileError(ValueError):
    """A ``metrics.jsonl`` that is missing or has an unreadable line before its last."""


def read_metrics(path: str | Path) -> list[dict]:
    """Rows of a run's ``metrics.jsonl`` (a run directory or the file itself).

    A last line cut short (a run killed while writing it) is skipped with a warning; an unreadable line before
    it raises :class:`MetricsFileError` naming the file and line.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.is_file():
        raise MetricsFileError(f"{path} does not exist (a run directory holds metrics.jsonl)")
    lines = [(k, line) for k, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]
    rows = []
    for j, (k, line) in enumerate(lines):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            if j < len(lines) - 1:
                raise MetricsFileError(f"{path}, line {k}: not a JSON object ({e.msg})") from None
            log.warning("%s: skipped its last line %d, which is cut short (%s)", path, k, e.msg)
    return rows


class Progress:
    """The driver's progress bar over env steps: episodes, mean return, updates/s, policy lag.

    The return shown is the last logging round's mean training return; a round in which no episode finished
    (often the final one) keeps the previous value instead of showing ``nan``.
    """

    def __init__(self, total: int, initial: int, enabled: bool, initial_updates: int = 0):
        self.bar = None
        self._t0, self._u0 = time.perf_counter(), initial_updates  # rates count from here (a resume too)
        self._ret: float | None = None  # last finite mean return
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, smoothing=0.1)

    def update(self, env_steps: int, episodes: int, mean_return: float, updates: int, lag: float) -> None:
        if mean_return is not None and math.isfinite(mean_return):
            self._ret = float(mean_return)
        if self.bar is None:
            return
        ups = (updates - self._u0) / max(time.perf_counter() - self._t0, 1e-9)
        self.bar.n = min(env_steps, self.bar.total)
        self.bar.set_postfix(episodes=episodes, ret="-" if self._ret is None else f"{self._ret:.2f}",
                             ups=f"{ups:.1f}", lag=f"{lag:.1f}", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
