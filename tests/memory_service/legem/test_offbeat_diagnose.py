"""The measuring instrument of docs/legem.md's Quarry/Afforestation diagnosis: ``decisive_commits`` of
``benchmarks/offbeat_diagnose.py`` on scripted episodes of the registered games, against hand-derived values."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from asyncmarl.platform.envs import make_batched
from asyncmarl.rollout_workers.segments import SegmentCutter

_PATH = Path(__file__).resolve().parents[3] / "benchmarks" / "offbeat_diagnose.py"


@pytest.fixture(scope="module")
def diag():
    spec = importlib.util.spec_from_file_location("offbeat_diagnose", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def episode(game: str, schedule: dict[int, dict[int, int]]) -> dict:
    """One trajectory through the rollout cutter; ``schedule[t][agent]`` = action committed at t."""
    env = make_batched(game, 1)
    step = env.reset(seed=0)
    cutter = SegmentCutter(1, env.n_agents, gamma=0.99)
    cutter.begin(step, np.ones(1, bool), np.zeros(1, np.int64))
    for t in range(env.horizon):
        a = np.zeros((1, env.n_agents), np.int64)
        for agent, action in schedule.get(t, {}).items():
            a[0, agent] = action
        step = env.step(a)
        _, trajs = cutter.record(a, step)
        if trajs:
            return trajs[0]
    raise AssertionError("the scripted episode did not end")


def test_quarry_optimal_plan_credits_every_strike_that_broke_a_rock(diag):
    # offbeat_optimum's plan: rock 0 by miner 0 (t=0); rock 1 by miners 1 (t=1) and 0 (t=3), landing at 5;
    # rock 2 by miners 2 (t=4), 1 (t=6) and 0 (t=8), landing at 10
    plan = {0: {0: 1}, 1: {1: 2}, 3: {0: 2}, 4: {2: 3}, 6: {1: 3}, 8: {0: 3}}
    traj = episode("quarry", plan)
    assert np.flatnonzero(traj["reward"]).tolist() == [2, 5, 10] and traj["reward"].sum() == 30.0
    got = diag.decisive_commits("quarry", traj, make_batched("quarry", 1))
    assert {t: sorted(w) for t, w in got.items()} == {2: [(0, 0)], 5: [(0, 3), (1, 1)],
                                                      10: [(0, 8), (1, 6), (2, 4)]}


def test_quarry_strikes_that_land_without_breaking_are_not_decisive(diag):
    # miner 2 strikes rock 2 at t=0 and miner 1 rock 1 at t=2 (both wasted, landing at 6); miner 0 breaks rock 0
    traj = episode("quarry", {0: {2: 3}, 1: {0: 1}, 2: {1: 2}})
    assert diag.decisive_commits("quarry", traj, make_batched("quarry", 1)) == {3: [(0, 1)]}


def test_afforestation_credits_the_watering_and_the_planting(diag):
    # planter 1 plants plot 1 at t=0 (lands at 3); the waterer waters plot 1 at t=1 (lands at 3 too, after the
    # planting in the same step); the tree matures 6 steps after the watering landed: +1 at t=9
    traj = episode("afforestation", {0: {1: 2}, 1: {2: 8}})
    assert np.flatnonzero(traj["reward"]).tolist() == [9]
    got = diag.decisive_commits("afforestation", traj, make_batched("afforestation", 1))
    assert {t: sorted(w) for t, w in got.items()} == {9: [(1, 0), (2, 1)]}
