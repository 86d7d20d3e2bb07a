"""SIGTERM (as a scheduler sends it) stops `asyncmarl train` at the next round with a final checkpoint."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from asyncmarl.cluster.checkpoint import load_checkpoint, resolve_checkpoint
from asyncmarl.cluster.monitor import read_metrics

TINY = ["cluster.batch_size=8", "cluster.actor_cpus=0", "logging.progress=false"]


@pytest.mark.slow
def test_sigterm_writes_a_checkpoint_and_exits_cleanly(tmp_path):
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "asyncmarl", "train", "tiny", *TINY, f"logging.run_root={runs}",
         "logging.wandb_mode=disabled", "cluster.total_env_steps=100000000", "cluster.checkpoint_interval=100000",
         "name=sig"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            metrics = runs / "sig" / "metrics.jsonl"
            if metrics.exists() and any(r.get("updates", 0) > 0 for r in read_metrics(metrics)):
                break
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    final = json.loads(out.strip().splitlines()[-1])
    assert final["stopped"] == "SIGTERM" and final["env_steps"] < 100000000
    saved = load_checkpoint(resolve_checkpoint(runs / "sig"))
    assert saved["counters"]["updates"] == final["updates"] > 0
