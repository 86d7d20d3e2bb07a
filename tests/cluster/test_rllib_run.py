"""``learner.algo: rllib_ppo``: RLlib's PPO over the macro-action adapter writes the run directory every run
writes, evaluates greedily from ``asyncmarl evaluate``, resumes, and refuses what does not fit."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from asyncmarl.cluster.checkpoint import CheckpointError, list_checkpoints, load_checkpoint
from asyncmarl.cluster.config import load_config

RUN = ["learner.ppo.train_batch_size=300", "learner.ppo.minibatch_size=64", "learner.ppo.num_epochs=2",
       "learner.ppo.hidden_dim=16", "cluster.total_env_steps=900", "cluster.eval_interval=600",
       "cluster.eval_episodes=4", "cluster.checkpoint_interval=2", "logging.progress=false",
       "logging.wandb_mode=disabled"]
DRIVER_KEYS = ("run_dir", "checkpoint", "stopped", "env_steps", "updates", "episodes", "charts/episodic_return",
               "eval/return_mean", "eval/return_ci95")  # what `asyncmarl train` prints from Driver.run's result


def _cfg(root, *overrides):
    return load_config("boxpushing6_rllib_ppo", [*RUN, f"logging.run_root={root}", *overrides])


def test_presets_load_and_map_onto_rllib():
    from asyncmarl.cluster.rllib_run import env_config, ppo_config

    for preset, scenario in (("boxpushing6_rllib_ppo", "boxpushing-6"), ("overcookeda_rllib_ppo", "overcooked-a")):
        cfg = load_config(preset)
        assert cfg.learner.algo == "rllib_ppo" and cfg.env.scenario == scenario
    cfg = load_config("boxpushing6_rllib_ppo", ["learner.ppo.central_critic=true", "learner.lr=0.001"])
    conf = ppo_config(cfg)
    assert (conf.lr, conf.gamma, conf.lambda_, conf.clip_param) == (0.001, 0.98, 0.95, 0.2)
    assert (conf.train_batch_size_per_learner, conf.minibatch_size, conf.num_epochs) == (2000, 256, 10)
    assert conf.num_env_runners == 0  # cluster.runtime=local: sampled in the driver process
    assert conf.env_config == env_config(cfg) == {"scenario": "boxpushing-6", "settings": {}, "gamma": 0.98,
                                                  "global_state": True}
    remote = ppo_config(load_config("boxpushing6_rllib_ppo", ["cluster.runtime=ray", "cluster.num_rollout_workers=3"]))
    assert remote.num_env_runners == 3


def test_bad_settings_are_refused_naming_the_key():
    with pytest.raises(ValueError, match="learner.ppo.num_epochs must be >= 1"):
        load_config("boxpushing6_rllib_ppo", ["learner.ppo.num_epochs=0"])
    with pytest.raises(ValueError, match=r"learner.ppo.gae_lambda must be in \[0, 1\]"):
        load_config("boxpushing6_rllib_ppo", ["learner.ppo.gae_lambda=1.5"])
    with pytest.raises(ValueError, match=r"learner.ppo.minibatch_size \(512\) must be <= learner.ppo.train_batch_size "
                                         r"\(256\)"):
        load_config("boxpushing6_rllib_ppo", ["learner.ppo.train_batch_size=256", "learner.ppo.minibatch_size=512"])
    with pytest.raises(ValueError, match="learner.legem=false for algo 'rllib_ppo'"):
        load_config("boxpushing6_rllib_ppo", ["learner.legem=true", "learner.n_step=1"])
    with pytest.raises(ValueError, match="learner.atpg=false for algo 'rllib_ppo'"):
        load_config("boxpushing6_rllib_ppo", ["learner.atpg=true"])
    from asyncmarl.cluster.rllib_run import train_rllib

    with pytest.raises(ValueError, match="train_rllib runs learner.algo 'rllib_ppo', got 'tomacvf'"):
        train_rllib(load_config("tiny"))


@pytest.mark.parametrize("name", ["boxpushing-6", "wtd-b", "overcooked-a", "afforestation"])
def test_greedy_policy_picks_allowed_actions_and_evaluates(name):
    import torch

    from asyncmarl.cluster.rllib_run import RllibPolicy, build_module
    from asyncmarl.platform.envs import make_batched

    cfg = load_config("boxpushing6_rllib_ppo", [f"env.scenario={name}", "learner.ppo.hidden_dim=8"])
    torch.manual_seed(0)
    weights = {k: v.detach().numpy() for k, v in build_module(cfg).state_dict().items()}
    pol = RllibPolicy(cfg, weights)
    env = make_batched(name, 16)
    step, rng = env.reset(seed=0), np.random.default_rng(0)
    for _ in range(30):
        a = pol.act(step)  # [B, n]
        assert np.take_along_axis(step.action_mask, a[..., None], -1).all()
        logits = pol.module.pi(torch.as_tensor(step.obs)).detach().numpy()
        best = np.where(step.action_mask, logits, -np.inf).argmax(-1)
        np.testing.assert_array_equal(a, best)
        step = env.step(a)
        if step.done.any():
            step = env.reset(seed=int(rng.integers(1000)), where=step.done)
    ev = pol.evaluate(5, seed=3)
    assert ev["episodes"] == 5.0 and {"return_mean", "return_ci95", "length_mean"} <= set(ev)
    assert pol.evaluate(5, seed=3) == ev  # greedy and seeded: the same episodes again
    frames = pol.render_episode(seed=0, max_frames=4)
    assert len(frames) == 4 and frames[0].ndim == 3


def test_policy_checkpoint_must_fit():
    from asyncmarl.cluster.rllib_run import RllibPolicy, build_module

    cfg = load_config("boxpushing6_rllib_ppo", ["learner.ppo.hidden_dim=8"])
    weights = {k: v.detach().numpy() for k, v in build_module(cfg).state_dict().items()}
    bigger = dataclasses.replace(cfg, learner=dataclasses.replace(
        cfg.learner, ppo=dataclasses.replace(cfg.learner.ppo, hidden_dim=16)))
    with pytest.raises(CheckpointError, match="the checkpoint's policy does not fit the run config"):
        RllibPolicy(bigger, weights)
    with pytest.raises(CheckpointError, match="not a checkpoint of an rllib_ppo run"):
        RllibPolicy.from_checkpoint(cfg, {"format": 2, "policy": (1, weights)})


# ---------------------------------------------------------------------------------------------- a real run
@pytest.fixture(scope="module")
def rllib_run(tmp_path_factory, ray_session):
    from asyncmarl.cluster.rllib_run import train_rllib

    root = tmp_path_factory.mktemp("runs")
    cfg = _cfg(root)
    seen = []  # what a hook sees once per PPO iteration (asyncmarl study's progress reports read run.c)
    final = train_rllib(cfg, hooks=(lambda run: seen.append((run.c.env_steps, run.c.updates)),))
    return cfg, root, final | {"hook_calls": seen}


@pytest.mark.slow
def test_run_directory_metrics_and_checkpoints(rllib_run):
    from asyncmarl.cluster.monitor import read_metrics

    cfg, _, final = rllib_run
    run_dir = Path(final["run_dir"])
    assert run_dir.name.startswith("boxpushing-6__rllib_ppo__0__")
    assert all(final.get(k) is not None for k in DRIVER_KEYS if k != "stopped") and final["stopped"] is None
    assert final["env_steps"] >= cfg.cluster.total_env_steps and final["updates"] == 3
    assert (run_dir / "config.yaml").is_file() and load_config(str(run_dir / "config.yaml")) == cfg
    rows = read_metrics(run_dir)
    train_rows = [r for r in rows if "losses/policy_loss" in r]
    assert [r["updates"] for r in train_rows] == [1, 2, 3]
    assert final["hook_calls"] == [(r["env_steps"], r["updates"]) for r in train_rows]
    assert [r["env_steps"] for r in train_rows] == sorted(r["env_steps"] for r in train_rows)
    assert all(np.isfinite(r["charts/episodic_return"]) and r["charts/episodic_length"] > 0 for r in train_rows)
    assert train_rows[-1]["episodes"] == final["episodes"] > 0
    evals = [r for r in rows if "eval/return_mean" in r]
    steps = [r["env_steps"] for r in train_rows]  # RLlib samples whole fragments of 8 copies: about 300 a time
    # evaluated at the first iteration reaching eval_interval (600), and at the end
    assert [r["env_steps"] for r in evals] == [next(s for s in steps if s >= 600), steps[-1]]
    ckpts = list_checkpoints(run_dir / "checkpoints")
    assert [p.name for p in ckpts] == ["ckpt_0000000002.pt", "ckpt_0000000003.pt"]
    state = load_checkpoint(ckpts[-1])
    assert state["format"] == "rllib_ppo/1" and state["counters"]["updates"] == 3
    assert final["checkpoint"] == str(ckpts[-1])
    assert list((run_dir / "media").glob("eval_*.gif")) and (run_dir / "media" / "curves.png").is_file()


@pytest.mark.slow
def test_evaluate_and_render_from_the_cli_are_greedy(rllib_run, tmp_path, capsys):
    from asyncmarl.cluster.cli import main
    from asyncmarl.cluster.offline import evaluate_checkpoint

    cfg, _, final = rllib_run
    # the checkpoint holds the weights the run evaluated last (same greedy episodes, same seed)
    again = evaluate_checkpoint(final["run_dir"], cfg.cluster.eval_episodes, seed=cfg.seed + 7)
    assert again["return_mean"] == pytest.approx(final["eval/return_mean"])
    assert main(["evaluate", final["run_dir"], "--episodes", "3"]) == 0
    out = capsys.readouterr().out
    assert "3 greedy episodes" in out and "95% CI" in out
    gif = tmp_path / "ep.gif"
    assert main(["render", final["checkpoint"], "--out", str(gif)]) == 0 and gif.stat().st_size > 0


@pytest.mark.slow
def test_resume_continues_and_refuses_another_config(rllib_run):
    from asyncmarl.cluster.monitor import read_metrics
    from asyncmarl.cluster.rllib_run import train_rllib

    cfg, root, final = rllib_run
    with pytest.raises(CheckpointError, match="learner.ppo.hidden_dim: checkpoint 16, now 32"):
        train_rllib(_cfg(root, "learner.ppo.hidden_dim=32"), resume=final["run_dir"])
    before = load_checkpoint(final["checkpoint"])
    more = train_rllib(_cfg(root, "cluster.total_env_steps=1200"), resume=final["run_dir"])
    assert more["run_dir"] == final["run_dir"] and more["updates"] == 4 and more["env_steps"] >= 1200
    assert more["episodes"] > final["episodes"]
    rows = [r for r in read_metrics(final["run_dir"]) if "losses/policy_loss" in r]
    assert [r["updates"] for r in rows] == [1, 2, 3, 4]
    after = load_checkpoint(more["checkpoint"])
    assert after["counters"]["elapsed_s"] > before["counters"]["elapsed_s"]
    resumes = (Path(final["run_dir"]) / "resumes.jsonl").read_text().splitlines()
    assert len(resumes) == 1 and json.loads(resumes[0])


@pytest.mark.slow
def test_a_hook_can_stop_the_run(tmp_path, ray_session):
    from asyncmarl.cluster.rllib_run import train_rllib

    final = train_rllib(_cfg(tmp_path, "cluster.total_env_steps=100000"),
                        hooks=(lambda run: run.request_stop("enough"),))
    assert final["stopped"] == "enough" and final["updates"] == 1
    assert load_checkpoint(final["checkpoint"])["counters"]["updates"] == 1  # saved on the way out
