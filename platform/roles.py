"""The small typed interfaces of the platform's roles, and the episode batch layout they exchange.

Every role is a plain class (no Ray inside). ``asyncmarl.cluster`` runs them in one process or wraps them as
Ray actors; no role knows the topology.

Episode batch (``Batch = dict[str, torch.Tensor]``), built by replay's ``sample``: its keys, dtypes, shapes and
which view carries them are declared once in :mod:`asyncmarl.platform.schema` (``schema.layout_table()``
prints them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

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


class RolloutWorker(Protocol):
    def run(self, num_steps: int) -> RolloutResult:
        """Step every environment copy ``num_steps`` times, acting epsilon-greedily."""

    def set_weights(self, version: int, weights: dict[str, torch.Tensor]) -> None:
        """Load the agent network weights published as ``version``."""

    def evaluate(self, episodes: int) -> dict[str, float]:
        """Greedy decentralised episodes; mean return and success metrics."""


class ReplayShard(Protocol):
    def add(self, segments: list[Segment]) -> int:
        """Store segments; returns how many episodes became complete (and sampleable)."""

    def sample(self, batch_size: int, view: str = "mac_sjert") -> Batch | None:
        """A padded episode batch, or None when too few episodes are stored or the rate limit holds."""

    def stats(self) -> dict[str, float]:
        """episodes, steps, bytes, dropped incomplete episodes, inserts and samples so far."""


class Learner(Protocol):
    def update(self, batch: Batch) -> dict[str, float]:
        """One training step; returns metrics (losses/..., q/..., learner/version)."""

    def get_weights(self) -> tuple[int, dict[str, torch.Tensor]]:
        """(version, CPU state_dict of the acting network) for rollout workers."""

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class LegemMemory(Protocol):
    def add_episodes(self, trajectories: list[dict]) -> None:
        """Insert finished episodes' per-agent trajectories into the levelled graphs."""

    def redistribute(self, batch: Batch) -> torch.Tensor:
        """Redistributed rewards [B, T] for an episode batch (off-beat TD)."""

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...
