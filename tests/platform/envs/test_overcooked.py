"""Macro-action Overcooked: PettingZoo API, scripted episodes with hand-computed returns, batching, errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import parallel_api_test

from asyncmarl.platform.envs import make, make_batched
from asyncmarl.platform.envs.overcooked import layout as L
from asyncmarl.platform.envs.overcooked.core import OvercookedEnv
from asyncmarl.platform.envs.overcooked.settings import OvercookedSettings

NAMES = ["overcooked-a", "overcooked-b", "overcooked-c"]
# macro-action indices (maps B and C insert "go to counter" at 10, shifting the one-step moves)
STAY, TOMATO, LETTUCE, ONION, PLATE1, PLATE2, KNIFE1, KNIFE2, DELIVER, CHOP, COUNTER = range(11)


def play(env, plans, max_steps=200):
    """Step copy 0 feeding each agent its next planned macro-action whenever it chooses ("stay" once its plan
    is used up); stop at the episode's end or when every plan is spent and every agent is choosing."""
    queues = [list(p) for p in plans]
    step = env.reset(seed=0)
    steps = []
    while len(steps) < max_steps:
        acts = [queues[i].pop(0) if step.choosing[0, i] and queues[i] else STAY for i in range(3)]
        step = env.step(np.array([acts]))
        steps.append(step)
        if step.done[0] or (not any(queues) and step.choosing[0].all()):
            break
    return steps


@pytest.mark.parametrize("name", NAMES)
def test_pettingzoo_parallel_api(name):
    parallel_api_test(make(name), num_cycles=60)


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_registration(name):
    env = make_batched(name, 2)
    assert (env.n_agents, env.obs_dim, env.state_dim, env.horizon) == (3, 32, 32, 200)
    assert env.n_actions == (14 if name.endswith("a") else 15)
    assert env.agents == ["agent_0", "agent_1", "agent_2"]
    step = env.reset(seed=3)
    assert step.obs.shape == (2, 3, 32) and step.state.shape == (2, 32)
    assert np.array_equal(step.obs, step.real_obs) and step.choosing.all()
    assert step.obs[0, 0, 25:].tolist() == [0, 0, 0, 0, 0, 0, 1]  # lettuce-onion-tomato salad


def test_complete_salad_map_a():
    """agent_1 makes the salad alone; agent_0 steps down 3 and left 1 to (4,1) and agent_2 left to (5,1), out
    of its way (in row 1 agent_0 would block it for good: a blocked agent waits, it does not re-route).

    Durations, from the kitchen geometry (agent_1 starts at (1,4); a navigation macro walks to a cell next to
    its target, then one more step interacts): get tomato 2 (move to (1,5), pick up), go to knife 1 5 (4 moves
    along row 1, put on the board), chop 3 (+10), get lettuce 5, go to knife 2 6 (5 moves to (2,1), put), chop 3
    (+10), get plate 1 8 (7 moves to (5,5), pick up), get tomato 9 (8 moves back to (1,1), the chopped tomato
    goes from knife 1 into the held plate), get lettuce 2 (same from knife 2), go to knife 1 2 (put the plate
    on the free board), get onion 6 (5 moves to (2,5), pick up), go to knife 2 5, chop 3 (+10), get onion 1
    (pick the chopped onion up), go to knife 1 2 (the onion joins the plate, which agent_1 picks up), deliver
    3 (2 moves to (3,1), deliver: +200, the episode ends). T = 65 steps.
    """
    env = make_batched("overcooked-a", 1)
    plan = [TOMATO, KNIFE1, CHOP, LETTUCE, KNIFE2, CHOP, PLATE1, TOMATO, LETTUCE, KNIFE1, ONION, KNIFE2, CHOP,
            ONION, KNIFE1, DELIVER]
    down, left = 11, 12  # one-step moves on map A
    steps = play(env, [[down, down, down, left], plan, [left]])
    rewards = np.array([float(s.reward[0]) for s in steps])
    assert len(steps) == 65
    chop_steps = [10, 24, 59]  # 2+5+3, +5+6+3, ... +6+5+3
    expected = np.full(65, -0.1)
    expected[np.array(chop_steps) - 1] += 10
    expected[-1] += 200
    np.testing.assert_allclose(rewards, expected, atol=1e-5)
    assert rewards.sum() == pytest.approx(30 + 200 - 0.1 * 65, abs=1e-4)  # 223.5
    assert [bool(s.terminated[0]) for s in steps] == [False] * 64 + [True]
    assert not any(bool(s.truncated[0]) for s in steps)
    # macro-action boundaries of agent_1 follow the durations above
    ends = np.flatnonzero([bool(s.choosing[0, 1]) for s in steps]) + 1
    durations = [2, 5, 3, 5, 6, 3, 8, 9, 2, 2, 6, 5, 3, 1, 2, 3]
    assert ends.tolist() == np.cumsum(durations).tolist()


def test_passing_over_the_counter_map_b():
    """Map B: agent_1 (right side) fetches the tomato and puts it on the divider; agent_0 (left) takes it.

    agent_1: get tomato 2, go to counter 4 (3 moves to (3,4), put on (3,3)). agent_0 stays 10 steps, then get
    tomato 3 (2 moves down to (3,2), pick up from the divider), go to knife 1 4 (3 moves to (1,1), put), chop 3
    (+10). T = 20: return 10 - 2.0.
    """
    env = make_batched("overcooked-b", 1)
    steps = play(env, [[STAY] * 10 + [TOMATO, KNIFE1, CHOP], [TOMATO, COUNTER], []])
    assert len(steps) == 20
    assert sum(float(s.reward[0]) for s in steps) == pytest.approx(8.0, abs=1e-4)
    assert float(steps[-1].reward[0]) == pytest.approx(9.9, abs=1e-5)
    env.sync()  # B = 1 runs the plain-Python stepper: write its state into the arrays read below
    k = env.kitchen
    assert k.knife_hold[0, :2].tolist() == [L.T, -1] and k.chop[0, L.T] == 3 and (k.hold[0] == -1).all()
    # agent_1 put the tomato on the divider at step 6; agent_0 ended "get tomato" holding it at step 13
    assert steps[5].state[0, :2].tolist() == pytest.approx([3 / 7, 3 / 7])
    assert bool(steps[12].choosing[0, 0]) and not steps[11].choosing[0, 0]


@pytest.mark.parametrize("name", ["overcooked-b", "overcooked-c"])
def test_go_to_counter_reference_takes_one_more_step(name):
    """Default (the reference): its "go to counter " end check (trailing space) never matches, so an empty-handed
    agent_1 walks (1,4) -> (3,4) in 2 steps, bumps into the divider at step 3 (no move, nothing put down) and
    chooses again only then."""
    env = make_batched(name, 1)
    assert env.settings.counter_ends_on_arrival is False
    steps = play(env, [[], [COUNTER], []])
    assert len(steps) == 3 and [bool(s.choosing[0, 1]) for s in steps] == [False, False, True]
    assert [float(s.reward[0]) for s in steps] == pytest.approx([-0.1] * 3, abs=1e-6)
    env.sync()
    assert env.kitchen.apos[0, 1] == L.cell(3, 4) and (env.kitchen.hold[0] == -1).all()
    assert np.array_equal(steps[1].state, steps[2].state)  # the extra step changes nothing in the kitchen


@pytest.mark.parametrize("name", ["overcooked-b", "overcooked-c"])
def test_go_to_counter_ends_on_arrival_with_the_fix(name):
    """``counter_ends_on_arrival=True`` (our fix): the same walk ends on arrival next to the divider, a step
    sooner; an agent carrying an item still puts it down first (the map-B passing episode is unchanged)."""
    env = make_batched(name, 1, counter_ends_on_arrival=True)
    steps = play(env, [[], [COUNTER], []])
    assert len(steps) == 2 and [bool(s.choosing[0, 1]) for s in steps] == [False, True]
    env.sync()
    assert env.kitchen.apos[0, 1] == L.cell(3, 4)
    carrying = [[STAY] * 10 + [TOMATO, KNIFE1, CHOP], [TOMATO, COUNTER], []]
    ref = play(make_batched(name, 1), carrying)
    fixed = play(make_batched(name, 1, counter_ends_on_arrival=True), carrying)
    assert len(ref) == len(fixed) == 20
    assert [float(s.reward[0]) for s in ref] == [float(s.reward[0]) for s in fixed]


def test_go_to_counter_setting_is_checked():
    with pytest.raises(ValueError, match="counter_ends_on_arrival must be true or false, got 'yes'"):
        make_batched("overcooked-b", 1, counter_ends_on_arrival="yes")


def test_wrong_delivery_respawns_the_plate():
    """agent_2 gets plate 1 (3 moves to (5,5), pick up: 4 steps) and delivers it empty (6 moves to (3,1),
    deliver: 7 steps): -5 and the plate returns to (5,6). Return -5 - 1.1."""
    env = make_batched("overcooked-a", 1)
    steps = play(env, [[], [], [PLATE1, DELIVER]])
    assert len(steps) == 11
    assert float(steps[-1].reward[0]) == pytest.approx(-5.1, abs=1e-5)
    assert sum(float(s.reward[0]) for s in steps) == pytest.approx(-6.1, abs=1e-4)
    assert not steps[-1].terminated[0]
    env.sync()  # B = 1 runs the plain-Python stepper: write its state into the arrays read below
    k = env.kitchen
    assert k.hold[0, 2] == -1 and k.positions()[0, L.P1] == L.cell(5, 6) and k.grid[0, L.cell(5, 6)] == L.PLATE
    assert steps[-1].state[0, 9:11].tolist() == pytest.approx([5 / 7, 6 / 7])


def test_wrong_dish_respawns_plate_and_food():
    """The salad episode of map A, but agent_1 delivers after plating only tomato and lettuce (step 43, holding
    plate 1 at (2,1)): 1 move to (3,1) and the delivery, T = 45. Return 2 x 10 - 5 - 4.5 = 10.5; the plate, the
    tomato and the lettuce go back to their start cells, unchopped."""
    env = make_batched("overcooked-a", 1)
    down, left = 11, 12
    plan = [TOMATO, KNIFE1, CHOP, LETTUCE, KNIFE2, CHOP, PLATE1, TOMATO, LETTUCE, DELIVER]
    steps = play(env, [[down, down, down, left], plan, [left]])
    assert len(steps) == 45 and not steps[-1].done[0]
    assert sum(float(s.reward[0]) for s in steps) == pytest.approx(10.5, abs=1e-4)
    assert float(steps[-1].reward[0]) == pytest.approx(-5.1, abs=1e-5)
    env.sync()
    k, lay = env.kitchen, env.lay
    pos = k.positions()[0]
    assert pos[[L.T, L.L, L.P1]].tolist() == lay.init_pos[[L.T, L.L, L.P1]].tolist()
    assert k.chop[0, :3].tolist() == [0, 0, 0] and (k.in_plate[0] == -1).all() and (k.hold[0] == -1).all()
    assert k.grid[0, lay.init_pos[[L.T, L.L, L.P1]]].tolist() == [L.TOMATO, L.LETTUCE, L.PLATE]


def test_horizon_truncates():
    env = make_batched("overcooked-c", 1)
    step = env.reset(seed=0)
    total = 0.0
    for _ in range(200):
        assert not step.done[0]
        step = env.step(np.zeros((1, 3), np.int64))
        total += float(step.reward[0])
    assert step.truncated[0] and not step.terminated[0] and step.t[0] == 200
    assert total == pytest.approx(-20.0, abs=1e-3)


def test_astar_prefers_cells_without_teammates():
    """The reference's A* breaks ties away from cells it believes teammates stand on."""
    floor = L.load("A").floor
    assert L.astar_first_move(floor, L.cell(1, 1), L.cell(6, 5)) == 1  # down first
    assert L.astar_first_move(floor, L.cell(1, 1), L.cell(6, 5), agents=(L.cell(2, 1),)) == 0  # right
    # a believed item on the only cell next to the delivery leaves no path
    assert L.astar_first_move(floor, L.cell(1, 5), L.cell(3, 0), blocked=(L.cell(3, 1),)) == L.STAY


def _rollout(env, actions, resets=True):
    """Feed ``actions`` [T, B, 3]; returns the stacked per-step arrays."""
    out = []
    step = env.reset(seed=0)
    for a in actions:
        step = env.step(a)
        out.append((step.obs, step.real_obs, step.state, step.reward, step.done, step.choosing, step.elapsed,
                     step.macro_action))
        if resets and step.done.any():
            step = env.reset(seed=1, where=step.done)
    return [np.stack(x) for x in zip(*out, strict=True)]


@settings(max_examples=6, deadline=None)
@given(st.sampled_from(NAMES), st.integers(0, 2**31 - 1), st.integers(2, 4))
def test_batched_equals_separate_runs(name, seed, batch):
    rng = np.random.default_rng(seed)
    n_actions = make_batched(name, 1).n_actions
    actions = rng.integers(0, n_actions, (120, batch, 3))
    # a short horizon makes copies end (and reset in place) along the way
    together = _rollout(make_batched(name, batch, horizon=45), actions)
    for b in range(batch):
        alone = _rollout(make_batched(name, 1, horizon=45), actions[:, b:b + 1])
        for x, y in zip(together, alone, strict=True):
            np.testing.assert_array_equal(x[:, b:b + 1], y)


def test_busy_agents_ignore_actions_and_bookkeeping():
    rng = np.random.default_rng(0)
    env_a, env_b = make_batched("overcooked-a", 1), make_batched("overcooked-a", 1)
    sa, sb = env_a.reset(seed=0), env_b.reset(seed=0)
    elapsed_expect = np.zeros(3, np.int64)
    for _ in range(200):
        choice = rng.integers(0, 14, (1, 3))
        noise = rng.integers(0, 14, (1, 3))
        a = choice
        b = np.where(sb.choosing, choice, noise)  # busy agents get something else
        was_choosing = sa.choosing[0].copy()
        sa, sb = env_a.step(a), env_b.step(b)
        np.testing.assert_array_equal(sa.obs, sb.obs)
        np.testing.assert_array_equal(sa.macro_action, sb.macro_action)
        # elapsed restarts at 0 after macro_done and counts up while the macro-action runs
        elapsed_expect = np.where(was_choosing, 0, elapsed_expect + 1)
        assert sa.elapsed[0].tolist() == elapsed_expect.tolist()
        # the macro-observation is frozen while busy and equals the real observation at decision points
        np.testing.assert_array_equal(sa.obs[0][sa.choosing[0]], sa.real_obs[0][sa.choosing[0]])
        if sa.done[0]:
            break


def test_macro_observation_frozen_while_busy():
    env = make_batched("overcooked-a", 1)
    step = env.reset(seed=0)
    first = step.obs.copy()
    step = env.step(np.array([[STAY, PLATE1, STAY]]))  # agent_1 walks toward the plate for several steps
    assert not step.choosing[0, 1]
    np.testing.assert_array_equal(step.obs[0, 1], first[0, 1])
    assert not np.array_equal(step.real_obs[0, 1], first[0, 1])


def _snapshot(env):
    env.sync()  # B = 1 runs the plain-Python stepper: write its state into the arrays read below
    k = env.kitchen
    return [x.copy() for x in (k.grid, k.apos, k.ipos, k.holder, k.hold, k.in_plate, k.chop, k.knife_hold,
                               env.bel, env.cur_mac, env.mac_done, env.macro_obs, env.t, env.last.state)]


@pytest.mark.parametrize("bad, message", [
    (np.array([[99, 0, 0]]), r"agent_0.*0\.\.14"),
    (np.array([[-1, 0, 0]]), r"agent_0.*0\.\.14"),
    (np.array([[0.5, 1.0, 0.0]]), "integers"),
    (np.array([["a", "b", "c"]]), "integers"),
    (np.array([0, 1, 2]), "shape"),
])
def test_bad_actions_raise_and_leave_state(bad, message):
    env = make_batched("overcooked-b", 1)
    env.reset(seed=0)
    env.step(np.array([[STAY, LETTUCE, PLATE1]]))  # agent_0 chooses again, the others are busy
    before = _snapshot(env)
    with pytest.raises(ValueError, match=message):
        env.step(bad)
    for x, y in zip(before, _snapshot(env), strict=True):
        np.testing.assert_array_equal(x, y)


def test_parallel_view_errors():
    env = make("overcooked-a")
    env.reset(seed=0)
    state = env.state()
    with pytest.raises(ValueError, match="missing action for agent_2"):
        env.step({"agent_0": 0, "agent_1": 0})
    with pytest.raises(ValueError, match=r"agent_0.*0\.\.13"):
        env.step({"agent_0": 1.0, "agent_1": 0, "agent_2": 0})
    with pytest.raises(ValueError, match="agent_0"):
        env.step({"agent_0": "up", "agent_1": 0, "agent_2": 0})
    with pytest.raises(ValueError, match=r"out of range; valid actions are 0\.\.13"):
        env.step({"agent_0": 14, "agent_1": 0, "agent_2": 0})
    np.testing.assert_array_equal(state, env.state())


def test_unknown_scenario_and_settings():
    with pytest.raises(ValueError, match="overcooked-a"):
        make_batched("overcooked-d")
    with pytest.raises(ValueError, match="n_agent"):
        make_batched("overcooked-a", 1, n_agent=2)
    with pytest.raises(ValueError, match="map_type"):
        OvercookedEnv(1, OvercookedSettings(map_type="D"))
    with pytest.raises(ValueError, match="task"):
        make_batched("overcooked-a", 1, task=7)
    with pytest.raises(ValueError, match="obs_radius"):
        make_batched("overcooked-a", 1, obs_radius=-1)


def test_full_view_observation_equals_state():
    env = make_batched("overcooked-a", 1, obs_radius=0)
    step = env.reset(seed=0)
    step = env.step(np.array([[TOMATO, LETTUCE, ONION]]))
    for i in range(3):
        np.testing.assert_array_equal(step.real_obs[0, i], step.state[0])


def test_render():
    env = make("overcooked-b", render_mode="rgb_array")
    env.reset(seed=0)
    img = env.render()
    from asyncmarl.platform.envs.overcooked.render import CELL, scene_rgb

    # the kitchen, legend and status below
    assert scene_rgb(env.core, 0).shape == (7 * CELL, 7 * CELL, 3) and CELL >= 48
    assert img.dtype == np.uint8 and img.shape[0] > 7 * CELL and img.shape[1] >= 7 * CELL and img.std() > 10
    text = make_batched("overcooked-b", 1)
    text.reset(seed=0)
    frame = text.render_ansi(0)
    assert frame.splitlines()[1] == "K.0#1.L" and "agent_2: holds nothing" in frame


def test_navigator_memo_matches_the_search():
    """The memo table answers exactly what the search gives, with and without believed floor items."""
    rng = np.random.default_rng(0)
    floor = L.load("C").floor
    nav = L.Navigator(floor)
    cells = np.flatnonzero(floor)
    start = rng.choice(cells, (40, 3))
    target = rng.integers(0, L.N_CELLS, (40, 3))
    mates = rng.choice(np.append(cells, L.Navigator.NONE), (40, 3, 2))
    blocked = np.where(rng.random((40, 3, 2)) < 0.2, rng.choice(cells, (40, 3, 2)), L.Navigator.NONE)
    for got_blocked in (None, blocked):
        moves = nav(start, target, mates, got_blocked)
        for ix in np.ndindex(40, 3):
            agents = tuple(int(c) for c in mates[ix] if c < L.N_CELLS and c != start[ix])
            walls = () if got_blocked is None else tuple(int(c) for c in blocked[ix] if c < L.N_CELLS)
            assert moves[ix] == L.astar_first_move(floor, int(start[ix]), int(target[ix]), agents, walls)
