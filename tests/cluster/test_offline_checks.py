"""evaluate/render refuse a checkpoint that does not belong to the run directory's config: the saved config must
agree on the scenario, its settings and the policy network, and the weights must fit the network."""
import pytest
import torch

from asyncmarl.cluster.checkpoint import CheckpointError, save_checkpoint
from asyncmarl.cluster.cli import main
from asyncmarl.cluster.config import config_to_dict, load_config
from asyncmarl.cluster.offline import evaluate_checkpoint, load_policy_worker, policy_mismatches
from asyncmarl.cluster.roles import make_rollout
from asyncmarl.cluster.rundir import create_run_dir

FAST = ["logging.progress=false", "logging.wandb_mode=disabled", "rollout.num_envs=2"]


def run_dir_with_checkpoint(tmp_path, run_overrides, ckpt_overrides, keep_config=True, name="run"):
    """A run directory of ``run_overrides`` holding a checkpoint trained under ``ckpt_overrides``."""
    run_cfg = load_config("tiny", [*FAST, f"logging.run_root={tmp_path}", f"name={name}", *run_overrides])
    path = create_run_dir(run_cfg)
    ckpt_cfg = load_config("tiny", [*FAST, *ckpt_overrides])
    weights = {k: v.clone() for k, v in make_rollout(ckpt_cfg, 0, 0).net.state_dict().items()}
    state = {"format": 2, "policy": (3, weights)}
    if keep_config:
        state["config"] = config_to_dict(ckpt_cfg)
    save_checkpoint(path / "checkpoints", 10, state)
    return path, weights


def test_matching_checkpoint_evaluates_with_its_weights(tmp_path):
    path, weights = run_dir_with_checkpoint(tmp_path, [], [])
    worker, ckpt = load_policy_worker(path)
    assert ckpt.name == "ckpt_0000000010.pt" and worker.version == 3
    for k, v in worker.net.state_dict().items():
        assert torch.equal(v, weights[k])
    out = evaluate_checkpoint(path, episodes=2, seed=1)
    assert out["episodes"] == 2 and out["checkpoint"] == str(ckpt)


def test_boxpushing8_checkpoint_in_a_boxpushing6_run_is_refused(tmp_path, capsys):
    path, _ = run_dir_with_checkpoint(tmp_path, [], ["env.scenario=boxpushing-8"])
    with pytest.raises(CheckpointError) as e:
        load_policy_worker(path)
    assert f"does not belong to {path / 'config.yaml'}" in str(e.value)
    assert "env.scenario: checkpoint 'boxpushing-8', config.yaml 'boxpushing-6'" in str(e.value)
    for argv in (["evaluate", str(path), "--episodes", "2"], ["render", str(path), "--out", str(tmp_path / "e.gif")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "env.scenario: checkpoint 'boxpushing-8'" in err
    assert not (tmp_path / "e.gif").exists()


def test_wtd_checkpoint_of_other_sizes_is_refused_before_torch_sees_it(tmp_path):
    path, _ = run_dir_with_checkpoint(tmp_path, ["env.scenario=wtd-a"], ["env.scenario=wtd-c"])
    with pytest.raises(CheckpointError, match="env.scenario: checkpoint 'wtd-c', config.yaml 'wtd-a'"):
        load_policy_worker(path)
    # without a saved config (or with one that was edited) the weights' shapes still decide
    legacy, _ = run_dir_with_checkpoint(tmp_path, ["env.scenario=wtd-a"], ["env.scenario=wtd-c"],
                                        keep_config=False, name="legacy")
    with pytest.raises(CheckpointError) as e:
        load_policy_worker(legacy)
    assert "has shape" in str(e.value) and "this run's network needs" in str(e.value)


def test_settings_and_network_sizes_are_policy_keys(tmp_path):
    cfg = load_config("tiny", FAST)
    saved = config_to_dict(load_config("tiny", [*FAST, "env.settings.horizon=50", "learner.agent_net.hidden_dim=8",
                                                "learner.lr=0.01", "cluster.batch_size=8", "seed=3"]))
    keys = [k for k, _, _ in policy_mismatches(saved, cfg)]
    assert keys == ["env.settings.horizon", "learner.agent_net.hidden_dim"]  # lr, batch, seed do not shape it
    path, _ = run_dir_with_checkpoint(tmp_path, [], ["learner.agent_net.hidden_dim=8"])
    with pytest.raises(CheckpointError, match="learner.agent_net.hidden_dim: checkpoint 8, config.yaml 16"):
        load_policy_worker(path)


def test_checkpoint_without_policy_and_bad_seed_are_named(tmp_path):
    cfg = load_config("tiny", [*FAST, f"logging.run_root={tmp_path}", "name=empty"])
    path = create_run_dir(cfg)
    save_checkpoint(path / "checkpoints", 1, {"format": 2, "config": config_to_dict(cfg)})
    with pytest.raises(CheckpointError, match="holds no published policy"):
        load_policy_worker(path)
    with pytest.raises(ValueError, match=r"--seed must be an int in \[0, 2\*\*32\), got -1"):
        load_policy_worker(path, seed=-1)
