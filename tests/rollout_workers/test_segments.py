"""SegmentCutter on scripted episodes with known durations and rewards, and on the registered scenarios."""
from itertools import pairwise

import numpy as np
import pytest

from asyncmarl.memory_service.replay.synthetic import ScriptedMacroEnv, ScriptedSettings
from asyncmarl.platform.schema import FINAL_FIELDS, STEP_FIELDS
from asyncmarl.rollout_workers.segments import SegmentCutter

GAMMA = 0.75


def run_episodes(env, cutter, actions_fn, steps, rng=None, ids_start=100):
    """Drive ``env`` like the rollout worker does; returns all segments and trajectories."""
    B = env.batch_size
    step = env.reset(seed=0)
    next_id = ids_start
    cutter.begin(step, np.ones(B, bool), np.arange(next_id, next_id + B))
    next_id += B
    segs, trajs = [], []
    for k in range(steps):
        actions = actions_fn(k, step)
        step = env.step(actions)
        s, tr = cutter.record(actions, step, policy_version=k)
        segs += s
        trajs += tr
        if step.done.any():
            done = step.done
            step = env.reset(seed=k, where=done)
            cutter.begin(step, done, np.arange(next_id, next_id + B))
            next_id += B
    return segs, trajs


def test_segments_of_scripted_episode_have_exact_spans_and_returns():
    # agent 0 plays action 2 (3 steps), agent 1 action 1 (2 steps); horizon 6; reward of step t is t + 1
    env = ScriptedMacroEnv(1, ScriptedSettings(horizon=6))
    cutter = SegmentCutter(1, 2, GAMMA, worker_id=3)
    segs, trajs = run_episodes(env, cutter, lambda k, s: np.array([[2, 1]]), steps=6)
    spans = sorted((s.agent, s.index, s.start, s.end) for s in segs)
    assert spans == [(0, 0, 0, 2), (0, 1, 3, 5), (1, 0, 0, 1), (1, 1, 2, 3), (1, 2, 4, 5)]
    r = np.arange(1.0, 7.0)
    for s in segs:
        expect = sum(GAMMA ** (t - s.start) * r[t] for t in range(s.start, s.end + 1))
        assert s.ret == pytest.approx(expect, rel=1e-12)
        assert s.length == s.end - s.start + 1
        assert set(s.steps) == set(STEP_FIELDS)
        assert all(v.shape[0] == s.length for v in s.steps.values())
        np.testing.assert_array_equal(s.steps["reward"], r[s.start : s.end + 1])
        np.testing.assert_array_equal(s.steps["elapsed"][:, s.agent], np.arange(s.length))
        assert (s.steps["actions"][:, s.agent] == s.action).all()
        assert s.steps["choosing"][0, s.agent]
        assert s.worker_id == 3 and s.episode_id == 100
        assert s.policy_version == s.start  # version passed when the action was chosen
        # only the episode-ending segments carry the final observation row
        assert s.is_last == (s.end == 5)
        assert (s.truncated and not s.terminated) == s.is_last
    last = [s for s in segs if s.is_last][0]
    assert set(last.final) == set(FINAL_FIELDS)
    assert last.final["real_obs"][0, 0] == 6  # observation after the last step (t = 6)
    # real observations change every step, macro-observations only when the agent chooses
    s0 = [s for s in segs if s.agent == 0 and s.index == 0][0]
    np.testing.assert_array_equal(s0.steps["real_obs"][:, 0, 0], [0, 1, 2])
    np.testing.assert_array_equal(s0.steps["obs"][:, 1, 0], [0, 0, 2])
    (tr,) = trajs
    assert tr["length"] == 6 and tr["return"] == pytest.approx(r.sum())
    assert tr["real_obs"].shape == (7, 2, 3) and tr["actions"].shape == (6, 2) and tr["choosing"].shape == (7, 2)
    np.testing.assert_array_equal(tr["reward"], r)
    assert tr["extras"] == {"success": 0.0}


def test_busy_agents_actions_are_replaced_by_the_running_action():
    env = ScriptedMacroEnv(1, ScriptedSettings(horizon=4))
    cutter = SegmentCutter(1, 2, GAMMA)
    # agent 0 picks action 3 (4 steps) then the worker sends junk for it while busy
    segs, _ = run_episodes(env, cutter, lambda k, s: np.array([[3 if k == 0 else 0, 0]]), steps=4)
    a0 = [s for s in segs if s.agent == 0]
    assert len(a0) == 1 and (a0[0].steps["actions"][:, 0] == 3).all()


def test_many_copies_with_termination_reassemble_every_step_exactly():
    B = 5
    env = ScriptedMacroEnv(B, ScriptedSettings(n_agents=3, horizon=9, terminate_at=7))
    cutter = SegmentCutter(B, 3, GAMMA, initial_horizon=2)  # forces the buffers to grow
    rng = np.random.default_rng(0)
    segs, trajs = run_episodes(env, cutter, lambda k, s: rng.integers(0, 4, (B, 3)), steps=30)
    assert len(trajs) == 4 * B  # episodes of 7 steps in 30 steps
    by_ep = {tr["episode_id"]: tr for tr in trajs}
    for s in segs:
        tr = by_ep.get(s.episode_id)
        if tr is None:
            continue  # still-open episode's segment
        np.testing.assert_array_equal(s.steps["real_obs"], tr["real_obs"][s.start : s.end + 1])
        np.testing.assert_array_equal(s.steps["actions"], tr["actions"][s.start : s.end + 1])
        if s.is_last:
            assert s.terminated and s.end == tr["length"] - 1
    # each finished episode: every agent's segments tile [0, T) with indices 0..K-1
    for eid, tr in by_ep.items():
        for i in range(3):
            mine = sorted((s.index, s.start, s.end) for s in segs if s.episode_id == eid and s.agent == i)
            assert [m[0] for m in mine] == list(range(len(mine)))
            assert mine[0][1] == 0 and mine[-1][2] == tr["length"] - 1
            assert all(a[2] + 1 == b[1] for a, b in pairwise(mine))


def test_abandon_drops_open_episodes_and_validates_shapes():
    env = ScriptedMacroEnv(2, ScriptedSettings(horizon=3))
    cutter = SegmentCutter(2, 2, GAMMA)
    step = env.reset(seed=0)
    cutter.begin(step, np.ones(2, bool), np.array([1, 2]))
    cutter.abandon(np.array([True, False]))
    emitted = []
    for _ in range(3):
        a = np.zeros((2, 2), np.int64)
        step = env.step(a)
        emitted += cutter.record(a, step)[0]
    assert {s.episode_id for s in emitted} == {2}
    # a copy abandoned late, while the other restarts: nothing may write past the buffer
    env = ScriptedMacroEnv(2, ScriptedSettings(horizon=30))
    cutter = SegmentCutter(2, 2, GAMMA, initial_horizon=2)
    step = env.reset(seed=0)
    cutter.begin(step, np.ones(2, bool), np.array([1, 2]))
    a = np.zeros((2, 2), np.int64)
    for _ in range(7):
        step = env.step(a)
        cutter.record(a, step)
    cutter.abandon(np.array([True, False]))
    step = env.reset(seed=1, where=np.array([False, True]))
    cutter.begin(step, np.array([False, True]), np.array([0, 3]))
    for _ in range(3):
        step = env.step(a)
        segs, _ = cutter.record(a, step)
        assert {s.episode_id for s in segs} <= {3}
    with pytest.raises(ValueError, match="actions must have shape"):
        cutter.record(np.zeros((2, 3)), step)
    with pytest.raises(ValueError, match="gamma"):
        SegmentCutter(2, 2, 1.5)


def test_real_scenarios_cut_consistently():
    from asyncmarl.platform.envs import make_batched, names

    scenarios = names()
    assert {"boxpushing-6", "wtd-a", "overcooked-a", "stag-hunter"} <= set(scenarios)
    for name in scenarios:
        env = make_batched(name, 3)
        cutter = SegmentCutter(3, env.n_agents, 0.9)
        rng = np.random.default_rng(1)

        def act(k, step, rng=rng):
            return (rng.random(step.action_mask.shape) * step.action_mask).argmax(-1)

        segs, trajs = run_episodes(env, cutter, act, steps=min(env.horizon + 5, 120))
        for s in segs:
            assert s.steps["choosing"][0, s.agent], name
            assert s.ret == pytest.approx(
                float(np.sum(0.9 ** np.arange(s.length) * s.steps["reward"].astype(np.float64))), rel=1e-5, abs=1e-5
            ), name
        for tr in trajs:
            assert tr["reward"].shape == (tr["length"],), name
