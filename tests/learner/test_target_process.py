"""learner.target_process: the target networks' forward in a second process gives exactly the training of the
in-process forward (losses, TD errors, parameters), follows every in-place target change (hard copies, Polyak
averaging, checkpoint loads), grows its shared buffers, and falls back to the learner's process if it dies."""
import dataclasses
import logging

import pytest
import torch

from asyncmarl.learner import Learner, LearnerConfig
from asyncmarl.learner.target_process import TargetProcess
from asyncmarl.memory_service.replay.config import ReplayConfig
from asyncmarl.memory_service.replay.shard import ReplayShard
from asyncmarl.memory_service.replay.synthetic import scripted_segments
from asyncmarl.platform.envs import EnvInfo, make_batched
from asyncmarl.platform.nets import AgentNetConfig
from asyncmarl.platform.nets.packing import RowPacking

G = 0.98
NET = AgentNetConfig(hidden_dim=16, embed_dim=16)


@pytest.fixture(scope="module")
def boxpushing():
    env = make_batched("boxpushing-6", 8)
    info = EnvInfo.from_env(env)
    segments, _ = scripted_segments(None, 8, 300, G, seed=0, env=env)
    shard = ReplayShard(ReplayConfig(gamma=G, min_episodes=2), seed=0)
    shard.add(segments)
    return info, {view: [shard.sample(8, view=view) for _ in range(3)] for view in ("mac_sjert", "mac_jert")}


def _pair(cfg, info):
    out = []
    for mode in (False, True):
        torch.manual_seed(0)
        out.append(Learner(dataclasses.replace(cfg, target_process=mode), info))
    assert out[0].family.target_runner is None and isinstance(out[1].family.target_runner, TargetProcess)
    return out


def _same_training(a, b, batches, updates=5):
    for i in range(updates):
        ma, mb = a.update(batches[i % len(batches)]), b.update(batches[i % len(batches)])
        assert ma.keys() == mb.keys()
        for k in ma:
            assert ma[k] == pytest.approx(mb[k], rel=1e-6, abs=1e-6), (i, k)
        torch.testing.assert_close(a._last_td[0], b._last_td[0], rtol=1e-6, atol=1e-6)
    for pa, pb in zip(a.online.parameters(), b.online.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-6, atol=1e-6)


CASES = {
    "tomacvf": dict(algo="tomacvf", target_update="hard", target_update_interval=2),
    "avf": dict(algo="avf", buffer="mac_jert", atpg=False, target_update="polyak", tau=0.3),
    "qplex": dict(algo="qplex", mixer="qplex", atpg=False, target_update_interval=2),
}


@pytest.mark.parametrize("case", list(CASES))
def test_second_process_trains_exactly_as_in_process(boxpushing, case):
    info, batches = boxpushing
    cfg = LearnerConfig(gamma=G, agent_net=dataclasses.replace(NET, temporal=case == "tomacvf"), **CASES[case])
    a, b = _pair(cfg, info)
    _same_training(a, b, batches[cfg.buffer])
    assert b.family.target_runner.failed is None
    b.close()


def test_unpacked_batches_and_growing_buffers(boxpushing, monkeypatch):
    """Batches without packing (every row real) and a worker whose buffers start too small for one batch."""
    info, batches = boxpushing
    monkeypatch.setattr(RowPacking, "of_batch", staticmethod(lambda filled: None))
    a, b = _pair(LearnerConfig(gamma=G, agent_net=NET, target_update_interval=1), info)
    runner = b.family.target_runner
    runner.close()
    b.family.target_runner = TargetProcess(b.target, b.family.target_forward, capacity=64)
    _same_training(a, b, batches["mac_sjert"], updates=3)
    assert b.family.target_runner.failed is None and b.family.target_runner._out.numel() > 64
    b.close()


def test_checkpoint_load_reaches_the_worker(boxpushing):
    info, batches = boxpushing
    cfg = LearnerConfig(gamma=G, agent_net=NET, target_update_interval=50)
    a, b = _pair(cfg, info)
    torch.manual_seed(1)
    trained = Learner(dataclasses.replace(cfg, target_process=False), info)
    for batch in batches["mac_sjert"]:
        trained.update(batch)
    state = trained.state_dict()
    a.load_state_dict(state)
    b.load_state_dict(state)  # copies into the shared target in place: the worker sees the loaded target
    _same_training(a, b, batches["mac_sjert"], updates=2)
    b.close()


def test_a_dead_worker_falls_back_to_the_learner_process(boxpushing, caplog):
    info, batches = boxpushing
    a, b = _pair(LearnerConfig(gamma=G, agent_net=NET), info)
    b.family.target_runner._proc.kill()
    b.family.target_runner._proc.join()
    with caplog.at_level(logging.WARNING):
        _same_training(a, b, batches["mac_sjert"], updates=2)
    assert b.family.target_runner.failed is not None
    assert "target process stopped" in caplog.text


def test_on_is_refused_where_it_cannot_run():
    info = EnvInfo.from_env(make_batched("boxpushing-6", 1))
    ac = dict(algo="mac_iac", buffer="mac_cert", atpg=False, agent_net=dataclasses.replace(NET, temporal=False))
    with pytest.raises(ValueError, match="learner.target_process=true is not supported by learner.algo='mac_iac'"):
        Learner(LearnerConfig(target_process=True, **ac), info)
    off = Learner(LearnerConfig(**ac), info)  # auto: quietly none
    assert off.family.target_runner is None
