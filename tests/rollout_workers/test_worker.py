"""RolloutWorker: segments cover every step of every finished episode, choices respect masks and busy agents,
weights are versioned, evaluation is greedy."""
import numpy as np
import pytest
import torch

from asyncmarl.platform.nets import AgentNetConfig
from asyncmarl.rollout_workers import RolloutConfig, RolloutWorker


def make_worker(scenario="stag-hunter", **kw):
    """A worker of 4 copies: only its own config section and what it is handed."""
    return RolloutWorker(RolloutConfig(num_envs=4), scenario, kw.pop("agent_net", AgentNetConfig()), **kw)


def test_segments_tile_every_finished_episode():
    w = make_worker(worker_id=3, num_workers=4, trajectories=True)
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
    w = make_worker("afforestation")
    step = w._step
    for _ in range(30):
        actions = w.policy.act(step, epsilon=1.0, rng=w.rng)
        chosen = np.take_along_axis(step.action_mask, actions[..., None], -1)[..., 0]
        assert np.all(chosen[step.choosing])
        assert np.all(actions[~step.choosing] == step.macro_action[~step.choosing])
        w.run(1)
        step = w._step


def test_weights_are_versioned_and_greedy_evaluation_is_deterministic():
    w = make_worker()
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
    w = make_worker(view="mac_jert", agent_net=AgentNetConfig(temporal=False))
    step = w._step
    h0 = w.policy.hidden.clone()
    w.policy.act(step, 0.0, w.rng)
    ticked = torch.as_tensor(step.choosing.any(1))
    changed = (w.policy.hidden != h0).flatten(1).any(1)
    assert torch.equal(changed, ticked)


def test_trajectories_only_when_asked_and_the_epsilon_share_of_one_worker():
    out = make_worker(num_workers=4).run(60)
    assert out.episodes and out.segments and out.trajectories == []  # no copies unless LeGEM reads them
    cfg = RolloutConfig(num_envs=4, epsilon_start=1.0, epsilon_end=0.0, epsilon_anneal_steps=2000)
    w = RolloutWorker(cfg, "stag-hunter", AgentNetConfig(), worker_id=1, num_workers=4)
    w.run(10)
    assert w.env_steps == 40 and w.epsilon() == pytest.approx(1.0 - 4 * 40 / 2000)  # its steps x 4 workers
    assert w.epsilon(1000) == pytest.approx(0.5)  # the run-wide count, when the driver hands it over


def test_bad_arguments_name_what_is_wrong():
    with pytest.raises(ValueError, match="view must be one of"):
        make_worker(view="jert")
    with pytest.raises(ValueError, match="worker_id"):
        make_worker(worker_id=2, num_workers=2)
    with pytest.raises(ValueError, match="RolloutConfig"):
        RolloutWorker({"num_envs": 4}, "stag-hunter", AgentNetConfig())


def test_the_seed_fixes_weights_episodes_and_ids_and_another_seed_changes_them():
    def first(seed):
        w = make_worker(seed=seed)
        out = w.run(30)
        return w.net.state_dict()["fc.weight"], [(s.episode_id, s.action, s.end) for s in out.segments]

    (wa, sa), (wb, sb), (wc, sc) = first(11), first(11), first(12)
    assert torch.equal(wa, wb) and sa == sb
    assert not torch.equal(wa, wc) and {e for e, _, _ in sa}.isdisjoint({e for e, _, _ in sc})
