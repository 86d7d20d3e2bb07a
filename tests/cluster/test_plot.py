"""Learning curves: runs differing only by seed form one line (mean) with a spread band; other configs apart."""
from __future__ import annotations

import json

import numpy as np
import pytest

from asyncmarl.cluster.plot import curve, plot_runs
from asyncmarl.cluster.rundir import write_config


def fake_run(path, cfg, returns):
    path.mkdir(parents=True)
    write_config(path, cfg)
    with open(path / "metrics.jsonl", "w") as f:
        for i, r in enumerate(returns):
            f.write(json.dumps({"env_steps": 100 * (i + 1), "charts/episodic_return": r}) + "\n")
            f.write(json.dumps({"env_steps": 100 * (i + 1), "eval/return_mean": 0.0}) + "\n")  # other rows
    return path


def test_seeds_group_into_one_curve_and_configs_stay_apart(tiny, tmp_path, monkeypatch):
    import matplotlib.axes

    runs = [fake_run(tmp_path / f"s{seed}", tiny(f"seed={seed}"), [seed, seed + 1.0, seed + 2.0]) for seed in (0, 2)]
    runs.append(fake_run(tmp_path / "lr", tiny("learner.lr=0.01"), [5.0, 5.0, 5.0]))
    x, y = curve(runs[0], "charts/episodic_return")
    np.testing.assert_array_equal(x, [100, 200, 300])
    np.testing.assert_array_equal(y, [0, 1, 2])
    lines, bands = [], []
    real_plot, real_fill = matplotlib.axes.Axes.plot, matplotlib.axes.Axes.fill_between
    monkeypatch.setattr(matplotlib.axes.Axes, "plot",
                        lambda self, gx, gy, **k: (lines.append((gx, gy, k["label"])), real_plot(self, gx, gy, **k))[1])
    monkeypatch.setattr(matplotlib.axes.Axes, "fill_between",
                        lambda self, gx, lo, hi, **k: (bands.append((lo, hi)), real_fill(self, gx, lo, hi, **k))[1])
    out = plot_runs(runs, tmp_path / "curves.png")
    assert out.stat().st_size > 0
    assert len(lines) == 2 and len(bands) == 1  # two configs; only the two-seed one has a band
    seeds_line = next(line for line in lines if "2 seeds" in line[2])
    np.testing.assert_allclose(seeds_line[1], np.linspace(1.0, 3.0, 100))  # mean of seeds 0 and 2
    with pytest.raises(ValueError, match="no run"):
        plot_runs(runs, tmp_path / "x.png", metric="charts/nothing")
