"""RolloutWorker: segments cover every step of every finished episode, choices respect masks and busy agents,
weights are versioned, evaluation is greedy."""
from types import SimpleNamespace as NS

import numpy as np
import pytest
import torch

from asyncmarl.learner.config import LearnerConfig
from asyncmarl.platform.nets import AgentNetConfig
from asyncmarl.rollout_workers import RolloutConfig, RolloutWorker


def make_cfg(scenario="stag-hunter", **learner):
    return NS(seed=0, env=NS(scenario=scenario, settings={}), rollout=RolloutConfig(num_envs=4),
              learner=LearnerConfig(**learner), cluster=NS(num_rollout_workers=1))


def test_segments_tile_every_finished_episode():
    w = RolloutWorker(make_cfg(), worker_id=3)
    out = w.run(60)
    assert out.env_steps == 240 and out.episodes
    by_ep: dict[int, list] = {}
    for s in out.segments:
        assert s.worker_id == 3
        by_ep.setdefault(s.episode_id, []).append(s)
    for traj in out.trajectories:
        segs = by_ep[traj["episode_id"]]
        T = traj["length"]
        for i in range(w.info.n_agents):
            mine = sorted((s for s in segs if s.agent == i), key=lambda s: s.start)
            # an agent's segments tile [0, T-1] without gaps or overlaps, the last carries the final rows
            assert [s.start for s in mine] == [0] + [s.end + 1 for s in mine[:-1]]
            assert mine[-1].end == T - 1 and mine[-1].final is not None
            assert all(np.all(s.steps["actions"][:, i] == s.action) for s in mine)
        assert traj["reward"].sum() == pytest.approx(traj["return"])


def test_busy_agents_keep_running_action_and_choices_respect_masks():
    w = RolloutWorker(make_cfg("afforestation"))
    step = w._step
    for _ in range(30):
        actions = w.policy.act(step, epsilon=1.0, rng=w.rng)
        chosen = np.take_along_axis(step.action_mask, actions[..., None], -1)[..., 0]
        assert np.all(chosen[step.choosing])
        assert np.all(actions[~step.choosing] == step.macro_action[~step.choosing])
        w.run(1)
        step = w._step


def test_weights_are_versioned_and_greedy_evaluation_is_deterministic():
    w = RolloutWorker(make_cfg())
    new = {k: torch.randn_like(v) for k, v in w.net.state_dict().items()}
    w.set_weights(2, new)
    assert w.version == 2
    w.set_weights(1, {k: torch.zeros_like(v) for k, v in new.items()})  # stale: ignored
    assert torch.equal(w.net.state_dict()["fc.weight"], new["fc.weight"])
    a, b = w.evaluate(12, seed=5), w.evaluate(12, seed=5)
    assert a == b and a["episodes"] == 12 and "catch_rate_mean" in a


def test_epsilon_anneals_with_env_steps():
    cfg = RolloutConfig(epsilon_start=1.0, epsilon_end=0.1, epsilon_anneal_steps=100)
    assert cfg.epsilon(0) == 1.0 and cfg.epsilon(50) == pytest.approx(0.55) and cfg.epsilon(1000) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="rollout.epsilon_end"):
        RolloutConfig(epsilon_end=1.5)


def test_mac_jert_policy_ticks_rnn_only_at_squeezed_steps():
    cfg = make_cfg(algo="avf", buffer="mac_jert", atpg=False, mixer="qmix",
                   agent_net=AgentNetConfig(temporal=False))
    w = RolloutWorker(cfg)
    step = w._step
    h0 = w.policy.hidden.clone()
    w.policy.act(step, 0.0, w.rng)
    ticked = torch.as_tensor(step.choosing.any(1))
    changed = (w.policy.hidden != h0).flatten(1).any(1)
    assert torch.equal(changed, ticked)
