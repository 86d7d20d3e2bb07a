"""The in-process platform (cluster.runtime=local): a short run and what a user does with it afterwards
(evaluate, render, plot, resume), LeGEM's redistributed rewards reaching the learner, and errors at the door."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from asyncmarl.cluster import train
from asyncmarl.cluster.checkpoint import CheckpointError, list_checkpoints, load_checkpoint
from asyncmarl.cluster.cli import main
from asyncmarl.cluster.driver import Driver
from asyncmarl.cluster.monitor import read_metrics
from asyncmarl.cluster.roles import Roles, make_learner, make_shard
from asyncmarl.cluster.topology import build_topology


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from asyncmarl.cluster.config import load_config

    root = tmp_path_factory.mktemp("runs")
    cfg = load_config("tiny", ["cluster.batch_size=8", "logging.progress=false", "logging.wandb_mode=disabled",
                               f"logging.run_root={root}", "cluster.total_env_steps=1200"])
    return cfg, train(cfg)


@pytest.mark.slow
def test_run_writes_config_metrics_checkpoint_and_gif(finished_run):
    cfg, final = finished_run
    run_dir = final["run_dir"]
    assert final["env_steps"] >= cfg.cluster.total_env_steps and final["updates"] > 0
    name = run_dir.rsplit("/", 1)[-1]
    assert name.startswith(f"{cfg.env.scenario}__{cfg.learner.algo}__{cfg.seed}__")
    rows = read_metrics(run_dir)
    assert rows[-1]["updates"] == final["updates"] and any("losses/total" in r for r in rows)
    assert all(r.get("replay/partial_rows", 0) == 0 for r in rows)
    ckpt = load_checkpoint(list_checkpoints(f"{run_dir}/checkpoints")[-1])
    assert ckpt["counters"]["updates"] == final["updates"] and ckpt["config"]["seed"] == cfg.seed
    assert list((__import__("pathlib").Path(run_dir) / "media").glob("eval_*.gif"))


@pytest.mark.slow
def test_evaluate_render_plot_from_the_cli(finished_run, tmp_path, capsys):
    _, final = finished_run
    assert main(["evaluate", final["run_dir"], "--episodes", "3"]) == 0
    out = capsys.readouterr().out
    assert "3 greedy episodes" in out and "95% CI" in out
    gif = tmp_path / "ep.gif"
    assert main(["render", final["checkpoint"], "--out", str(gif)]) == 0 and gif.stat().st_size > 0
    png = tmp_path / "curves.png"
    assert main(["plot", final["run_dir"], "--out", str(png)]) == 0 and png.stat().st_size > 0


@pytest.mark.slow
def test_resume_restores_exact_state_and_counters_continue(tiny):
    cfg = tiny("cluster.total_env_steps=1600", "cluster.checkpoint_interval=1000")

    def stop_early(d):
        if d.c.updates >= 12:
            d.request_stop("test")

    first = train(cfg, hooks=(stop_early,))
    assert first["stopped"] == "test" and first["env_steps"] < 1600
    saved = load_checkpoint(first["checkpoint"])
    # restoring puts back exactly what was saved
    d = Driver(cfg, resume=first["run_dir"])
    d.topo = build_topology(cfg)
    d.restore(d.resume_state)
    assert d.c.env_steps == saved["counters"]["env_steps"] and d.c.updates == saved["counters"]["updates"]
    restored = d.topo.learner.state_dict()["learner"]
    for key, value in saved["learner"]["learner"]["online"].items():
        assert torch.equal(restored["online"][key], value), key
    assert restored["version"] == saved["learner"]["learner"]["version"]
    assert d.topo.rollouts[0].state_dict()["env_steps"] == saved["rollouts"][0]["env_steps"]
    # the final checkpoint (here: the one written on the stop request) carries replay, so learning resumes on
    # the same episodes and priorities instead of refilling an empty replay
    stored = saved["replay"][0]["episodes"]
    assert stored and d.topo.shards[0].num_episodes() == len(stored)
    assert d.topo.shards[0].state_dict()["counts"] == saved["replay"][0]["counts"]
    # and the resumed run continues the counters in the same directory
    second = train(cfg, resume=first["run_dir"])
    assert second["run_dir"] == first["run_dir"] and second["stopped"] is None
    assert second["env_steps"] >= 1600 and second["updates"] > first["updates"]
    assert second["counters/version"] == second["updates"]  # learner version continued, not restarted at 0
    steps = [r["env_steps"] for r in read_metrics(first["run_dir"]) if "perf/env_steps_per_s" in r]
    assert steps == sorted(steps)


@pytest.mark.slow
def test_resume_refuses_other_config_and_corrupt_checkpoint(tiny):
    cfg = tiny("cluster.total_env_steps=300")
    run = train(cfg)
    with pytest.raises(CheckpointError, match="learner.lr"):
        train(tiny("cluster.total_env_steps=300", "learner.lr=0.01"), resume=run["run_dir"])
    path = list_checkpoints(f"{run['run_dir']}/checkpoints")[-1]
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(CheckpointError, match="corrupt"):
        train(cfg, resume=run["run_dir"])


def test_legem_redistributed_rewards_reach_the_learner(tiny):
    seen = []

    class Spy:
        def __init__(self, cfg, info):
            self.inner = make_learner(cfg, info)

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def update(self, batch):
            seen.append((batch["reward"].clone(), batch["reward_redistributed"].clone()))
            return self.inner.update(batch)

    # seed 3: random play catches the stag within these 800 steps (the in-process loop is deterministic)
    cfg = tiny("env.scenario=stag-hunter", "learner.legem=true", "learner.n_step=1", "cluster.total_env_steps=800",
               "seed=3")
    train(cfg, roles=Roles(learner=Spy))
    assert seen
    for reward, red in seen:
        assert red.shape == reward.shape  # [B, T]
        # eq. 2 moves r_t to its pivot and leaves beta * r_t behind: an episode's total grows by at most beta
        # times what it had, nothing else is created
        grown = red.sum(1) - reward.sum(1)
        assert (grown.abs() <= cfg.legem.beta * reward.abs().sum(1) + 1e-4).all()
    assert any(not torch.equal(reward, red) for reward, red in seen)  # some rewards did move


def test_prioritized_replay_receives_the_learners_priorities(tiny):
    """With replay.sampler=prioritized, every update's per-episode priorities reach the shard that holds the
    episodes (two shards: each gets exactly the ids it sampled)."""
    shards, learners = [], []

    def shard(cfg, shard_id, info):
        shards.append(make_shard(cfg, shard_id, info))
        return shards[-1]

    class Spy:
        def __init__(self, cfg, info):
            self.inner = make_learner(cfg, info)
            learners.append(self)
            self.sent = []

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def update(self, batch):
            out = self.inner.update(batch)
            self.sent.append((batch["episode_id"].tolist(), self.inner.last_priorities.copy()))
            return out

    train(tiny("replay.sampler=prioritized", "cluster.num_replay_shards=2", "cluster.total_env_steps=1200"),
          roles=Roles(learner=Spy, shard=shard))
    assert learners[0].sent and len(shards) == 2
    ids, pr = learners[0].sent[-1]  # nothing samples after the last update, so these priorities stand
    held = {eid: ep.priority for s in shards for eid, ep in s.storage.episodes.items()}
    for eid, p in zip(ids, pr, strict=True):
        if eid in held:  # (evicted episodes are skipped)
            assert held[eid] == pytest.approx(float(p), rel=1e-6)
    assert sum(eid in held for eid in ids) > 0


def test_cli_errors_are_one_line_and_name_the_key(capsys):
    assert main(["train", "tiny", "learner.bogus=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "learner.bogus" in err and "lr" in err
    assert main(["train", "tiny", "env.scenario=nope"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "boxpushing-6" in err
    assert main(["train", "tiny", "cluster.runtime=ray", "cluster.address=127.0.0.1:9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot reach the Ray cluster at 127.0.0.1:9") and "\n" not in err
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "boxpushing-6" in out and "tomacvf" in out and "tiny" in out


def test_replay_goes_into_checkpoints_as_configured(tiny):
    """``cluster.checkpoint_replay``: never (no replay in any checkpoint), always (in every one); the default,
    final, is covered by the resume test above."""
    never = train(tiny("cluster.total_env_steps=800", "cluster.checkpoint_replay=never"))
    assert load_checkpoint(never["checkpoint"])["replay"] is None
    always = train(tiny("cluster.total_env_steps=800", "cluster.checkpoint_interval=5",
                        "cluster.checkpoint_replay=always"))
    kept = list_checkpoints(Path(always["run_dir"]) / "checkpoints")
    assert len(kept) > 1 and all(load_checkpoint(p)["replay"][0]["episodes"] for p in kept)
    with pytest.raises(ValueError, match="cluster.checkpoint_replay must be one of"):
        tiny("cluster.checkpoint_replay=sometimes")


def test_final_evaluation_is_of_the_policy_the_last_checkpoint_holds(tiny):
    # weights published once (publish_interval far beyond the run): worker 0 acts, and evaluates mid-run, with
    # the first published version; the final evaluation must still be of the learner's newest weights
    final = train(tiny("cluster.total_env_steps=1200", "cluster.publish_interval=100000", "cluster.eval_interval=400",
                       "cluster.eval_gif=false"))
    evals = [r for r in read_metrics(final["run_dir"]) if "eval/policy_version" in r]
    ckpt = load_checkpoint(list_checkpoints(Path(final["run_dir"]) / "checkpoints")[-1])
    assert final["eval/policy_version"] == ckpt["policy"][0] == final["updates"]
    assert evals[0]["eval/policy_version"] < final["eval/policy_version"]
