"""The distributed platform on a real Ray instance (loopback, 2 CPUs): a short run (with LeGEM) with wandb offline,
fault injection (a rollout actor, a replay shard, then the learner killed mid-run), placement errors."""
from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from asyncmarl.cluster import train
from asyncmarl.cluster.checkpoint import list_checkpoints, load_checkpoint
from asyncmarl.cluster.cli import main
from asyncmarl.cluster.monitor import read_metrics

pytestmark = pytest.mark.slow
RAY = ["cluster.runtime=ray", "cluster.num_rollout_workers=2", "cluster.num_replay_shards=2"]


def test_distributed_run_with_wandb_offline(ray_session, tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb"))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    (tmp_path / "wandb").mkdir()
    # an off-beat scenario with LeGEM, so the LeGEM actor and the chained redistribution run too
    cfg = tiny(*RAY, "logging.wandb_mode=auto", "cluster.total_env_steps=3000", "env.scenario=stag-hunter",
               "learner.legem=true", "learner.n_step=1")
    final = train(cfg)
    assert final["env_steps"] >= 3000 and final["updates"] > 0
    assert final["counters/published"] > 0  # weights went out to the rollout actors
    rows = read_metrics(final["run_dir"])
    learning = [r for r in rows if "rollout/policy_lag" in r]
    assert learning and all(r["rollout/policy_lag"] >= 0 for r in learning)
    assert any("learner/wait_fraction" in r for r in rows)
    assert all(r["replay/partial_rows"] == 0 for r in rows if "replay/partial_rows" in r)
    assert any(r.get("legem/episodes", 0) > 0 for r in rows)
    saved = load_checkpoint(list_checkpoints(Path(final["run_dir"]) / "checkpoints")[-1])
    assert saved["legem"] is not None and saved["counters"]["updates"] == final["updates"]
    runs = list((tmp_path / "wandb" / "wandb").glob("offline-run-*"))
    assert runs and any(p.suffix == ".wandb" for p in runs[0].iterdir())
    assert main(["evaluate", final["run_dir"], "--episodes", "2"]) == 0
    assert "2 greedy episodes" in capsys.readouterr().out
    gif = tmp_path / "episode.gif"
    assert main(["render", final["checkpoint"], "--out", str(gif)]) == 0 and gif.stat().st_size > 0


def test_killed_rollout_actor_shard_and_learner_are_restarted(ray_session, tiny):
    ray = ray_session
    killed = {}

    def kill_mid_run(d):
        if not killed and d.c.updates >= 3:
            killed["at"] = d.c.env_steps
            ray.kill(d.topo.rollouts[0])
            ray.kill(d.topo.shards[1])
        elif "learner" not in killed and d.supervisor.restarts["rollout"] >= 1 and d.c.updates > 3:
            # checkpoint now rather than wait for the interval, so the learner dies early enough in the run
            # for the driver to see its failure (a learner that dies in the final drain is not restarted)
            if d.checkpoint() is not None:
                killed["learner"] = load_checkpoint(d.last_checkpoint)["learner"]["version"]
                ray.kill(d.topo.learner)

    cfg = tiny(*RAY, "cluster.total_env_steps=9000", "cluster.checkpoint_interval=20",
               "replay.incomplete_timeout_s=1.0")
    final = train(cfg, hooks=(kill_mid_run,))
    assert "learner" in killed and killed["at"] < 4500 and final["env_steps"] >= 9000 and final["stopped"] is None
    rows = [r for r in read_metrics(final["run_dir"]) if "faults/restarts_rollout" in r]
    last = rows[-1]
    assert last["faults/restarts_rollout"] >= 1 and last["faults/restarts_shard"] >= 1
    assert last["faults/restarts_learner"] == 1  # and it went on from the checkpoint, not from version 0
    assert final["counters/version"] >= killed["learner"] > 0
    assert last["updates"] > 0 and last["episodes"] > 0
    # no sampled batch ever held a partial episode; the dead worker's open episodes timed out in replay
    assert all(r.get("replay/partial_rows", 0) == 0 for r in rows)
    assert last["replay/dropped_incomplete"] >= 1
    after = [r for r in rows if r["env_steps"] > killed["at"] and "losses/total" in r]
    assert after  # training went on after the faults
    # one source of truth for counters: versions never go back, so no negative policy lag after the learner
    # restart, and the updates count equals the (numbered-on) learner version
    assert all(r["rollout/policy_lag"] >= 0 for r in rows if "rollout/policy_lag" in r)
    assert final["counters/updates"] == final["counters/version"] and last["faults/updates_lost"] >= 0
    # the restarted rollout worker continued the run's epsilon schedule instead of starting over at 1.0
    eps = [r["rollout/epsilon"] for r in rows if "rollout/epsilon" in r and r["env_steps"] > killed["at"]]
    assert eps and max(eps) < 1.0 and all(b <= a + 1e-9 for a, b in pairwise(eps))


def test_exhausted_restarts_save_what_they_can_and_exit_1(ray_session, tiny, capsys):
    def kill_rollout(d):
        if d.c.updates >= 2:
            ray_session.kill(d.topo.rollouts[0])

    cfg = tiny(*RAY, "cluster.total_env_steps=20000", "cluster.max_restarts=0")
    from asyncmarl.cluster.driver import Driver
    from asyncmarl.cluster.supervisor import GaveUp

    d = Driver(cfg, hooks=(kill_rollout,))
    with pytest.raises(GaveUp) as info:
        d.run()
    msg = str(info.value)
    assert "\n" not in msg and "rollout failed 1 times (cluster.max_restarts=0" in msg
    assert "resume with: asyncmarl train --resume" in msg
    saved = load_checkpoint(d.last_checkpoint)  # the learner and the live roles were saved on the way out
    assert saved["counters"]["updates"] >= 2 and saved["replay"] is not None
    assert read_metrics(d.run_dir)[-1]["stopped"].startswith("gave up: rollout failed")


def test_layout_that_cannot_fit_fails_at_once(ray_session, tmp_path, capsys):
    assert main(["train", "tiny", "cluster.runtime=ray", "cluster.num_rollout_workers=4", "cluster.actor_cpus=1",
                 "logging.wandb_mode=disabled", "logging.progress=false", f"logging.run_root={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert "cluster.actor_cpus=1 x 5" in err and "cluster has 2" in err
    assert not list(tmp_path.iterdir())  # failed before a run directory was made


def test_rate_limiter_holds_the_in_process_ratio_under_ray(ray_session, tiny):
    # 2 actors x 4 envs x 10 steps = 80 steps per round, 2 updates per round: 1 update per 40 env steps
    cfg = tiny(*RAY, "cluster.total_env_steps=6000", "cluster.updates_per_iteration=2", "cluster.rate_tolerance=2")
    final = train(cfg)
    rows = [r for r in read_metrics(final["run_dir"]) if "rate/lag_updates" in r and r["updates"] > 0]
    assert len(rows) >= 5
    tol, round_updates = 2 * 2, 2
    # the learner never runs more than the tolerance ahead; rollouts at most one round of calls in flight beyond it
    assert all(-(tol + round_updates + 1) <= r["rate/lag_updates"] <= tol for r in rows), \
        [r["rate/lag_updates"] for r in rows]
    first = rows[0]
    ratio = (final["updates"] - first["updates"]) / (final["env_steps"] - first["env_steps"])
    assert abs(ratio - 1 / 40) < 0.2 / 40  # within 20% of the configured ratio over the run
