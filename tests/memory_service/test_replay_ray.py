"""Two replay shards as Ray actors behind the client: routing, merged sampling, and a killed actor replaced
by an empty one while the other keeps serving."""
import time

import pytest

from asyncmarl.memory_service.replay import ReplayConfig
from asyncmarl.memory_service.replay.client import ReplayClient, make_shard_actor, shard_for
from asyncmarl.memory_service.replay.synthetic import ScriptedSettings, scripted_segments

CFG = ReplayConfig(min_episodes=1, gamma=0.9)


@pytest.mark.slow
def test_ray_shards_serve_and_survive_a_killed_actor():
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        shards = [make_shard_actor(CFG, num_cpus=0.5, seed=i) for i in range(2)]
        client = ReplayClient(shards, factory=lambda i: make_shard_actor(CFG, num_cpus=0.5, seed=10 + i), seed=0)
        segs, trajs = scripted_segments(ScriptedSettings(n_agents=2, horizon=6), 4, steps=30, gamma=0.9)
        assert client.add(segs) == len(trajs)
        batch = client.sample(8, view="mac_jert")
        assert batch["episode_id"].shape == (8,) and "discount" in batch
        ray.kill(client.shards[1])
        # the kill is asynchronous: calls already queued may still be answered, so sample until the client has
        # noticed the death (at most a minute on a loaded machine)
        deadline = time.monotonic() + 60.0
        while client.restarts == 0 and time.monotonic() < deadline:
            client.sample(8)
            time.sleep(0.05)
        assert client.restarts == 1
        batch = client.sample(8)  # the replacement shard is empty: everything comes from shard 0
        assert all(shard_for(e, 2) == 0 for e in batch["episode_id"].tolist())
        assert client.stats()["live_shards"] == 2
    finally:
        if started:
            ray.shutdown()
