"""The cluster-launcher YAML, the KubeRay RayJob, the Dockerfile and the job runtime_env parse, use the real entry
point, agree on the pinned Ray version and the image names, enable token authentication, persist run
directories, and request the learner's GPU so an autoscaler can provide it."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import tomllib
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
    assert any("ray start --head" in c for c in cluster["head_start_ray_commands"])


def test_job_runtime_env_excludes_venv_and_runs():
    env = yaml.safe_load((DEPLOY / "runtime_env.yaml").read_text())
    assert {".venv/", "runs/", "wandb/"} <= set(env["excludes"])


# ------------------------------------------------------------------ versions, image, auth, storage, GPU
def _pinned_ray() -> str:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    ray = [d for d in deps if d.split("[")[0].split("=")[0].strip() == "ray"]
    assert len(ray) == 1 and "==" in ray[0], f"pyproject.toml must pin ray exactly, got {ray}"
    return ray[0].split("==")[1].strip()


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def _rayjob() -> dict:
    return yaml.safe_load((DEPLOY / "rayjob.yaml").read_text())


def _containers(job: dict) -> list[dict]:
    spec = job["spec"]["rayClusterSpec"]
    pods = [spec["headGroupSpec"]["template"]["spec"]] + [g["template"]["spec"] for g in spec["workerGroupSpecs"]]
    return [c for pod in pods for c in pod["containers"]]


def test_ray_version_is_the_same_everywhere():
    import ray

    pinned = _pinned_ray()
    assert ray.__version__ == pinned  # what this environment installed from the pin
    assert _rayjob()["spec"]["rayClusterSpec"]["rayVersion"] == pinned
    assert f"ARG RAY_VERSION={pinned}\n" in _dockerfile()
    cluster = yaml.safe_load((DEPLOY / "ray-cluster.yaml").read_text())
    assert any(f"ray[default,rllib]=={pinned}" in c for c in cluster["setup_commands"])


def test_manifest_images_are_the_ones_the_dockerfile_builds():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    built = set(re.findall(r"docker build .*-t (\S+) \.", _dockerfile()))
    assert built == {f"asyncmarl:{version}-cpu", f"asyncmarl:{version}-cuda"}
    images = {c["image"] for c in _containers(_rayjob())}
    assert images == built
    assert "FROM python:3.11-slim" in _dockerfile() and "ARG TORCH_VERSION=2.13.0" in _dockerfile()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "runs", "wandb"} <= set(ignored)


def test_rayjob_enables_token_auth_and_persists_runs():
    job = _rayjob()
    spec = job["spec"]["rayClusterSpec"]
    assert spec["authOptions"] == {"mode": "token"}
    head = spec["headGroupSpec"]["template"]["spec"]
    volumes = {v["name"]: v for v in head["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in head["containers"][0]["volumeMounts"]}
    argv = shlex.split(job["spec"]["entrypoint"])
    root = [a.split("=", 1)[1] for a in argv if a.startswith("logging.run_root=")]
    assert root == ["/runs"] and mounts["/runs"] == "runs"
    claim = volumes["runs"]["persistentVolumeClaim"]["claimName"]  # not an emptyDir: it outlives the job
    pvc = yaml.safe_load((DEPLOY / "runs-pvc.yaml").read_text())
    assert pvc["kind"] == "PersistentVolumeClaim" and pvc["metadata"]["name"] == claim


def test_rayjob_gpu_group_scales_from_zero_for_a_cuda_learner():
    job = _rayjob()
    spec = job["spec"]["rayClusterSpec"]
    assert spec["enableInTreeAutoscaling"] is True
    gpu = [g for g in spec["workerGroupSpecs"]
           if g["template"]["spec"]["containers"][0]["resources"]["limits"].get("nvidia.com/gpu")]
    assert len(gpu) == 1 and gpu[0]["minReplicas"] == 0 and gpu[0]["maxReplicas"] >= 1
    assert gpu[0]["template"]["spec"]["containers"][0]["image"].endswith("-cuda")
    argv = shlex.split(job["spec"]["entrypoint"])
    assert load_config(argv[2], argv[3:], for_training=False).learner.device == "cuda"


def test_cluster_launcher_keeps_the_dashboard_local_and_uses_tokens():
    cluster = yaml.safe_load((DEPLOY / "ray-cluster.yaml").read_text())
    head = " ".join(cluster["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head and "RAY_AUTH_MODE=token ray start --head" in head
    assert any(c.startswith("RAY_AUTH_MODE=token ray start --address") for c in cluster["worker_start_ray_commands"])
    assert "/home/ubuntu/.ray/auth_token" in cluster["file_mounts"]
    assert cluster["available_node_types"]["gpu_worker"]["min_workers"] == 0


def test_learner_gpu_request():
    from asyncmarl.cluster.topology import learner_gpus

    def cfg(*o):
        return load_config("tiny", [*o, "cluster.runtime=ray"], for_training=False)

    no_gpu, one_gpu = {"CPU": 8.0}, {"CPU": 8.0, "GPU": 1.0}
    assert learner_gpus(cfg("learner.device=cpu"), one_gpu) == 0
    assert learner_gpus(cfg("learner.device=auto"), one_gpu) == 1
    assert learner_gpus(cfg("learner.device=auto"), no_gpu) == 0  # auto never waits for a GPU
    # cuda on an existing (possibly autoscaling) cluster: ask for the GPU, which makes the autoscaler start one
    assert learner_gpus(cfg("learner.device=cuda", "cluster.address=10.0.0.1:6379"), no_gpu) == 1
    assert learner_gpus(cfg("learner.device=cuda"), one_gpu) == 1


def test_cuda_learner_on_our_own_gpu_less_ray_fails_at_once(monkeypatch):
    from asyncmarl.cluster.topology import learner_gpus

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    c = load_config("tiny", ["learner.device=cuda", "cluster.runtime=ray"], for_training=False)
    with pytest.raises(ValueError, match="learner.device is 'cuda' but the Ray instance this run started has no GPU"):
        learner_gpus(c, {"CPU": 2.0})
    monkeypatch.setenv("RAY_ADDRESS", "auto")  # inside `ray job submit`: the cluster may scale a GPU node up
    assert learner_gpus(c, {"CPU": 2.0}) == 1
