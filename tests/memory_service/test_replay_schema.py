"""The one field declaration (``asyncmarl.platform.schema``) is what the data path produces: segments carry
exactly its segment fields in its dtypes, replay stores them in its compact dtypes, and both batch views carry
exactly their keys with the declared dtypes and shapes."""
import numpy as np
import pytest

from asyncmarl.memory_service.replay import ReplayConfig, ReplayShard
from asyncmarl.memory_service.replay.synthetic import ScriptedSettings, scripted_segments
from asyncmarl.platform import schema
from asyncmarl.platform.envs.base import EnvInfo

SETTINGS = ScriptedSettings(n_agents=3, n_actions=4, obs_dim=5, state_dim=6, horizon=9)
INFO = EnvInfo("scripted", n_agents=3, n_actions=4, obs_dim=5, state_dim=6, horizon=9)
DIMS = {"n_agents": 3, "n_actions": 4, "obs_dim": 5, "state_dim": 6}


@pytest.fixture(scope="module")
def filled():
    segs, trajs = scripted_segments(SETTINGS, batch_size=2, steps=30, gamma=0.9, seed=0)
    shard = ReplayShard(ReplayConfig(min_episodes=1, gamma=0.9), seed=0)
    assert shard.add(segs) == len(trajs) > 0
    return segs, shard


def test_segments_carry_the_declared_fields_dtypes_and_shapes(filled):
    segs, _ = filled
    for seg in segs[:20]:
        assert tuple(seg.steps) == schema.STEP_FIELDS
        for f in schema.SEGMENT_FIELDS:
            assert seg.steps[f.name].dtype == np.dtype(f.dtype), f.name
            assert seg.steps[f.name].shape == (seg.length,) + f.tail(DIMS), f.name
    last = next(s for s in segs if s.is_last)
    assert tuple(last.final) == schema.FINAL_FIELDS == ("state", "obs", "real_obs", "action_mask", "choosing")


def test_replay_stores_the_declared_compact_dtypes(filled):
    _, shard = filled
    ep = next(iter(shard.storage.episodes.values()))
    assert set(ep.rows) == set(schema.STEP_FIELDS)
    for name, rows in ep.rows.items():
        assert rows.dtype == schema.STORED_DTYPES[name], name
    assert ep.rows["actions"].dtype == np.int16 and ep.rows["elapsed"].dtype == np.int32


@pytest.mark.parametrize("view", schema.VIEWS)
def test_both_views_carry_exactly_their_declared_keys(filled, view):
    _, shard = filled
    batch = shard.sample(4, view=view)
    declared = {f.name for f in schema.FIELDS if view in f.views}
    # weight: prioritised sampler only; reward_redistributed: added by LeGEM
    assert set(batch) == declared - {"weight", "reward_redistributed"}
    B, T = batch["actions"].shape[:2]
    dims = {**DIMS, schema.K: batch["seg_mask"].shape[-1]}
    for name, value in batch.items():
        f = schema.BY_NAME[name]
        assert value.numpy().dtype == np.dtype(f.dtype), name
        assert tuple(value.shape) == f.lead(B, T) + f.tail(dims), name


def test_learner_fields_follow_the_view():
    sjert = {f.name for f in schema.learner_fields("mac_sjert", segments=True)}
    jert = {f.name for f in schema.learner_fields("mac_jert", segments=False)}
    assert {"real_obs", "seg_start", "seg_return"} <= sjert and "obs" not in sjert and "discount" not in sjert
    assert {"obs", "discount"} <= jert and "real_obs" not in jert and "seg_start" not in jert
    assert "seg_start" not in {f.name for f in schema.learner_fields("mac_sjert", segments=False)}
    with pytest.raises(ValueError, match="view must be one of"):
        schema.learner_fields("jert", segments=False)


def test_layout_table_lists_every_batch_key():
    table = schema.layout_table()
    for f in schema.FIELDS:
        assert f.name in table
    assert "[B, T+1, n_agents, obs_dim]" in table and "[B, n_agents, K]" in table
