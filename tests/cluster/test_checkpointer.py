"""Run-directory lock and metrics truncation on resume."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from asyncmarl.cluster import cli
from asyncmarl.cluster.checkpointer import RunDirBusy, RunDirLock, truncate_metrics


def test_a_second_holder_of_a_run_directory_is_refused_and_the_lock_frees_on_release(tmp_path):
    lock = RunDirLock(tmp_path)
    with pytest.raises(RunDirBusy, match=r"in use by another asyncmarl process \(pid \d+\)"):
        RunDirLock(tmp_path)
    lock.release()
    RunDirLock(tmp_path).release()


def test_the_lock_is_held_across_processes_and_dropped_when_the_holder_dies(tmp_path):
    code = ("import sys, time; sys.path.insert(0, '.'); from asyncmarl.cluster.checkpointer import RunDirLock; "
            f"RunDirLock({str(tmp_path)!r}); print('locked', flush=True); time.sleep(60)")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirBusy, match=f"pid {p.pid}"):
            RunDirLock(tmp_path)
    finally:
        p.kill()
        p.wait()
    RunDirLock(tmp_path).release()  # the kernel dropped the killed holder's lock


@pytest.mark.slow
def test_resume_is_refused_while_locked_and_drops_a_killed_drivers_late_rows(tiny, capsys):
    from asyncmarl.cluster.driver import train
    from asyncmarl.cluster.monitor import read_metrics

    cfg = tiny("cluster.total_env_steps=400", "cluster.checkpoint_interval=1000")
    first = train(cfg)
    run = first["run_dir"]
    lock = RunDirLock(run)  # another process resuming the same run right now
    try:
        assert cli.main(["train", "--resume", run, "cluster.total_env_steps=800"]) == 2
        assert "in use by another asyncmarl process" in capsys.readouterr().err
    finally:
        lock.release()
    # a driver killed after its last checkpoint leaves rows beyond it (and maybe a torn line)
    with open(f"{run}/metrics.jsonl", "a") as f:
        f.write(json.dumps({"env_steps": 10_000, "updates": 10_000}) + "\n" + '{"env_steps": 1')
    assert cli.main(["train", "--resume", run, "cluster.total_env_steps=800"]) == 0
    steps = [r["env_steps"] for r in read_metrics(run)]
    assert max(steps) < 10_000 and steps == sorted(steps) and steps[-1] >= 800


def test_rows_after_the_checkpoint_and_a_torn_last_line_are_dropped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = [{"env_steps": s, "updates": u} for s, u in ((100, 1), (200, 2), (300, 3), (400, 4))]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"env_steps": 5')
    assert truncate_metrics(path, env_steps=200, updates=2) == 3
    assert [json.loads(x) for x in path.read_text().splitlines()] == rows[:2]
    assert truncate_metrics(path, env_steps=200, updates=2) == 0


@pytest.mark.slow
def test_a_failed_cluster_ends_the_run_with_a_final_checkpoint_and_one_line(tiny):
    from ray.exceptions import RaySystemError

    from asyncmarl.cluster.checkpoint import load_checkpoint
    from asyncmarl.cluster.driver import Driver
    from asyncmarl.cluster.monitor import read_metrics
    from asyncmarl.cluster.supervisor import GaveUp

    def gcs_dies(d):
        if d.c.updates >= 3:
            raise RaySystemError("GCS server is unreachable")

    d = Driver(tiny("cluster.total_env_steps=5000", "cluster.checkpoint_interval=1000"), hooks=(gcs_dies,))
    with pytest.raises(GaveUp, match=r"the Ray cluster failed \(RaySystemError: System error: GCS server"):
        d.run()
    saved = load_checkpoint(d.last_checkpoint)
    assert saved["counters"]["updates"] >= 3 and saved["counters"]["env_steps"] < 5000
    assert read_metrics(d.run_dir)[-1]["stopped"].startswith("gave up: the Ray cluster failed")


def test_a_field_added_after_the_checkpoint_keeps_the_run_resumable_at_its_default():
    from asyncmarl.cluster.checkpoint import CheckpointError
    from asyncmarl.cluster.config import config_to_dict, load_config
    from asyncmarl.cluster.driver import check_resumable

    cfg = load_config("tiny")
    saved = config_to_dict(cfg)
    del saved["cluster"]["stall_warn_s"]  # a checkpoint written before the field existed
    check_resumable(saved, cfg)
    changed = load_config("tiny", ["learner.lr=0.123"])
    with pytest.raises(CheckpointError, match="learner.lr"):
        check_resumable(saved, changed)
    # how often it evaluates and checkpoints changes nothing learned
    check_resumable(saved, load_config("tiny", ["cluster.checkpoint_interval=50", "cluster.eval_interval=123",
                                                "cluster.eval_episodes=3"]))
    del saved["learner"]["n_step"]  # a new field set away from its default is a difference
    with pytest.raises(CheckpointError, match="learner.n_step"):
        check_resumable(saved, load_config("tiny", ["learner.n_step=3"]))
