"""The Mac-CERT view on the ToMacVF Figure 1 episode (hand-computed), and replay's on-policy FIFO mode."""
import dataclasses

import numpy as np
import pytest

from asyncmarl.memory_service.replay import ReplayConfig, ReplayShard
from asyncmarl.memory_service.replay.synthetic import ScriptedSettings, scripted_segments

GAMMA = 0.75  # powers of 0.75 and the rewards below are exact in binary floating point
REWARDS = (1.0, -2.0, 8.0, 3.0, 5.0, 7.0)  # reward of step t = 0..5
FIGURE1 = ScriptedSettings(n_agents=2, n_actions=1, horizon=6, durations=((3,), (2,)), rewards=REWARDS)


def _shard(settings=FIGURE1, steps=6, **cfg):
    segs, _ = scripted_segments(settings, batch_size=1, steps=steps, gamma=GAMMA)
    shard = ReplayShard(ReplayConfig(min_episodes=1, gamma=GAMMA, **cfg), seed=0)
    assert shard.add(segs) >= 1
    return shard


def test_figure1_mac_cert_rewards_discounts_and_decision_rows():
    """Agent 0's actions run steps 0-2 and 3-5, agent 1's 0-1, 2-3 and 4-5. Each agent's reward sums the joint
    rewards over its own action, discounted from the action's start; the bootstrap discount is gamma to the
    action's duration; its decision rows are squeezed rows of the Mac-JERT view (kept t = 0, 2, 3, 4, 6)."""
    cert = _shard().sample(1, view="mac_cert")
    r, g = REWARDS, GAMMA
    assert cert["t"][0].tolist() == [0, 2, 3, 4, 6]
    assert cert["cert_return"][0, 0, :2].tolist() == [r[0] + g * r[1] + g**2 * r[2], r[3] + g * r[4] + g**2 * r[5]]
    assert cert["cert_return"][0, 0, :2].tolist() == [4.0, 10.6875]
    assert cert["cert_return"][0, 1].tolist() == [r[0] + g * r[1], r[2] + g * r[3], r[4] + g * r[5]]
    assert cert["cert_discount"][0, 0, :2].tolist() == [g**3, g**3]
    assert cert["cert_discount"][0, 1].tolist() == [g**2, g**2, g**2]
    # agent 0 decides at squeezed rows 0 (t=0) and 2 (t=3); its transitions end before rows 2 and 4 (t=6)
    assert cert["seg_start"][0, 0, :2].tolist() == [0, 2] and (cert["seg_end"][0, 0, :2] + 1).tolist() == [2, 4]
    assert cert["seg_start"][0, 1].tolist() == [0, 1, 3] and (cert["seg_end"][0, 1] + 1).tolist() == [1, 3, 4]
    assert cert["seg_mask"][0].tolist() == [[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
    assert cert["cert_return"][0, 0, 2] == 0 and cert["cert_discount"][0, 0, 2] == 0  # padding
    # the primitive durations behind the discounts are the gaps in absolute time between decision rows
    t = cert["t"][0]
    for i, K in ((0, 2), (1, 3)):
        s, e = cert["seg_start"][0, i, :K], cert["seg_end"][0, i, :K] + 1
        np.testing.assert_array_equal(GAMMA ** (t[e] - t[s]).numpy(), cert["cert_discount"][0, i, :K].numpy())


def test_mac_cert_is_the_mac_jert_batch_plus_its_tables():
    shard = _shard()
    cert, jert = shard.sample(1, view="mac_cert"), shard.sample(1, view="mac_jert")
    assert set(cert) - set(jert) == {"cert_return", "cert_discount"}
    for key in jert:
        np.testing.assert_array_equal(cert[key].numpy(), jert[key].numpy(), err_msg=key)


def test_mac_cert_terminal_flags_at_each_agents_last_action():
    settings = ScriptedSettings(n_agents=2, n_actions=1, horizon=20, terminate_at=5, durations=((3,), (2,)),
                                rewards=REWARDS)
    cert = _shard(settings, steps=5).sample(1, view="mac_cert")
    # the episode ends after step 4: agent 0's second action (steps 3-4) and agent 1's third (step 4) are cut
    assert cert["seg_end"][0, 0].tolist()[:2] == [1, 3] and cert["t"][0].tolist() == [0, 2, 3, 4, 5]
    assert cert["cert_return"][0, 0, 1] == REWARDS[3] + GAMMA * REWARDS[4]
    assert cert["cert_discount"][0, 0, 1] == GAMMA**2 and cert["cert_discount"][0, 1, 2] == GAMMA
    last = cert["seg_end"][0, :, :].gather(1, (cert["seg_mask"][0].sum(1).long() - 1).unsqueeze(1))  # [n, 1]
    assert cert["terminated"][0, last.squeeze(1)].tolist() == [1.0, 1.0]


def _versioned_segments(versions):
    """One 6-step Figure 1 episode per entry, its decisions tagged with that policy version."""
    out = []
    for k, v in enumerate(versions):
        segs, _ = scripted_segments(FIGURE1, batch_size=1, steps=6, gamma=GAMMA, first_id=100 + k, seed=k)
        out += [dataclasses.replace(s, policy_version=v) for s in segs]
    return out


def test_on_policy_fifo_hands_each_episode_out_once_and_drops_stale_ones():
    shard = ReplayShard(ReplayConfig(min_episodes=1, gamma=GAMMA, on_policy=True), seed=0)
    assert shard.add(_versioned_segments([3, 4, 5, 5, 6])) == 5
    first = shard.sample(2, view="mac_cert", min_version=5)  # versions 3 and 4 are too old
    assert first["episode_id"].tolist() == [102, 103] and first["policy_version"].tolist() == [5, 5]
    assert shard.stats()["stale_dropped"] == 2
    second = shard.sample(4, view="mac_sjert", min_version=5)  # fewer than asked: what is there, once
    assert second["episode_id"].tolist() == [104]
    assert shard.sample(4, min_version=5) is None and shard.num_episodes() == 0


def test_on_policy_fifo_drops_open_episodes_that_can_never_be_fresh():
    shard = ReplayShard(ReplayConfig(min_episodes=1, gamma=GAMMA, on_policy=True), seed=0)
    segs = _versioned_segments([2])
    shard.add([s for s in segs if s.end < 3])  # the episode's head only
    assert shard.stats()["open_episodes"] == 1
    assert shard.sample(1, min_version=3) is None
    assert shard.stats()["open_episodes"] == 0 and shard.stats()["stale_dropped"] == 1


def test_on_policy_needs_whole_episodes_drawn_uniformly():
    with pytest.raises(ValueError, match="replay.on_policy"):
        ReplayConfig(on_policy=True, sampler="prioritized")
    with pytest.raises(ValueError, match="max_policy_lag"):
        ReplayConfig(on_policy=True, max_policy_lag=-1)
