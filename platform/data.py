"""The per-agent segment that flows from rollout workers to replay. Its fields (``steps``, ``final``) and the
row convention are declared once in :mod:`asyncmarl.platform.schema`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Segment:
    """Agent ``agent``'s ``index``-th action of episode ``episode_id``, from ``start`` to ``end`` (inclusive),
    with the joint records of every step it spans (Mac-SJERT's D_k^i): ``steps[f]`` ``[L, ...]`` for every
    name in ``schema.STEP_FIELDS``, ``L = end - start + 1``.

    ``ret`` is the joint cumulative discounted reward over the action, R_m = sum_{t=start}^{end}
    gamma^(t - start) r_t (ToMacVF eq. 5). ``final`` is set (observation rows after the last step, see
    ``schema.FINAL_FIELDS``) when the episode ended at ``end``; then ``terminated``/``truncated`` say how.
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
