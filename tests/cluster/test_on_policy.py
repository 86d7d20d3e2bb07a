"""The on-policy data path of the actor-critic baselines, in one process and under Ray with 2 rollout actors: no
consumed episode is older than ``replay.max_policy_lag`` versions, every episode is consumed by exactly one
update, and each update takes ``learner.epochs`` gradient steps on its batch."""
from __future__ import annotations

import pytest

from asyncmarl.cluster import train
from asyncmarl.cluster.config import load_config
from asyncmarl.cluster.handles import call, get

SMALL = ["rollout.num_envs=8", "rollout.steps_per_call=10", "cluster.batch_size=4", "cluster.eval_interval=0",
         "cluster.eval_episodes=4", "cluster.checkpoint_interval=1000", "cluster.actor_cpus=0",
         "learner.agent_net.hidden_dim=8", "learner.agent_net.embed_dim=8", "learner.joint_net.hidden_dim=8",
         "learner.joint_net.embed_dim=8", "logging.progress=false", "logging.wandb_mode=disabled",
         "logging.log_interval=1"]


def _run(tmp_path, preset, *overrides):
    seen = {"consumed": [], "asked": []}

    def watch(d):  # the learner host's record of what it consumed, fetched without holding up the loop
        if not d.topo.remote:
            seen["consumed"] = get(call(d.topo.learner, "consumption"))
            return
        import ray

        if seen["asked"] and ray.wait(seen["asked"], timeout=0)[0]:
            seen["consumed"] = max(seen["consumed"], ray.get(seen["asked"].pop()), key=len)
        if not seen["asked"]:
            seen["asked"].append(d.topo.learner.consumption.remote())

    cfg = load_config(preset, [*SMALL, f"logging.run_root={tmp_path}", *overrides])
    final = train(cfg, hooks=(watch,))
    return cfg, final, seen


def _check(cfg, seen):
    consumed = seen["consumed"]
    assert len(consumed) >= 3, consumed
    lag = cfg.replay.max_policy_lag
    ids = [e for _, eps, _, _ in consumed for e in eps]
    assert len(ids) == len(set(ids))  # each episode consumed once ...
    for k, (version, eps, acted, steps) in enumerate(consumed):
        assert len(eps) == cfg.cluster.batch_size
        assert all(0 <= version - a <= lag for a in acted), (version, acted)  # ... and never older than the bound
        # ... by one update (versions count updates) of learner.epochs gradient steps
        assert version == k and steps == cfg.learner.epochs * (k + 1)


@pytest.mark.parametrize("preset", ["boxpushing6_mac_iaicc", "boxpushing6_mac_cac"])
def test_in_process_on_policy_is_strict(tmp_path, preset):
    cfg, final, seen = _run(tmp_path, preset, "cluster.total_env_steps=1200", "learner.epochs=3",
                            "replay.max_policy_lag=0")
    _check(cfg, seen)
    assert final["onpolicy/lag_max"] == 0.0 and final["onpolicy/stale_rows"] == 0.0


@pytest.mark.slow
def test_ray_on_policy_holds_the_lag_bound_with_two_rollout_actors(ray_session, tmp_path):
    cfg, final, seen = _run(tmp_path, "boxpushing6_mac_niacc", "cluster.runtime=ray", "cluster.num_rollout_workers=2",
                            "cluster.total_env_steps=4000", "learner.epochs=2", "replay.max_policy_lag=1")
    _check(cfg, seen)
    assert final["counters/env_steps"] >= 4000


def test_on_policy_needs_the_on_policy_replay(tmp_path):
    with pytest.raises(ValueError, match="replay.on_policy must be true"):
        load_config("boxpushing6_mac_iaicc", ["replay.on_policy=false"])
    with pytest.raises(ValueError, match="replay.on_policy must be false"):
        load_config("boxpushing6_avf", ["replay.on_policy=true", "replay.sampler=uniform"])
