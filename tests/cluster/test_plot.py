"""Learning curves: runs differing only by seed form one group (mean, 95% CI band, markers); groups are labelled
by what differs between them; distinct seeds are counted; nothing is cut to the shortest run."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from scipy.stats import t

from asyncmarl.cluster.plot import curve, figure, plot_runs
from asyncmarl.cluster.rundir import write_config


def fake_run(path, cfg, returns, every=100, metric="charts/episodic_return"):
    path.mkdir(parents=True)
    write_config(path, cfg)
    with open(path / "metrics.jsonl", "w") as f:
        for i, r in enumerate(returns):
            f.write(json.dumps({"env_steps": every * (i + 1), metric: r}) + "\n")
            f.write(json.dumps({"env_steps": every * (i + 1), "eval/other": 0.0}) + "\n")  # rows without it
    return path


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _line(ax, label):
    return next(line for line in ax.get_lines() if line.get_label() == label)


def test_seeds_group_into_one_curve_with_a_ci_band_and_configs_stay_apart(tiny, tmp_path):
    runs = [fake_run(tmp_path / f"s{seed}", tiny(f"seed={seed}"), [seed, seed + 1.0, seed + 2.0]) for seed in (0, 2)]
    runs.append(fake_run(tmp_path / "lr", tiny("learner.lr=0.01"), [5.0, 5.0, 5.0]))
    x, y = curve(runs[0], "charts/episodic_return")
    np.testing.assert_array_equal(x, [100, 200, 300])
    np.testing.assert_array_equal(y, [0, 1, 2])
    ax = figure(runs).axes[0]
    default_lr = tiny().learner.lr
    assert sorted(_legend(ax)) == sorted([f"lr={default_lr} (2 seeds)", "lr=0.01 (1 seed)"])
    assert ax.get_title() == "boxpushing-6 tomacvf-qmix: charts/episodic_return"
    seeds = _line(ax, f"lr={default_lr} (2 seeds)")
    np.testing.assert_array_equal(seeds.get_xdata(), [100, 200, 300])
    np.testing.assert_allclose(seeds.get_ydata(), [1.0, 2.0, 3.0])  # mean of seeds 0 and 2
    assert seeds.get_marker() == "o"
    (band,) = ax.collections  # only the two-seed group has a band
    half = t.ppf(0.975, 1) * np.std([0.0, 2.0], ddof=1) / np.sqrt(2)
    ys = band.get_paths()[0].vertices[:, 1]
    np.testing.assert_allclose([ys.min(), ys.max()], [1.0 - half, 3.0 + half])
    assert plot_runs(runs, tmp_path / "curves.png").stat().st_size > 0
    with pytest.raises(ValueError, match="no run"):
        plot_runs(runs, tmp_path / "x.png", metric="charts/nothing")


def test_labels_name_what_differs_and_seeds_are_counted_once(tiny, tmp_path):
    vdn = [fake_run(tmp_path / f"vdn{k}", tiny("learner.mixer=vdn", "learner.atpg=false", f"seed={s}"), [1.0, 2.0])
           for k, s in enumerate((0, 0, 1))]
    qmix = [fake_run(tmp_path / "qmix", tiny(), [3.0, 4.0])]
    ax = figure(vdn + qmix).axes[0]
    assert sorted(_legend(ax)) == ["atpg=False, mixer=vdn (2 seeds, 3 runs)", "atpg=True, mixer=qmix (1 seed)"]
    assert ax.get_title() == "boxpushing-6: charts/episodic_return"  # the algorithm variant differs: not shared


def test_a_longer_run_is_not_cut_and_is_drawn_dashed_where_alone(tiny, tmp_path):
    short = fake_run(tmp_path / "a", tiny("seed=0"), [0.0, 1.0])
    longer = fake_run(tmp_path / "b", tiny("seed=1"), [2.0, 3.0, 10.0, 20.0])  # e.g. resumed to a larger budget
    ax = figure([short, longer]).axes[0]
    solid = _line(ax, "boxpushing-6 tomacvf-qmix (2 seeds)")
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_color() == solid.get_color()
    np.testing.assert_array_equal(dashed[0].get_xdata(), [100, 200, 300, 400])
    np.testing.assert_allclose(dashed[0].get_ydata(), [1.0, 2.0, 10.0, 20.0])
    np.testing.assert_allclose(solid.get_ydata(), [1.0, 2.0, np.nan, np.nan])
    assert "dashed" in ax.get_legend().get_title().get_text()


def test_one_point_per_run_is_drawn_as_markers(tiny, tmp_path):
    runs = [fake_run(tmp_path / f"s{s}", tiny(f"seed={s}"), [float(s)], metric="eval/return_mean") for s in (0, 1)]
    ax = figure(runs, metric="eval/return_mean").axes[0]
    (line,) = ax.get_lines()
    assert line.get_marker() == "o" and list(line.get_xdata()) == [100] and list(line.get_ydata()) == [0.5]


def test_resumed_run_rows_replace_the_ones_logged_past_the_checkpoint(tiny, tmp_path):
    run = fake_run(tmp_path / "r", tiny(), [1.0, 2.0, 3.0])
    with open(run / "metrics.jsonl", "a") as f:  # resumed from a checkpoint at step 200
        for x, v in ((200, 2.5), (300, 3.5), (400, 4.5)):
            f.write(json.dumps({"env_steps": x, "charts/episodic_return": v}) + "\n")
    x, y = curve(run, "charts/episodic_return")
    np.testing.assert_array_equal(x, [100, 200, 300, 400])
    np.testing.assert_array_equal(y, [1.0, 2.5, 3.5, 4.5])


def test_a_truncated_last_line_is_skipped(tiny, tmp_path, caplog):
    run = fake_run(tmp_path / "r", tiny(), [1.0, 2.0])
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"env_steps": 300, "charts/episodic_re')
    with caplog.at_level(logging.WARNING, logger="asyncmarl.cluster"):
        assert plot_runs([run], tmp_path / "c.png").stat().st_size > 0
    assert "cut short" in caplog.text
