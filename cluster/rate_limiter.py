"""Holding the ratio of learner updates to env steps in every runtime.

The in-process loop holds it by construction: one round is ``rollout.num_envs x rollout.steps_per_call`` steps
from each of ``cluster.num_rollout_workers`` workers, then ``cluster.updates_per_iteration`` updates. Under Ray
the learner and the rollout actors run free, so without a limit a preset would learn differently depending on
where it runs. :class:`RateLimiter` gives the Ray loop the same ratio, as Reverb's samples-per-insert limiter
does: from the first update on, the learner may not run more than ``tolerance`` rounds ahead of the steps
collected, and rollout actors may not run more than ``tolerance`` rounds ahead of the updates made; whichever side
is ahead waits (the driver does not hand it its next call). While replay fills (fewer complete episodes than the
shards need for a batch) the rollout actors run free, as in the in-process loop, where those rounds make no
update either. The schedule starts where replay became ready, as the in-process loop's first updates come in the
round that filled it; rollouts wait there for the learner's first update. (Anchoring at the learner's first
update instead let the actors run on while the learner actor started, about 4,000 steps on BoxPushing-6, and the
Ray run then made about 10% fewer updates per step than the in-process loop.)
"""
from __future__ import annotations

import math


class RateLimiter:
    """Updates-per-env-step limiter over the driver's counters (the one source of truth for both)."""

    def __init__(self, counters, updates_per_round: int, steps_per_round: int, tolerance_rounds: float,
                 enabled: bool = True, ready_episodes: int = 0):
        self.c = counters
        self.ratio = updates_per_round / steps_per_round  # updates per joint env step
        self.tol_updates = tolerance_rounds * updates_per_round
        self.enabled = bool(enabled)
        self.ready_episodes = int(ready_episodes)  # complete episodes replay needs before it gives a batch
        self.ready_steps: int | None = None  # env steps when the rollouts had delivered that many
        self.start: tuple[int, int] | None = None  # (env steps, updates) when learning started
        if counters.updates > 0:  # a resumed run has started learning already
            self.start = (counters.env_steps, counters.updates)

    def _note_start(self) -> None:
        if self.ready_steps is None and self.ready_episodes and self.c.episodes >= self.ready_episodes:
            self.ready_steps = self.c.env_steps
        if self.start is None and self.c.updates > 0:
            fallback = max(self.c.env_steps - int(self.c.updates / self.ratio), 0)
            self.start = (min(self.ready_steps, fallback) if self.ready_steps is not None else fallback, 0)

    def updates_allowed(self, want: int) -> int:
        """How many of ``want`` updates the learner may run now."""
        self._note_start()
        if not self.enabled or self.start is None:
            return want
        s0, u0 = self.start
        budget = math.floor(self.ratio * (self.c.env_steps - s0) + self.tol_updates) - (self.c.updates - u0)
        return max(0, min(want, budget))

    def rollout_allowed(self) -> bool:
        """Whether a rollout actor may start another call now."""
        self._note_start()
        if not self.enabled:
            return True
        if self.start is None:  # filling: run free; ready: wait for the learner's first update
            return self.ready_steps is None
        s0, u0 = self.start
        return self.c.env_steps - s0 <= (self.c.updates - u0 + self.tol_updates) / self.ratio

    def lag(self) -> float:
        """Updates made minus updates due at the configured ratio (positive: learner ahead), since learning began."""
        self._note_start()
        if self.start is None:
            return 0.0
        s0, u0 = self.start
        return (self.c.updates - u0) - self.ratio * (self.c.env_steps - s0)
