"""`asyncmarl report`: tables and figures from a study folder's committed files (trial.json, curve.csv,
result.json), checked against numbers computed by hand."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from asyncmarl.cluster.cli import main
from asyncmarl.cluster.report import ReportError, auc_mean, mean_ci, write_report
from asyncmarl.cluster.study import write_curve


def _trial(root: Path, tid: str, label: str, seed: int, curve: list[tuple], scenario: str = "boxpushing-6",
           finished: bool = True, preset: str = "boxpushing6_tomacvf") -> None:
    """A trial folder: curve rows (env_steps, time_s, return_mean), 100 episodes and 40 updates per 1k steps."""
    folder = root / "trials" / tid
    folder.mkdir(parents=True)
    (folder / "trial.json").write_text(json.dumps({"id": tid, "label": label, "seed": seed, "scenario": scenario,
                                                   "preset": preset, "total_env_steps": 3000}))
    if not finished:
        return
    rows = [{"env_steps": x, "episodes": x // 10, "updates": x // 25, "time_s": t, "return_mean": r,
             "return_ci95": 0.0} for x, t, r in curve]
    write_curve(rows, folder / "curve.csv")
    last = rows[-1]
    (folder / "result.json").write_text(json.dumps({"id": tid, "env_steps": last["env_steps"], "time_s": last["time_s"],
                                                    "episodes": last["episodes"], "updates": last["updates"],
                                                    "return_mean": last["return_mean"]}))


@pytest.fixture
def study(tmp_path):
    root = tmp_path / "s"
    (root / "trials").mkdir(parents=True)
    (root / "study.yaml").write_text(yaml.safe_dump({"name": "s", "presets": ["boxpushing6_tomacvf", "boxpushing6_avf"],
                                                     "seeds": [0, 1], "threshold": 250.0}))
    _trial(root, "boxpushing6_tomacvf__seed0", "ToMacVF", 0, [(1000, 10, 0.0), (2000, 20, 260.0), (3000, 30, 300.0)])
    _trial(root, "boxpushing6_tomacvf__seed1", "ToMacVF", 1, [(1000, 12, 0.0), (2000, 24, 100.0), (3000, 36, 280.0)])
    _trial(root, "boxpushing6_avf__seed0", "AVF-QMIX", 0, [(1000, 5, -10.0), (2000, 10, 20.0), (3000, 15, 40.0)],
           preset="boxpushing6_avf")
    _trial(root, "boxpushing6_avf__seed1", "AVF-QMIX", 1, [], finished=False, preset="boxpushing6_avf")
    _trial(root, "wtde_tomacvf__seed0", "ToMacVF", 0, [(1000, 50, 5.0)], scenario="wtd-e", preset="wtde_tomacvf")
    return root


def test_numbers_by_hand():
    assert auc_mean(np.array([1000.0, 2000, 3000]), np.array([0.0, 260, 300])) == pytest.approx((130 + 280) / 2)
    assert auc_mean(np.array([5.0]), np.array([7.0])) == 7.0
    m, half = mean_ci([300.0, 280.0])
    sd = math.sqrt(((300 - 290) ** 2 + (280 - 290) ** 2) / 1)  # ddof 1
    assert m == 290.0 and half == pytest.approx(12.7062 * sd / math.sqrt(2), rel=1e-4)  # t(0.975, 1) sd / sqrt(n)


def test_report_table_per_scenario(study):
    page = write_report([study])
    text = page.read_text()
    lines = text.splitlines()
    assert lines[0] == "# Study report: s"
    assert "from 4 finished trials (1 not finished)" in lines[2]
    bp = lines[lines.index("## boxpushing-6"):lines.index("## wtd-e")]
    assert "Budget per run: 3,000 joint env steps (presets: boxpushing6_avf, boxpushing6_tomacvf)." in bp
    assert "![boxpushing-6: greedy return against env steps](figures/boxpushing-6.png)" in bp
    rows = [line for line in bp if line.startswith("| ")]
    assert rows[0].startswith("| method | seeds | final greedy return (mean ± 95% CI) | seeds reaching 250 |")
    half = 12.7062 * math.sqrt(200) / math.sqrt(2)
    assert rows[1] == (f"| ToMacVF | 2 | 290.0 ± {half:.1f} | 2/2 | 2.0k, 3.0k | 20 s, 36 s | "
                       f"{np.mean([(130 + 280) / 2, (50 + 190) / 2]):.1f} | 300 | 120 | 3.0k | 33 s |")
    assert rows[2] == "| AVF-QMIX | 1 | 40.0 | 0/1 | - | - | 17.5 | 300 | 120 | 3.0k | 15 s |"
    wtd = lines[lines.index("## wtd-e"):]
    assert any(line.startswith("| ToMacVF | 1 | 5.0 | 0/1 |") for line in wtd)
    assert "boxpushing6_avf__seed1" in text.split("## Not finished")[1]
    for scenario in ("boxpushing-6", "wtd-e"):
        png = study / "figures" / f"{scenario}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_threshold_option_and_several_folders(study, tmp_path, capsys):
    other = tmp_path / "t"
    _trial(other, "boxpushing6_tomacvf__seed2", "ToMacVF", 2, [(1000, 10, 100.0), (3000, 30, 290.0)])
    with pytest.raises(ReportError, match="several study folders: name where the report goes with --out DIR"):
        write_report([study, other])
    out = tmp_path / "both"
    assert main(["report", str(study), str(other), "--out", str(out), "--threshold", "100"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out / 'report.md'}"
    text = (out / "report.md").read_text()
    assert "| ToMacVF | 3 |" in text and "seeds reaching 100" in text and "| 3/3 | 2.0k, 2.0k, 1.0k |" in text


def test_folder_without_trials_is_named(tmp_path, capsys):
    with pytest.raises(ReportError, match=f"{tmp_path} holds no study trials"):
        write_report([tmp_path])
    assert main(["report", str(tmp_path)]) == 2
    assert "holds no study trials" in capsys.readouterr().err


def test_threshold_per_scenario_from_the_study(study):
    spec = yaml.safe_load((study / "study.yaml").read_text())
    spec["threshold"] = {"wtd-e": 4}
    (study / "study.yaml").write_text(yaml.safe_dump(spec))
    text = write_report([study]).read_text()
    bp, wtd = text.split("## wtd-e")
    assert "seeds reaching" not in bp.split("## boxpushing-6")[1]
    assert "| ToMacVF | 1 | 5.0 | 1/1 | 1.0k | 50 s |" in wtd
