"""BoxPushing: registry, PettingZoo API, scripted episodes with hand-computed outcomes, bookkeeping, batching,
and the bad-input rules.

Geometry used by the hand computations (cells (x, y), y up, goal row L - 1):
L = 6: agent_0 starts at (0, 1) facing right, agent_1 at (5, 1) facing left; small boxes at (0, 3) and (5, 3),
big box on (2, 3)-(3, 3); waypoints (0, 2), (5, 2), (2, 2), (3, 2).
L = 10: agents at (1, 1) and (8, 1); boxes in row 5; big-box spots (4, 4) and (5, 4).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import parallel_api_test

from asyncmarl.platform.envs import env_info, make, make_batched, names, spec
from asyncmarl.platform.envs.boxpushing_single import sync

NAMES = [f"boxpushing-{L}" for L in (6, 8, 10, 12, 14, 20, 30)]
GO_SB0, GO_SB1, GO_BB0, GO_BB1, PUSH, LEFT, RIGHT, STAY = range(8)
EMPTY = [0, 0, 1, 0, 0]


def run(name, script, **settings_):
    """Step a B = 1 core through ``script`` (list of [a0, a1]); return the list of Steps."""
    env = make_batched(name, 1, **settings_)
    env.reset(seed=0)
    return env, [env.step(np.array([a], np.int64)) for a in script]


def test_registered_scenarios():
    for name in NAMES:
        assert name in names() and spec(name).family == "macro"
        info = env_info(name)
        assert (info.n_agents, info.n_actions, info.obs_dim, info.state_dim, info.horizon) == (2, 8, 5, 18, 100)


@pytest.mark.parametrize("name", NAMES)
def test_parallel_api(name):
    parallel_api_test(make(name), num_cycles=60)


@pytest.mark.parametrize("name", NAMES)
def test_reset_observation_and_state(name):
    env = make_batched(name, 1)
    step = env.reset(seed=0)
    L = env.settings.grid_size
    np.testing.assert_array_equal(step.obs[0], [EMPTY, EMPTY])  # the reference's first observation
    np.testing.assert_array_equal(step.real_obs, step.obs)
    s = step.state[0]
    off = 1 if L >= 8 else 0
    # agent_0 at (off, 1) facing right, agent_1 at (L-1-off, 1) facing left; cell centres / L
    np.testing.assert_allclose(s[:6], [(off + 0.5) / L, 1.5 / L, 0, 1, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(s[6:12], [(L - 0.5 - off) / L, 1.5 / L, 0, 0, 0, 1], rtol=1e-6)
    row = (L // 2 + 0.5) / L
    boxes = [(off + 0.5) / L, row, (L - 0.5 - off) / L, row, (L // 2) / L, row]
    np.testing.assert_allclose(s[12:], boxes, rtol=1e-6)
    assert step.choosing.all() and step.t[0] == 0


def test_big_box_pushed_by_both_agents_6():
    # Each agent: 2 steps sideways, 1 turn up, 1 step up onto its big-box spot (done there, facing up) = 4 steps.
    # Then both push: box row 3 -> 4 (step 5) -> 5 = goal (step 6). Return 300 + 6 * -0.1.
    env, steps = run("boxpushing-6", [[GO_BB0, GO_BB1]] * 4 + [[PUSH, PUSH]] * 2)
    choosing = [s.choosing[0].tolist() for s in steps]
    assert choosing == [[False, False]] * 3 + [[True, True], [False, False], [True, True]]
    assert [s.elapsed[0].tolist() for s in steps] == [[0, 0], [1, 1], [2, 2], [3, 3], [0, 0], [1, 1]]
    assert not any(s.terminated[0] for s in steps[:-1]) and steps[-1].terminated[0] and not steps[-1].truncated[0]
    assert steps[-1].t[0] == 6
    assert sum(float(s.reward[0]) for s in steps) == pytest.approx(300 - 0.6, abs=1e-4)
    assert steps[-1].extras["big_box"][0] == 1 and steps[-1].extras["small_boxes"][0] == 0
    # the agents rode up behind the box: now at (2, 4) and (3, 4), facing up, the box in front of each
    assert env.positions(0)["agents"] == [(2, 4, 0), (3, 4, 0)]
    np.testing.assert_array_equal(steps[-1].obs[0], [[0, 1, 0, 0, 0], [0, 1, 0, 0, 0]])


def test_big_box_optimum_10():
    # (1,1) -> (4,4): 3 steps right, 1 turn up, 3 steps up = 7 steps; the box needs rows 5 -> 9: 4 pushes.
    script = [[GO_BB0, GO_BB1]] * 7 + [[PUSH, PUSH]] * 4
    _, steps = run("boxpushing-10", script)
    assert steps[6].choosing[0].all() and not steps[5].choosing[0].any()
    assert steps[-1].terminated[0] and steps[-1].t[0] == 11
    assert sum(float(s.reward[0]) for s in steps) == pytest.approx(300 - 1.1, abs=1e-4)


def test_big_box_with_tomacvf_preset_and_overrides():
    script = [[GO_BB0, GO_BB1]] * 4 + [[PUSH, PUSH]] * 2
    _, steps = run("boxpushing-6", script, reward_preset="tomacvf")
    assert sum(float(s.reward[0]) for s in steps) == pytest.approx(100 - 0.6, abs=1e-4)
    _, steps = run("boxpushing-6", script, big_box_reward=50.0, step_reward=-1.0)
    assert sum(float(s.reward[0]) for s in steps) == pytest.approx(50 - 6, abs=1e-4)


def test_joint_push_from_stale_waypoints_reference_quirk():
    # The reference never forgets the waypoint an agent last reached: after reaching the big-box spots (4 steps)
    # the agents turn outwards (1), push-walk to the side walls (2), turn up (1) and push together: the big box
    # moves up although nobody is under it (2 steps to the goal), carrying the agents up. 10 steps, 300 - 1.0.
    script = [[GO_BB0, GO_BB1]] * 4 + [[LEFT, RIGHT]] + [[PUSH, PUSH]] * 2 + [[RIGHT, LEFT]] + [[PUSH, PUSH]] * 2
    for B in (1, 3):  # the B = 1 fast path and the vectorised path
        env = make_batched("boxpushing-6", B)
        env.reset(seed=0)
        steps = [env.step(np.array([a] * B, np.int64)) for a in script]
        assert steps[-1].terminated.all() and sum(float(s.reward[0]) for s in steps) == pytest.approx(299.0, abs=1e-4)
        assert env.positions(B - 1)["agents"] == [(0, 4, 0), (5, 4, 0)]
        assert env.positions(B - 1)["boxes"] == [(0, 3), (5, 3), (2, 5)]


def test_small_box_pushed_to_goal_6():
    # agent_0 at (0, 1) facing right: turns up (step 1), steps onto (0, 2) facing up (step 2, done).
    # Push: box (0, 3) -> (0, 4) (step 3), -> (0, 5) = goal (step 4). agent_1 stays. Return 20 + 4 * -0.1.
    env, steps = run("boxpushing-6", [[GO_SB0, STAY]] * 2 + [[PUSH, STAY]] * 2)
    assert [s.choosing[0, 0] for s in steps] == [False, True, False, True]
    assert steps[-1].terminated[0] and steps[-1].t[0] == 4
    assert sum(float(s.reward[0]) for s in steps) == pytest.approx(20 - 0.4, abs=1e-4)
    assert steps[-1].extras["small_boxes"][0] == 1 and steps[-1].extras["big_box"][0] == 0
    assert env.positions(0)["boxes"][0] == (0, 5) and env.positions(0)["agents"][0] == (0, 4, 0)


def test_wall_hit_costs_the_penalty():
    # agent_0 at (0, 1) facing right turns left twice (now facing the left wall) and pushes: -10 and no move.
    env, steps = run("boxpushing-6", [[LEFT, STAY], [LEFT, STAY], [PUSH, STAY]])
    assert [float(s.reward[0]) for s in steps] == pytest.approx([-0.1, -0.1, -10.1], abs=1e-4)
    assert steps[-1].choosing[0, 0] and env.positions(0)["agents"][0] == (0, 1, 3)
    np.testing.assert_array_equal(steps[-1].obs[0, 0], [0, 0, 0, 1, 0])  # the wall is in front


def test_pushing_the_big_box_alone_bounces_back():
    # agent_0 reaches big-box spot 0 in 4 steps (see above); pushing alone bounces: -10, stays, action over.
    env, steps = run("boxpushing-6", [[GO_BB0, STAY]] * 4 + [[PUSH, STAY]])
    assert float(steps[-1].reward[0]) == pytest.approx(-10.1, abs=1e-4)
    assert steps[-1].choosing[0, 0] and env.positions(0)["agents"][0] == (2, 2, 0)
    assert env.positions(0)["boxes"][2] == (2, 3)
    np.testing.assert_array_equal(steps[-1].obs[0, 0], [0, 1, 0, 0, 0])


def test_push_walks_to_the_wall_when_nothing_is_in_front():
    # agent_0 at (0, 1) facing right pushes into empty cells: one cell a step until x = 5 ... but agent_1 is
    # no obstacle to it (the reference has no agent collisions): 5 steps, done at the wall, no penalty.
    env, steps = run("boxpushing-6", [[PUSH, STAY]] * 5)
    assert [s.choosing[0, 0] for s in steps] == [False] * 4 + [True]
    assert env.positions(0)["agents"][0] == (5, 1, 1)
    assert sum(float(s.reward[0]) for s in steps) == pytest.approx(-0.5, abs=1e-4)


def test_truncation_at_the_horizon():
    env, steps = run("boxpushing-6", [[STAY, STAY]] * 100)
    assert not any(s.truncated[0] for s in steps[:-1]) and steps[-1].truncated[0] and not steps[-1].terminated[0]
    assert sum(float(s.reward[0]) for s in steps) == pytest.approx(-10.0, abs=1e-3)
    with pytest.raises(ValueError, match="reset"):
        env.step(np.zeros((1, 2), np.int64))
    env2, steps2 = run("boxpushing-6", [[STAY, STAY]] * 7, horizon=7)
    assert steps2[-1].truncated[0] and steps2[-1].t[0] == 7


def test_macro_observation_is_frozen_while_busy():
    # agent_0 at (0, 1) facing right pushes into empty cells: it walks right one cell a step until the wall.
    env = make_batched("boxpushing-6", 1)
    env.reset(seed=0)
    for _ in range(4):  # the 0 sent while it is busy is ignored; after 4 steps it is at (4, 1)
        step = env.step(np.array([[PUSH if _ == 0 else 0, STAY]]))
    assert env.positions(0)["agents"][0] == (4, 1, 1) and not step.choosing[0, 0]
    # agent_1 at (5, 1) is in front: the real observation says teammate, the macro-observation stays frozen
    np.testing.assert_array_equal(step.real_obs[0, 0], [0, 0, 0, 0, 1])
    np.testing.assert_array_equal(step.obs[0, 0], EMPTY)
    step = env.step(np.array([[0, STAY]]))  # reaches the wall at x = 5 (sharing agent_1's cell): done
    assert step.choosing[0, 0]
    np.testing.assert_array_equal(step.obs[0, 0], step.real_obs[0, 0])
    np.testing.assert_array_equal(step.obs[0, 0], [0, 0, 0, 1, 0])


def _random_episode(name, seed, junk_for_busy):
    env = make_batched(name, 1)
    step = env.reset(seed=0)
    rng, junk = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    out = []
    while not step.done[0]:
        a = rng.integers(0, 8, (1, 2))
        if junk_for_busy:
            a = np.where(step.choosing, a, junk.integers(-100, 100, (1, 2)))
        step = env.step(a)
        out.append((step.obs.copy(), step.state.copy(), step.reward.copy(), step.choosing.copy(),
                    step.macro_action.copy()))
    return out


@pytest.mark.parametrize("name", ["boxpushing-6", "boxpushing-10"])
def test_busy_agents_ignore_their_actions(name):
    for seed in range(5):
        a, b = _random_episode(name, seed, False), _random_episode(name, seed, True)
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            for u, v in zip(x, y, strict=True):
                np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("B", [1, 4])
def test_macro_done_and_elapsed_bookkeeping_over_whole_episodes(B):
    env = make_batched("boxpushing-8", B)
    step = env.reset(seed=0)
    rng = np.random.default_rng(0)
    prev = step
    n_long = 0
    for _ in range(400):
        a = rng.integers(0, 8, (B, 2))
        step = env.step(a)
        live = ~prev.done
        chose = prev.choosing
        expect_e = np.where(chose, 0, prev.elapsed + 1)
        np.testing.assert_array_equal(step.elapsed[live], expect_e[live])
        expect_a = np.where(chose, a, prev.macro_action)  # the action holds until macro_done
        np.testing.assert_array_equal(step.macro_action[live], expect_a[live])
        n_long += int((step.elapsed >= 2).sum())
        prev = step
        if step.done.any():
            prev = step = env.reset(where=step.done)
            assert (step.elapsed[step.t == 0] == 0).all()
    assert n_long > 0


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), L=st.sampled_from([6, 8, 12]), B=st.integers(2, 4))
def test_batched_matches_single_copies(seed, L, B):
    name = f"boxpushing-{L}"
    rng = np.random.default_rng(seed)
    # biased towards pushing and the big-box spots, so joint pushes and box moves happen
    p = np.array([0.08, 0.08, 0.2, 0.2, 0.28, 0.06, 0.04, 0.06])
    acts = rng.choice(8, size=(60, B, 2), p=p)
    big = make_batched(name, B)
    singles = [make_batched(name, 1) for _ in range(B)]
    sb = big.reset(seed=seed)
    ss = [e.reset(seed=seed + b) for b, e in enumerate(singles)]
    for k in range(60):
        sb = big.step(acts[k])
        for b, e in enumerate(singles):
            ss[b] = e.step(acts[k, b:b + 1])
            for f in ("obs", "real_obs", "state", "reward", "terminated", "truncated", "choosing", "macro_action",
                      "elapsed", "t"):
                np.testing.assert_array_equal(getattr(sb, f)[b], getattr(ss[b], f)[0], err_msg=f"{f} copy {b} t {k}")
        done = sb.done
        if done.any():
            sb = big.reset(seed=seed, where=done)
            for b in np.flatnonzero(done):
                ss[b] = singles[b].reset(seed=seed + b)


def _snapshot(core):
    sync(core)  # the B = 1 stepper writes the core's arrays when something reads them
    last = core.last
    return [last.obs.copy(), last.state.copy(), last.choosing.copy(), core._pose.copy(), core._Y.copy(), core._t.copy()]


def _assert_same(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_bad_actions_raise_and_leave_the_state_unchanged():
    env = make("boxpushing-6")
    env.reset(seed=0)
    env.step({"agent_0": GO_BB0, "agent_1": STAY})  # agent_0 busy, agent_1 choosing
    core = env.core
    before = _snapshot(core)
    with pytest.raises(ValueError, match="missing action for agent_1"):
        env.step({"agent_0": 0})
    with pytest.raises(ValueError, match=r"agent_1.*0\.\.7"):
        env.step({"agent_0": 0, "agent_1": 8})
    with pytest.raises(ValueError, match=r"agent_1.*0\.\.7"):
        env.step({"agent_0": 0, "agent_1": -1})
    with pytest.raises(ValueError, match="agent_1"):
        env.step({"agent_0": 0, "agent_1": 2.0})
    with pytest.raises(ValueError, match="agent_1"):
        env.step({"agent_0": 0, "agent_1": "push"})
    with pytest.raises(ValueError, match="unknown agents"):
        env.step({"agent_0": 0, "agent_1": 1, "agent_7": 1})
    with pytest.raises(ValueError, match=r"agent_1 \(copy 0\).*0\.\.7"):
        core.step(np.array([[0, 9]]))
    with pytest.raises(ValueError, match="integers"):
        core.step(np.array([[0.0, 1.0]]))
    with pytest.raises(ValueError, match="shape"):
        core.step(np.array([0, 1]))
    _assert_same(before, _snapshot(core))
    # a busy agent may be sent anything, even out of range
    env.step({"agent_0": 99, "agent_1": STAY})
    env.step({"agent_1": STAY})


def test_unknown_scenario_and_bad_settings():
    with pytest.raises(ValueError, match="boxpushing-6"):
        make("boxpushing-7")
    with pytest.raises(ValueError, match="grid_size"):
        make("boxpushing-6", grid_sise=8)
    with pytest.raises(ValueError, match="grid_size"):
        make("boxpushing-6", grid_size=7)
    with pytest.raises(ValueError, match=r"grid_size.*6\.\.40"):
        make("boxpushing-6", grid_size=42)
    with pytest.raises(ValueError, match="reward_preset.*published"):
        make("boxpushing-6", reward_preset="paper")
    with pytest.raises(ValueError, match="horizon"):
        make("boxpushing-6", horizon=0)
    with pytest.raises(ValueError, match="penalty"):
        make("boxpushing-6", penalty="big")
    assert make_batched("boxpushing-6", 1, grid_size=16).settings.grid_size == 16


@pytest.mark.parametrize("name", ["boxpushing-6", "boxpushing-30"])
def test_render(name):
    env = make(name, render_mode="rgb_array")
    env.reset(seed=0)
    env.step({"agent_0": GO_BB0, "agent_1": GO_BB1})
    img = env.render()
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and img.shape[0] >= 100
    txt = env.core.render_ansi(0)
    assert "BB" in txt and "b0" in txt and "0" in txt and "t=1" in txt
