"""Working from a finished (or running) run: greedy evaluation and GIFs of a checkpoint's policy, in this
process, with the run's own config.

The checkpoint must belong to that config: its saved config has to agree with the run directory's
``config.yaml`` on everything that shapes the policy (the scenario and its settings, the algorithm, the buffer
view and the agent network), and its weights have to fit the network built from it. Anything else is refused
with a :class:`CheckpointError` naming the key or the parameter, before an episode runs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from asyncmarl.cluster.checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint
from asyncmarl.cluster.config import SEED_LIMIT, config_to_dict, flat_config
from asyncmarl.cluster.rundir import CONFIG_FILE, read_config, run_dir_of

# Config keys (dotted prefixes) that decide what the policy sees and how it acts: a checkpoint differing here
# would run silently on the wrong scenario or fail deep inside torch with a size mismatch.
POLICY_KEYS = ("env.", "learner.algo", "learner.buffer", "learner.agent_net.")


def _with_resolved_settings(d: dict) -> dict:
    """``d`` with ``env.settings`` replaced by every setting the scenario resolves to (preset plus overrides),
    so a value given explicitly equals the same value left to the preset."""
    import dataclasses

    from asyncmarl.platform.envs import resolve_settings

    env = d.get("env") if isinstance(d.get("env"), dict) else {}
    try:
        settings = dataclasses.asdict(resolve_settings(env.get("scenario"), **(env.get("settings") or {})))
    except (ValueError, TypeError):  # an unknown scenario or setting: compare what was written
        return d
    return {**d, "env": {**env, "settings": settings}}


def policy_mismatches(saved: dict, cfg) -> list[tuple[str, object, object]]:
    """(key, checkpoint's value, run config's value) for every policy-shaping key where they differ."""
    mine = flat_config(_with_resolved_settings(config_to_dict(cfg)))
    theirs = flat_config(_with_resolved_settings(saved))
    keys = sorted(k for k in set(mine) | set(theirs) if k.startswith(POLICY_KEYS) or k in POLICY_KEYS)
    return [(k, theirs.get(k, "<absent>"), mine.get(k, "<absent>")) for k in keys
            if theirs.get(k, "<absent>") != mine.get(k, "<absent>")]


def _check_weights(ckpt: Path, net, weights) -> None:
    """The checkpoint's policy weights have exactly the network's parameter names and shapes."""
    if not isinstance(weights, dict):
        raise CheckpointError(f"checkpoint {ckpt}: its policy weights are not a parameter dict")
    want = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    have = {k: tuple(np.shape(v)) for k, v in weights.items()}
    missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    if missing or extra:
        raise CheckpointError(f"checkpoint {ckpt}: its policy network has other parameters than this run's "
                              f"(missing {missing[:3]}, unexpected {extra[:3]})")
    bad = [k for k in want if want[k] != have[k]]
    if bad:
        k = bad[0]
        raise CheckpointError(f"checkpoint {ckpt}: parameter {k} has shape {have[k]}, this run's network needs "
                              f"{want[k]} ({len(bad)} parameter(s) differ): the checkpoint was trained on other "
                              "scenario dimensions or network sizes")


def load_policy_worker(path: str | Path, seed: int = 0):
    """A RolloutWorker of the run's config holding the checkpoint's published policy; and the checkpoint path.
    :class:`CheckpointError` when the checkpoint does not belong to the run directory's config."""
    from asyncmarl.cluster.roles import make_rollout

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"--seed must be an int in [0, 2**32), got {seed!r}")
    ckpt = resolve_checkpoint(path)
    run_dir = run_dir_of(ckpt)
    cfg = read_config(run_dir)
    state = load_checkpoint(ckpt)
    saved = state.get("config")
    if isinstance(saved, dict):
        diff = policy_mismatches(saved, cfg)
        if diff:
            shown = "; ".join(f"{k}: checkpoint {a!r}, config.yaml {b!r}" for k, a, b in diff[:4])
            more = f" (and {len(diff) - 4} more)" if len(diff) > 4 else ""
            raise CheckpointError(f"checkpoint {ckpt} does not belong to {run_dir / CONFIG_FILE}: {shown}{more}")
    if cfg.learner.algo == "rllib_ppo":  # RLlib's PPO: its own greedy policy, with the same evaluate/render calls
        from asyncmarl.cluster.rllib_run import RllibPolicy

        return RllibPolicy.from_checkpoint(cfg, state, seed=int(seed)), ckpt
    policy = state.get("policy")
    if not isinstance(policy, (tuple, list)) or len(policy) != 2:
        raise CheckpointError(f"checkpoint {ckpt} holds no published policy (version, weights)")
    version, weights = policy
    worker = make_rollout(cfg, 0, int(seed))
    _check_weights(ckpt, worker.net, weights)
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
    from asyncmarl.cluster.media import write_gif

    worker, _ = load_policy_worker(path, seed)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_gif(out, worker.render_episode(seed=seed))
