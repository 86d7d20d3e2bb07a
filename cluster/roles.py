"""How the platform constructs each role. The defaults build the real classes; tests may pass other
constructors with the same signatures (they must be picklable to run as Ray actors)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


def make_rollout(cfg, worker_id: int, seed: int):
    from asyncmarl.rollout_workers import RolloutWorker

    return RolloutWorker(cfg, worker_id=worker_id, seed=seed)


def make_shard(cfg, shard_id: int, info):
    from asyncmarl.memory_service.replay import ReplayShard

    return ReplayShard(cfg.replay, seed=cfg.seed * 1000 + 500 + shard_id)


def make_learner(cfg, info):
    from asyncmarl.learner import Learner

    return Learner(cfg.learner, info)


def make_legem(cfg, info):
    from asyncmarl.memory_service.legem import LegemMemory

    return LegemMemory(cfg.legem)


def env_info(cfg):
    from asyncmarl.platform.envs import env_info as _env_info

    return _env_info(cfg.env.scenario, **cfg.env.settings)


def shard_for(episode_id: int, num_shards: int) -> int:
    from asyncmarl.memory_service.replay.sharding import shard_for as _shard_for

    return _shard_for(episode_id, num_shards)


@dataclass(frozen=True)
class Roles:
    """Constructors of the four roles, plus the environment's dimensions and the episode -> shard map."""

    rollout: Callable[..., Any] = make_rollout  # (cfg, worker_id, seed) -> RolloutWorker
    shard: Callable[..., Any] = make_shard  # (cfg, shard_id, info) -> ReplayShard
    learner: Callable[..., Any] = make_learner  # (cfg, info) -> Learner
    legem: Callable[..., Any] = make_legem  # (cfg, info) -> LegemMemory
    env_info: Callable[..., Any] = env_info  # (cfg) -> EnvInfo
    shard_for: Callable[[int, int], int] = shard_for  # (episode_id, num_shards) -> shard index


def legem_enabled(cfg) -> bool:
    """LeGEM runs (its actor exists and batches get redistributed rewards) when ``learner.legem`` is set."""
    return bool(cfg.learner.legem)
