"""The cluster-launcher YAML, the KubeRay RayJob and the job runtime_env parse and use the real entry point."""
from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

import yaml

from asyncmarl.cluster.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "cluster" / "deploy"


def test_entry_point_is_the_cli_main():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["asyncmarl"] == "asyncmarl.cluster.cli:main"
    from asyncmarl.cluster.cli import main

    assert callable(main)


def test_rayjob_runs_asyncmarl_train_with_a_valid_config():
    job = yaml.safe_load((DEPLOY / "rayjob.yaml").read_text())
    assert job["apiVersion"].startswith("ray.io/") and job["kind"] == "RayJob"
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:2] == ["asyncmarl", "train"]
    cfg = load_config(argv[2], argv[3:])  # the preset and overrides are valid
    assert cfg.cluster.runtime == "ray"
    assert job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"]


def test_cluster_launcher_installs_asyncmarl():
    cluster = yaml.safe_load((DEPLOY / "ray-cluster.yaml").read_text())
    assert cluster["head_node_type"] in cluster["available_node_types"]
    assert any("pip install" in c and "asyncmarl" in c for c in cluster["setup_commands"])
    assert any(c.startswith("ray start --head") for c in cluster["head_start_ray_commands"])


def test_job_runtime_env_excludes_venv_and_runs():
    env = yaml.safe_load((DEPLOY / "runtime_env.yaml").read_text())
    assert {".venv/", "runs/", "wandb/"} <= set(env["excludes"])
