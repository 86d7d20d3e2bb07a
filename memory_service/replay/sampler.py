"""Which episodes a batch draws: uniform, or prioritised (proportional to priority^alpha, with importance
weights), plus the samples-per-insert rate limiter."""
from __future__ import annotations

import numpy as np

from asyncmarl.memory_service.replay.storage import EpisodeStorage


class UniformSampler:
    """Episodes uniformly at random, without replacement when enough are stored."""

    def choose(self, storage: EpisodeStorage, batch_size: int, rng: np.random.Generator):
        ids = np.fromiter(storage.episodes.keys(), np.int64, len(storage))
        pick = rng.choice(len(ids), batch_size, replace=len(ids) < batch_size)
        return ids[pick], None

    def on_insert(self, ep) -> None:
        pass

    def update(self, storage: EpisodeStorage, episode_ids, priorities) -> None:
        raise ValueError("update_priorities needs replay.sampler='prioritized'")


class PrioritizedSampler:
    """P(episode) proportional to priority^alpha; new episodes get the largest priority seen so far.
    Returns importance weights (N P)^-beta normalised by their max."""

    def __init__(self, alpha: float, beta: float):
        self.alpha, self.beta, self.max_priority = alpha, beta, 1.0

    def choose(self, storage: EpisodeStorage, batch_size: int, rng: np.random.Generator):
        eps = list(storage.episodes.values())
        ids = np.fromiter((e.episode_id for e in eps), np.int64, len(eps))
        p = np.fromiter((e.priority for e in eps), np.float64, len(eps)) ** self.alpha
        p /= p.sum()
        pick = rng.choice(len(ids), batch_size, replace=True, p=p)
        w = (len(ids) * p[pick]) ** -self.beta
        return ids[pick], (w / w.max()).astype(np.float32)

    def on_insert(self, ep) -> None:
        ep.priority = self.max_priority

    def update(self, storage: EpisodeStorage, episode_ids, priorities) -> None:
        pr = np.asarray(priorities, np.float64)
        if pr.shape != np.shape(episode_ids) or (pr <= 0).any() or not np.isfinite(pr).all():
            raise ValueError(f"priorities must be positive finite numbers, one per episode id, got {pr}")
        for eid, p in zip(np.asarray(episode_ids).tolist(), pr.tolist(), strict=True):
            ep = storage.episodes.get(eid)
            if ep is not None:  # evicted meanwhile: nothing to update
                ep.priority = p
        self.max_priority = max(self.max_priority, float(pr.max(initial=0.0)))


class RateLimiter:
    """Allows a batch only while episodes sampled <= samples_per_insert * episodes inserted + slack."""

    def __init__(self, samples_per_insert: float, slack: int):
        self.spi, self.slack = samples_per_insert, slack
        self.inserted = 0  # complete episodes inserted
        self.sampled = 0  # episodes handed out in batches

    def allows(self, batch_size: int) -> bool:
        return self.spi <= 0 or self.sampled + batch_size <= self.spi * self.inserted + self.slack
