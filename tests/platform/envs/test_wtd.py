"""Warehouse Tool Delivery: API, scripted episodes with hand-computed rewards, batching, bad input."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pettingzoo.test import parallel_api_test

from asyncmarl.platform.envs import make, make_batched, names
from asyncmarl.platform.envs.wtd import WTDSettings

SCENARIOS = ["wtd-a", "wtd-b", "wtd-c", "wtd-d", "wtd-e"]
# scenario A action indices: turtlebots 0/1 go to work area 0/1, 2 go to tool room, 3 get tool;
# Fetch 0 wait, 1/2 pass to turtlebot 0/1, 3..5 search tool 0..2
WA0, WA1, TOOL_ROOM, GET_TOOL = 0, 1, 2, 3
WAIT, PASS_T0, PASS_T1, SEARCH0 = 0, 1, 2, 3


def run_plan(env, plans, n_steps):
    """Step a B = 1 core ``n_steps`` times; a choosing agent takes the next action of its plan (the last one
    repeats). Returns the list of Steps."""
    queues = [list(p) for p in plans]
    steps = []
    last = env.last
    for _ in range(n_steps):
        acts = np.zeros((1, env.n_agents), np.int64)
        for i, q in enumerate(queues):
            if last.choosing[0, i]:
                acts[0, i] = q.pop(0) if len(q) > 1 else q[0]
            else:
                acts[0, i] = 5  # busy agents' actions are ignored
        last = env.step(acts)
        steps.append(last)
    return steps


# --------------------------------------------------------------------------- registration and API
def test_scenarios_registered_with_reference_dimensions():
    assert set(SCENARIOS) <= set(names())
    # (agents, actions, turtlebot obs, state): scenario A obs 18 and state 29, triple room obs 23 (spec)
    dims = {"wtd-a": (3, 6, 18, 29), "wtd-b": (3, 6, 18, 29), "wtd-c": (3, 6, 23, 34),
            "wtd-d": (4, 7, 23, 39), "wtd-e": (4, 7, 28, 44)}
    for name, (n, a, o, s) in dims.items():
        env = make_batched(name, 2)
        assert (env.n_agents, env.n_actions, env.obs_dim, env.state_dim) == (n, a, o, s)
        assert env.agents == [f"agent_{i}" for i in range(n)]
        assert env.action_names[-1][0] == "wait" and env.action_names[0][-1] == "get_tool"


@pytest.mark.parametrize("name", SCENARIOS)
def test_pettingzoo_parallel_api(name):
    parallel_api_test(make(name), num_cycles=300)


def test_reset_observation_and_state_match_reference_start():
    env = make_batched("wtd-a", 1)
    s = env.reset(seed=3)
    # turtlebots: location one-hot on the "moving / unknown" slot (index 4), nothing else; Fetch: zeros
    for k in range(2):
        expect = np.zeros(18, np.float32)
        expect[4] = 1.0
        assert np.array_equal(s.obs[0, k], expect)
    assert not s.obs[0, 2].any()
    assert np.array_equal(s.obs, s.real_obs)
    # state: positions / (7, 5) of turtlebots at (3.0, 3.5), (3.0, 1.5) and the Fetch at (0.9, 2.5); each human
    # in phase 0 with progress 0
    np.testing.assert_allclose(s.state[0, :6], [3 / 7, 3.5 / 5, 3 / 7, 1.5 / 5, 0.9 / 7, 2.5 / 5], rtol=1e-6)
    assert not s.state[0, 6:19].any()
    assert np.array_equal(s.state[0, 19:29], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0])
    assert s.choosing.all() and (s.t == 0).all() and (s.reward == 0).all()


# --------------------------------------------------------------------------- scripted episodes (scenario A)
def test_delivery_in_time_and_late_delivery():
    """Turtlebot 0 collects two copies of tool 0 and brings one to each human.

    Hand count (geometry from the reference): turtlebot 0 starts at (3.0, 3.5); its table spot (1.2, 3.7) is
    1.81 m away: 2 moves of 0.8 m, arrival on step 3, waiting from step 4 (time left -1, -2, ...). The Fetch
    searches tool 0 twice (steps 1-6, 7-12). Turtlebot 0's get-tool times out on step 13 (time left -10) but it
    still stands at the table, so the pass started on step 13 is valid; it chooses get-tool again on step 14 and
    the pass ends on step 16 with the tool in its basket. A second pass runs on steps 17-20. Going to work
    area 0 (6.0, 3.0), 4.85 m away, takes 6 moves and arrives on step 27: human 0 has 27 - 26 = 1 step of its
    27-step first phase left, so +100. Work area 1 is 1 m further: 1 move, arrival on step 29, when human 1 has
    waited since step 27: +100 - 20. Turtlebot 1 goes to the tool room and stays there.
    """
    env = make_batched("wtd-a", 1)
    env.reset(seed=0)
    plans = [
        [GET_TOOL, GET_TOOL, GET_TOOL, WA0, WA1, WA1],
        [TOOL_ROOM],
        [SEARCH0, SEARCH0, PASS_T0, PASS_T0, WAIT],
    ]
    steps = run_plan(env, plans, 29)
    rewards = np.array([s.reward[0] for s in steps])
    expect = np.full(29, -1.0)
    expect[26] = -1.0 + 100.0  # step 27
    expect[28] = -1.0 + 100.0 - 20.0  # step 29
    assert np.array_equal(rewards, expect)
    assert rewards.sum() == 100 + 80 - 29
    # bookkeeping of turtlebot 0: get-tool steps 1-13 (timeout), 14-16 (pass), 17-20 (pass)
    choosing0 = [int(s.choosing[0, 0]) for s in steps]
    assert [i + 1 for i, c in enumerate(choosing0) if c] == [13, 16, 20, 27, 29]
    assert [int(s.elapsed[0, 0]) for s in steps[:13]] == list(range(13))
    assert [int(s.elapsed[0, 0]) for s in steps[13:16]] == [0, 1, 2]
    # its frozen observation: basket of one tool 0 after the first pass, seen at the table (slot 3)
    obs = steps[15].obs[0, 0]
    assert obs[3] == 1 and obs[13] == 1 and obs[14:16].sum() == 0
    assert not any(s.done[0] for s in steps)


def test_pass_to_a_turtlebot_that_is_not_waiting_costs_10():
    env = make_batched("wtd-a", 1)
    env.reset(seed=0)
    # turtlebot 1 drives to the tool room's waiting spot, not to the table: the pass (steps 1-4) fails at its end
    steps = run_plan(env, [[TOOL_ROOM], [TOOL_ROOM], [PASS_T1, WAIT]], 6)
    assert [float(s.reward[0]) for s in steps] == [-1, -1, -1, -11, -1, -1]
    assert [bool(s.choosing[0, 2]) for s in steps] == [False, False, False, True, True, True]


def test_empty_pass_to_waiting_turtlebot_ends_its_get_tool_without_penalty():
    env = make_batched("wtd-a", 1)
    env.reset(seed=0)
    # turtlebot 0 waits at the table from step 4; a pass started on step 4 ends on step 7 with nothing staged
    steps = run_plan(env, [[GET_TOOL, TOOL_ROOM], [TOOL_ROOM], [WAIT, WAIT, WAIT, PASS_T0, WAIT]], 7)
    assert [float(s.reward[0]) for s in steps] == [-1.0] * 7
    assert [int(s.choosing[0, 0]) for s in steps] == [0, 0, 0, 0, 0, 0, 1]
    assert not steps[-1].obs[0, 0, 13:16].any()  # basket still empty


def test_truncation_at_horizon():
    env = make_batched("wtd-a", 1)
    env.reset(seed=0)
    steps = run_plan(env, [[TOOL_ROOM], [TOOL_ROOM], [WAIT]], 200)
    assert not any(s.done[0] for s in steps[:-1])
    assert steps[-1].truncated[0] and not steps[-1].terminated[0]
    assert sum(float(s.reward[0]) for s in steps) == -200.0
    with pytest.raises(ValueError, match="reset"):
        env.step(np.zeros((1, 3), np.int64))


def _obs_parts(o):
    """Scenario A turtlebot observation: location (5), human phases (2 x 4), basket (3), staged (2)."""
    return o[:5], o[5:13], o[13:16], o[16:18]


def test_episode_ends_when_every_human_has_its_last_tool():
    """A reactive team serves both humans: turtlebot 0 collects both copies of tool 0, 1, 2 in turn and hands
    them to human 0, then human 1 (waiting at the work area until the human reaches that phase); turtlebot 1
    idles. The episode terminates on the step of the sixth delivery and not before."""
    env = make_batched("wtd-a", 1)
    last = env.reset(seed=0)
    tool, searched, delivered = 0, 0, 0
    rewards, term_steps = [], []
    for t in range(1, 201):
        o_t0, o_f = last.obs[0, 0], last.obs[0, 2]
        acts = np.zeros((1, 3), np.int64)
        acts[0, 1] = TOOL_ROOM
        if last.choosing[0, 0]:
            basket = _obs_parts(o_t0)[2]
            if basket.sum() + delivered % 2 < 2:  # carry both copies of this round's tool
                acts[0, 0] = GET_TOOL
            else:  # go to (or keep waiting at) the next human's work area
                acts[0, 0] = WA0 if delivered % 2 == 0 else WA1
        if last.choosing[0, 2]:
            staged, beside = o_f[:3].sum(), o_f[3]
            if searched < 2 and staged < 2:
                acts[0, 2] = SEARCH0 + tool
                searched += 1
            elif staged > 0 and beside:
                acts[0, 2] = PASS_T0
            else:
                acts[0, 2] = WAIT
        last = env.step(acts)
        r = float(last.reward[0])
        rewards.append(r)
        assert r in (-1.0, 99.0, 79.0)  # step cost; +100 in time or +80 late (no failed pass)
        if r > 0:
            delivered += 1
            if delivered % 2 == 0:
                tool, searched = tool + 1, 0
        if last.terminated[0]:
            term_steps.append(t)
        if last.done[0]:
            break
    assert delivered == 6
    assert term_steps == [t] and rewards[-1] > 0  # ends exactly on the last delivery
    assert sum(rewards) == -t + sum(r + 1 for r in rewards if r > 0)
    assert last.extras["success"][0] == 1.0


@pytest.mark.parametrize("fix", [False, True])
def test_four_room_reference_quirks(fix):
    """Scenario E (actions: turtlebots 4 go to tool room, 5 get tool; Fetch 3 pass to turtlebot 2).

    Turtlebot 0 drives from (3.0, 4.0) to its table spot (0.8, 3.7), 2.22 m: 2 moves, arrival on step 3. The
    four-room reference starts waiting on the arrival step, so its get-tool times out on step 12; elsewhere (and
    with ``fix_reference_quirks``) the arrival step is a pause and the timeout comes on step 13. Turtlebot 2
    reaches its table spot on step 3 too; the Fetch's pass to it (steps 1-4) started before it was there, which
    the reference never checks for turtlebot 2 (no penalty) and the fix does (-10 on step 4).
    """
    env = make_batched("wtd-e", 1, fix_reference_quirks=fix)
    env.reset(seed=0)
    steps = run_plan(env, [[5, 4], [4], [5, 4], [3, 0]], 14)
    done_at = next(i + 1 for i, s in enumerate(steps) if s.choosing[0, 0])
    assert done_at == (13 if fix else 12)
    assert float(steps[3].reward[0]) == (-11.0 if fix else -1.0)
    assert bool(steps[3].choosing[0, 2]) == (not fix)  # the (empty) pass ended turtlebot 2's get-tool


# --------------------------------------------------------------------------- asynchrony bookkeeping
def _random_actions(rng, step, env, busy_junk=True):
    a = (rng.random((env.batch_size, env.n_agents, env.n_actions)) * step.action_mask).argmax(-1)
    if busy_junk:  # anything may be sent for a busy agent
        a = np.where(step.choosing, a, rng.integers(-5, 50, a.shape))
    return a


def test_busy_agents_ignore_their_actions_and_elapsed_counts():
    env1, env2 = make_batched("wtd-e", 4), make_batched("wtd-e", 4)
    s1, s2 = env1.reset(seed=0), env2.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(300):
        prev = s1
        a = _random_actions(rng, s1, env1, busy_junk=False)
        s1 = env1.step(a)
        s2 = env2.step(np.where(prev.choosing, a, 7 - a))
        assert np.array_equal(s1.obs, s2.obs) and np.array_equal(s1.state, s2.state)
        # elapsed restarts after macro_done, counts up otherwise; the action runs on unchanged while busy
        assert np.array_equal(s1.elapsed, np.where(prev.choosing, 0, prev.elapsed + 1))
        assert np.array_equal(s1.macro_action, np.where(prev.choosing, a, prev.macro_action))
        # the frozen observation changes only when the action ends; there it equals the real one
        assert np.array_equal(s1.obs[~s1.choosing], prev.obs[~s1.choosing])
        assert np.array_equal(s1.obs[s1.choosing], s1.real_obs[s1.choosing])
        if s1.done.any():
            s1, s2 = env1.reset(seed=1, where=s1.done), env2.reset(seed=1, where=s1.done)


FIELDS = ("obs", "real_obs", "state", "reward", "terminated", "truncated", "choosing", "macro_action", "elapsed", "t")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(SCENARIOS), seed=st.integers(0, 2**31 - 1), n_steps=st.integers(1, 400))
def test_batched_equals_separate_copies(name, seed, n_steps):
    """B = 3 batched core vs three B = 1 runs (the plain-Python stepper): same actions, same seeds, copies
    reset at random times (and when they finish) -> identical Steps."""
    B = 3
    batched = make_batched(name, B)
    singles = [make_batched(name, 1) for _ in range(B)]
    sb = batched.reset(seed=seed)
    ss = [e.reset(seed=seed + b) for b, e in enumerate(singles)]
    rng = np.random.default_rng(seed)
    for _ in range(n_steps):
        a = _random_actions(rng, sb, batched)
        sb = batched.step(a)
        ss = [e.step(a[b : b + 1]) for b, e in enumerate(singles)]
        for field in FIELDS:
            assert np.array_equal(getattr(sb, field), np.concatenate([getattr(s, field) for s in ss])), field
        where = sb.done | (rng.random(B) < 0.02)
        if where.any():
            seeds = rng.integers(0, 1000, B)
            sb = batched.reset(seed=seeds, where=where)
            ss = [e.reset(seed=int(seeds[b])) if where[b] else e.last for b, e in enumerate(singles)]
            for field in FIELDS:
                assert np.array_equal(getattr(sb, field), np.concatenate([getattr(s, field) for s in ss])), field


# --------------------------------------------------------------------------- bad input
def _snapshot(env):
    last = env.last
    return last.state.copy(), last.obs.copy(), last.choosing.copy(), env.tl.copy(), env.htl.copy()


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_bad_actions_raise_and_leave_state_unchanged():
    env = make_batched("wtd-a", 2)
    env.reset(seed=0)
    env.step(np.array([[GET_TOOL, TOOL_ROOM, SEARCH0]] * 2))
    env.step(np.zeros((2, 3), np.int64))
    # now turtlebot 1 has reached the tool room and chooses; turtlebot 0 and the Fetch are busy
    assert env.last.choosing.tolist() == [[False, True, False]] * 2
    before = _snapshot(env)
    cases = [
        (np.array([[0, 2, 0], [0, 9, 0]]), r"agent_1 \(copy 1\) is out of range; valid actions are 0\.\.5"),
        (np.array([[0, -1, 0], [0, 2, 0]]), r"agent_1 \(copy 0\) is out of range"),
        (np.array([[0, 4, 0], [0, 2, 0]]), r"masked for agent_1 \(copy 0\); allowed: \[0, 1, 2, 3\]"),
        (np.array([[0.0, 2.0, 0.0]] * 2), "integers"),
        (np.array([["a", "b", "c"]] * 2), "integers"),
        (np.array([[0, 2]] * 2), "shape"),
    ]
    for acts, msg in cases:
        with pytest.raises(ValueError, match=msg):
            env.step(acts)
        assert _same(before, _snapshot(env))
    # busy agents may be sent anything; the step then matches a copy that never saw the bad input
    after = env.step(np.array([[99, 2, -7], [-3, 2, 42]]))
    fresh = make_batched("wtd-a", 2)
    fresh.reset(seed=0)
    fresh.step(np.array([[GET_TOOL, TOOL_ROOM, SEARCH0]] * 2))
    fresh.step(np.zeros((2, 3), np.int64))
    ref = fresh.step(np.array([[0, 2, 0], [0, 2, 0]]))
    assert np.array_equal(after.state, ref.state) and np.array_equal(after.obs, ref.obs)


def test_pettingzoo_view_rejects_missing_and_wrong_type_actions():
    pz = make("wtd-a")
    pz.reset(seed=0)
    state = pz.state()
    with pytest.raises(ValueError, match="missing action for agent_1"):
        pz.step({"agent_0": 0, "agent_2": 0})
    with pytest.raises(ValueError, match="agent_0 must be an int in 0..5"):
        pz.step({"agent_0": 1.5, "agent_1": 0, "agent_2": 0})
    with pytest.raises(ValueError, match="agent_2 must be an int"):
        pz.step({"agent_0": 0, "agent_1": 0, "agent_2": "search"})
    assert np.array_equal(state, pz.state())
    obs, rew, term, trunc, info = pz.step({"agent_0": 0, "agent_1": 0, "agent_2": 3})
    assert info["agent_0"]["macro_action"] == 0 and not info["agent_0"]["macro_done"]
    assert np.array_equal(info["agent_2"]["real_obs"], obs["agent_2"])


def test_unknown_scenario_and_bad_settings():
    with pytest.raises(ValueError, match="valid scenarios:.*wtd-a"):
        make_batched("wtd-z")
    with pytest.raises(ValueError, match="unknown settings.*valid settings"):
        make_batched("wtd-a", 1, speed=1.0)
    with pytest.raises(ValueError, match="layout must be one of"):
        make_batched("wtd-a", 1, layout="OSD-X")
    with pytest.raises(ValueError, match="human_phase_steps.*2 for layout OSD-D-v7"):
        make_batched("wtd-a", 1, human_phase_steps=((27, 20, 20, 20),))
    with pytest.raises(ValueError, match="pass_steps"):
        WTDSettings(pass_steps=1)
    with pytest.raises(ValueError, match="batch_size"):
        make_batched("wtd-a", 0)


# --------------------------------------------------------------------------- rendering and sanity
def test_render_rgb_and_ansi():
    env = make_batched("wtd-e", 2)
    env.reset(seed=0)
    run_rng = np.random.default_rng(0)
    for _ in range(20):
        env.step(_random_actions(run_rng, env.last, env))
    img = env.render_rgb(1)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and img.std() > 10
    text = env.render_ansi(1)
    assert "turtlebot 2 (agent_2)" in text and "fetch (agent_3)" in text and "human 3" in text
    with pytest.raises(ValueError, match="index"):
        env.render_rgb(2)
    pz = make("wtd-a", render_mode="ansi")
    pz.reset(seed=0)
    assert "human 1" in pz.render()


@pytest.mark.parametrize("name,low,high", [("wtd-a", -160, -90), ("wtd-e", -260, -180)])
def test_random_policy_return_near_reference(name, low, high):
    """Reference sanity values: a uniformly random team returns about -120 (A) and -224 (E)."""
    B = 300
    env = make_batched(name, B)
    s = env.reset(seed=0)
    rng = np.random.default_rng(0)
    ret, over = np.zeros(B), np.zeros(B, bool)
    while not over.all():
        s = env.step(_random_actions(rng, s, env))
        ret += np.where(over, 0.0, s.reward)
        over |= s.done
        if s.done.any():
            s = env.reset(seed=0, where=s.done)
    assert low < ret.mean() < high
