"""ToMacVF Figure 1 as a scripted 2-agent episode: Mac-SJERT credits an action with its whole discounted return,
Mac-JERT only with what accumulated since the last time any action ended."""
import numpy as np
import pytest
import torch

from asyncmarl.memory_service.replay import ReplayConfig, ReplayShard
from asyncmarl.memory_service.replay.synthetic import ScriptedSettings, scripted_segments
from asyncmarl.memory_service.replay.transitions import macro_transitions, micro_transitions

GAMMA = 0.75  # powers of 0.75 and the rewards below are exact in binary floating point
REWARDS = (1.0, -2.0, 8.0, 3.0, 5.0, 7.0)  # reward of our step t = 0..5


def figure1_shard(view_batch: str = "mac_sjert"):
    # paper agent 1 = our agent 0: every action lasts 3 steps; paper agent 2 = our agent 1: 2 steps
    settings = ScriptedSettings(n_agents=2, n_actions=1, horizon=6, durations=((3,), (2,)), rewards=REWARDS)
    segs, trajs = scripted_segments(settings, batch_size=1, steps=6, gamma=GAMMA)
    shard = ReplayShard(ReplayConfig(min_episodes=1, gamma=GAMMA), seed=0)
    assert shard.add(segs) == 1
    return shard, trajs[0]


def test_figure1_mac_sjert_and_mac_jert_returns():
    """Step mapping. The paper indexes a reward by the time it arrives: acting at t = 0 yields r1 at t = 1.
    Our rows index it by the step that earns it: ``reward[t]`` is the paper's r_{t+1}. Agent 1's first action
    starts at paper t = 0 and terminates at t = 3, i.e. it runs our steps 0, 1, 2 (seg_start 0, seg_end 2,
    the agent chooses again at row 3); agent 2's first action terminates at t = 2 (our steps 0, 1; it chooses
    at row 2). So r1, r2, r3 = reward[0], reward[1], reward[2] = 1, -2, 8.
    """
    shard, _ = figure1_shard()
    r1, r2, r3 = REWARDS[:3]
    sjert = shard.sample(1)
    assert sjert["seg_start"][0, 0, 0] == 0 and sjert["seg_end"][0, 0, 0] == 2
    assert sjert["seg_start"][0, 1, 0] == 0 and sjert["seg_end"][0, 1, 0] == 1
    # Mac-SJERT: R_m = r1 + gamma r2 + gamma^2 r3, discounted from the action's start
    assert sjert["seg_return"][0, 0, 0].item() == r1 + GAMMA * r2 + GAMMA**2 * r3 == 4.0

    jert = shard.sample(1, view="mac_jert")
    # kept rows: 0 (start), 2 (agent 2 chose), 3 (agent 1 chose), 4 (agent 2 chose), 6 (final observation)
    assert jert["t"][0].tolist() == [0, 2, 3, 4, 6]
    assert jert["seg_start"][0, 0, 0] == 0 and jert["seg_end"][0, 0, 0] == 1  # squeezed steps 0..1
    # Mac-JERT: the joint reward was reset when agent 2's action ended at t = 2; agent 1's action gets r3 only
    assert jert["seg_return"][0, 0, 0].item() == r3 == 8.0
    # the squeezed rewards and discounts (reference mac_cen_q convention, see mac_jert.py)
    r = REWARDS
    assert jert["reward"][0].tolist() == [r[0] + GAMMA * r[1], r[2], r[3], r[4] + GAMMA * r[5]]
    assert jert["discount"][0].tolist() == [GAMMA**2, GAMMA, GAMMA, GAMMA**2]
    assert jert["filled"][0].tolist() == [1.0] * 4


def test_figure1_macro_observations_and_joint_actions_in_both_views():
    shard, traj = figure1_shard()
    sjert, jert = shard.sample(1), shard.sample(1, view="mac_jert")
    # Mac-SJERT keeps the real observation of every step; Mac-JERT the frozen macro-observation of kept rows
    np.testing.assert_array_equal(sjert["real_obs"][0].numpy(), traj["real_obs"])
    np.testing.assert_array_equal(jert["obs"][0].numpy(), traj["obs"][[0, 2, 3, 4, 6]])
    # at row 4 agent 1 (ours 0) is busy: its macro-observation is still the one from t = 3
    assert jert["obs"][0, 3, 0, 0] == 3 and jert["real_obs"][0, 3, 0, 0] == 4
    assert jert["elapsed"][0, :, 0].tolist() == [0, 2, 0, 1]


def test_micro_and_macro_transitions_agree_with_the_batch():
    shard, traj = figure1_shard()
    batch = shard.sample(1)
    micro = micro_transitions(batch)
    assert micro["reward"].tolist() == list(REWARDS)
    torch.testing.assert_close(micro["next_obs"][:-1], micro["obs"][1:])
    macro = macro_transitions(batch, agent=0)
    assert macro["start"].tolist() == [0, 3] and macro["duration"].tolist() == [3, 3]
    # R_m from eq. 5 equals the discounted sum of the micro-transition rewards it spans
    for start, end, ret in zip(macro["start"], macro["end"], macro["ret"], strict=True):
        rs = micro["reward"][start : end + 1].double()
        assert ret.item() == pytest.approx(float((GAMMA ** torch.arange(len(rs)) * rs).sum()), abs=0)
    np.testing.assert_array_equal(macro["next_obs"][1].numpy(), traj["real_obs"][6])
    assert len(macro_transitions(batch)["agent"]) == 2 + 3
    with pytest.raises(ValueError, match="agent must be in"):
        macro_transitions(batch, agent=2)
