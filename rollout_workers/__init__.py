"""Rollout workers: step batched environments, act with the latest agent network, cut per-agent segments."""
from asyncmarl.rollout_workers.config import RolloutConfig
from asyncmarl.rollout_workers.worker import Policy, RolloutWorker, summarize_episodes

__all__ = ["Policy", "RolloutConfig", "RolloutWorker", "summarize_episodes"]
