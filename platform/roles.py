"""The small typed interfaces of the platform's roles: what ``asyncmarl.cluster`` calls on each of them, and
nothing else. ``cluster.roles.Roles`` types its constructors with them.

Every role is a plain class (no Ray inside). ``asyncmarl.cluster`` runs them in one process or wraps them as
Ray actors; no role knows the topology: each gets its own config section plus what it is handed explicitly.

Episode batch (``Batch = dict[str, torch.Tensor]``), built by replay's ``sample``: its keys, dtypes, shapes and
which view carries them are declared once in :mod:`asyncmarl.platform.schema` (``schema.layout_table()``
prints them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from asyncmarl.platform.data import Segment

Batch = dict[str, torch.Tensor]


@dataclass
class RolloutResult:
    """What one ``RolloutWorker.run`` call produced."""

    segments: list[Segment]  # completed per-agent segments, in completion order
    episodes: list[dict] = field(default_factory=list)  # per finished episode: return, length, metrics, version
    trajectories: list[dict] = field(default_factory=list)  # finished episodes for LeGEM (see LegemMemory)
    env_steps: int = 0  # joint environment steps taken (summed over copies)


@runtime_checkable
class RolloutWorker(Protocol):
    """Steps batched environments with the latest agent network and cuts per-agent segments."""

    version: int  # learner version of the weights it acts with

    def run(self, num_steps: int | None = None, global_steps: int | None = None) -> RolloutResult:
        """Step every environment copy ``num_steps`` times (default: its ``steps_per_call``), acting
        epsilon-greedily at the run's ``global_steps`` joint steps (default: its own share)."""

    def epsilon(self, global_steps: int | None = None) -> float:
        """The exploration rate at ``global_steps`` joint steps of the run."""

    def set_weights(self, version: int, weights: dict[str, torch.Tensor]) -> None:
        """Load the agent network weights published as ``version`` (ignored unless newer)."""

    def evaluate(self, episodes: int, seed: int | None = None) -> dict[str, float]:
        """Greedy decentralised episodes; mean return, its 95% CI and the environment's metrics."""

    def render_episode(self, seed: int = 0, max_frames: int | None = None) -> list[np.ndarray]:
        """RGB frames of one greedy episode."""

    def state_dict(self) -> dict:
        """Counters and random streams (open episodes are not saved)."""

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`; open episodes restart."""


@runtime_checkable
class ReplayShard(Protocol):
    """Reassembles segments into whole episodes and samples padded episode batches."""

    def add(self, segments: list[Segment], strict: bool = True) -> int:
        """Store segments; returns how many episodes became complete (and sampleable). Rejected segments raise
        a ``SegmentError`` listing them (``strict``) or are only counted in ``stats()``."""

    def sample(self, batch_size: int, view: str = "mac_sjert", min_version: int | None = None) -> Batch | None:
        """A padded episode batch, or None when too few episodes are stored or the rate limit holds (on-policy
        shards: up to ``batch_size`` fresh episodes acted by ``min_version`` or newer, each handed out once)."""

    def num_episodes(self) -> int:
        """Complete episodes stored."""

    def update_priorities(self, episode_ids, priorities) -> None:
        """Prioritised sampling: new priorities of sampled episodes (evicted ones are skipped)."""

    def stats(self) -> dict[str, float]:
        """episodes, steps, bytes, dropped incomplete episodes, inserts and samples so far."""

    def state_dict(self) -> dict:
        """Complete episodes, counters and sampler state."""

    def load_state_dict(self, state: dict) -> None:
        """Replace the contents with :meth:`state_dict`'s."""


@runtime_checkable
class Learner(Protocol):
    """Trains the agent network (and mixer) on episode batches and publishes versioned weights."""

    version: int  # completed updates; published with the weights
    last_priorities: np.ndarray | None  # per-episode priorities [B] of the last update's batch (None before one)

    def update(self, batch: Batch) -> dict[str, float]:
        """One training step; returns metrics (losses/..., q/..., learner/version)."""

    def get_weights(self) -> tuple[int, dict[str, torch.Tensor]]:
        """(version, CPU state_dict of the acting network) for rollout workers."""

    def state_dict(self) -> dict:
        """Networks, optimiser and counters."""

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` exactly."""


@runtime_checkable
class LegemMemory(Protocol):
    """LeGEM's levelled graphs: finished trajectories in, redistributed rewards for episode batches out."""

    def add_episodes(self, trajectories: list[dict]) -> None:
        """Insert finished episodes' per-agent trajectories into the levelled graphs."""

    def redistribute(self, batch: Batch) -> torch.Tensor:
        """Redistributed rewards [B, T] for an episode batch (off-beat TD)."""

    def stats(self) -> dict[str, float]:
        """Graph sizes and search counters (``legem/...``)."""

    def state_dict(self) -> dict:
        """The graphs and counters."""

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`."""
