"""Data types every role shares: the per-agent segment that flows from rollouts to replay, and the layout of
the padded episode batch that replay hands to learners.

Row convention: row ``t`` of an episode holds what the agents saw at time ``t`` *before* acting (``state``,
``obs``, ``real_obs``, ``action_mask``, ``choosing``) and what happened during step ``t`` (``actions``,
``elapsed``, ``reward``). An episode of ``T`` steps has ``T`` step rows plus one final observation row ``T``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Per-step joint records a segment carries for each t in [start, end] (leading axis L = end - start + 1).
STEP_FIELDS = {
    "state": "[L, state_dim] float32, global state s_t",
    "obs": "[L, n, obs_dim] float32, macro-observations (frozen while an action runs)",
    "real_obs": "[L, n, obs_dim] float32, real observations of step t",
    "action_mask": "[L, n, n_actions] bool, actions each agent may choose at t",
    "choosing": "[L, n] bool, agent picks a new action at t",
    "actions": "[L, n] int64, joint action executed during step t",
    "elapsed": "[L, n] int64, steps each agent's action had run before t",
    "reward": "[L] float32, joint reward r_t",
}
# Observation records after the episode's last step (row T), carried by the segments that end the episode.
FINAL_FIELDS = ("state", "obs", "real_obs", "action_mask", "choosing")


@dataclass
class Segment:
    """Agent ``agent``'s ``index``-th action of episode ``episode_id``, from ``start`` to ``end`` (inclusive),
    with the joint records of every step it spans (Mac-SJERT's D_k^i).

    ``ret`` is the joint cumulative discounted reward over the action, R_m = sum_{t=start}^{end}
    gamma^(t - start) r_t (ToMacVF eq. 5). ``final`` is set (observation rows after the last step, see
    FINAL_FIELDS) when the episode ended at ``end``; then ``terminated``/``truncated`` say how.
    """

    episode_id: int
    agent: int
    index: int
    start: int
    end: int
    action: int
    ret: float
    steps: dict[str, np.ndarray]
    terminated: bool = False
    truncated: bool = False
    final: dict[str, np.ndarray] | None = None
    policy_version: int = 0  # learner version whose weights chose this action
    worker_id: int = 0  # rollout worker that produced it
    extras: dict[str, float] = field(default_factory=dict)  # episode-end metrics (success, catch_rate, ...)

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def is_last(self) -> bool:
        """This segment ends the episode."""
        return self.final is not None

    def nbytes(self) -> int:
        total = sum(v.nbytes for v in self.steps.values())
        return total + (sum(v.nbytes for v in self.final.values()) if self.final else 0)
