"""`asyncmarl study`: study files expand into checked trials; the smoke study runs end to end as Ray Tune trials,
its report has a table row and a figure, and running it again skips the finished trials; an interrupted trial
resumes from its checkpoint."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from asyncmarl.cluster.config import load_config
from asyncmarl.cluster.presets import PRESET_DIR
from asyncmarl.cluster.study import curve_rows, read_curve, run_study, run_trial, study_dir, trial_resources
from asyncmarl.cluster.study_spec import StudyError, read_study, trial_config, trial_id, trials

ROOT = Path(__file__).resolve().parents[2]
STUDIES = ROOT / "studies"


def _write(tmp_path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return p


def test_study_expands_presets_grid_and_seeds(tmp_path):
    spec = read_study(_write(tmp_path, "presets: [boxpushing6_tomacvf, boxpushing6_avf]\nseeds: [0, 3]\n"
                                       "overrides: [cluster.total_env_steps=5000]\ngrid: {learner.lr: [0.001, 0.01]}\n"
                                       "labels: {boxpushing6_avf: AVF}\n"))
    assert spec.name == "s" and spec.threshold is None and spec.max_failures == 1
    ts = trials(spec)
    assert [t.id for t in ts[:4]] == ["boxpushing6_tomacvf__learner.lr=0.001__seed0",
                                      "boxpushing6_tomacvf__learner.lr=0.001__seed3",
                                      "boxpushing6_tomacvf__learner.lr=0.01__seed0",
                                      "boxpushing6_tomacvf__learner.lr=0.01__seed3"]
    assert len(ts) == 8 and ts[0].label == "ToMacVF (lr=0.001)" and ts[-1].label == "AVF (lr=0.01)"
    cfg = trial_config(ts[-1], spec.name)
    assert (cfg.learner.algo, cfg.learner.lr, cfg.seed, cfg.cluster.total_env_steps, cfg.name) == \
        ("avf", 0.01, 3, 5000, "boxpushing6_avf__learner.lr=0.01__seed3")
    assert cfg.logging.wandb_group == "s" and not cfg.logging.progress
    assert cfg.logging.wandb_tags == ("preset=boxpushing6_avf", "learner.lr=0.01")
    assert study_dir(spec, None) == Path("studies/results/s")


def test_trial_ids_are_folder_safe_and_bounded():
    assert trial_id("tiny", {"env.settings.x": "a b/c"}, 1) == "tiny__env.settings.x=a-b-c__seed1"
    long = trial_id("tiny", {f"k{i}": "v" * 20 for i in range(10)}, 0)
    assert len(long) == 120 and long[-9] == "-"


@pytest.mark.parametrize("text, needle", [
    ("presets: []\n", "presets must be a non-empty list"),
    ("presets: [tiny]\nseeds: [0, 0]\n", "seeds must be a non-empty list of distinct ints"),
    ("presets: [tiny]\ngrid: {learner.lr: []}\n", "grid.learner.lr must be a non-empty list"),
    ("presets: [tiny]\nlabels: {other: X}\n", "labels names presets the study does not run: ['other']"),
    ("presets: [tiny]\nbogus: 1\n", "key 'bogus'"),
    ("name: 'a b'\npresets: [tiny]\n", "name must be letters, digits"),
    ("presets: [tiny]\nthreshold: high\n", "threshold must be a number or a mapping scenario -> number"),
])
def test_bad_study_files_name_the_key(tmp_path, text, needle):
    with pytest.raises(StudyError) as e:
        read_study(_write(tmp_path, text))
    assert str(e.value).startswith(f"study file {tmp_path / 's.yaml'}: ") and needle in str(e.value)


def test_bad_trial_config_fails_before_anything_runs(tmp_path):
    path = _write(tmp_path, "presets: [tiny]\nseeds: [0]\noverrides: [learner.nope=1]\n")
    with pytest.raises(StudyError, match=r"study s, trial tiny__seed0: config key 'learner.nope'"):
        run_study(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_trial_resources_follow_the_config():
    local = load_config("tiny", for_training=False)
    assert trial_resources(local).bundles == [{"CPU": 1.0}]
    ray_cfg = load_config("tiny", ["cluster.runtime=ray", "cluster.num_rollout_workers=2", "cluster.actor_cpus=0.5",
                                   "learner.device=cpu"], for_training=False)
    assert trial_resources(ray_cfg).bundles == [{"CPU": 1.0}, {"CPU": 0.5}, {"CPU": 0.5}, {"CPU": 0.5}]
    packed = load_config("tiny", ["cluster.runtime=ray", "cluster.actor_cpus=0", "learner.device=cpu"],
                         for_training=False)
    assert trial_resources(packed).bundles == [{"CPU": 1.0}]


def test_shipped_study_files_load_and_name_their_presets():
    names = sorted(p.name for p in STUDIES.glob("*.yaml"))
    assert "smoke.yaml" in names and len(names) >= 4
    for p in STUDIES.glob("*.yaml"):
        spec = read_study(p)
        if p.name != "smoke.yaml":
            assert len(spec.seeds) >= 3, p
        for t in trials(spec)[:: len(spec.seeds)]:  # one config per preset and grid point
            trial_config(t, spec.name, for_training=False)
    assert (PRESET_DIR / "tiny.yaml").is_file()


@pytest.mark.slow
def test_smoke_study_end_to_end_under_ray(ray_session, tmp_path):
    from asyncmarl.cluster.report import write_report

    out = tmp_path / "smoke"
    summary = run_study(STUDIES / "smoke.yaml", out)
    assert (summary["trials"], summary["skipped"], summary["finished"], summary["unfinished"]) == (2, 0, 2, 0)
    assert summary["failed"] == []
    assert (out / ".gitignore").read_text() == "runs/\ntune_state/\n.stop\n"
    for seed in (0, 1):
        folder = out / "trials" / f"tiny__seed{seed}"
        result = json.loads((folder / "result.json").read_text())
        assert result["env_steps"] >= 1000 and result["updates"] > 0
        rows = curve_rows(out / "runs" / f"tiny__seed{seed}")
        assert [r["env_steps"] for r in rows] == [r["env_steps"] for r in read_curve(folder / "curve.csv")]
        assert len(rows) == 2 and rows[-1]["return_mean"] == pytest.approx(result["return_mean"])
        assert (out / "runs" / f"tiny__seed{seed}" / "config.yaml").is_file()
    page = write_report([out])
    text = page.read_text()
    table = [line for line in text.splitlines() if line.startswith("| tiny | 2 |")]
    assert len(table) == 1 and "seeds reaching 1" in text
    assert (out / "figures" / "stag-hunter.png").read_bytes()[:4] == b"\x89PNG"

    stamps = {p: p.stat().st_mtime_ns for p in out.glob("trials/*/result.json")}
    t1 = time.monotonic()
    again = run_study(STUDIES / "smoke.yaml", out)
    assert (again["skipped"], again["finished"], again["failed"]) == (2, 2, [])
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps and time.monotonic() - t1 < 30  # no Ray Tune run

    # an interrupted trial (no result yet, a checkpoint in its run) resumes from the checkpoint, in process
    folder = out / "trials" / "tiny__seed1"
    (folder / "result.json").unlink()
    spec = read_study(STUDIES / "smoke.yaml")
    result = run_trial(trials(spec)[1], spec.name, out)
    resumes = (out / "runs" / "tiny__seed1" / "resumes.jsonl").read_text().splitlines()
    assert len(resumes) == 1 and json.loads(resumes[0])["at"]["env_steps"] >= 1000
    assert (folder / "result.json").is_file() and result["env_steps"] >= 1000


def test_a_changed_preset_stops_the_study_or_reruns_the_changed_trials(tmp_path, monkeypatch):
    """Each trial records the config it starts with; a rerun compares the trials that already trained with what
    their preset and overrides give now (logging and plumbing aside), and stops naming the changed keys, or with
    rerun_changed trains them again from scratch. Trials of older studies are compared with their run's config."""
    import yaml

    import asyncmarl.cluster.study as study
    from asyncmarl.cluster.rundir import write_config

    ran = []
    monkeypatch.setattr(study, "_tune", lambda spec, out, todo, configs, addr: ran.append([t.id for t in todo]) or [])
    base = "name: s\npresets: [tiny]\nseeds: [0, 1]\noverrides: [cluster.total_env_steps=1000{}]\n"
    path, out = _write(tmp_path, base.format("")), tmp_path / "out"
    run_study(path, out)  # records both configs (the stand-in for Ray Tune trains nothing)
    assert ran == [["tiny__seed0", "tiny__seed1"]]
    record = out / "trials" / "tiny__seed0" / "config.yaml"
    assert yaml.safe_load(record.read_text())["cluster"]["total_env_steps"] == 1000
    for seed in (0, 1):
        (out / "trials" / f"tiny__seed{seed}" / "result.json").write_text("{}\n")  # as if both had finished

    path.write_text(base.format(", cluster.eval_gif=false, logging.wandb_mode=disabled, cluster.checkpoint_interval=7"))
    assert run_study(path, out)["skipped"] == 2  # not a change of the results

    path.write_text(base.format(", learner.lr=0.05"))
    with pytest.raises(StudyError) as e:
        run_study(path, out)
    msg = str(e.value)
    assert msg.startswith("study s: 2 trial(s) already trained with other settings than their presets and overrides "
                          "give now:\n  tiny__seed0: learner.lr: 0.001 then, 0.05 now\n  tiny__seed1: ")
    assert "--rerun-changed" in msg and (out / "trials" / "tiny__seed0" / "result.json").is_file()

    ran.clear()
    summary = run_study(path, out, rerun_changed=True)
    assert summary["rerun"] == ["tiny__seed0", "tiny__seed1"] and ran == [["tiny__seed0", "tiny__seed1"]]
    assert not (out / "trials" / "tiny__seed0" / "result.json").exists()
    assert yaml.safe_load(record.read_text())["learner"]["lr"] == 0.05

    # a trial of an older study (no record) is compared with its run directory's config.yaml
    record.unlink()
    (out / "trials" / "tiny__seed0" / "result.json").write_text("{}\n")
    (out / "runs" / "tiny__seed0").mkdir(parents=True)
    write_config(out / "runs" / "tiny__seed0", load_config("tiny", ["learner.lr=0.01", "cluster.total_env_steps=1000"],
                                                                 for_training=False))
    with pytest.raises(StudyError, match=r"study s: 1 trial\(s\) .*\n  tiny__seed0: learner.lr: 0.01 then, 0.05 now"):
        run_study(path, out)
