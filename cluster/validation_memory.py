"""A memory bound checked before a run starts: what a config will allocate, from the scenario's dimensions
alone (no environment is stepped), against the memory this machine has.

Estimated pieces (upper bounds for full-length episodes; Python object overheads are included only where they
dominate):

- ``learner batch``: one sampled batch of ``cluster.batch_size`` episodes padded to the longest one (the horizon,
  or ``replay.window + replay.burn_in``), every batch array at the dtype replay hands out, per-agent segment
  tables included (network activations are not counted). The learner holds the sampled arrays and its prepared
  copy; under Ray the next ``LearnerHost.PREFETCH`` batches are requested while one trains, so 2 (local) or
  2 + PREFETCH (Ray) batches are counted in the total.
- ``replay shard``: ``replay.capacity`` joint steps (or episodes of full length) in the stored compact dtypes,
  plus each episode's final observation row and per-agent segment table (at most one segment per agent per step).
- ``rollouts``: each worker's ``rollout.num_envs`` open episodes of full length, at the rollout dtypes.
- ``LeGEM``: ``legem.node_cap`` graph nodes (measured: about 600 bytes per node and its edge with 2 return
  buckets, plus the key bytes).

Where every role runs in this process or on a Ray instance this driver starts, the sum must fit; on an existing
cluster (``cluster.address`` or ``RAY_ADDRESS``) the roles may land on different nodes, so each piece alone must
fit. The budget is ``cluster.memory_limit_gb`` when set, else this machine's available memory (the cgroup limit
when it is lower, as in a container). A config over it fails with a :class:`ConfigError` naming the field that
drives the largest piece.
"""
from __future__ import annotations

import os
from pathlib import Path

from asyncmarl.cluster.validation import ConfigError

GB = 1024**3
EPISODE_OVERHEAD = 2048  # Python objects per stored episode (an Episode, two dicts, 13 small numpy arrays)
LEGEM_NODE_BYTES = 600  # measured with tracemalloc: 100K nodes, 98K edges, 2 buckets, 4-byte keys
SEGMENT_BYTES = 40  # one stored segment: agent, index, start, end (int64) and its return (float64)


def _obs_row(info) -> int:
    """Bytes of one observation row (state, obs, real_obs, action_mask, choosing) in float32/bool."""
    n = info.n_agents
    return info.state_dim * 4 + 2 * n * info.obs_dim * 4 + n * info.n_actions + n


def stored_step_bytes(info) -> int:
    """Bytes replay stores per joint step: the observation row, int16 actions, int32 elapsed, float32 reward,
    and at most one segment per agent."""
    n = info.n_agents
    return _obs_row(info) + n * (2 + 4) + 4 + n * SEGMENT_BYTES


def batch_episode_bytes(info, T: int) -> int:
    """Bytes one batch row of ``T`` steps takes (every array replay's batch builder makes, Mac-JERT's
    ``discount`` included)."""
    n = info.n_agents
    obs_rows = (T + 1) * (_obs_row(info) + 8)  # + t (int64)
    # actions, elapsed (int64), reward, filled, burn_in, terminated, discount (float32), action_end (bool)
    step_rows = T * (n * 16 + 5 * 4 + n)
    segment_tables = n * T * 24  # seg_start, seg_end (int64), seg_return, seg_mask (float32), K <= T
    return obs_rows + step_rows + segment_tables + 12  # episode_id, weight


def rollout_step_bytes(info) -> int:
    """Bytes per step of an open episode a rollout worker holds (the segment dtypes: int64 actions, elapsed)."""
    return _obs_row(info) + info.n_agents * 16 + 4


def estimate(cfg, info) -> dict[str, int]:
    """Bytes of each piece a run of ``cfg`` on scenario ``info`` allocates (see the module docstring)."""
    rp, cl, H = cfg.replay, cfg.cluster, info.horizon
    T = min(H, rp.window + rp.burn_in) if rp.window else H
    step = stored_step_bytes(info)
    final = _obs_row(info) + EPISODE_OVERHEAD
    if rp.capacity_unit == "steps":
        shard = rp.capacity * step + -(-rp.capacity // H) * final
    else:
        shard = rp.capacity * (H * step + final)
    out = {
        "learner_batch": cl.batch_size * batch_episode_bytes(info, T),
        "replay_shard": shard,
        "rollout_worker": cfg.rollout.num_envs * (H + 1) * rollout_step_bytes(info),
        "legem": 0,
    }
    if cfg.learner.legem:
        lg = cfg.legem
        exact = lg.key == "exact" or (lg.key == "auto" and info.obs_dim <= lg.exact_max_dim)
        key = info.obs_dim * 4 if exact else -(-lg.simhash_bits // 8)
        out["legem"] = lg.node_cap * (LEGEM_NODE_BYTES + key + 48 * lg.n_buckets)
    return out


def available_memory() -> int | None:
    """Bytes this process may still allocate: MemAvailable, or the cgroup's limit minus its usage when lower
    (containers see the host's /proc/meminfo). None when neither can be read."""
    candidates = []
    try:
        import psutil

        candidates.append(int(psutil.virtual_memory().available))
    except ImportError:
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemAvailable:"):
                    candidates.append(int(line.split()[1]) * 1024)
        except (OSError, ValueError, IndexError):
            pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            limit = Path(limit_file).read_text().strip()
            if limit != "max" and int(limit) < 2**60:  # cgroup v1 writes a huge number for "no limit"
                candidates.append(max(0, int(limit) - int(Path(usage_file).read_text().strip())))
            break
        except (OSError, ValueError):
            continue
    return min(candidates) if candidates else None


def existing_cluster(cfg) -> bool:
    """The run attaches to a Ray cluster someone else started (``cluster.address`` or ``RAY_ADDRESS``, as inside
    ``ray job submit``): its roles may land on several nodes and it may autoscale."""
    address = cfg.cluster.address or os.environ.get("RAY_ADDRESS")
    return cfg.cluster.runtime == "ray" and address not in (None, "", "local")


def _gb(x: float) -> str:
    return f"{x / GB:,.1f} GB" if x >= 0.1 * GB else f"{x / 1024**2:,.1f} MB"


def check_memory(cfg, info, available: int | None = None) -> None:
    """Refuse ``cfg`` when what it allocates exceeds the budget (``cluster.memory_limit_gb``, else
    ``available`` or this machine's available memory); the error names the field behind the piece."""
    if cfg.cluster.memory_limit_gb > 0:
        budget, source = cfg.cluster.memory_limit_gb * GB, "cluster.memory_limit_gb"
    else:
        budget = available if available is not None else available_memory()
        source = "available on this machine"
        if budget is None:  # nothing to compare against (no /proc, no psutil)
            return
    est = estimate(cfg, info)
    rp, cl = cfg.replay, cfg.cluster
    unit = "steps" if rp.capacity_unit == "steps" else "episodes"
    T = min(info.horizon, rp.window + rp.burn_in) if rp.window else info.horizon
    pieces = [
        (est["learner_batch"], f"cluster.batch_size={cl.batch_size} needs ~{_gb(est['learner_batch'])} per learner "
                               f"batch ({T} steps x {info.n_agents} agents of {info.name})"),
        (est["replay_shard"], f"replay.capacity={rp.capacity} {unit} needs ~{_gb(est['replay_shard'])} per replay "
                              f"shard on {info.name}"),
        (est["rollout_worker"], f"rollout.num_envs={cfg.rollout.num_envs} needs ~{_gb(est['rollout_worker'])} per "
                                f"rollout worker for its open episodes"),
        (est["legem"], f"legem.node_cap={cfg.legem.node_cap} needs ~{_gb(est['legem'])} for LeGEM's graphs"),
    ]
    hint = "" if source == "cluster.memory_limit_gb" else " (cluster.memory_limit_gb sets another budget)"
    for need, what in pieces:
        if need > budget:
            raise ConfigError(f"{what}, more than the {_gb(budget)} {source}{hint}")
    if existing_cluster(cfg):
        return  # roles may run on different nodes: each piece alone was checked
    replay = est["replay_shard"] * cl.num_replay_shards
    from asyncmarl.cluster.learner_host import LearnerHost

    batches = est["learner_batch"] * (2 + LearnerHost.PREFETCH if cl.runtime == "ray" else 2)
    rollouts = est["rollout_worker"] * cl.num_rollout_workers
    total = replay + batches + rollouts + est["legem"]
    if total > budget:
        parts = [f"replay {cl.num_replay_shards} x {_gb(est['replay_shard'])}", f"learner batches {_gb(batches)}",
                 f"rollouts {cl.num_rollout_workers} x {_gb(est['rollout_worker'])}"]
        if est["legem"]:
            parts.append(f"LeGEM {_gb(est['legem'])}")
        raise ConfigError(
            f"the run needs ~{_gb(total)} on this machine ({', '.join(parts)}), more than the {_gb(budget)} "
            f"{source}{hint}; lower replay.capacity, cluster.num_replay_shards or cluster.batch_size")
