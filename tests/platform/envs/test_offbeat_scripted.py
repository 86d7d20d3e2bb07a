"""Scripted off-beat episodes with hand-computed rewards and timing.

Timing convention under test (``offbeat/durations.py``): an action of duration m committed at step t reports
elapsed 0..m over steps t..t+m, lands (effect and reward) in step t+m, and that step reports choosing.
"""
from __future__ import annotations

import numpy as np

from asyncmarl.platform.envs import make_batched


def run(core, script: dict[int, list[int]], steps: int):
    """Step ``core`` (B = 1) ``steps`` times; at step t send ``script[t]`` (default all wait). Returns Steps."""
    core.reset(seed=0)
    out = []
    for t in range(steps):
        a = np.array([script.get(t, [0] * core.n_agents)], np.int64)
        out.append(core.step(a))
        if out[-1].done[0]:
            break
    return out


# --------------------------------------------------------------------------- Stag-Hunter
def test_synchronised_catch_fig1():
    """Hunter 0 (flight 8) shoots at t=0, hunter 1 (flight 3) at t=5: both land in step 8, +10, caught."""
    core = make_batched("stag-hunter", 1)
    steps = run(core, {0: [1, 0], 5: [0, 1]}, 20)
    assert len(steps) == 9  # steps 0..8, terminated at 8
    rewards = [float(s.reward[0]) for s in steps]
    assert rewards == [0.0] * 8 + [10.0]
    assert steps[-1].terminated[0] and not steps[-1].truncated[0]
    assert steps[-1].extras["catch_rate"][0] == 1.0
    # hunter 0: elapsed 0..8 over steps 0..8, busy (not choosing) until its arrow lands in step 8
    assert [int(s.elapsed[0, 0]) for s in steps] == list(range(9))
    assert [bool(s.choosing[0, 0]) for s in steps] == [False] * 8 + [True]
    assert all(int(s.macro_action[0, 0]) == 1 for s in steps)
    # hunter 1: waits (duration 0, choosing every step) until it shoots at step 5; elapsed 0..3 over steps 5..8
    assert [int(s.elapsed[0, 1]) for s in steps] == [0, 0, 0, 0, 0, 0, 1, 2, 3]
    assert [bool(s.choosing[0, 1]) for s in steps] == [True] * 5 + [False, False, False, True]
    assert [int(s.macro_action[0, 1]) for s in steps] == [0] * 5 + [1] * 4
    # the observation of hunter 0 is frozen at its decision (arrow ready, stag visible, t = 0) while busy
    np.testing.assert_array_equal(steps[3].obs[0, 0], [1, 0, 0, 1, 0])
    np.testing.assert_allclose(steps[3].real_obs[0, 0], [0, 1, 0, 1, 4 / 20], rtol=1e-6)
    np.testing.assert_allclose(steps[-1].real_obs[0, 0], [0, 0, 1, 0, 9 / 20], rtol=1e-6)  # spent, stag gone


def test_frozen_obs_is_the_decision_observation():
    core = make_batched("stag-hunter", 1)
    steps = run(core, {0: [1, 0]}, 4)
    # after step 0 hunter 0 is busy: its macro-observation is the one it will decide from next, i.e. frozen
    # at the last decision point (after reset, before any step: in step 0's output it is already busy)
    assert not steps[0].choosing[0, 0]
    np.testing.assert_array_equal(steps[0].obs[0, 0], steps[2].obs[0, 0])
    assert not np.array_equal(steps[0].real_obs[0, 0], steps[2].real_obs[0, 0])  # time moves on


def test_scared_stag():
    """Both shoot at t=0: hunter 1's arrow lands alone in step 3, the stag flees, reward 0, episode over."""
    core = make_batched("stag-hunter", 1)
    steps = run(core, {0: [1, 1]}, 20)
    assert len(steps) == 4
    assert sum(float(s.reward[0]) for s in steps) == 0.0
    assert steps[-1].terminated[0] and steps[-1].extras["catch_rate"][0] == 0.0
    assert steps[-1].choosing[0].tolist() == [False, True]  # hunter 0's arrow never lands
    assert steps[-1].real_obs[0, 0, 3] == 0.0  # the stag is no longer visible


def test_no_shot_runs_to_the_horizon():
    core = make_batched("stag-hunter", 1)
    steps = run(core, {}, 30)
    assert len(steps) == 20 and steps[-1].truncated[0] and not steps[-1].terminated[0]
    assert steps[-1].extras["catch_rate"][0] == 0.0


def test_arrow_landing_after_horizon_never_lands():
    core = make_batched("stag-hunter", 1)
    steps = run(core, {14: [1, 0], 19: [0, 1]}, 30)  # would land in steps 22 and 22
    assert len(steps) == 20 and steps[-1].truncated[0] and sum(s.reward[0] for s in steps) == 0


# --------------------------------------------------------------------------- Quarry
def test_rock_broken_by_synchronised_strikes():
    """Miner 1 (4 steps) at t=0 and miner 0 (2 steps) at t=2 strike rock 1 (hardness 2): both land in step 4."""
    core = make_batched("quarry", 1)
    steps = run(core, {0: [0, 2, 0], 2: [2, 0, 0]}, 6)
    assert [float(s.reward[0]) for s in steps] == [0, 0, 0, 0, 10.0, 0]
    assert steps[4].state[0, -4:-1].tolist() == [1, 0, 1]  # rocks intact / broken / intact
    assert steps[4].choosing[0].tolist() == [True, True, True]
    assert steps[3].real_obs[0, :, 0].tolist() == [1, 1, 0]  # busy flags before landing


def test_wasted_strikes():
    core = make_batched("quarry", 1)
    # miner 0 strikes rock 1 (hardness 2) alone: lands in step 2, wasted; miner 1 strikes rock 0 (hardness 1)
    # at t=0, breaking it in step 4 (+5); miner 0 strikes rock 0 again at t=3: lands in step 5 on a broken rock.
    steps = run(core, {0: [2, 1, 0], 3: [1, 0, 0]}, 8)
    assert [float(s.reward[0]) for s in steps] == [0, 0, 0, 0, 5.0, 0, 0, 0]
    assert steps[-1].real_obs[0, 0, 1:4].tolist() == [0, 1, 1]
    # rock 2 (hardness 3) with only two strikes landing together: wasted
    steps = run(core, {0: [0, 0, 3], 2: [0, 3, 0]}, 8)
    assert sum(float(s.reward[0]) for s in steps) == 0.0 and steps[-1].real_obs[0, 0, 3] == 1


def test_quarry_full_clear_terminates_with_success():
    core = make_batched("quarry", 1)
    # rock 0 by miner 0 (lands 2); rock 1 by miners 1 (t=1) + 0 (t=3) in step 5; rock 2 all three in step 10
    script = {0: [1, 0, 0], 1: [0, 2, 0], 3: [2, 0, 0], 4: [0, 0, 3], 6: [0, 3, 0], 8: [3, 0, 0]}
    steps = run(core, script, 40)
    rewards = {t: float(s.reward[0]) for t, s in enumerate(steps) if s.reward[0]}
    assert rewards == {2: 5.0, 5: 10.0, 10: 15.0}
    assert steps[-1].terminated[0] and len(steps) == 11 and steps[-1].extras["success"][0] == 1.0


# --------------------------------------------------------------------------- Afforestation
PLANT = lambda p: 1 + p  # noqa: E731
WATER = lambda p: 7 + p  # noqa: E731


def test_sapling_dies_unwatered():
    """Planted at t=0 (lands in step 3); no watering lands by step 7; in step 8 it dies."""
    core = make_batched("afforestation", 1)
    steps = run(core, {0: [PLANT(2), 0, 0]}, 10)
    status = [int(s.state[0, 2 * 6:2 * 6 + 5].argmax()) for s in steps]  # plot 2's one-hot state
    assert status == [0, 0, 0, 1, 1, 1, 1, 1, 4, 4]  # empty, sapling (from 3), dead (from 8)
    assert sum(float(s.reward[0]) for s in steps) == 0.0
    # agents see the sapling age coarsely: fresh (age 0..2, steps 3..5), then wilting (steps 6..7)
    cat = [int(s.real_obs[0, 0, 12:18].argmax()) for s in steps]
    assert cat == [0, 0, 0, 1, 1, 1, 2, 2, 5, 5]


def test_sapling_matures_after_watering():
    """Plant at t=0 lands in 3; watering committed at t=5 lands in 7 (4 steps after planting: the last chance);
    the tree matures 6 steps later, in step 13, paying +1 then."""
    core = make_batched("afforestation", 1)
    steps = run(core, {0: [PLANT(0), 0, 0], 5: [0, 0, WATER(0)]}, 15)
    rewards = {t: float(s.reward[0]) for t, s in enumerate(steps) if s.reward[0]}
    assert rewards == {13: 1.0}
    status = [int(s.state[0, :5].argmax()) for s in steps]
    assert status == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3]
    assert steps[7].choosing[0, 2] and [int(steps[t].elapsed[0, 2]) for t in (5, 6, 7)] == [0, 1, 2]


def test_watering_one_step_late_is_wasted():
    core = make_batched("afforestation", 1)
    steps = run(core, {0: [PLANT(0), 0, 0], 6: [0, 0, WATER(0)]}, 20)  # lands in step 8: dead already
    assert sum(float(s.reward[0]) for s in steps) == 0.0 and int(steps[-1].state[0, :5].argmax()) == 4


def test_anticipated_watering_lands_with_the_planting():
    """Water committed at t=1 lands in step 3, the same step the planting lands: counts (planting lands first)."""
    core = make_batched("afforestation", 1)
    steps = run(core, {0: [PLANT(4), 0, 0], 1: [0, 0, WATER(4)]}, 12)
    rewards = {t: float(s.reward[0]) for t, s in enumerate(steps) if s.reward[0]}
    assert rewards == {9: 1.0}


def test_episode_ends_when_every_plot_is_settled():
    core = make_batched("afforestation", 1, n_plots=2)
    steps = run(core, {0: [PLANT(0), PLANT(1), 0], 1: [0, 0, 1 + 2 + 0]}, 30)
    # plot 0 watered (lands 3, matures 9), plot 1 never watered (dies in step 8)
    assert steps[-1].terminated[0] and len(steps) == 10
    assert steps[-1].extras["success"][0] == 0.5
    assert sum(float(s.reward[0]) for s in steps) == 1.0


# --------------------------------------------------------------------------- durations as settings
def test_durations_table_overrides_per_agent_and_action():
    core = make_batched("quarry", 1, durations=((0, 1, 1, 1), (0, 1, 1, 1), (0, 1, 1, 1)))
    steps = run(core, {0: [3, 3, 3]}, 2)
    assert [float(s.reward[0]) for s in steps] == [0.0, 15.0]


def test_random_durations_follow_the_table():
    probs = (((1.0, 0, 0, 0), (0, 0.5, 0, 0.5)), ((1.0, 0, 0, 0), (0, 0, 1.0, 0)))
    core = make_batched("stag-hunter", 4000, duration_probs=probs)
    core.reset(seed=0)
    step = core.step(np.tile([[1, 1]], (4000, 1)))
    assert not step.choosing.any()  # no shot has duration 0 here
    drawn = core.duration  # [B, n] durations drawn at commit time
    assert set(np.unique(drawn[:, 0])) == {1, 3} and set(np.unique(drawn[:, 1])) == {2}
    assert abs((drawn[:, 0] == 1).mean() - 0.5) < 0.05
    step = core.step(np.zeros((4000, 2), np.int64))  # hunter 0's arrows with duration 1 land alone: stag flees
    np.testing.assert_array_equal(step.terminated, drawn[:, 0] == 1)


def test_three_hunters_must_all_land_together():
    core = make_batched("stag-hunter", 1, n_hunters=3, arrow_flight=[8, 3, 5])  # lists (YAML) are accepted
    steps = run(core, {0: [1, 0, 0], 3: [0, 0, 1], 5: [0, 1, 0]}, 20)
    assert len(steps) == 9 and steps[-1].reward[0] == 10.0 and steps[-1].extras["catch_rate"][0] == 1.0
    steps = run(core, {0: [1, 0, 0], 5: [0, 1, 0]}, 20)  # two of three arrows land together: the stag flees
    assert len(steps) == 9 and steps[-1].reward[0] == 0.0 and steps[-1].terminated[0]
