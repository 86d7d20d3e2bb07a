"""Segments from several workers, in any order, reassemble into the exact episodes; bad segments are refused
with a clear error and leave stored data unchanged."""
import copy
import hashlib

import numpy as np
import pytest
import torch

from asyncmarl.memory_service.replay import ReplayConfig, ReplayShard, SegmentError
from asyncmarl.memory_service.replay.synthetic import ScriptedSettings, scripted_segments

GAMMA = 0.9
SETTINGS = ScriptedSettings(n_agents=3, n_actions=4, obs_dim=5, state_dim=3, horizon=11, terminate_at=8)


def three_workers():
    segs, trajs = [], []
    for w in range(3):
        s, t = scripted_segments(SETTINGS, batch_size=2, steps=20, gamma=GAMMA, seed=w, worker_id=w,
                                 first_id=1000 * (w + 1))
        segs += s
        trajs += t
    return segs, {t["episode_id"]: t for t in trajs}


def fingerprint(shard: ReplayShard) -> str:
    """A digest of everything a shard stores (complete and open episodes)."""
    h = hashlib.sha256()
    for eid, ep in shard.storage.episodes.items():
        h.update(str(eid).encode())
        for f in sorted(ep.rows):
            h.update(ep.rows[f].tobytes())
        for f in sorted(ep.seg):
            h.update(ep.seg[f].tobytes())
    for eid, op in shard.open.items():
        h.update(f"{eid}{op.T}{op.covered.tolist()}{[sorted(s.items()) for s in op.segs]}".encode())
        h.update(op.filled.tobytes())
        h.update(op.packed.tobytes())
    return h.hexdigest()


def test_any_order_from_several_workers_reassembles_exact_episodes():
    segs, trajs = three_workers()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(segs))
    shard = ReplayShard(ReplayConfig(min_episodes=1, gamma=GAMMA), seed=0)
    done = sum(shard.add([segs[i] for i in chunk]) for chunk in np.array_split(order, 7))
    assert done == len(trajs) == shard.stats()["episodes"]
    assert shard.stats()["open_episodes"] == len({s.episode_id for s in segs}) - len(trajs)
    batch = shard.sample(len(trajs))  # without replacement: every stored episode once
    assert sorted(batch["episode_id"].tolist()) == sorted(trajs)
    for b, eid in enumerate(batch["episode_id"].tolist()):
        tr = trajs[eid]
        T = tr["length"]
        assert batch["filled"][b].sum() == T
        for key in ("real_obs", "obs", "state", "choosing"):
            np.testing.assert_array_equal(batch[key][b, : T + 1].numpy(), tr[key], err_msg=key)
        np.testing.assert_array_equal(batch["actions"][b, :T].numpy(), tr["actions"])
        np.testing.assert_array_equal(batch["reward"][b, :T].numpy(), tr["reward"])
        assert batch["terminated"][b, T - 1] == 1.0 and batch["terminated"][b].sum() == 1.0
        mine = [s for s in segs if s.episode_id == eid]
        assert batch["seg_mask"][b].sum() == len(mine)
        for s in mine:
            assert batch["seg_start"][b, s.agent, s.index] == s.start
            assert batch["seg_end"][b, s.agent, s.index] == s.end
            assert batch["seg_return"][b, s.agent, s.index].item() == pytest.approx(s.ret, rel=1e-6)
            np.testing.assert_array_equal(batch["elapsed"][b, s.start : s.end + 1, s.agent].numpy(),
                                          np.arange(s.length))
            assert batch["action_end"][b, s.end, s.agent] and not batch["action_end"][b, s.start : s.end, s.agent].any()


def test_joint_steps_are_stored_once():
    segs, trajs = three_workers()
    shard = ReplayShard(ReplayConfig(min_episodes=1, gamma=GAMMA), seed=0)
    shard.add(segs)
    st = shard.stats()
    assert st["steps"] == sum(t["length"] for t in trajs.values())
    # one copy of the rows vs one per agent: about n times smaller (the segment tables are the difference)
    assert 2.5 < st["ncopies_bytes_per_step"] / st["bytes_per_step"] <= 3.0


@pytest.fixture()
def half_filled():
    segs, trajs = three_workers()
    complete_id = sorted(trajs)[0]
    shard = ReplayShard(ReplayConfig(min_episodes=1, gamma=GAMMA), seed=0)
    first = [s for s in segs if s.episode_id == complete_id]
    partial_id = sorted(trajs)[1]
    partial = [s for s in segs if s.episode_id == partial_id]
    shard.add(first + partial[: len(partial) // 2])
    return shard, first, partial


def _assert_rejected(shard, seg, match):
    before = fingerprint(shard), shard.stats()["inserted_segments"]
    with pytest.raises(SegmentError, match=match):
        shard.add([seg])
    assert (fingerprint(shard), shard.stats()["inserted_segments"]) == before


def test_duplicate_segment_is_rejected(half_filled):
    shard, _, partial = half_filled
    _assert_rejected(shard, copy.deepcopy(partial[0]), "duplicate")


def test_segment_of_a_complete_episode_is_rejected_as_unknown(half_filled):
    shard, first, _ = half_filled
    _assert_rejected(shard, copy.deepcopy(first[0]), "unknown episode")


def test_overlapping_segment_is_rejected(half_filled):
    shard, _, partial = half_filled
    seg = copy.deepcopy(partial[0])
    seg.index += 50  # a "new" action of the agent over the same steps
    _assert_rejected(shard, seg, "overlaps")


def test_wrong_shapes_and_fields_are_rejected(half_filled):
    shard, _, partial = half_filled
    late = partial[len(partial) // 2 :]
    seg = copy.deepcopy(late[0])
    seg.steps["obs"] = seg.steps["obs"][..., :-1]
    _assert_rejected(shard, seg, r"steps\['obs'\] must have shape")
    seg = copy.deepcopy(late[0])
    del seg.steps["reward"]
    _assert_rejected(shard, seg, "exactly the fields")
    seg = copy.deepcopy(late[0])
    seg.agent = 7
    _assert_rejected(shard, seg, r"agent must be in \[0, 3\)")
    seg = copy.deepcopy(late[0])
    seg.ret += 1.0
    _assert_rejected(shard, seg, "ret")
    seg = copy.deepcopy(late[0])
    seg.steps["reward"] = seg.steps["reward"].astype(str)
    _assert_rejected(shard, seg, r"steps\['reward'\] has dtype")
    seg = copy.deepcopy(late[0])
    seg.steps["elapsed"] = seg.steps["elapsed"] + 1
    _assert_rejected(shard, seg, "elapsed")


def test_conflicting_joint_rows_are_rejected(half_filled):
    shard, _, partial = half_filled
    stored = {(s.agent, s.index) for s in partial[: len(partial) // 2]}
    late = [s for s in partial[len(partial) // 2 :] if (s.agent, s.index) not in stored]
    # a segment whose steps another agent already delivered, with a different real observation
    covered = shard.open[late[0].episode_id].filled
    seg = next(copy.deepcopy(s) for s in late if covered[s.start : min(s.end + 1, len(covered))].any())
    seg.steps["real_obs"] = seg.steps["real_obs"] + 1.0
    _assert_rejected(shard, seg, "disagree")
    # the remaining genuine segments still complete the episode
    assert shard.add(late) == 1


def test_bad_segments_in_a_batch_do_not_block_the_good_ones(half_filled):
    shard, _, partial = half_filled
    late = partial[len(partial) // 2 :]
    bad = copy.deepcopy(partial[0])
    with pytest.raises(SegmentError, match="1 of .* rejected"):
        shard.add([bad] + list(late))
    assert shard.stats()["episodes"] == 2
    assert shard.add([bad], strict=False) == 0 and shard.stats()["rejected_segments"] == 2


@pytest.mark.parametrize("name", ["boxpushing-6", "wtd-a", "overcooked-a"])
def test_real_scenarios_round_trip(name):
    from asyncmarl.platform.envs import make_batched

    env = make_batched(name, 2)
    segs, trajs = scripted_segments(None, 2, steps=env.horizon + 1, gamma=GAMMA, seed=1, env=env)
    assert trajs, f"{name}: no episode finished within the horizon"
    shard = ReplayShard(ReplayConfig(min_episodes=1, gamma=GAMMA), seed=0)
    assert shard.add(segs[::-1]) == len(trajs)
    batch = shard.sample(len(trajs))
    by_id = {t["episode_id"]: t for t in trajs}
    for b, eid in enumerate(batch["episode_id"].tolist()):
        tr = by_id[eid]
        T = tr["length"]
        np.testing.assert_array_equal(batch["real_obs"][b, : T + 1].numpy(), tr["real_obs"])
        np.testing.assert_array_equal(batch["obs"][b, : T + 1].numpy(), tr["obs"])
        np.testing.assert_array_equal(batch["reward"][b, :T].numpy(), tr["reward"])
    jert = shard.sample(len(trajs), view="mac_jert")
    # squeezed reward g is discounted from its kept row tau_g, and the discounts before g multiply to
    # gamma^tau_g: together they give back the episode's discounted return
    disc_before = torch.cumprod(torch.cat([torch.ones(len(trajs), 1), jert["discount"][:, :-1]], 1), 1).double()
    for b, eid in enumerate(jert["episode_id"].tolist()):
        r = by_id[eid]["reward"].astype(np.float64)
        expect = float(np.sum(GAMMA ** np.arange(len(r)) * r))
        got = float((disc_before[b] * jert["reward"][b].double() * jert["filled"][b].double()).sum())
        assert got == pytest.approx(expect, rel=1e-5, abs=1e-4)


def test_a_malformed_first_segment_does_not_fix_the_schema():
    segs, _ = three_workers()
    shard = ReplayShard(ReplayConfig(min_episodes=1, gamma=GAMMA), seed=0)
    bad = copy.deepcopy(segs[0])
    bad.steps["action_mask"] = bad.steps["action_mask"][:, :2]  # 2 agents' masks, 3 agents' actions
    with pytest.raises(SegmentError, match="do not fit n_agents = 3"):
        shard.add([bad])
    assert shard.schema is None and shard.add(segs) > 0


def test_episode_end_must_agree_between_agents():
    segs, trajs = three_workers()
    eid = sorted(trajs)[0]
    mine = [s for s in segs if s.episode_id == eid]
    last = [s for s in mine if s.is_last]
    shard = ReplayShard(ReplayConfig(min_episodes=1, gamma=GAMMA), seed=0)
    shard.add([s for s in mine if s is not last[1]])
    flipped = copy.deepcopy(last[1])
    flipped.terminated = not flipped.terminated
    _assert_rejected(shard, flipped, "terminated")
    assert shard.add([last[1]]) == 1
