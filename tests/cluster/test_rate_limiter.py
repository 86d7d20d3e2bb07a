"""The Ray loop's limiter of updates per env step, on the driver's counters alone (no Ray)."""
from __future__ import annotations

from asyncmarl.cluster.metric_rows import Counters
from asyncmarl.cluster.rate_limiter import RateLimiter


def test_schedule_starts_where_replay_became_ready_and_rollouts_wait_for_the_first_update():
    c = Counters()
    lim = RateLimiter(c, updates_per_round=16, steps_per_round=400, tolerance_rounds=2, ready_episodes=64)
    c.env_steps, c.episodes = 2000, 40
    assert lim.rollout_allowed()  # replay filling: rollouts run free
    c.env_steps, c.episodes = 2400, 70
    assert lim.rollout_allowed() is False  # ready: the learner's first update comes before more steps
    c.env_steps = 4000  # calls already in flight land meanwhile
    assert lim.updates_allowed(16) == 16  # before its first update the learner is never held back
    c.updates = 10
    assert lim.lag() == 10 - 0.04 * 1600 and lim.start == (2400, 0)  # due since replay became ready
    assert lim.updates_allowed(1000) == int(0.04 * 1600 + 32) - 10
    assert lim.rollout_allowed() is False  # 54 updates behind the steps: the learner catches up first
    c.updates = 64 - 32
    assert lim.rollout_allowed()  # within the tolerance (two rounds of 16 updates)


def test_without_a_ready_count_the_schedule_starts_at_the_first_update():
    c = Counters()
    lim = RateLimiter(c, updates_per_round=2, steps_per_round=80, tolerance_rounds=2)
    c.env_steps, c.episodes = 5000, 500
    assert lim.rollout_allowed()
    c.updates = 4
    assert lim.lag() == 0.0 and lim.start == (5000 - 160, 0)


def test_disabled_limiter_allows_everything():
    c = Counters()
    lim = RateLimiter(c, 16, 400, 2, enabled=False, ready_episodes=64)
    c.env_steps, c.episodes, c.updates = 100_000, 10_000, 1
    assert lim.rollout_allowed() and lim.updates_allowed(7) == 7
