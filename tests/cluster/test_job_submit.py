"""`ray job submit` against a head node started here on free loopback ports: the job runs `asyncmarl train`
from the uploaded working directory, attaches to that cluster, and writes its run. The head node is stopped
(and its processes gone) afterwards."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from asyncmarl.cluster.monitor import read_metrics

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def head_node():
    """A Ray head node in its own process group (``ray start --block``); SIGTERM to it stops the node."""
    port, dash, agent = free_port(), free_port(), free_port()
    temp = tempfile.mkdtemp(prefix="rj", dir="/tmp")  # short: Ray's socket paths must stay < 108 chars
    # loopback-only test cluster: no token authentication (Ray 2.60 enables it by default)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
           "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen(
        [str(BIN / "ray"), "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
         "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}", "--num-cpus=2", f"--temp-dir={temp}",
         "--include-dashboard=true", "--disable-usage-stats",
         f"--dashboard-agent-listen-port={agent}"],  # not the default port another Ray instance may hold
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the job API answers once the dashboard is up
            try:
                socket.create_connection(("127.0.0.1", dash), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, "ray start --head exited early"
                time.sleep(1)
        yield f"http://127.0.0.1:{dash}", env, temp
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        time.sleep(2)
        left = subprocess.run(["pgrep", "-f", temp], capture_output=True, text=True).stdout.split()
        for pid in left:  # anything of this head node that outlived it (never other Ray instances)
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(temp, ignore_errors=True)
        assert not left, f"head node processes left behind: {left}"


def test_job_submission_runs_train_on_the_cluster(head_node, tmp_path):
    address, env, _ = head_node
    runs = tmp_path / "runs"
    overrides = ["cluster.runtime=ray", "cluster.actor_cpus=0", "cluster.batch_size=8",
                 "cluster.num_rollout_workers=2", "cluster.num_replay_shards=1", "cluster.total_env_steps=1500",
                 "logging.wandb_mode=disabled", f"logging.run_root={runs}", "name=job"]
    out = subprocess.run(
        [str(BIN / "ray"), "job", "submit", "--address", address, "--working-dir", ".",
         "--runtime-env", "cluster/deploy/runtime_env.yaml", "--", "asyncmarl", "train", "tiny", *overrides],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    log = out.stdout + out.stderr
    assert out.returncode == 0 and "succeeded" in log.lower(), log[-3000:]
    rows = read_metrics(runs / "job")
    final = json.loads([line for line in out.stdout.splitlines() if line.startswith('{"run_dir"')][-1])
    assert final["env_steps"] >= 1500 and rows[-1]["env_steps"] >= 1500
    assert any(r.get("updates", 0) > 0 for r in rows)
