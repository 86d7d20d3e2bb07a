"""Sharding by episode id (stable, in range, spread) and merging the batches several shards sampled (every time
and segment axis re-padded, absolute time counting on)."""
import numpy as np
import pytest

from asyncmarl.memory_service.replay import ReplayConfig, ReplayShard
from asyncmarl.memory_service.replay.sharding import merge_batches, shard_for
from asyncmarl.memory_service.replay.synthetic import ScriptedSettings, scripted_segments

GAMMA = 0.9
CFG = ReplayConfig(min_episodes=1, gamma=GAMMA)


def segments(steps=60, horizon=6, first_id=1, seed=0):
    return scripted_segments(ScriptedSettings(n_agents=2, horizon=horizon), batch_size=4, steps=steps,
                             gamma=GAMMA, seed=seed, first_id=first_id)


def test_shard_for_is_stable_in_range_and_spreads_ids():
    ids = np.arange(10_000) * 7 + 3
    shards = [shard_for(int(i), 4) for i in ids]
    assert shards == [shard_for(int(i), 4) for i in ids]
    counts = np.bincount(shards, minlength=4)
    assert counts.min() > 2200  # close to uniform
    assert shard_for(2**62 + 5, 3) in (0, 1, 2) and shard_for(-5, 3) in (0, 1, 2)
    assert shard_for(12345, 1) == 0
    with pytest.raises(ValueError, match="num_shards"):
        shard_for(1, 0)


@pytest.mark.parametrize("view", ["mac_sjert", "mac_jert"])
def test_merge_pads_every_time_and_segment_axis(view):
    a, b = ReplayShard(CFG, seed=1), ReplayShard(CFG, seed=2)
    a.add(segments(steps=12, horizon=3)[0])
    b.add(segments(steps=24, horizon=12, first_id=500)[0])
    x, y = a.sample(2, view), b.sample(3, view)
    m = merge_batches([x, y])
    assert set(m) == set(x)
    for k in x:
        assert m[k].shape[0] == 5, k
        assert m[k].shape[1:] == y[k].shape[1:], k  # y is the longer one everywhere
        assert m[k].dtype == x[k].dtype, k
    Tx, Kx = x["filled"].shape[1], x["seg_mask"].shape[2]
    assert not m["filled"][:2, Tx:].any() and not m["seg_mask"][:2, :, Kx:].any()
    assert not m["state"][:2, Tx + 1:].any() and not m["actions"][:2, Tx:].any()
    step = m["t"][:, 1:] - m["t"][:, :-1]  # absolute time keeps counting on padding (by 1 in whole episodes)
    assert (step == 1).all() if view == "mac_sjert" else (step >= 1).all()
    for k in x:  # the parts are kept as they came
        assert (m[k][:2, ...][(slice(None),) + tuple(slice(0, s) for s in x[k].shape[1:])] == x[k]).all(), k
        assert (m[k][2:] == y[k]).all(), k
    assert merge_batches([x]) is x
