"""Temporal positional encodings (ToMacVF eq. 2-3) are computed by the agent network from what a replay batch
carries (absolute time ``t`` and each running action's ``elapsed``): never stored, never shipped in a batch."""
import numpy as np
import pytest
import torch

from asyncmarl.memory_service.replay import ReplayConfig, ReplayShard
from asyncmarl.memory_service.replay.synthetic import ScriptedSettings, scripted_segments
from asyncmarl.platform.envs.base import EnvInfo
from asyncmarl.platform.nets import AgentNetConfig, make_agent_net
from asyncmarl.platform.nets.agent import sequence_inputs
from asyncmarl.platform.temporal import positional_encoding

PE_DIM = 6
OBS_DIM = 3
INFO = EnvInfo("scripted", n_agents=2, n_actions=1, obs_dim=OBS_DIM, state_dim=2, horizon=9)
NET = make_agent_net(AgentNetConfig(hidden_dim=4, embed_dim=4, pe_dim=PE_DIM), INFO)


@pytest.fixture(scope="module")
def shard():
    # agent 0's actions last 4 steps, agent 1's 1 step
    settings = ScriptedSettings(n_agents=2, n_actions=1, horizon=9, durations=((4,), (1,)))
    segs, _ = scripted_segments(settings, batch_size=2, steps=9, gamma=0.9)
    s = ReplayShard(ReplayConfig(min_episodes=1, gamma=0.9), seed=0)
    assert s.add(segs) == 2
    return s


def encoded_time(batch, view="mac_sjert") -> torch.Tensor:
    """f_e(t) ``[B, T+1, pe_dim]`` as the agent network feeds it (features: obs, then f_e(t))."""
    inp = sequence_inputs(batch, view)
    feats = NET.features(inp["obs"], inp["prev_action"], inp["prev_elapsed"], inp["t"])
    return feats[:, :, 0, OBS_DIM : OBS_DIM + PE_DIM]


def test_the_network_encodes_absolute_time_and_elapsed_time_of_a_batch(shard):
    batch = shard.sample(2)
    assert not any(k.startswith("pe") for k in batch)  # nothing encoded is shipped
    expect_time = positional_encoding(np.arange(10), PE_DIM)  # [T+1, pe_dim]
    np.testing.assert_allclose(encoded_time(batch)[0].numpy(), expect_time, rtol=0, atol=1e-6)
    # sin at even, cos at odd positions: f_e(0) = [0, 1, 0, 1, ...]
    assert encoded_time(batch)[0, 0].tolist() == [0.0, 1.0] * (PE_DIM // 2)
    el = batch["elapsed"][0]  # [T, n]
    assert el[:, 0].tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0] and el[:, 1].tolist() == [0] * 9
    # the Q head evaluates each running action at its elapsed time t_m (0 where the agent chooses)
    ev = sequence_inputs(batch, "mac_sjert")["eval_elapsed"][0, :9]  # [T, n]
    assert torch.equal(ev, el)


def test_same_action_at_different_elapsed_times_is_encoded_differently(shard):
    batch = shard.sample(1)
    assert batch["actions"][0, 1, 0] == batch["actions"][0, 2, 0]  # agent 0 runs one action over steps 0..3
    pe = positional_encoding(sequence_inputs(batch, "mac_sjert")["eval_elapsed"][0, :, 0], PE_DIM)  # [T+1, pe]
    assert not torch.allclose(pe[1], pe[2]) and not torch.allclose(pe[0], pe[3])
    torch.testing.assert_close(pe[1], pe[5])  # same progress of a later action: same encoding
    time = encoded_time(batch)[0]
    assert not torch.allclose(time[1], time[5])  # absolute time tells them apart


def test_encodings_are_not_stored(shard):
    for ep in shard.storage.episodes.values():
        assert not any(k.startswith("pe") for k in ep.rows)


def test_mac_jert_encodes_the_absolute_time_of_kept_rows(shard):
    jert = shard.sample(1, view="mac_jert")
    time = jert["t"][0]
    L = int(jert["filled"][0].sum())
    np.testing.assert_allclose(encoded_time(jert, "mac_jert")[0, : L + 1].numpy(),
                               positional_encoding(time[: L + 1].numpy(), PE_DIM), atol=1e-6)
    with pytest.raises(ValueError, match="even integer"):
        AgentNetConfig(pe_dim=5)
    with pytest.raises(ValueError, match="pe_dim"):
        AgentNetConfig(pe_dim=3)


def test_a_window_encodes_its_absolute_start_time():
    settings = ScriptedSettings(n_agents=2, horizon=12)
    segs, _ = scripted_segments(settings, batch_size=3, steps=12, gamma=0.9)
    shard = ReplayShard(ReplayConfig(min_episodes=1, gamma=0.9, window=4, burn_in=2), seed=0)
    shard.add(segs)
    batch = shard.sample(16)
    net = make_agent_net(AgentNetConfig(hidden_dim=4, embed_dim=4, pe_dim=4),
                         EnvInfo("scripted", 2, 4, 3, 2, 12))
    inp = sequence_inputs(batch, "mac_sjert")
    feats = net.features(inp["obs"], inp["prev_action"], inp["prev_elapsed"], inp["t"])
    for b in range(16):
        t0 = batch["t"][b, 0].item()
        torch.testing.assert_close(feats[b, 0, 0, 3:7], torch.from_numpy(positional_encoding(np.array(t0), 4)))
