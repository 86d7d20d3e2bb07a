"""``cluster.stop_return`` ends a run at the first greedy evaluation that reaches it (a finished run, which a
study counts as done), and ``cluster.eval_gif=false`` evaluates without rendering."""
from __future__ import annotations

import pytest

from asyncmarl.cluster import train
from asyncmarl.cluster.config import load_config
from asyncmarl.cluster.monitor import read_metrics
from asyncmarl.cluster.study import curve_rows


def _cfg(tmp_path, *extra):
    return load_config("tiny", ["logging.progress=false", "logging.wandb_mode=disabled",
                                f"logging.run_root={tmp_path}", "cluster.total_env_steps=5000",
                                "cluster.eval_interval=200", *extra])


def test_stop_return_ends_the_run_at_the_first_evaluation_reaching_it(tmp_path):
    final = train(_cfg(tmp_path, "cluster.stop_return=-1e9", "cluster.eval_gif=false"))
    assert final["stopped"] is None  # reaching the target is not an interruption
    assert final["reached_at"] == 200 and final["counters/env_steps"] == 200  # the first evaluation reaches -1e9
    rows = read_metrics(final["run_dir"])
    evals = [r for r in rows if "eval/return_mean" in r]
    assert len(evals) == 1 and evals[0]["time_s"] > 0  # no second evaluation at the end of a run that reached it
    assert [r["reached_stop_return"] for r in rows if "reached_stop_return" in r] == [-1e9]
    assert curve_rows(final["run_dir"])[0]["time_s"] == round(evals[0]["time_s"], 2)
    assert not list((tmp_path / final["run_dir"].rsplit("/", 1)[-1] / "media").glob("eval_*.gif"))


@pytest.mark.slow
def test_unreached_stop_return_runs_the_whole_budget_with_gifs(tmp_path):
    final = train(_cfg(tmp_path, "cluster.stop_return=1e9", "cluster.total_env_steps=400"))
    assert final["reached_at"] is None and final["counters/env_steps"] >= 400
    media = tmp_path / final["run_dir"].rsplit("/", 1)[-1] / "media"
    assert len(list(media.glob("eval_*.gif"))) >= 2


def test_stop_return_must_be_finite(tmp_path):
    with pytest.raises(ValueError, match="cluster.stop_return must be a finite number"):
        _cfg(tmp_path, "cluster.stop_return=.nan")
