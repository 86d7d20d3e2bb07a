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


class _FakeRun:
    def __init__(self, mode, sync_dir):
        self.id, self.url = "abc123", None if mode == "offline" else "https://wandb.ai/me/asyncmarl/runs/abc123"
        self.settings = type("S", (), {"sync_dir": sync_dir})()
        self.dir = f"{sync_dir}/files"
        self.logged = []

    def log(self, metrics, step):
        self.logged.append((step, metrics))

    def finish(self):
        pass


@pytest.mark.parametrize("mode", ["offline", "online"])
def test_wandb_run_is_grouped_tagged_and_says_where_it_is(monkeypatch, tmp_path, capsys, tiny, mode):
    import wandb

    from asyncmarl.cluster.monitor import run_group

    seen = {}

    def init(**k):
        seen.update(k)
        return _FakeRun(mode, tmp_path / "wandb" / "offline-run-x")

    monkeypatch.setattr(wandb, "init", init)
    monkeypatch.setenv("WANDB_MODE", mode)
    cfg = tiny("learner.mixer=vdn", "learner.atpg=false", "seed=3")
    code = {"commit": "0123abc", "dirty": True, "version": "0.1.0"}
    sink = WandbSink.for_run(cfg, tmp_path / "boxpushing-6__tomacvf__3__x", code=code)
    assert seen["name"] == "boxpushing-6__tomacvf__3__x" and seen["job_type"] == "train"
    assert seen["group"].startswith("boxpushing-6__tomacvf-vdn-no-atpg__") and len(seen["group"].split("__")[-1]) == 6
    assert seen["group"] == run_group(tiny("learner.mixer=vdn", "learner.atpg=false", "seed=0"))  # seed not in it
    assert seen["group"] != run_group(tiny("learner.mixer=vdn", "learner.atpg=false", "learner.lr=0.01"))
    assert {"boxpushing-6", "macro", "tomacvf", "mixer-vdn", "no-atpg", "local"} <= set(seen["tags"])
    settings = seen["config"]["env"]["settings"]
    assert settings["grid_size"] == 6 and settings["horizon"] == 100 and seen["config"]["code"] == code
    sink.finish()
    err = capsys.readouterr().err
    if mode == "offline":
        assert err.count(f"wandb sync {tmp_path / 'wandb' / 'offline-run-x'}") == 2  # at the start and the end
    else:
        assert "https://wandb.ai/me/asyncmarl/runs/abc123" in err


def test_truncated_last_metrics_line_is_skipped_with_a_warning(tmp_path, caplog):
    from asyncmarl.cluster.monitor import MetricsFileError

    good = '{"env_steps": 100, "charts/episodic_return": 1.5}\n'
    (tmp_path / "metrics.jsonl").write_text(good * 2 + '{"env_steps": 300, "charts/epi')
    with caplog.at_level(logging.WARNING, logger="asyncmarl.cluster"):
        rows = read_metrics(tmp_path)
    assert len(rows) == 2 and "line 3" in caplog.text and "cut short" in caplog.text
    (tmp_path / "metrics.jsonl").write_text(good + '{"env_st\n' + good)
    with pytest.raises(MetricsFileError, match=r"metrics.jsonl, line 2"):
        read_metrics(tmp_path)
    with pytest.raises(MetricsFileError, match="does not exist"):
        read_metrics(tmp_path / "nowhere")


def test_progress_bar_keeps_the_last_return_instead_of_nan():
    from asyncmarl.cluster.monitor import Progress

    bar = Progress(total=100, initial=0, enabled=True)
    bar.update(env_steps=10, episodes=0, mean_return=float("nan"), updates=0, lag=0.0)
    assert "ret=-" in bar.bar.postfix
    bar.update(env_steps=50, episodes=4, mean_return=-12.5, updates=3, lag=1.0)
    bar.update(env_steps=100, episodes=4, mean_return=float("nan"), updates=4, lag=1.0)
    assert "ret=-12.50" in bar.bar.postfix and "nan" not in bar.bar.postfix
    bar.close()


def test_run_dir_is_announced(capsys, tmp_path):
    from asyncmarl.cluster.monitor import announce_run_dir

    announce_run_dir(tmp_path / "r")
    announce_run_dir(tmp_path / "r", resumed=True)
    assert capsys.readouterr().err.splitlines() == [f"run directory: {tmp_path / 'r'}", f"resuming: {tmp_path / 'r'}"]
