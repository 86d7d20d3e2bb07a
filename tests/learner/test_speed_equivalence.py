"""The learner's fast paths give the same training as reference implementations: nn.GRU's autograd instead
of the hand-written GRU backward, the general matmul agent attention instead of its one/two-agent shortcut,
the per-parameter (for-loop) Adam instead of the fused one, and every padded row instead of the packed real
rows. Fixed seed, fixed batches sampled from a real
replay shard fed by real scenarios: losses, TD errors, priorities after several updates agree within
1e-5, and so do the parameters (up to what Adam's per-element normalisation makes of rounding, below)."""
import dataclasses

import pytest
import torch

import asyncmarl.platform.nets.agent as agent_module
from asyncmarl.learner import Learner, LearnerConfig
from asyncmarl.learner.atpg import ATPG
from asyncmarl.memory_service.replay.config import ReplayConfig
from asyncmarl.memory_service.replay.shard import ReplayShard
from asyncmarl.memory_service.replay.synthetic import scripted_segments
from asyncmarl.platform.envs import EnvInfo, make_batched
from asyncmarl.platform.nets import AgentNetConfig
from asyncmarl.platform.nets.packing import RowPacking

G = 0.98
NET = AgentNetConfig(hidden_dim=32, embed_dim=32)  # the default preset's sizes (boxpushing6_tomacvf)


def _batches(scenario, steps, views, k=3, size=8):
    env = make_batched(scenario, 8)
    info = EnvInfo.from_env(env)
    segments, _ = scripted_segments(None, 8, steps, G, seed=0, env=env)
    shard = ReplayShard(ReplayConfig(gamma=G, min_episodes=2), seed=0)
    shard.add(segments)
    return info, {view: [shard.sample(size, view=view) for _ in range(k)] for view in views}


@pytest.fixture(scope="module")
def boxpushing():
    return _batches("boxpushing-6", 300, ("mac_sjert", "mac_jert"))


@pytest.fixture(scope="module")
def three_agents():
    return _batches("wtd-a", 200, ("mac_sjert",))


def _train(learner, batches, updates):
    out = []
    for i in range(updates):
        metrics = learner.update(batches[i % len(batches)])
        out.append((metrics, learner._last_td[0].clone(), learner.last_priorities))  # TD errors [B, T, X]
    return out


def _compare(cfg, info, batches, monkeypatch, updates=4):
    with monkeypatch.context() as m:  # the reference implementations
        m.setattr(agent_module, "gru_sequence", lambda x, gru: gru(x)[0])  # nn.GRU's own autograd
        m.setattr(ATPG, "attend", lambda self, e: self.agent_attention(e)[0])  # the general attention
        m.setattr(RowPacking, "of_batch", staticmethod(lambda filled: None))  # every row, padding included
        torch.manual_seed(0)
        ref = Learner(cfg, info)
        ref.optimiser = torch.optim.Adam(ref.online.parameters(), lr=cfg.lr, foreach=False, fused=False)
        want = _train(ref, batches, updates)
    assert any(RowPacking.of_batch(torch.as_tensor(x["filled"])) is not None for x in batches)  # padding to skip
    torch.manual_seed(0)
    fast = Learner(cfg, info)
    got = _train(fast, batches, updates)
    for step, ((m_ref, td_ref, pr_ref), (m_got, td_got, pr_got)) in enumerate(zip(want, got, strict=True)):
        for key in m_ref:
            if key.startswith(("losses/", "q/", "td/")):
                assert m_got[key] == pytest.approx(m_ref[key], rel=1e-5, abs=1e-5), (step, key)
        torch.testing.assert_close(td_got, td_ref, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(torch.as_tensor(pr_got), torch.as_tensor(pr_ref), rtol=1e-5, atol=1e-5)
    # Adam divides each gradient element by its own running magnitude, so an element whose gradient is at
    # rounding level may step by up to lr either way: parameters agree within 1e-6 in RMS, 1e-4 elementwise
    for (name, p_ref), p_got in zip(ref.online.named_parameters(), fast.online.parameters(), strict=True):
        diff = (p_got - p_ref).detach()
        assert diff.square().mean().sqrt() < 1e-6 and diff.abs().max() < 1e-4, (name, diff.abs().max())
    assert want[-1][0]["losses/total"] > 0


CASES = {
    "tomacvf": dict(agent_net=NET, lr=1e-3),
    "tomacvf_vdn": dict(agent_net=NET, mixer="vdn"),
    "tomacvf_mac_jert": dict(agent_net=NET, buffer="mac_jert"),
    "avf": dict(algo="avf", buffer="mac_jert", atpg=False, target_update="polyak",
                agent_net=dataclasses.replace(NET, temporal=False)),
    "qmix_td_lambda": dict(algo="qmix", atpg=False, td_lambda=0.8, agent_net=dataclasses.replace(NET, temporal=False)),
    "tomacvf_qplex": dict(agent_net=NET, mixer="qplex"),
    "tomacvf_qtran": dict(agent_net=NET, mixer="qtran", atpg=False),
    "iql": dict(algo="iql", atpg=False, agent_net=dataclasses.replace(NET, temporal=False)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fast_update_matches_reference_implementations(boxpushing, monkeypatch, case):
    info, batches = boxpushing
    cfg = LearnerConfig(gamma=G, device="cpu", target_update_interval=2, **CASES[case])
    _compare(cfg, info, batches[cfg.buffer], monkeypatch)


def test_three_agents_use_the_general_attention(three_agents, monkeypatch):
    info, batches = three_agents
    assert info.n_agents == 3
    cfg = LearnerConfig(gamma=G, device="cpu", agent_net=NET, target_update_interval=2)
    _compare(cfg, info, batches["mac_sjert"], monkeypatch)


def test_fused_adam_survives_loading_a_checkpoint_saved_without_it(boxpushing):
    info, batches = boxpushing
    cfg = LearnerConfig(gamma=G, device="cpu", agent_net=NET)
    torch.manual_seed(0)
    old = Learner(cfg, info)
    old.optimiser = torch.optim.Adam(old.online.parameters(), lr=cfg.lr)  # a checkpoint from before fused Adam
    old.update(batches["mac_sjert"][0])
    state = old.state_dict()
    assert not state["optimiser"]["param_groups"][0]["fused"]
    new = Learner(cfg, info)
    new.load_state_dict(state)
    assert new.optimiser.param_groups[0]["fused"] is True
    assert new.optimiser.state_dict()["state"][0]["step"] == 1  # the moments and counts came from the file
    new.update(batches["mac_sjert"][1])
