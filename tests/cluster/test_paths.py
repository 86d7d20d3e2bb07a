"""Bad files and paths end the command line with one error line naming the field or file, exit status 2, and
nothing created on disk; a run directory that cannot be completed is removed again."""
import errno
import os
from pathlib import Path

import pytest

from asyncmarl.cluster import rundir
from asyncmarl.cluster.cli import main
from asyncmarl.cluster.config import load_config
from asyncmarl.cluster.rundir import RunDirError, check_run_root, create_run_dir

FAST = ["cluster.total_env_steps=40", "logging.progress=false", "logging.wandb_mode=disabled"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    err = capsys.readouterr().err.strip()
    return code, err


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_run_root_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "runs"
    f.write_text("not a folder")
    code, err = run_cli(capsys, "train", "tiny", *FAST, f"logging.run_root={f}")
    assert code == 2 and err.count("\n") == 0
    assert err == f"error: logging.run_root='{f}': {f} is a file, not a folder"
    code, err = run_cli(capsys, "train", "tiny", *FAST, f"logging.run_root={f}/deeper/still")
    assert code == 2 and err.endswith(f"{f} is a file, not a folder")
    assert tree(tmp_path) == ["runs"] and f.read_text() == "not a folder"


def test_run_root_not_writable(tmp_path, capsys, monkeypatch):
    root = tmp_path / "ro"
    root.mkdir()
    monkeypatch.setattr(rundir.os, "access", lambda p, mode: Path(p) != root)  # as if mounted read-only
    code, err = run_cli(capsys, "train", "tiny", *FAST, f"logging.run_root={root}/runs")
    assert code == 2 and err == f"error: logging.run_root='{root}/runs': {root} is not writable"
    assert tree(tmp_path) == ["ro"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_run_root_read_only_by_mode(tmp_path, capsys):
    root = tmp_path / "ro"
    root.mkdir(mode=0o555)
    code, err = run_cli(capsys, "train", "tiny", *FAST, f"logging.run_root={root}")
    assert code == 2 and "is not writable" in err and tree(tmp_path) == ["ro"]


def test_full_run_root_is_refused_before_anything_starts(tmp_path, capsys, monkeypatch):
    class Usage:
        free = 1024**2

    monkeypatch.setattr(rundir.shutil, "disk_usage", lambda p: Usage)
    code, err = run_cli(capsys, "train", "tiny", *FAST, f"logging.run_root={tmp_path}/runs")
    assert code == 2 and err == (f"error: logging.run_root='{tmp_path}/runs': only 1.0 MB free on {tmp_path} "
                                 "(at least 16 MB needed to start a run)")
    assert tree(tmp_path) == []


def test_disk_full_while_creating_leaves_nothing(tmp_path, monkeypatch):
    def full(run_dir, cfg):
        (Path(run_dir) / "config.yaml").write_text("seed: 0\nenv:")  # half a file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rundir, "write_config", full)
    cfg = load_config("tiny", [*FAST, f"logging.run_root={tmp_path}/a/b/runs"])
    with pytest.raises(RunDirError) as e:
        create_run_dir(cfg)
    assert str(e.value).startswith(f"logging.run_root='{tmp_path}/a/b/runs': cannot create the run directory ")
    assert str(e.value).endswith("No space left on device")
    assert tree(tmp_path) == []  # the run directory and the three folders above it are gone


def test_config_write_is_atomic(tmp_path, monkeypatch):
    cfg = load_config("tiny", [*FAST, f"logging.run_root={tmp_path}", "name=atomic"])
    path = create_run_dir(cfg)
    assert tree(path) == ["checkpoints", "config.yaml", "media"]
    assert load_config(str(path / "config.yaml")) == cfg

    def broken_fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(rundir.os, "fsync", broken_fsync)
    before = (path / "config.yaml").read_text()
    with pytest.raises(OSError):
        rundir.write_config(path, cfg)
    assert (path / "config.yaml").read_text() == before and tree(path) == ["checkpoints", "config.yaml", "media"]


def test_two_runs_with_one_name_get_two_folders_inside_the_root(tmp_path):
    cfg = load_config("tiny", [*FAST, f"logging.run_root={tmp_path}", "name=same"])
    a, b = create_run_dir(cfg), create_run_dir(cfg)
    assert (a.name, b.name) == ("same", "same-1") and a.parent == b.parent == tmp_path


@pytest.mark.parametrize("override, needle", [
    ("seed=-1", "error: seed must be an int in [0, 2**32), got -1"),
    ("name=../../x", "error: name must be a plain folder name"),
    ("name=/tmp/x", "error: name must be a plain folder name"),
    ("env.settings.step_reward=.nan", "error: config key 'env.settings.step_reward': must be a finite number"),
    ("cluster.batch_size=100000000", "error: cluster.batch_size=100000000 needs ~"),
])
def test_bad_settings_exit_2_before_the_run_directory_exists(tmp_path, capsys, override, needle):
    code, err = run_cli(capsys, "train", "tiny", *FAST, f"logging.run_root={tmp_path}/runs", override)
    assert code == 2 and err.startswith(needle) and err.count("\n") == 0
    assert tree(tmp_path) == []


def test_broken_yaml_file_exits_2_naming_file_and_line(tmp_path, capsys):
    f = tmp_path / "mine.yaml"
    f.write_text("base: tiny\nlearner:\n  lr: 0.1\n   hidden: 3\n")
    code, err = run_cli(capsys, "train", str(f), f"logging.run_root={tmp_path}/runs")
    assert code == 2 and err.startswith(f"error: config file {f}: not valid YAML at line 4")
    f.write_text("- tiny\n")
    code, err = run_cli(capsys, "train", str(f), f"logging.run_root={tmp_path}/runs")
    assert code == 2 and err == f"error: config file {f}: must be a mapping of sections (seed, env, learner, ...), " \
                                "got a YAML list"
    assert tree(tmp_path) == ["mine.yaml"]


def test_resume_of_a_folder_without_config_exits_2(tmp_path, capsys):
    code, err = run_cli(capsys, "train", "--resume", str(tmp_path))
    assert code == 2 and err == f"error: {tmp_path} is not a run directory: it has no config.yaml"


def test_check_run_root_creates_nothing(tmp_path):
    cfg = load_config("tiny", [*FAST, f"logging.run_root={tmp_path}/x/y"])
    assert check_run_root(cfg) == tmp_path / "x" / "y" and tree(tmp_path) == []
