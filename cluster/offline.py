"""Working from a finished (or running) run: greedy evaluation and GIFs of a checkpoint's policy, in this
process, with the run's own config."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from asyncmarl.cluster.checkpoint import load_checkpoint, resolve_checkpoint
from asyncmarl.cluster.rundir import read_config, run_dir_of


def load_policy_worker(path: str | Path, seed: int = 0):
    """A RolloutWorker of the run's config holding the checkpoint's published policy; and the checkpoint path."""
    from asyncmarl.rollout_workers import RolloutWorker

    ckpt = resolve_checkpoint(path)
    cfg = read_config(run_dir_of(ckpt))
    state = load_checkpoint(ckpt)
    worker = RolloutWorker(cfg, worker_id=0, seed=seed)
    version, weights = state["policy"]
    worker.set_weights(max(int(version), 1), weights)  # version 0 would be ignored as "not newer"
    return worker, ckpt


def evaluate_checkpoint(path: str | Path, episodes: int, seed: int = 12345) -> dict:
    """Greedy decentralised execution of a checkpoint's policy over ``episodes`` episodes."""
    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    worker, ckpt = load_policy_worker(path, seed)
    out = dict(worker.evaluate(episodes, seed=seed))
    out["checkpoint"] = str(ckpt)
    return out


def format_evaluation(result: dict) -> str:
    """Mean return with its 95% confidence interval, and every other metric (binary ones with a Wald CI)."""
    n = max(result.get("episodes", 1), 1)
    lines = [f"checkpoint {result['checkpoint']}: {int(n)} greedy episodes",
             f"  return        {result['return_mean']:.3f} +/- {result['return_ci95']:.3f} (95% CI)"]
    for key, v in result.items():
        if not key.endswith("_mean") or key == "return_mean":
            continue
        name = key[: -len("_mean")]
        if 0.0 <= v <= 1.0 and name not in ("length",):
            ci = 1.96 * np.sqrt(v * (1 - v) / n)
            lines.append(f"  {name:<13} {v:.3f} +/- {ci:.3f} (95% CI)")
        else:
            lines.append(f"  {name:<13} {v:.3f}")
    return "\n".join(lines)


def render_checkpoint(path: str | Path, out: str | Path, seed: int = 0) -> Path:
    """GIF of one greedy episode of a checkpoint's policy (the environment's rgb_array frames)."""
    from asyncmarl.cluster.driver import write_gif

    worker, _ = load_policy_worker(path, seed)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_gif(out, worker.render_episode(seed=seed))
