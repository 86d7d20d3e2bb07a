"""The supervisor's rules, on stand-in roles in one process: give-up after max_restarts, a restarted learner
numbering on from the driver's version, the stall warning and its diagnosis."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from asyncmarl.cluster.handles import LocalHandle
from asyncmarl.cluster.metric_rows import Counters
from asyncmarl.cluster.supervisor import GaveUp, Supervisor


class FakeLearnerHost:
    def __init__(self):
        self.version, self.loaded = 0, None

    def load_state_dict(self, state):
        self.loaded, self.version = state, int(state["version"])

    def set_version(self, v):
        self.version = max(int(v), self.version)


class FakeShard:
    def __init__(self, episodes, evicted=0):
        self.st = {"episodes": episodes, "evicted_episodes": evicted}

    def stats(self):
        return dict(self.st)


class FakeTopo:
    def __init__(self, shards, min_episodes=4):
        self.remote = False
        self.cfg = SimpleNamespace(replay=SimpleNamespace(min_episodes=min_episodes, capacity=1200,
                                                          capacity_unit="steps"))
        self.shards = [LocalHandle(s) for s in shards]
        self.learner = LocalHandle(FakeLearnerHost())
        self.legem = None
        self.rebuilt = []

    def restart_learner(self):
        self.learner = LocalHandle(FakeLearnerHost())

    def restart_rollout(self, i):
        self.rebuilt.append(i)


class FakeCheckpointer:
    def __init__(self, states):
        self.states = states

    def role_state(self, role):
        return self.states.get(role)


def test_restarted_learner_numbers_on_and_counts_lost_updates():
    c = Counters(updates=25, version=25, published=24)
    topo = FakeTopo([FakeShard(10)])
    sup = Supervisor(topo, FakeCheckpointer({"learner": {"version": 10}}), c, max_restarts=2)
    sup.learner_failed(RuntimeError("killed"))
    new = topo.learner.obj
    assert new.loaded == {"version": 10}  # the checkpoint's weights ...
    assert new.version == 25  # ... numbered on from the last version the driver saw, so no negative lag
    assert sup.updates_lost == 15 and sup.restarts["learner"] == 1 and c.published == -1


def test_gives_up_after_max_restarts_with_one_line():
    topo = FakeTopo([FakeShard(10)])
    sup = Supervisor(topo, FakeCheckpointer({}), Counters(), max_restarts=1)
    sup.rollout_failed(0, RuntimeError("x"))
    assert topo.rebuilt == [0]
    with pytest.raises(GaveUp, match=r"rollout failed 2 times \(cluster.max_restarts=1; last failure: "
                                     r"RuntimeError\)"):
        sup.rollout_failed(0, RuntimeError("x"))


def test_stall_warning_names_the_reason_and_repeats_only_after_the_interval():
    now = [0.0]
    c = Counters(env_steps=5000, episodes=50, updates=0)
    sup = Supervisor(FakeTopo([FakeShard(2, evicted=7), FakeShard(2, evicted=5)]), FakeCheckpointer({}), c,
                     max_restarts=0, stall_warn_s=60, clock=lambda: now[0])
    assert sup.watch() is None
    now[0] = 59.0
    assert sup.watch() is None
    now[0] = 61.0
    msg = sup.watch()
    assert msg.startswith("the learner has made no update for 61 s")
    assert "[2, 2] complete episodes" in msg and "replay.min_episodes=4" in msg and "replay.capacity=1200" in msg
    now[0] = 90.0
    assert sup.watch() is None  # not again before another interval
    c.updates = 3
    assert sup.watch() is None  # progress resets the watch
    now[0] = 200.0
    assert "no update for 110 s" in sup.watch()


def test_stall_warning_off_at_zero():
    now = [0.0]
    sup = Supervisor(FakeTopo([FakeShard(0)]), FakeCheckpointer({}), Counters(), max_restarts=0, stall_warn_s=0,
                     clock=lambda: now[0])
    now[0] = 1e6
    assert sup.watch() is None
