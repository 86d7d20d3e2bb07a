"""Where metrics go: ``metrics.jsonl`` in the run directory (always), one wandb run owned by the driver
(optional, never fatal) and a tqdm progress bar.

Actors never talk to wandb: they return their metrics to the driver, which logs them here.
"""
from __future__ import annotations

import json
import logging
import math
import netrc
import os
import time
from pathlib import Path

log = logging.getLogger("asyncmarl.cluster")


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
    as a warning and the sink turns itself off."""

    def __init__(self, mode: str, project: str, name: str, group: str, config: dict, run_dir: Path,
                 resume_id: str | None = None):
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
                                  settings=wandb.Settings(silent=True, console="off", init_timeout=30))
        except Exception as e:  # noqa: BLE001 - wandb must never stop training
            self._fail(e)

    @property
    def run_id(self) -> str | None:
        return getattr(self.run, "id", None)

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


def read_metrics(path: str | Path) -> list[dict]:
    """Rows of a run's ``metrics.jsonl`` (a run directory or the file itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class Progress:
    """The driver's progress bar over env steps: episodes, mean return, updates/s, policy lag."""

    def __init__(self, total: int, initial: int, enabled: bool, initial_updates: int = 0):
        self.bar = None
        self._t0, self._u0 = time.perf_counter(), initial_updates  # rates count from here (a resume too)
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, smoothing=0.1)

    def update(self, env_steps: int, episodes: int, mean_return: float, updates: int, lag: float) -> None:
        if self.bar is None:
            return
        ups = (updates - self._u0) / max(time.perf_counter() - self._t0, 1e-9)
        self.bar.n = min(env_steps, self.bar.total)
        self.bar.set_postfix(episodes=episodes, ret=f"{mean_return:.2f}", ups=f"{ups:.1f}", lag=f"{lag:.1f}",
                             refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
