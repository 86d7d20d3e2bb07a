"""Temporal positional encodings (ToMacVF eq. 2-3) are added when a batch is built: f_e of absolute time and of
each running action's elapsed time."""
import numpy as np
import pytest
import torch

from asyncmarl.memory_service.replay import ReplayConfig, ReplayShard
from asyncmarl.memory_service.replay.synthetic import ScriptedSettings, scripted_segments
from asyncmarl.platform.temporal import positional_encoding

PE_DIM = 6


@pytest.fixture(scope="module")
def shard():
    # agent 0's actions last 4 steps, agent 1's 1 step
    settings = ScriptedSettings(n_agents=2, n_actions=1, horizon=9, durations=((4,), (1,)))
    segs, _ = scripted_segments(settings, batch_size=2, steps=9, gamma=0.9)
    s = ReplayShard(ReplayConfig(min_episodes=1, gamma=0.9, pe_dim=PE_DIM), seed=0)
    assert s.add(segs) == 2
    return s


def test_shapes_and_values_of_both_encodings(shard):
    batch = shard.sample(2)
    assert batch["pe_time"].shape == (2, 10, PE_DIM) and batch["pe_time"].dtype == torch.float32
    assert batch["pe_elapsed"].shape == (2, 9, 2, PE_DIM)
    expect_time = positional_encoding(np.arange(10), PE_DIM)  # [T+1, pe_dim]
    np.testing.assert_allclose(batch["pe_time"][0].numpy(), expect_time, rtol=0, atol=1e-6)
    # sin at even, cos at odd positions: f_e(0) = [0, 1, 0, 1, ...]
    assert batch["pe_time"][0, 0].tolist() == [0.0, 1.0] * (PE_DIM // 2)
    el = batch["elapsed"][0]  # [T, n]
    assert el[:, 0].tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0] and el[:, 1].tolist() == [0] * 9
    np.testing.assert_allclose(batch["pe_elapsed"][0].numpy(), positional_encoding(el.numpy(), PE_DIM), atol=1e-6)


def test_same_action_at_different_elapsed_times_is_encoded_differently(shard):
    batch = shard.sample(1)
    assert batch["actions"][0, 1, 0] == batch["actions"][0, 2, 0]  # agent 0 runs one action over steps 0..3
    pe = batch["pe_elapsed"][0, :, 0]  # [T, pe_dim]
    assert not torch.allclose(pe[1], pe[2]) and not torch.allclose(pe[0], pe[3])
    torch.testing.assert_close(pe[1], pe[5])  # same progress of a later action: same encoding
    assert not torch.allclose(batch["pe_time"][0, 1], batch["pe_time"][0, 5])  # absolute time tells them apart


def test_encodings_are_not_stored(shard):
    for ep in shard.storage.episodes.values():
        assert not any(k.startswith("pe") for k in ep.rows)


def test_mac_jert_encodes_the_absolute_time_of_kept_rows(shard):
    jert = shard.sample(1, view="mac_jert")
    time = jert["t"][0]
    L = int(jert["filled"][0].sum())
    np.testing.assert_allclose(jert["pe_time"][0, : L + 1].numpy(), positional_encoding(time[: L + 1].numpy(), PE_DIM),
                               atol=1e-6)
    with pytest.raises(ValueError, match="even integer"):
        ReplayConfig(pe_dim=5)
