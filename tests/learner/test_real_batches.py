"""The learners on batches sampled from a real ReplayShard fed by real scenarios (random actions through the
rollout SegmentCutter), in both views, and with LeGEM's redistributed rewards on an off-beat game."""
import dataclasses
import math

import numpy as np
import pytest
import torch

from asyncmarl.learner import Learner, LearnerConfig
from asyncmarl.memory_service.legem import LegemConfig, LegemMemory
from asyncmarl.memory_service.replay.config import ReplayConfig
from asyncmarl.memory_service.replay.shard import ReplayShard
from asyncmarl.memory_service.replay.synthetic import scripted_segments
from asyncmarl.platform.envs import EnvInfo, make_batched, spec
from asyncmarl.platform.nets import AgentNetConfig
from asyncmarl.platform.nets.agent import sequence_inputs

G = 0.98
NET = AgentNetConfig(hidden_dim=16, embed_dim=16, pe_dim=8)


def _shard(scenario, steps, window=0, burn_in=0):
    env = make_batched(scenario, 8)
    info = EnvInfo.from_env(env, family=spec(scenario).family)
    segments, trajectories = scripted_segments(None, 8, steps, G, seed=0, env=env)
    shard = ReplayShard(ReplayConfig(gamma=G, min_episodes=2, window=window, burn_in=burn_in), seed=0)
    shard.add(segments)
    return info, shard, trajectories


@pytest.fixture(scope="module")
def boxpushing():
    return _shard("boxpushing-6", 120)


CASES = {
    "tomacvf": dict(agent_net=NET),
    "tomacvf_mac_jert": dict(agent_net=NET, buffer="mac_jert"),
    "tomacvf_no_atpg_qplex": dict(agent_net=NET, atpg=False, mixer="qplex"),
    "tomacvf_no_atpg_mac_jert": dict(agent_net=NET, atpg=False, buffer="mac_jert"),
    "tomacvf_qtran": dict(agent_net=NET, atpg=False, mixer="qtran"),
    "tomacvf_vdn_atpg": dict(agent_net=NET, mixer="vdn"),
    "avf": dict(algo="avf", buffer="mac_jert", atpg=False, agent_net=dataclasses.replace(NET, temporal=False),
                target_update="polyak"),
    "qmix": dict(algo="qmix", atpg=False, agent_net=dataclasses.replace(NET, temporal=False), td_lambda=0.8),
}


@pytest.mark.parametrize("case", list(CASES))
def test_updates_on_sampled_batches(boxpushing, case):
    info, shard, _ = boxpushing
    torch.manual_seed(0)
    learner = Learner(LearnerConfig(gamma=G, device="cpu", **CASES[case]), info)
    batch = shard.sample(4, view=learner.cfg.buffer)
    metrics = [learner.update(batch) for _ in range(2)]
    assert all(math.isfinite(v) for m in metrics for v in m.values())
    assert metrics[-1]["learner/version"] == 2.0
    if case == "tomacvf":
        assert metrics[-1]["losses/macro_td"] > 0


def test_sampled_rows_evaluate_running_actions_at_their_elapsed_time(boxpushing):
    _, shard, _ = boxpushing
    for view in ("mac_sjert", "mac_jert"):
        batch = shard.sample(6, view=view)
        inp = sequence_inputs(batch, view)
        T = batch["actions"].shape[1]
        real = batch["filled"][..., None].bool().expand_as(batch["elapsed"])
        want = torch.where(batch["choosing"][:, :T], 0, batch["elapsed"])
        assert torch.equal(inp["eval_elapsed"][:, :T][real], want[real])


def test_windows_with_burn_in_are_masked():
    info, shard, _ = _shard("boxpushing-6", 120, window=6, burn_in=3)
    batch = shard.sample(4)
    assert batch["burn_in"].sum() > 0
    torch.manual_seed(0)
    m = Learner(LearnerConfig(gamma=G, device="cpu", agent_net=NET), info).update(batch)
    assert math.isfinite(m["losses/total"])


def test_offbeat_iql_with_legem_rewards():
    info, shard, trajectories = _shard("stag-hunter", 60)
    legem = LegemMemory(LegemConfig(), info)
    legem.add_episodes(trajectories)
    batch = shard.sample(4)
    batch["reward_redistributed"] = legem.redistribute(batch)
    torch.manual_seed(0)
    cfg = LearnerConfig(algo="iql", atpg=False, legem=True, n_step=1, gamma=G, device="cpu",
                        agent_net=dataclasses.replace(NET, temporal=False))
    m = Learner(cfg, info).update(batch)
    assert math.isfinite(m["losses/micro_td"])
    np.testing.assert_allclose(batch["reward_redistributed"].sum().item(), batch["reward"].sum().item(), rtol=1e-5)
