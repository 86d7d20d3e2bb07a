"""Stopping a study: Ctrl-C (or SIGTERM) makes each running trial save a checkpoint where it is and end without a
result, a second signal stops at once, and the next run of the study resumes the trial from that checkpoint."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asyncmarl.cluster.checkpoint import list_checkpoints, load_checkpoint
from asyncmarl.cluster.study import STOP_FILE, TrialStopped, graceful_stop, run_trial, stop_hook
from asyncmarl.cluster.study_spec import read_study, trials

# one trial long enough to be stopped mid-run, and no periodic checkpoint before the stop
STUDY = """name: stoppable
presets: [tiny]
seeds: [0]
overrides:
  - env.scenario=stag-hunter
  - cluster.total_env_steps={steps}
  - cluster.checkpoint_interval=1000000
  - logging.wandb_mode=disabled
"""


def _study(tmp_path: Path, steps: int) -> Path:
    p = tmp_path / "stoppable.yaml"
    p.write_text(STUDY.format(steps=steps))
    return p


def _steps_of(ckpt: Path) -> int:
    return int(load_checkpoint(ckpt)["counters"]["env_steps"])


def test_first_signal_requests_a_stop_and_the_second_interrupts(tmp_path):
    before = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    # Python's own handler, whatever an earlier test (Ray, a driver) left installed
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _signal_twice(tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert os.environ.get("TUNE_DISABLE_SIGINT_HANDLER") == before


def _signal_twice(tmp_path) -> None:
    with graceful_stop(tmp_path) as stop_file:
        assert stop_file == tmp_path / STOP_FILE and not stop_file.exists()
        assert os.environ["TUNE_DISABLE_SIGINT_HANDLER"] == "1"  # Ray Tune would end the trials unsaved
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs between bytecodes of this thread
        assert stop_file.exists()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    assert not (tmp_path / STOP_FILE).exists()  # the next run of the study is not stopped by an old request
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler from before is back


def test_a_stopped_trial_checkpoints_where_it_is_and_resumes_from_there(tmp_path):
    spec = read_study(_study(tmp_path, 3000))
    trial = trials(spec)[0]
    out = tmp_path / "out"
    (out / "trials" / trial.id).mkdir(parents=True)

    def request_stop(driver) -> None:
        if driver.c.env_steps >= 800:
            (out / STOP_FILE).touch()

    with pytest.raises(TrialStopped, match="run the study again to resume it") as stopped:
        run_trial(trial, spec.name, out, hooks=(request_stop, stop_hook(out)))
    ckpts = list_checkpoints(out / "runs" / trial.id / "checkpoints")
    assert len(ckpts) == 1  # the periodic interval never came: this is the stop's checkpoint
    stopped_at = _steps_of(ckpts[0])
    assert 800 <= stopped_at < 3000 and stopped.value.env_steps == stopped_at
    assert not (out / "trials" / trial.id / "result.json").exists()  # not finished: the study runs it again

    (out / STOP_FILE).unlink()
    result = run_trial(trial, spec.name, out)
    resumes = (out / "runs" / trial.id / "resumes.jsonl").read_text().splitlines()
    assert [json.loads(r)["at"]["env_steps"] for r in resumes] == [stopped_at]
    assert result["env_steps"] >= 3000 and (out / "trials" / trial.id / "result.json").is_file()


@pytest.mark.slow
def test_ctrl_c_on_the_study_command_saves_each_running_trial(tmp_path):
    """The whole process group gets SIGINT, as from a terminal: the Ray Tune trial must still save its checkpoint."""
    study = _study(tmp_path, 400_000)
    out = tmp_path / "out"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "WANDB_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-m", "asyncmarl.cluster.cli", "study", str(study), "--out", str(out)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    metrics = out / "runs" / "tiny__seed0" / "metrics.jsonl"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if metrics.is_file() and any('"updates"' in line for line in metrics.read_text().splitlines()):
                break
            time.sleep(0.5)
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        os.killpg(proc.pid, signal.SIGINT)
        text, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 1, text[-3000:]
    assert "each running trial saves a checkpoint and stops" in text
    assert "1 stopped before finishing" in text and "tiny__seed0: stopped at " in text
    ckpts = list_checkpoints(out / "runs" / "tiny__seed0" / "checkpoints")
    assert len(ckpts) == 1 and 0 < _steps_of(ckpts[0]) < 400_000, text[-3000:]
    assert not (out / "trials" / "tiny__seed0" / "result.json").exists()
    assert not (out / STOP_FILE).exists()
