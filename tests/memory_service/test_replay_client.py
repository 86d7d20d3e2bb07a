"""Sharded replay: routing by episode id, size-proportional sampling with re-padding, and surviving a shard
that dies (restarted empty while the others keep serving)."""
import numpy as np
import pytest

from asyncmarl.memory_service.replay import ReplayConfig, ReplayShard, SegmentError
from asyncmarl.memory_service.replay.client import ReplayClient, merge_batches, shard_for
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
    with pytest.raises(ValueError, match="num_shards"):
        shard_for(1, 0)


def test_segments_of_an_episode_always_go_to_one_shard():
    segs, trajs = segments()
    shards = [ReplayShard(CFG, seed=i) for i in range(3)]
    client = ReplayClient(shards, seed=0)
    rng = np.random.default_rng(0)
    done = sum(client.add([segs[i] for i in idx]) for idx in np.array_split(rng.permutation(len(segs)), 5))
    assert done == len(trajs)
    for i, shard in enumerate(shards):
        held = set(shard.storage.episodes) | set(shard.open)
        assert all(shard_for(e, 3) == i for e in held)
    assert sum(len(s.storage) for s in shards) == len(trajs)
    assert client.stats()["episodes"] == len(trajs)


def test_sampling_is_proportional_to_shard_size_and_repads():
    a, b = ReplayShard(CFG, seed=1), ReplayShard(CFG, seed=2)
    segs_a, tr_a = segments(steps=60, horizon=6)  # 40 short episodes
    segs_b, tr_b = segments(steps=40, horizon=10, first_id=10_000, seed=1)  # 16 long episodes
    a.add(segs_a)
    b.add(segs_b)
    client = ReplayClient([a, b], seed=0)
    from_a = 0
    for _ in range(30):
        batch = client.sample(16)
        assert batch["episode_id"].shape == (16,)
        assert batch["filled"].shape[1] in (6, 10) and batch["state"].shape[1] == batch["filled"].shape[1] + 1
        from_a += int((batch["episode_id"] < 10_000).sum())
        lengths = batch["filled"].sum(1)
        short = batch["episode_id"] < 10_000
        assert (lengths[short] == 6).all() and (lengths[~short] == 10).all()
    assert abs(from_a / (30 * 16) - len(tr_a) / (len(tr_a) + len(tr_b))) < 0.06
    jert = client.sample(8, view="mac_jert")
    assert "discount" in jert and jert["episode_id"].shape == (8,)


def test_merge_pads_every_time_and_segment_axis():
    a, b = ReplayShard(CFG, seed=1), ReplayShard(CFG, seed=2)
    a.add(segments(steps=12, horizon=3)[0])
    b.add(segments(steps=24, horizon=12, first_id=500)[0])
    x, y = a.sample(2), b.sample(3)
    m = merge_batches([x, y])
    for k in x:
        assert m[k].shape[0] == 5, k
        assert m[k].shape[1:] == y[k].shape[1:], k  # y is the longer one everywhere
    assert not m["filled"][:2, 3:].any() and not m["seg_mask"][:2, :, x["seg_mask"].shape[2]:].any()
    assert (m["t"][:, 1:] - m["t"][:, :-1] == 1).all()  # absolute time keeps counting on padding


class Flaky(ReplayShard):
    """A shard that dies (raises) once ``broken`` is set, as a crashed actor would."""

    broken = False

    def _check(self):
        if self.broken:
            raise RuntimeError("shard process died")

    def add(self, segments, strict=True):
        self._check()
        return super().add(segments, strict)

    def num_episodes(self):
        self._check()
        return super().num_episodes()

    def sample_sized(self, *args):
        self._check()
        return super().sample_sized(*args)


def test_a_dead_shard_is_restarted_empty_and_the_others_keep_serving():
    made = []

    def factory(i):
        made.append(i)
        return ReplayShard(CFG, seed=100 + i)

    shards = [Flaky(CFG, seed=0), Flaky(CFG, seed=1)]
    client = ReplayClient(shards, factory=factory, seed=0)
    segs, trajs = segments()
    client.add(segs)
    shards[1].broken = True
    batch = client.sample(8)  # notices the failure: shard 1 is replaced, shard 0 serves alone
    assert made == [1] and client.stats()["shard_restarts"] == 1
    if batch is None:
        batch = client.sample(8)
    assert batch is not None and all(shard_for(e, 2) == 0 for e in batch["episode_id"].tolist())
    more, _ = segments(first_id=50_000, seed=3)
    client.add(more)  # the fresh shard takes its episodes again
    assert client.shards[1].num_episodes() > 0
    assert client.stats()["live_shards"] == 2


def test_rejected_segments_raise_but_do_not_kill_the_shard():
    segs, _ = segments(steps=12)
    client = ReplayClient([ReplayShard(CFG), ReplayShard(CFG)], factory=lambda i: ReplayShard(CFG))
    client.add(segs)
    with pytest.raises(SegmentError, match="duplicate|unknown episode"):
        client.add(segs[:1])
    assert client.restarts == 0
