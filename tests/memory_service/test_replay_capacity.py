"""Capacity and FIFO eviction (never while sampled), the samples-per-insert limit, padding, the incomplete-episode
timeout, prioritised sampling and windows."""
import pytest
import torch

from asyncmarl.memory_service.replay import ReplayConfig, ReplayShard
from asyncmarl.memory_service.replay.synthetic import ScriptedSettings, scripted_segments
from asyncmarl.memory_service.replay.transitions import micro_transitions

GAMMA = 0.9


def episodes(n_episodes, horizon=7, first_id=1, seed=0):
    """Segments of exactly ``n_episodes`` complete episodes of ``horizon`` steps, grouped by episode in order."""
    s = ScriptedSettings(n_agents=2, horizon=horizon)
    segs, trajs = scripted_segments(s, batch_size=1, steps=n_episodes * horizon, gamma=GAMMA, seed=seed,
                                    first_id=first_id)
    return [[g for g in segs if g.episode_id == t["episode_id"]] for t in trajs]


def shard_of(**kw):
    kw.setdefault("min_episodes", 1)
    return ReplayShard(ReplayConfig(gamma=GAMMA, **kw), seed=0)


def test_fifo_eviction_by_episodes_and_by_steps():
    eps = episodes(8)
    shard = shard_of(capacity=5)
    for e in eps:
        shard.add(e)
    assert list(shard.storage.episodes) == [e[0].episode_id for e in eps[3:]]
    st = shard.stats()
    assert st["episodes"] == 5 and st["evicted_episodes"] == 3 and st["steps"] == 35
    shard = shard_of(capacity=20, capacity_unit="steps")
    for e in eps:
        shard.add(e)
    assert shard.stats()["steps"] == 14 and list(shard.storage.episodes) == [eps[6][0].episode_id, eps[7][0].episode_id]


def test_an_episode_being_sampled_is_not_evicted_until_released():
    eps = episodes(4)
    shard = shard_of(capacity=2)
    shard.add(eps[0] + eps[1])
    oldest = eps[0][0].episode_id
    shard.storage.pin([oldest])  # what sample() does while it builds a batch
    shard.add(eps[2])
    assert list(shard.storage.episodes) == [e[0].episode_id for e in eps[:3]]  # over capacity, FIFO kept
    shard.storage.unpin([oldest])
    assert list(shard.storage.episodes) == [e[0].episode_id for e in eps[1:3]]
    assert shard.stats()["evicted_episodes"] == 1


def test_min_episodes_and_samples_per_insert_limit():
    eps = episodes(6)
    shard = shard_of(min_episodes=2, samples_per_insert=2.0)
    shard.add(eps[0])
    assert shard.sample(2) is None  # below min_episodes
    shard.add(eps[1])
    assert shard.sample(2) is not None and shard.sample(2) is not None  # 4 sampled <= 2 * 2 inserted
    assert shard.sample(1) is None and shard.stats()["rate_limited"] == 1
    shard.add(eps[2])
    assert shard.sample(2) is not None  # 6 <= 2 * 3
    assert shard.stats()["sampled_episodes"] == 6


def test_padding_is_never_returned_as_valid_data():
    eps = episodes(2, horizon=4) + episodes(2, horizon=11, first_id=100, seed=1)
    shard = shard_of()
    for e in eps:
        shard.add(e)
    batch = shard.sample(4)
    lengths = batch["filled"].sum(1).long()
    assert sorted(lengths.tolist()) == [4, 4, 11, 11] and batch["filled"].shape == (4, 11)
    for b, L in enumerate(lengths.tolist()):
        assert (batch["filled"][b, :L] == 1).all() and (batch["filled"][b, L:] == 0).all()
        for key in ("state", "obs", "real_obs", "action_mask", "choosing"):
            assert not batch[key][b, L + 1 :].any(), key  # rows after the final observation row
        for key in ("actions", "elapsed", "reward", "terminated", "action_end"):
            assert not batch[key][b, L:].any(), key
        assert batch["real_obs"][b, L, 0, 0] == L  # the final observation row is real
        m = batch["seg_mask"][b] > 0
        assert (batch["seg_end"][b][m] < L).all() and not batch["seg_return"][b][~m].any()
    micro = micro_transitions(batch)
    assert len(micro["reward"]) == 30


def test_incomplete_episodes_are_dropped_after_the_timeout():
    now = [0.0]
    shard = ReplayShard(ReplayConfig(min_episodes=1, gamma=GAMMA, incomplete_timeout_s=10.0), clock=lambda: now[0])
    eps = episodes(3)
    shard.add(eps[0][:-2])  # a worker died mid-episode
    shard.add(eps[1])
    now[0] = 5.0
    shard.add(eps[2][:3])
    now[0] = 12.0
    st = shard.stats()
    assert st["dropped_incomplete"] == 1 and st["dropped_segments"] == len(eps[0]) - 2 and st["open_episodes"] == 1
    assert st["episodes"] == 1  # the complete one never was at risk
    from asyncmarl.memory_service.replay import SegmentError

    with pytest.raises(SegmentError, match="unknown episode.*timeout"):
        shard.add(eps[0][-2:])  # the late rest of the dropped episode
    shard.add(eps[2][3:])  # still within the timeout: completes
    assert shard.stats()["episodes"] == 2
    assert set(shard.sample(8)["episode_id"].tolist()) <= {eps[1][0].episode_id, eps[2][0].episode_id}


def test_prioritized_sampler_follows_priorities_and_returns_weights():
    eps = episodes(4)
    shard = shard_of(sampler="prioritized", priority_alpha=1.0)
    for e in eps:
        shard.add(e)
    ids = [e[0].episode_id for e in eps]
    shard.update_priorities(ids, [100.0, 1.0, 1.0, 1.0])
    batch = shard.sample(400)
    share = (batch["episode_id"] == ids[0]).float().mean().item()
    assert 0.9 < share < 0.99  # expected 100 / 103
    w = batch["weight"]
    assert w.shape == (400,) and w.max() == 1.0 and (w[batch["episode_id"] == ids[0]] < w.max()).all()
    with pytest.raises(ValueError, match="positive"):
        shard.update_priorities(ids[:1], [-1.0])
    with pytest.raises(ValueError, match="prioritized"):
        shard_of().update_priorities(ids[:1], [1.0])


def test_windows_with_burn_in_keep_absolute_time():
    eps = episodes(3, horizon=12)
    shard = shard_of(window=4, burn_in=2)
    for e in eps:
        shard.add(e)
    batch = shard.sample(16)
    assert batch["filled"].shape[1] <= 6
    for b in range(16):
        t0 = batch["t"][b, 0].item()
        L = int(batch["filled"][b].sum())
        burn = int(batch["burn_in"][b].sum())
        assert L == 4 + burn and burn == min(2, t0 + burn) and (batch["burn_in"][b, :burn] == 1).all()
        # row j of the window is absolute step t0 + j: the scripted observation records t
        assert batch["real_obs"][b, : L + 1, 0, 0].tolist() == list(range(t0, t0 + L + 1))
        m = batch["seg_mask"][b] > 0
        assert (batch["seg_start"][b][m] >= 0).all() and (batch["seg_end"][b][m] < L).all()
        ends_episode = t0 + L == 12
        assert batch["action_end"][b, L - 1].all() == (ends_episode or bool(batch["choosing"][b, L].all()))


def test_bad_arguments_name_the_field():
    with pytest.raises(ValueError, match="capacity_unit"):
        ReplayConfig(capacity_unit="bytes")
    with pytest.raises(ValueError, match="burn_in"):
        ReplayConfig(burn_in=3)
    with pytest.raises(ValueError, match="view must be one of"):
        shard_of().sample(2, view="jert")


def test_state_dict_round_trip_restores_episodes_and_sampling():
    import pickle

    eps = episodes(5)
    shard = shard_of(capacity=4, samples_per_insert=10.0)
    for e in eps[:4]:
        shard.add(e)
    shard.add(eps[4][:2])  # an open episode: not checkpointed
    shard.sample(3)
    state = pickle.loads(pickle.dumps(shard.state_dict()))
    other = shard_of(capacity=4, samples_per_insert=10.0)
    other.load_state_dict(state)
    for key in ("episodes", "steps", "bytes", "sampled_episodes", "inserted_episodes", "evicted_episodes"):
        assert other.stats()[key] == shard.stats()[key], key
    a, b = shard.sample(4), other.sample(4)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    from asyncmarl.memory_service.replay import SegmentError

    with pytest.raises(SegmentError, match="unknown episode"):
        other.add(eps[0])  # complete before the checkpoint: still closed
    assert other.add(eps[4]) == 1  # its open head was not saved, but the whole episode can come again
