"""Stag-Hunter with ``observe_time=False``: the hunters' observation is today's minus the t / T feature, and the
game (rewards, termination, timing, state, masks, catch rate) is unchanged."""
from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from asyncmarl.cluster.config import load_config
from asyncmarl.platform.envs import make, make_batched

SAME = ("state", "reward", "terminated", "truncated", "choosing", "macro_action", "elapsed", "action_mask", "t")


def every_schedule(**settings):
    """Run all 21 x 21 joint shooting schedules (each hunter shoots at t = 0..19 or never) as one batch, with and
    without time in the observation. Returns [(step with time, step without, live)], reset first, where ``live``
    [B] marks the copies still in their scheduled episode (finished ones are reset and ignored after)."""
    shots = np.array([(a, b) for a in range(21) for b in range(21)], np.int64)  # 20 = never
    with_t = make_batched("stag-hunter", len(shots), **settings)
    without_t = make_batched("stag-hunter", len(shots), observe_time=False, **settings)
    live = np.ones(len(shots), bool)
    log = [(with_t.reset(seed=0), without_t.reset(seed=0), live.copy())]
    for t in range(20):
        actions = (shots == t).astype(np.int64)  # [B, 2] shoot at its scheduled step, else wait
        a, b = with_t.step(actions), without_t.step(actions)
        log.append((a, b, live.copy()))
        live &= ~a.done
        if a.done.any():
            with_t.reset(seed=0, where=a.done)
            without_t.reset(seed=0, where=a.done)
    return log


def test_observation_is_todays_minus_time_and_the_game_is_unchanged():
    total = np.zeros(441, np.float32)
    for a, b, live in every_schedule():
        assert a.obs.shape == (441, 2, 5) and b.obs.shape == (441, 2, 4)
        np.testing.assert_array_equal(b.obs[live], a.obs[live, :, :4])
        np.testing.assert_array_equal(b.real_obs[live], a.real_obs[live, :, :4])
        for name in SAME:
            np.testing.assert_array_equal(getattr(b, name)[live], getattr(a, name)[live], err_msg=name)
        np.testing.assert_array_equal(b.extras["catch_rate"][live], a.extras["catch_rate"][live])
        total += np.where(live, b.reward, 0)
    # the game's rewards: the 12 schedules with hunter 1 shooting 5 steps after hunter 0 catch, +10 each
    caught = [(k // 21, k % 21) for k in np.flatnonzero(total)]
    assert caught == [(t0, t0 + 5) for t0 in range(12)] and set(total[total > 0].tolist()) == {10.0}


def test_random_durations_game_unchanged():
    """The same with random flight times (the hashed duration draws), 3 hunters."""
    probs = (((1, 0, 0), (0, .5, .5)), ((1, 0, 0), (0, .3, .7)), ((1, 0, 0), (.2, .8, 0)))
    envs = [make_batched("stag-hunter", 64, n_hunters=3, arrow_flight=(2, 2, 1), duration_probs=probs,
                         observe_time=flag) for flag in (True, False)]
    rng = np.random.default_rng(0)
    steps = [e.reset(seed=np.arange(64)) for e in envs]
    for _ in range(40):
        actions = ((rng.random((64, 3, 2)) * steps[0].action_mask).argmax(-1))
        steps = [e.step(actions) for e in envs]
        np.testing.assert_array_equal(steps[1].obs, steps[0].obs[..., :4])
        for name in SAME:
            np.testing.assert_array_equal(getattr(steps[1], name), getattr(steps[0], name), err_msg=name)
        if steps[0].done.any():
            done = steps[0].done.copy()
            steps = [e.reset(seed=np.arange(64) + 100, where=done) for e in envs]


def test_a_waiting_hunter_sees_the_same_thing_every_step():
    """Without t / T nothing in a waiting hunter's view changes until an arrow lands: it must count."""
    never = 20 * 21 + 20  # neither hunter shoots: the episode runs to the horizon
    log = every_schedule()
    assert {tuple(b.obs[never, 1].tolist()) for _, b, _ in log} == {(1.0, 0.0, 0.0, 1.0)}
    assert len({tuple(a.obs[never, 1].tolist()) for a, _, _ in log}) == 21  # t / T = 0, 1/20, ..., 1


def test_pettingzoo_view_and_bad_value():
    env = make("stag-hunter", observe_time=False)
    assert env.observation_space("agent_0").shape == (4,)
    parallel_api_test(env, num_cycles=40)
    with pytest.raises(ValueError, match="observe_time must be true or false, got 'no'"):
        make_batched("stag-hunter", 1, observe_time="no")


def test_notime_presets_set_the_setting_and_nothing_else():
    for method in ("iql", "vdn", "qmix_legem", "qplex_legem", "tomacvf_legem"):
        plain, notime = load_config(f"staghunter_{method}"), load_config(f"staghunter-notime_{method}")
        assert notime.env.settings == {**plain.env.settings, "observe_time": False}
        assert notime.env.scenario == plain.env.scenario == "stag-hunter"
        assert notime.learner == plain.learner and notime.cluster == plain.cluster and notime.rollout == plain.rollout
