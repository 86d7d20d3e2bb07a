"""2m-vs-1z: SMAC's layout and masks, hand-computed fights (shields, armour, kill and win bonus, normalisation),
the off-beat attack's duration, and the PettingZoo API."""
from __future__ import annotations

import math

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from asyncmarl.platform.envs import env_info, make, make_batched, names, spec
from asyncmarl.platform.envs.offbeat.marines_vs_zealot import ATTACK, EAST, NOOP, STOP, WEST
from asyncmarl.platform.envs.offbeat.marines_vs_zealot_script import kiting_actions

NAME = "2m-vs-1z"
FAR = (30.0, 30.0)  # a spot no unit reaches during these tests


def _place(env, **arrays):
    """Overwrite game arrays of copy 0 (pos, hp, shield) and return the Step of the new state."""
    snap = env.snapshot()
    for key, value in arrays.items():
        snap[key][0] = value
    return env.load(snap)


def test_registered_with_smac_dimensions():
    assert NAME in names() and spec(NAME).family == "offbeat"
    info = env_info(NAME)
    # SMAC 2m_vs_1z: obs 4 move + 6 enemy (with shield) + 5 ally + 1 own; state 2 x 4 + 4 + 2 x 7 last actions
    assert (info.n_agents, info.n_actions, info.obs_dim, info.state_dim, info.horizon) == (2, 7, 16, 26, 150)
    assert make_batched(NAME, 1).durations.tolist() == [[0, 0, 0, 0, 0, 0, 9]] * 2


def test_reset_observation_and_state_follow_smac_layout():
    env = make_batched(NAME, 1)
    step = env.reset(seed=0)
    d0 = math.hypot(8, 1)  # Marine 0 at (9, 15), Zealot at (17, 16), Marine 1 at (9, 17)
    expected0 = [1, 1, 1, 1,  # move N, S, E, W available
                 0, d0 / 9, 8 / 9, 1 / 9, 1, 1,  # enemy: out of shooting range (8.06 > 6), seen (< 9)
                 1, 2 / 9, 0, 2 / 9, 1,  # ally: visible, distance 2, straight north
                 1]  # own health
    np.testing.assert_allclose(step.obs[0, 0], expected0, rtol=1e-6)
    np.testing.assert_allclose(step.obs[0, 1, 10:15], [1, 2 / 9, 0, -2 / 9, 1], rtol=1e-6)
    state = step.state[0]
    np.testing.assert_allclose(state[:4], [1, 0, (9 - 16) / 32, (15 - 16) / 32], rtol=1e-6)
    np.testing.assert_allclose(state[8:12], [1, (17 - 16) / 32, 0, 1], rtol=1e-6)
    assert not state[12:].any()  # no action taken yet
    assert step.action_mask[0].tolist() == [[False, True, True, True, True, True, False]] * 2


def test_masks_attack_only_in_range_dead_only_noop_walls_block_moves():
    env = make_batched(NAME, 1)
    env.reset(seed=0)
    step = _place(env, pos=[[11.0, 16.0], [0.5, 31.5], [17.0, 16.0]])  # Marine 0 exactly 6 from the Zealot
    assert step.action_mask[0, 0].tolist() == [False, True, True, True, True, True, True]
    # Marine 1 in the north-west corner: north (y + 1 = 32.5) and west (x - 1 = -0.5) leave the map; Zealot out of range
    assert step.action_mask[0, 1].tolist() == [False, True, False, True, True, False, False]
    np.testing.assert_array_equal(step.obs[0, 1, :4], [0, 1, 1, 0])
    step = _place(env, pos=[[10.99, 16.0], [0.5, 31.5], [17.0, 16.0]])  # just out of range
    assert not step.action_mask[0, 0, ATTACK] and step.obs[0, 0, 4] == 0
    step = _place(env, hp=[0.0, 45.0, 100.0])
    assert step.action_mask[0, 0].tolist() == [True] + [False] * 6
    assert not step.obs[0, 0].any()  # a dead Marine sees nothing
    assert not step.obs[0, 1, 10:15].any()  # and is not seen
    with pytest.raises(ValueError, match=r"action 1 is masked for agent_0.*allowed: \[0\]"):
        env.step(np.array([[STOP, STOP]]))


def _immobile(**settings):
    """A Zealot that cannot walk or reach anyone: the Marines' fire is all that happens."""
    env = make_batched(NAME, 1, zealot_speed=1e-9, **settings)
    env.reset(seed=0)
    _place(env, pos=[[12.0, 15.0], [12.0, 17.0], [17.0, 16.0]])
    return env


def test_volley_lands_after_nine_steps_with_shields_then_armour():
    """Marine 0 attacks twice (duration 9: 10 steps each). Its weapon fires every 0.61 s = 1.708 steps: shots
    at steps 0, 1, 3, 5, 6, 8 (6 shots) and 10, 11, 13, 15, 17, 18 (6 shots). First volley: 36 shield
    damage (50 -> 14), reward 36 / 18 = 2. Second: 2 shots to the shields (14 -> 2), one shot splits (2 on the
    shields, 4 - 1 armour = 3 on HP), three shots of 6 - 1 = 5 on HP: 14 + 18 = 32 dealt, reward 32 / 18."""
    env = _immobile()
    rewards, choosing, held = [], [], []
    for _ in range(20):
        step = env.step(np.array([[ATTACK, STOP]]))  # busy steps' actions are ignored
        rewards.append(float(step.reward[0]))
        choosing.append(bool(step.choosing[0, 0]))
        held.append(int(env.pending[0, 0]))
    assert choosing == [False] * 9 + [True] + [False] * 9 + [True]
    assert held[:9] == [1, 2, 2, 3, 3, 4, 5, 5, 6] and held[10:19] == [1, 2, 2, 3, 3, 4, 4, 5, 6]
    assert rewards[9] == pytest.approx(2.0) and rewards[19] == pytest.approx(32 / 18)
    assert sum(rewards) == pytest.approx(2.0 + 32 / 18)
    assert (env.hp[0, 2], env.shield[0]) == (82.0, 0.0)
    assert step.elapsed[0, 0] == 9 and step.macro_action[0, 0] == ATTACK


def test_full_fight_returns_exactly_twenty():
    """Both Marines fire volleys of 6 shots that land together (12 shots): 50 shields + 18 HP (68), then 60 HP,
    then the last 22 HP + kill 10 + win 200: (68 + 60 + 232) / (360 / 20) = 20, SMAC's normalised maximum."""
    env = _immobile()
    rewards = []
    for _ in range(40):
        step = env.step(np.array([[ATTACK, ATTACK]]))
        rewards.append(float(step.reward[0]))
        if step.done[0]:
            break
    assert len(rewards) == 30 and step.terminated[0] and not step.truncated[0]
    assert [i for i, r in enumerate(rewards) if r] == [9, 19, 29]
    np.testing.assert_allclose([rewards[9], rewards[19], rewards[29]], [68 / 18, 60 / 18, 232 / 18], rtol=1e-6)
    assert sum(rewards) == pytest.approx(20.0)
    assert step.extras["success"][0] == 1.0
    assert not step.obs[0, :, 4:10].any()  # a dead Zealot is not observed


def test_kill_and_win_bonus_with_per_step_attacks():
    """Duration 0 (SMAC's own attack): a 10-HP, shieldless Zealot takes 5 per shot; max_reward = 10 + 10 + 200."""
    env = _immobile(attack_duration=0, zealot_hp=10.0, zealot_shield=0.0)
    step = env.step(np.array([[ATTACK, STOP]]))
    assert step.choosing[0, 0] and step.reward[0] == pytest.approx(5 * 20 / 220)
    step = env.step(np.array([[ATTACK, STOP]]))  # weapon ready at 1.708: fires during step 1
    assert step.reward[0] == pytest.approx((5 + 10 + 200) * 20 / 220) and step.terminated[0]


def test_zealot_kills_a_standing_marine_in_three_attacks_and_spares_a_fleeing_one():
    env = make_batched(NAME, 1)
    env.reset(seed=0)
    _place(env, pos=[[9.0, 15.0], [9.0, 25.0], [9.6, 15.0]])  # in reach (0.6 <= 0.1 + 0.5 + 0.375)
    hp = []
    for _ in range(5):
        step = env.step(np.array([[STOP, STOP]]))
        hp.append(float(env.hp[0, 0]))
    # 2 x 8 damage per attack, one attack per 0.857 s = 2.4 steps: steps 0, 2 (2.4), 4 (4.8)
    assert hp == [29.0, 29.0, 13.0, 13.0, 0.0]
    assert step.reward[0] == 0 and not step.terminated[0]  # only positive rewards; Marine 1 lives
    assert step.action_mask[0, 0].tolist() == [True] + [False] * 6
    # a Marine running straight away is never struck: it moves before the Zealot acts, both at 1.125 a step
    env.reset(seed=0)
    _place(env, pos=[[20.0, 16.0], [20.0, 30.0], [19.1, 16.0]])
    for _ in range(10):
        step = env.step(np.array([[EAST, STOP]]))
    assert env.hp[0, 0] == 45.0
    np.testing.assert_allclose(env.pos[0, 0], [20.0 + 10 * 1.125, 16.0])
    assert env.pos[0, 2, 0] == pytest.approx(env.pos[0, 0, 0] - 0.975)  # it stops at its reach


def test_standing_and_firing_loses_a_zealot_that_walked_to_its_reach_strikes():
    """Both Marines step east and then attack whenever they may: the Zealot kills the nearer, walks to the other
    (stopping at its reach, up to rounding) and kills it too before its second volley lands (step 20): only the
    first volleys (12 shots, 68 of the 360) count."""
    env = make_batched(NAME, 1)
    step = env.reset(seed=0)
    total = 0.0
    for _ in range(150):
        mask = step.action_mask[0]
        step = env.step(np.array([[ATTACK if m[ATTACK] else (NOOP if m[NOOP] else EAST) for m in mask]]))
        total += float(step.reward[0])
        if step.done[0]:
            break
    assert step.terminated[0] and step.extras["success"][0] == 0.0 and not (env.hp[0, :2] > 0).any()
    assert step.t[0] < 20 and total == pytest.approx(68 / 18)


def test_a_marine_killed_mid_attack_lands_nothing_and_both_dead_is_a_loss():
    env = make_batched(NAME, 1)
    env.reset(seed=0)
    _place(env, pos=[[9.0, 15.0], [9.0, 16.0], [9.6, 15.5]], hp=[16.0, 16.0, 100.0])
    step = env.step(np.array([[ATTACK, ATTACK]]))  # both fire once; the Zealot kills Marine 0 (the nearer, tie)
    assert env.hp[0].tolist() == [0.0, 16.0, 100.0] and env.pending[0].tolist() == [0, 1]
    step = env.step(np.array([[NOOP, STOP]]))  # Zealot's weapon ready again at 2.4: no strike in step 1
    assert not step.done[0] and env.hp[0, 1] == 16.0
    step = env.step(np.array([[NOOP, STOP]]))
    assert env.pending[0].tolist() == [0, 0] and step.reward[0] == 0.0
    assert step.terminated[0] and step.extras["success"][0] == 0.0 and env.shield[0] == 50.0


def test_horizon_truncates_at_150():
    env = _immobile()
    _place(env, pos=[[1.0, 1.0], [1.0, 3.0], [31.0, 31.0]])
    for _ in range(150):
        step = env.step(np.array([[STOP, STOP]]))
    assert step.t[0] == 150 and step.truncated[0] and not step.terminated[0]
    assert step.extras["success"][0] == 0.0


def test_the_battle_can_be_won_with_nine_step_attacks():
    """A witness that coordination wins: one Marine baits the Zealot around the other, which fires volleys; the
    same team in a batch of copies plays the same (deterministic) battle in each."""
    env = make_batched(NAME, 3)
    step = env.reset(seed=0)
    total = np.zeros(3)
    for _ in range(150):
        step = env.step(kiting_actions(env, step))
        total += step.reward
        if step.done.any():
            break
    assert step.terminated.all() and (step.extras["success"] == 1.0).all() and step.t[0] < 150
    np.testing.assert_allclose(total, 20.0, atol=1e-4)


@pytest.mark.parametrize("random_durations", [False, True])
def test_parallel_api(random_durations):
    overrides = {}
    if random_durations:  # attacks take 0..2 steps at random, the rest stays immediate
        row = ((1.0, 0.0, 0.0),) * 6 + ((0.2, 0.3, 0.5),)
        overrides["duration_probs"] = (row, row)
    parallel_api_test(make(NAME, **overrides), num_cycles=200)


def test_pettingzoo_view_reports_success_and_renders():
    env = make(NAME, render_mode="ansi")
    _, infos = env.reset(seed=1)
    while env.agents:
        actions = {a: env.action_space(a).sample(infos[a]["action_mask"]) for a in env.agents}
        _, _, _, _, infos = env.step(actions)
    assert infos["agent_0"]["success"] in (0.0, 1.0)
    assert "zealot" in env.render()
    rgb = make(NAME, render_mode="rgb_array")
    rgb.reset(seed=0)
    img = rgb.render()
    assert img.dtype == np.uint8 and img.ndim == 3 and min(img.shape[:2]) >= 300


@pytest.mark.parametrize("settings, match", [
    ({"attack_duration": -1}, "attack_duration"),
    ({"marine_cooldown": 0.0}, "marine_cooldown must be a finite number > 0"),
    ({"zealot_armour": -1.0}, "zealot_armour"),
    ({"marine_start": ((1.0, 1.0),)}, "marine_start must hold 2"),
    ({"zealot_start": (40.0, 1.0)}, r"zealot_start .* inside the map \[0, 32.0\]"),
    ({"zealot_hits": 0}, "zealot_hits"),
])
def test_bad_settings_raise(settings, match):
    with pytest.raises(ValueError, match=match):
        make_batched(NAME, 1, **settings)


def test_west_and_east_are_smac_directions():
    env = make_batched(NAME, 1)
    env.reset(seed=0)
    env.step(np.array([[WEST, EAST]]))
    np.testing.assert_allclose(env.pos[0, :2], [[9 - 1.125, 15.0], [9 + 1.125, 17.0]])
