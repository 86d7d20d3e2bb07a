"""Off-beat games: registry, PettingZoo API, infos fields, rendering and the bad-input rules."""
from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from asyncmarl.platform.envs import env_info, make, make_batched, names, spec

GAMES = ["stag-hunter", "quarry", "afforestation"]
METRIC = {"stag-hunter": "catch_rate", "quarry": "success", "afforestation": "success"}


def test_registered_as_offbeat_family():
    for name in GAMES:
        assert name in names()
        assert spec(name).family == "offbeat"
        assert env_info(name).family == "offbeat"
    info = env_info("afforestation")
    assert (info.n_agents, info.n_actions, info.horizon) == (3, 13, 50)


@pytest.mark.parametrize("name", GAMES)
@pytest.mark.parametrize("random_durations", [False, True])
def test_parallel_api(name, random_durations):
    overrides = {}
    if random_durations:  # every action but wait takes 0..2 extra steps at random
        n_agents, n_actions = env_info(name).n_agents, env_info(name).n_actions
        row = ((1.0, 0.0, 0.0),) + ((0.2, 0.3, 0.5),) * (n_actions - 1)
        overrides["duration_probs"] = (row,) * n_agents
    parallel_api_test(make(name, **overrides), num_cycles=200)


@pytest.mark.parametrize("name", GAMES)
def test_action_zero_is_a_wait_that_changes_nothing_but_time(name):
    core = make_batched(name, 1)
    step = core.reset(seed=0)
    for _ in range(5):
        before = {k: v.copy() for k, v in core.snapshot().items()}
        step = core.step(np.zeros((1, core.n_agents), np.int64))
        after = core.snapshot()
        assert step.choosing.all() and step.reward[0] == 0
        for k in core._game_keys:
            if k != "age":  # plot ages count time even on empty plots
                np.testing.assert_array_equal(before[k], after[k], err_msg=k)
        assert after["t"][0] == before["t"][0] + 1


@pytest.mark.parametrize("name", GAMES)
def test_infos_fields_and_episode_end_metric(name):
    env = make(name, render_mode="ansi")
    obs, infos = env.reset(seed=3)
    keys = {"macro_done", "macro_action", "elapsed", "action_mask", "macro_obs", "real_obs"}
    for a in env.agents:
        assert keys <= set(infos[a])
        np.testing.assert_array_equal(infos[a]["real_obs"], obs[a])
    rng = np.random.default_rng(0)
    while env.agents:
        actions = {a: env.action_space(a).sample() for a in env.agents}
        obs, rewards, terms, truncs, infos = env.step(actions)
        for a in obs:
            if infos[a]["macro_done"]:  # at decision points the two observations agree
                np.testing.assert_array_equal(infos[a]["macro_obs"], infos[a]["real_obs"])
        _ = rng
    assert all(METRIC[name] in infos[a] for a in infos)
    assert 0.0 <= infos["agent_0"][METRIC[name]] <= 1.0
    assert isinstance(env.render(), str)
    assert env.state().shape == (env.core.state_dim,)


@pytest.mark.parametrize("name", GAMES)
def test_rgb_render(name):
    env = make(name, render_mode="rgb_array")
    env.reset(seed=0)
    env.step({a: env.action_space(a).sample() for a in env.agents})
    img = env.render()
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and img.std() > 0


def test_action_space_sample_respects_role_masks():
    env = make("afforestation")
    env.reset(seed=1)
    P = env.core.n_plots
    for _ in range(200):
        a0, a2 = env.action_space("agent_0").sample(), env.action_space("agent_2").sample()
        assert a0 <= P  # planter: wait or plant
        assert a2 == 0 or a2 > P  # waterer: wait or water


def test_spent_arrow_is_masked():
    env = make_batched("stag-hunter", 1)
    env.reset(seed=0)
    step = env.step(np.array([[0, 1]]))  # hunter 1 shoots (3 steps of flight)
    assert step.action_mask[0, 1].tolist() == [True, False]
    assert step.action_mask[0, 0].tolist() == [True, True]


def _assert_state_unchanged(core, before):
    after = core.snapshot()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k], err_msg=k)


@pytest.mark.parametrize("name", GAMES)
def test_bad_actions_raise_and_leave_state_unchanged(name):
    env = make(name)
    env.reset(seed=0)
    core = env.core
    before = core.snapshot()
    n = core.n_actions
    with pytest.raises(ValueError, match="missing action for agent_1"):
        env.step({a: 0 for a in env.agents if a != "agent_1"})
    with pytest.raises(ValueError, match=rf"agent_0.*valid actions are 0..{n - 1}"):
        env.step({a: (n if a == "agent_0" else 0) for a in env.agents})
    with pytest.raises(ValueError, match="agent_0.*must be an int"):
        env.step({a: ("1" if a == "agent_0" else 0) for a in env.agents})
    with pytest.raises(ValueError, match="agent_0.*must be an int"):
        env.step({a: (0.0 if a == "agent_0" else 0) for a in env.agents})
    with pytest.raises(ValueError, match="unknown agents"):
        env.step({**{a: 0 for a in env.agents}, "agent_9": 0})
    with pytest.raises(ValueError, match="shape"):
        core.step(np.zeros((1, core.n_agents + 1), np.int64))
    with pytest.raises(ValueError, match="integers"):
        core.step(np.zeros((1, core.n_agents), np.float32))
    with pytest.raises(ValueError, match="out of range"):
        core.step(-np.ones((1, core.n_agents), np.int64))
    _assert_state_unchanged(core, before)


def test_masked_action_raises_naming_agent():
    env = make_batched("afforestation", 2)
    env.reset(seed=0)
    before = env.snapshot()
    actions = np.zeros((2, 3), np.int64)
    actions[1, 2] = 1  # the waterer may not plant
    with pytest.raises(ValueError, match=r"masked for agent_2 \(copy 1\)"):
        env.step(actions)
    _assert_state_unchanged(env, before)


def test_busy_agents_actions_are_ignored():
    env = make("stag-hunter")
    env.reset(seed=0)
    env.step({"agent_0": 1, "agent_1": 0})  # hunter 0's arrow flies 8 steps
    _, _, _, _, infos = env.step({"agent_1": 0})  # hunter 0 busy: may omit its action
    assert infos["agent_0"]["macro_action"] == 1 and infos["agent_0"]["elapsed"] == 1
    _, _, _, _, infos = env.step({"agent_0": 999, "agent_1": 0})  # or send anything
    assert infos["agent_0"]["elapsed"] == 2


@pytest.mark.parametrize(
    "name, settings, match",
    [
        ("quarry", {"strikes": (1, 2)}, "unknown settings"),
        ("quarry", {"hardness": (0, 1)}, "hardness"),
        ("quarry", {"horizon": 0}, "horizon"),
        ("stag-hunter", {"n_hunters": 3}, "arrow_flight must have 3 entries"),
        ("stag-hunter", {"arrow_flight": (8, -1)}, "arrow_flight"),
        ("stag-hunter", {"durations": ((0, 8),)}, r"durations must be an \[n_agents\]\[n_actions\]"),
        ("stag-hunter", {"durations": ((0, 8), (0, -3))}, "durations must be >= 0"),
        ("stag-hunter", {"duration_probs": (((1.0,), (0.5, 0.4)),) * 2}, "duration_probs"),
        ("afforestation", {"n_plots": 0}, "n_plots"),
        ("afforestation", {"water_window": -1}, "water_window"),
    ],
)
def test_bad_settings_raise(name, settings, match):
    with pytest.raises(ValueError, match=match):
        make_batched(name, 1, **settings)


def test_stepping_a_finished_copy_raises():
    env = make_batched("stag-hunter", 2, arrow_flight=(0, 0))
    env.reset(seed=0)
    step = env.step(np.array([[1, 1], [0, 0]]))
    assert step.done.tolist() == [True, False]
    with pytest.raises(ValueError, match="copy 0 finished"):
        env.step(np.zeros((2, 2), np.int64))
    step = env.reset(seed=5, where=step.done)
    assert step.t.tolist() == [0, 1] and not step.done.any()
