"""Sharded replay on the path training takes: rollout hosts route every segment of an episode to one shard, the
learner host splits each batch across the shards in proportion to their sizes and merges the parts, a restarted
shard comes back empty while the others keep serving, rejected segments are counted, not raised; the same
under Ray with a killed shard actor; and the periodic whole-episode check."""
from __future__ import annotations

import pytest
import torch

from asyncmarl.cluster.handles import call, get
from asyncmarl.cluster.learner_host import LearnerHost, partial_episode_rows
from asyncmarl.cluster.roles import Roles
from asyncmarl.cluster.topology import build_topology
from asyncmarl.memory_service.replay.sharding import shard_for
from asyncmarl.memory_service.replay.synthetic import ScriptedSettings, scripted_segments


class Recorder:
    """A learner that keeps the batches it is given (the batch pipeline under test, no training)."""

    def __init__(self, cfg, info):
        self.batches, self.version, self.last_priorities = [], 0, None

    def update(self, batch):
        self.batches.append(batch)
        self.version += 1
        return {}


def shard_of(topo, s):
    return topo.shards[s].obj.shard  # the ReplayShard inside the in-process ShardHost


def step_all(topo, rounds):
    episodes = 0
    for _ in range(rounds):
        episodes += sum(len(get(call(r, "step"))["episodes"]) for r in topo.rollouts)
    return episodes


def scripted(horizon, steps, first_id, seed=0, gamma=0.98):
    """Scripted episodes cut with the tiny preset's gamma (the shards check R_m with it)."""
    return scripted_segments(ScriptedSettings(n_agents=2, horizon=horizon), batch_size=4, steps=steps, gamma=gamma,
                             seed=seed, first_id=first_id)


def test_rollout_hosts_route_every_segment_of_an_episode_to_one_shard(tiny):
    topo = build_topology(tiny("cluster.num_replay_shards=3", "cluster.num_rollout_workers=2"))
    finished = step_all(topo, 30)
    complete = 0
    for s in range(3):
        shard = shard_of(topo, s)
        held = set(shard.storage.episodes) | set(shard.open)
        assert held and all(shard_for(e, 3) == s for e in held)
        assert shard.stats()["rejected_segments"] == 0
        complete += len(shard.storage)
    evicted = sum(shard_of(topo, s).storage.evicted for s in range(3))
    assert finished > 0 and complete + evicted == finished


def test_batches_are_split_in_proportion_to_shard_sizes_and_merged(tiny):
    cfg = tiny("cluster.num_replay_shards=2", "cluster.batch_size=16", "replay.min_episodes=1")
    roles = Roles(learner=Recorder)
    topo = build_topology(cfg, roles)
    short, tr_a = scripted(horizon=6, steps=60, first_id=1)  # 40 short episodes
    long, tr_b = scripted(horizon=10, steps=40, first_id=10_000, seed=1)  # 16 long episodes
    assert get(call(topo.shards[0], "add", short)) == len(tr_a)
    assert get(call(topo.shards[1], "add", long)) == len(tr_b)
    host = topo.learner.obj
    assert host.train(30)["updates"] == 30
    from_a = 0
    for batch in host.learner.batches:
        assert batch["episode_id"].shape == (16,)
        assert batch["filled"].shape[1] in (6, 10) and batch["state"].shape[1] == batch["filled"].shape[1] + 1
        short_rows = batch["episode_id"] < 10_000
        from_a += int(short_rows.sum())
        lengths = batch["filled"].sum(1)
        assert (lengths[short_rows] == 6).all() and (lengths[~short_rows] == 10).all()
    assert abs(from_a / (30 * 16) - len(tr_a) / (len(tr_a) + len(tr_b))) < 0.06
    jert_cfg = tiny("cluster.num_replay_shards=2", "cluster.batch_size=8", "replay.min_episodes=1",
                    "learner.buffer=mac_jert")
    jert = LearnerHost(jert_cfg, topo.info, topo.shards, None, roles)
    assert jert.train(2)["updates"] == 2
    batch = jert.learner.batches[-1]
    assert "discount" in batch and batch["episode_id"].shape == (8,)


def test_a_restarted_shard_comes_back_empty_and_the_others_keep_serving(tiny):
    topo = build_topology(tiny("cluster.num_replay_shards=2", "cluster.num_rollout_workers=2"),
                          Roles(learner=Recorder))
    step_all(topo, 40)
    assert all(len(shard_of(topo, s).storage) >= topo.cfg.replay.min_episodes for s in range(2))
    topo.restart_shard(1)
    assert len(shard_of(topo, 1).storage) == 0
    host = topo.learner.obj
    host.train(1)  # the first split after a restart knows no sizes yet and may ask the empty shard (no batch)
    assert host.train(5)["updates"] == 5
    assert host.learner.batches
    for batch in host.learner.batches:
        assert all(shard_for(e, 2) == 0 for e in batch["episode_id"].tolist())
    step_all(topo, 40)  # rollout hosts got the new shard: it fills again
    assert len(shard_of(topo, 1).storage) > 0


def test_rejected_segments_are_counted_and_the_shard_keeps_serving(tiny):
    topo = build_topology(tiny("replay.min_episodes=1"))
    segs, trajs = scripted(horizon=6, steps=12, first_id=1)
    assert get(call(topo.shards[0], "add", segs)) == len(trajs)
    assert get(call(topo.shards[0], "add", segs[:1])) == 0  # a duplicate of a complete episode: refused
    stats = get(call(topo.shards[0], "stats"))
    assert stats["rejected_segments"] == 1 and stats["episodes"] == len(trajs)
    batch, size = get(call(topo.shards[0], "sample", 4, "mac_sjert"))
    assert size == len(trajs) and batch["episode_id"].shape == (4,)


def test_whole_episode_check_finds_missing_heads_and_tails(tiny):
    topo = build_topology(tiny("replay.min_episodes=1"))
    segs, trajs = scripted(horizon=6, steps=30, first_id=1)
    get(call(topo.shards[0], "add", segs))
    batch, _ = get(call(topo.shards[0], "sample", 8, "mac_sjert"))
    assert partial_episode_rows(batch) == 0
    cut = {k: v.clone() for k, v in batch.items()}
    cut["seg_start"][0, 0, 0] = 1  # agent 0's first action does not start at step 0
    cut["seg_end"][1, 1] = torch.where(cut["seg_mask"][1, 1] > 0, cut["seg_end"][1, 1] - 1, 0)  # a short tail
    assert partial_episode_rows(cut) == 2
    assert LearnerHost.CHECK_EVERY > 1


@pytest.mark.slow
def test_ray_shards_serve_both_views_and_survive_a_killed_actor(ray_session, tiny):
    ray = ray_session
    cfg = tiny("cluster.runtime=ray", "cluster.num_replay_shards=2", "cluster.num_rollout_workers=1",
               "replay.min_episodes=2")
    topo = build_topology(cfg)
    try:
        for _ in range(400):  # the rollout actor ships its segments straight to the shard actors
            ray.get(topo.rollouts[0].step.remote())
            if min(ray.get([s.num_episodes.remote() for s in topo.shards])) >= cfg.replay.min_episodes:
                break
        for s in range(2):  # every episode is on its shard
            held = {ep["episode_id"] for ep in ray.get(topo.shards[s].state_dict.remote())["episodes"]}
            assert held and all(shard_for(e, 2) == s for e in held)
        assert ray.get(topo.learner.train.remote(3, 60.0))["updates"] == 3
        jert = ray.remote(LearnerHost).remote(tiny(*cfg_overrides(cfg), "learner.buffer=mac_jert"), topo.info,
                                              topo.shards, None, topo.roles)
        assert ray.get(jert.train.remote(2, 60.0))["updates"] == 2
        ray.kill(jert)
        sampled = [ray.get(s.stats.remote())["sampled_episodes"] for s in topo.shards]
        assert sum(sampled) >= 5 * cfg.cluster.batch_size and all(n > 0 for n in sampled)
        ray.kill(topo.shards[1])
        topo.restart_shard(1)  # what the supervisor does when a shard's call fails
        assert ray.get(topo.shards[1].num_episodes.remote()) == 0
        before = ray.get(topo.shards[0].stats.remote())["sampled_episodes"]
        assert ray.get(topo.learner.train.remote(2, 60.0))["updates"] == 2
        # the replacement holds too few episodes: every batch came from shard 0
        assert ray.get(topo.shards[0].stats.remote())["sampled_episodes"] >= before + 2 * cfg.cluster.batch_size
        assert ray.get(topo.shards[1].stats.remote())["sampled_episodes"] == 0
    finally:
        topo.shutdown()


def cfg_overrides(cfg) -> list[str]:
    return ["cluster.runtime=ray", "cluster.num_replay_shards=2", "cluster.num_rollout_workers=1",
            f"replay.min_episodes={cfg.replay.min_episodes}"]
