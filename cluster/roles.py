"""How the platform constructs each role, typed with the role contracts of :mod:`asyncmarl.platform.roles`.
Each role gets its own config section plus what it is handed explicitly; only this module reads the run config
for them. The defaults build the real classes; tests may pass other constructors with the same signatures
(they must be picklable to run as Ray actors)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asyncmarl.platform import seeding

if TYPE_CHECKING:  # the contracts the constructors return (imported lazily: they pull in torch)
    from asyncmarl.cluster.config import RunConfig
    from asyncmarl.platform import roles as contracts
    from asyncmarl.platform.envs import EnvInfo


def make_rollout(cfg: RunConfig, worker_id: int, seed: int) -> contracts.RolloutWorker:
    from asyncmarl.rollout_workers import RolloutWorker

    return RolloutWorker(cfg.rollout, cfg.env.scenario, cfg.learner.agent_net, env_settings=cfg.env.settings,
                         view=cfg.learner.buffer, gamma=cfg.learner.gamma, worker_id=worker_id,
                         num_workers=cfg.cluster.num_rollout_workers, seed=seed, trajectories=legem_enabled(cfg),
                         policy=cfg.learner.policy, joint_net=cfg.learner.joint_net,
                         max_policy_lag=cfg.replay.max_policy_lag if cfg.replay.on_policy else None)


def make_shard(cfg: RunConfig, shard_id: int, info: EnvInfo) -> contracts.ReplayShard:
    from asyncmarl.memory_service.replay import ReplayShard

    return ReplayShard(cfg.replay, seed=seeding.stream(cfg.seed, "replay", shard_id))


def make_learner(cfg: RunConfig, info: EnvInfo) -> contracts.Learner:
    import torch

    from asyncmarl.learner import Learner

    torch.manual_seed(seeding.integer(cfg.seed, "learner", "init"))  # initial weights: the same in any process
    return Learner(cfg.learner, info)


def make_legem(cfg: RunConfig, info: EnvInfo) -> contracts.LegemMemory:
    from asyncmarl.memory_service.legem import LegemMemory

    return LegemMemory(cfg.legem, info)


def env_info(cfg: RunConfig) -> EnvInfo:
    from asyncmarl.platform.envs import env_info as _env_info

    return _env_info(cfg.env.scenario, **cfg.env.settings)


def shard_for(episode_id: int, num_shards: int) -> int:
    from asyncmarl.memory_service.replay.sharding import shard_for as _shard_for

    return _shard_for(episode_id, num_shards)


@dataclass(frozen=True)
class Roles:
    """Constructors of the four roles, plus the environment's dimensions and the episode -> shard map."""

    rollout: Callable[[RunConfig, int, int], contracts.RolloutWorker] = make_rollout  # (cfg, worker_id, seed)
    shard: Callable[[RunConfig, int, EnvInfo], contracts.ReplayShard] = make_shard  # (cfg, shard_id, info)
    learner: Callable[[RunConfig, EnvInfo], contracts.Learner] = make_learner  # (cfg, info)
    legem: Callable[[RunConfig, EnvInfo], contracts.LegemMemory] = make_legem  # (cfg, info)
    env_info: Callable[[RunConfig], EnvInfo] = env_info  # the scenario's dimensions
    shard_for: Callable[[int, int], int] = shard_for  # (episode_id, num_shards) -> shard index


def legem_enabled(cfg) -> bool:
    """LeGEM runs (its actor exists and batches get redistributed rewards) when ``learner.legem`` is set."""
    return bool(cfg.learner.legem)
