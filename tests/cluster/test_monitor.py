"""wandb mode resolution and a wandb that fails: training must never notice beyond one warning."""
from __future__ import annotations

import logging

import pytest

from asyncmarl.cluster.monitor import MetricsLog, WandbSink, read_metrics, wandb_mode


def test_mode_follows_env_then_config_then_credentials(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc login
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert wandb_mode("auto") == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert wandb_mode("auto") == "online"
    assert wandb_mode("disabled") == "disabled"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert wandb_mode("online") == "offline"
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.delenv("WANDB_API_KEY")
    (tmp_path / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password " + "k" * 40 + "\n")
    (tmp_path / ".netrc").chmod(0o600)
    assert wandb_mode("auto") == "online"


class _BrokenRun:
    id = "broken"

    def log(self, *a, **k):
        raise ConnectionError("api.wandb.ai unreachable")

    def finish(self):
        raise ConnectionError("api.wandb.ai unreachable")


def test_failing_wandb_warns_once_and_turns_off(monkeypatch, tmp_path, caplog):
    import wandb

    monkeypatch.setattr(wandb, "init", lambda **k: (_ for _ in ()).throw(RuntimeError("no network")))
    with caplog.at_level(logging.WARNING, logger="asyncmarl.cluster"):
        sink = WandbSink("online", "p", "n", "g", {}, tmp_path)
        sink.log({"a": 1.0}, step=1)
        sink.finish()
    assert sink.run is None and len(caplog.records) == 1 and "no network" in caplog.text
    caplog.clear()
    monkeypatch.setattr(wandb, "init", lambda **k: _BrokenRun())
    with caplog.at_level(logging.WARNING, logger="asyncmarl.cluster"):
        sink = WandbSink("online", "p", "n", "g", {}, tmp_path)
        for step in range(3):
            sink.log({"a": float(step)}, step=step)
        sink.finish()
    assert sink.run is None and len(caplog.records) == 1 and "unreachable" in caplog.text


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_metrics_log_writes_valid_json(tmp_path, value):
    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.write({"env_steps": 1, "x": value, "y": 2.5})
    log.close()
    assert read_metrics(tmp_path) == [{"env_steps": 1, "x": None, "y": 2.5}]


def test_progress_bar_rate_counts_from_the_start_of_the_run(capsys):
    """The first refresh already shows a real updates/s (not 0 because the bar had no earlier sample)."""
    import time

    from asyncmarl.cluster.monitor import Progress

    bar = Progress(total=100, initial=0, enabled=True, initial_updates=5)
    time.sleep(0.05)
    bar.update(env_steps=40, episodes=3, mean_return=1.5, updates=25, lag=0.0)
    ups = float(bar.bar.postfix.split("ups=")[1].split(",")[0])
    bar.close()
    assert 0.0 < ups <= 20 / 0.05
