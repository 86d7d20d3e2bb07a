"""The small typed interfaces of the platform's roles, and the episode batch layout they exchange.

Every role is a plain class (no Ray inside). ``asyncmarl.cluster`` runs them in one process or wraps them as
Ray actors; no role knows the topology.

Episode batch (``Batch = dict[str, torch.Tensor]``), built by replay's ``sample``; ``T`` is the longest
episode (or window) in the batch, shorter ones are zero-padded and masked by ``filled``:

==================  ==========================  ===========================================================
key                 shape                       meaning
==================  ==========================  ===========================================================
state               [B, T+1, state_dim]         global state s_t (row T: after the last step)
obs                 [B, T+1, n, obs_dim]        macro-observations (frozen while an action runs)
real_obs            [B, T+1, n, obs_dim]        real observations (what Mac-SJERT adds)
action_mask         [B, T+1, n, n_actions]      bool, what a choosing agent may pick at t
choosing            [B, T+1, n]                 bool, agent picks a new action at t
actions             [B, T, n]                   int64, joint action executed during step t
elapsed             [B, T, n]                   int64, steps that action had run before t (t_m)
action_end          [B, T, n]                   bool, that action ends at t (== choosing[:, 1:])
reward              [B, T]                      float32, joint reward r_t
terminated          [B, T]                      float32, 1 at the step that finished the task
filled              [B, T]                      float32, 1 on real steps, 0 on padding
seg_start           [B, n, K]                   int64, start step of agent i's k-th action
seg_end             [B, n, K]                   int64, end step (inclusive)
seg_return          [B, n, K]                   float32, R_m of that action (eq. 5)
seg_mask            [B, n, K]                   float32, 1 for real segments
pe_time             [B, T+1, pe_dim]            f_e(t), temporal encoding of absolute time
pe_elapsed          [B, T, n, pe_dim]           f_e(t_m) of each agent's running action
t                   [B, T+1]                    int64, absolute step of each row (windows, Mac-JERT view)
burn_in             [B, T]                      float32, 1 on warm-up steps before a window (no loss there)
episode_id          [B]                         int64
weight              [B]                         float32, importance weights (prioritised sampler only)
==================  ==========================  ===========================================================

The Mac-JERT view (``view="mac_jert"``) keeps the same keys over the squeezed steps where some agent's action
ended (plus the first), with ``obs`` the frozen macro-observations, ``reward`` the joint reward accumulated
(discounted) since the previous kept step, and an extra ``discount`` [B, T] = gamma ** (steps to the next kept
step).
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
