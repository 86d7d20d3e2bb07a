"""Provenance of a run: code version (commit, dirty flag), provenance.json, and resumes recorded in the run
directory with config.yaml describing the resumed run."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

from asyncmarl.cluster.config import config_to_dict
from asyncmarl.cluster.provenance import (
    SOURCE_ROOT,
    code_version,
    config_changes,
    read_resumes,
    record_resume,
    write_provenance,
)
from asyncmarl.cluster.rundir import read_config, write_config


@dataclass
class Counters:  # the shape of the driver's counters (any dataclass or dict with these fields)
    env_steps: int = 0
    updates: int = 0
    episodes: int = 0


def _git(cwd, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_code_version_of_this_checkout():
    v = code_version()
    assert v["commit"] == _git(SOURCE_ROOT, "rev-parse", "HEAD") and isinstance(v["dirty"], bool)
    assert v["version"] not in ("", None)


def test_code_version_sees_uncommitted_changes_and_ignores_untracked_files(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.py").write_text("x = 1\n")
    _git(repo, "add", "a.py")
    _git(repo, "commit", "-q", "-m", "first")
    (repo / "runs").mkdir()
    (repo / "runs" / "metrics.jsonl").write_text("{}\n")  # untracked: not dirty
    clean = code_version(repo)
    assert clean["commit"] == _git(repo, "rev-parse", "HEAD") and clean["dirty"] is False
    (repo / "a.py").write_text("x = 2\n")
    assert code_version(str(repo))["dirty"] is True  # (a str path: a fresh cache entry)
    outside = tmp_path / "plain"
    outside.mkdir()
    assert code_version(outside)["commit"] is None and code_version(outside)["dirty"] is None


def test_provenance_json_is_written_once(tmp_path):
    first = write_provenance(tmp_path)
    assert first["code"] == code_version() and "torch" in first["versions"] and first["argv"]
    (tmp_path / "provenance.json").write_text(json.dumps({**first, "host": "elsewhere"}))
    assert write_provenance(tmp_path)["host"] == "elsewhere"  # a resume keeps the original record


def test_resume_is_recorded_and_config_yaml_follows_it(tiny, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    old = tiny("cluster.total_env_steps=2000")
    write_config(run, old)
    assert read_resumes(run) == []
    new = tiny("cluster.total_env_steps=3000")
    entry = record_resume(run, new, config_to_dict(old), Counters(env_steps=2004, updates=90, episodes=77))
    assert entry["changes"] == {"cluster.total_env_steps": [2000, 3000]}
    assert entry["at"] == {"env_steps": 2004, "updates": 90, "episodes": 77} and entry["code"] == code_version()
    assert read_config(run).cluster.total_env_steps == 3000
    record_resume(run, new, config_to_dict(new), {"env_steps": 3000, "updates": 130, "episodes": 110})
    resumes = read_resumes(run)
    assert len(resumes) == 2 and resumes[0] == json.loads(json.dumps(entry)) and resumes[1]["changes"] == {}


def test_config_changes_lists_nested_keys(tiny):
    a, b = tiny(), tiny("learner.lr=0.01", "learner.agent_net.hidden_dim=8")
    assert config_changes(config_to_dict(a), b) == {"learner.agent_net.hidden_dim": [16, 8],
                                                    "learner.lr": [a.learner.lr, 0.01]}
