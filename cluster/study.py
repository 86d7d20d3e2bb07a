"""``asyncmarl study STUDY.yaml [--out DIR]``: every trial of a study as a Ray Tune trial.

Each trial is one ordinary training run (:func:`asyncmarl.cluster.train`) in the study folder::

    <out>/study.yaml                the study as run (name, presets, seeds, grid)
    <out>/trials/<id>/trial.json    what the trial runs (preset, seed, grid point, label, scenario)
    <out>/trials/<id>/curve.csv     its greedy evaluations (env steps, episodes, updates, wall time, return)
    <out>/trials/<id>/result.json   its final metrics: written last, it marks the trial finished
    <out>/runs/<id>/                the run directory (config, metrics, checkpoints, GIFs, wandb files)
    <out>/tune_state/               Ray Tune's experiment state
    <out>/report.md, figures/       written by ``asyncmarl report``

``runs/`` and ``tune_state/`` are git-ignored (the study folder gets its own ``.gitignore``), so the results can be
committed and the checkpoints cannot. Running the same command again skips finished trials and resumes
interrupted ones from their last checkpoint. Trials run as many at once as Ray's resources allow: one CPU for a
trial that trains in its own process (``cluster.runtime=local``), one more bundle per actor under
``cluster.runtime=ray`` (GPU for a CUDA learner). Ctrl-C (or SIGTERM) makes every running trial save a checkpoint
where it is and stop (:func:`graceful_stop`); a second one stops at once.
"""
from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from asyncmarl.cluster.study_spec import StudyError, StudySpec, Trial, read_study, trial_config, trials

log = logging.getLogger("asyncmarl.cluster")
DEFAULT_ROOT = Path("studies") / "results"
IGNORED = ("runs/", "tune_state/", ".stop")  # what a study folder keeps out of git
REPORT_EVERY_S = 30.0  # progress reports to Ray Tune from a running trial
STOP_FILE = ".stop"  # in the study folder while a stop is requested: running trials checkpoint and stop
STOP_POLL_S = 1.0  # how often a running trial looks for the stop file


class TrialStopped(RuntimeError):
    """A trial ended before its budget because it was asked to stop; its last checkpoint holds where it was."""

    def __init__(self, message: str, env_steps: int = 0):
        super().__init__(message)
        self.env_steps = int(env_steps or 0)  # where the trial stopped (its final checkpoint's env steps)


def study_dir(spec: StudySpec, out: str | Path | None) -> Path:
    """Where a study writes: ``out``, else ``studies/results/<name>``."""
    return Path(out) if out else DEFAULT_ROOT / spec.name


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def prepare(spec: StudySpec, out: Path, all_trials: list[Trial], configs: dict) -> None:
    """Create the study folder: study.yaml, .gitignore, every trial's trial.json and the record of the config it
    starts with (``configs``: id -> config; :mod:`~asyncmarl.cluster.study_record`)."""
    from dataclasses import asdict

    import yaml

    from asyncmarl.cluster.study_record import record_config

    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(out / ".gitignore", "".join(f"{p}\n" for p in IGNORED))
    _write_atomic(out / "study.yaml", yaml.safe_dump(asdict(spec), sort_keys=False))
    for t in all_trials:
        cfg = configs[t.id]
        folder = out / "trials" / t.id
        folder.mkdir(parents=True, exist_ok=True)
        info = {"id": t.id, "study": spec.name, "preset": t.preset, "label": t.label, "seed": t.seed,
                "scenario": cfg.env.scenario, "point": t.point, "overrides": list(t.overrides),
                "total_env_steps": cfg.cluster.total_env_steps}
        _write_atomic(folder / "trial.json", json.dumps(info, indent=1) + "\n")
        record_config(out, t.id, cfg, started=has_trained(out, t.id))


def finished(out: Path, trial_id: str) -> bool:
    """Whether the trial's result.json exists (written last, after its curve)."""
    return (out / "trials" / trial_id / "result.json").is_file()


def has_trained(out: Path, trial_id: str) -> bool:
    """Whether the trial finished or saved a checkpoint (a rerun skips or resumes it)."""
    from asyncmarl.cluster.checkpoint import list_checkpoints

    return finished(out, trial_id) or bool(list_checkpoints(out / "runs" / trial_id / "checkpoints"))


def forget(out: Path, trial_id: str) -> None:
    """Remove what a trial trained (result, curve, record, run directory) so that it runs again from scratch."""
    from asyncmarl.cluster.checkpointer import RunDirLock

    folder, run_dir = out / "trials" / trial_id, out / "runs" / trial_id
    if run_dir.is_dir():
        RunDirLock(run_dir).release()  # refuses (RunDirBusy) while another process still trains in it
    for name in ("result.json", "curve.csv", "config.yaml"):
        (folder / name).unlink(missing_ok=True)
    shutil.rmtree(run_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- curves
def curve_rows(run_dir: str | Path) -> list[dict]:
    """The greedy evaluations of a run's metrics.jsonl, each with the episodes logged last before it and its wall
    time (older runs: the time logged last before it); a resumed run's rows replace what the interrupted run
    logged past its checkpoint."""
    from asyncmarl.cluster.monitor import read_metrics

    rows: list[dict] = []
    last: dict = {}
    for r in read_metrics(run_dir):
        if "eval/return_mean" not in r:
            last.update({k: r[k] for k in ("episodes", "time_s") if k in r})
            continue
        step = r.get("env_steps", 0)
        while rows and rows[-1]["env_steps"] >= step:
            rows.pop()
        row = {"env_steps": step, "episodes": last.get("episodes", 0), "updates": r.get("updates", 0),
               "time_s": round(float(r.get("time_s", last.get("time_s", 0.0))), 2)}  # evaluations log their time
        row.update({k.removeprefix("eval/"): v for k, v in r.items()
                    if k.startswith("eval/") and k != "eval/episodes"})  # that is the evaluation's episode count
        rows.append(row)
    return rows


def write_curve(rows: list[dict], path: Path) -> None:
    """``curve.csv``: one row per evaluation; columns env_steps, episodes, updates, time_s, return_mean,
    return_ci95, then the scenario's other evaluation metrics."""
    head = ["env_steps", "episodes", "updates", "time_s", "return_mean", "return_ci95"]
    extra = sorted({k for r in rows for k in r} - set(head))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=head + extra)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def read_curve(path: str | Path) -> list[dict]:
    """Rows of a ``curve.csv`` as floats."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: float(v) if v not in ("", None) else float("nan") for k, v in r.items()} for r in csv.DictReader(f)]


# ---------------------------------------------------------------------------------------------- one trial
def run_trial(trial: Trial, study: str, out: Path, hooks: tuple = ()) -> dict:
    """Train one trial (resuming its run from the last checkpoint when it has one), then write its curve and
    result; returns the result. A finished trial is not run again."""
    from asyncmarl.cluster import train
    from asyncmarl.cluster.checkpoint import list_checkpoints

    folder = out / "trials" / trial.id
    if finished(out, trial.id):
        return json.loads((folder / "result.json").read_text())
    cfg = trial_config(trial, study)
    run_dir = out / "runs" / trial.id
    t0 = time.time()
    if list_checkpoints(run_dir / "checkpoints"):
        final = train(cfg, resume=run_dir, hooks=hooks)
    else:  # never started, or stopped before its first checkpoint: start over
        if run_dir.is_dir():
            from asyncmarl.cluster.checkpointer import RunDirLock

            RunDirLock(run_dir).release()  # refuses (RunDirBusy) while another process still trains in it
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        final = train(cfg, run_dir=run_dir, hooks=hooks)
    if final.get("stopped"):
        raise TrialStopped(f"trial {trial.id} stopped before its budget ({final['stopped']}) at "
                           f"{final.get('env_steps')} env steps; run the study again to resume it",
                           final.get("env_steps", 0))
    rows = curve_rows(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    write_curve(rows, folder / "curve.csv")
    result = {"id": trial.id, "env_steps": final.get("env_steps"), "updates": final.get("updates"),
              "episodes": final.get("episodes"), "time_s": rows[-1]["time_s"] if rows else None,
              "return_mean": final.get("eval/return_mean"), "return_ci95": final.get("eval/return_ci95"),
              "this_session_s": round(time.time() - t0, 1),
              "eval": {k.removeprefix("eval/"): v for k, v in final.items() if k.startswith("eval/")}}
    _write_atomic(folder / "result.json", json.dumps(result, indent=1, default=float) + "\n")
    return result


def stop_hook(out: Path):
    """A driver hook that asks the run to stop (it then saves a final checkpoint) once the study's stop file
    exists; it looks at most every STOP_POLL_S seconds."""
    stop_file = out / STOP_FILE
    last = [time.monotonic()]

    def hook(driver) -> None:
        if driver.stop_reason is None and time.monotonic() - last[0] >= STOP_POLL_S:
            last[0] = time.monotonic()
            if stop_file.exists():
                driver.request_stop("study stopped")
    return hook


def _tune_trainable(config: dict) -> None:
    """The Ray Tune function trainable: one trial, with progress reports every REPORT_EVERY_S seconds. A trial
    asked to stop (the study's stop file) checkpoints, ends without a result and is reported as stopped, not
    failed, so Ray Tune does not retry it."""
    from ray import tune

    trial = Trial(**{**config["trial"], "overrides": tuple(config["trial"]["overrides"])})
    out = Path(config["out"])
    if (out / STOP_FILE).exists():  # a trial the scheduler starts after the stop request does not begin
        tune.report({"stopped": True, "done": True})
        return
    last = [time.monotonic()]

    def report(driver) -> None:
        if time.monotonic() - last[0] >= REPORT_EVERY_S:
            last[0] = time.monotonic()
            c = driver.c
            tune.report({"env_steps": c.env_steps, "updates": c.updates, "episodes": c.episodes, "done": False})

    try:
        result = run_trial(trial, config["study"], out, hooks=(report, stop_hook(out)))
    except TrialStopped as e:
        tune.report({"stopped": True, "done": True, "env_steps": e.env_steps})
        return
    tune.report({k: v for k, v in result.items() if isinstance(v, (int, float)) and v is not None} | {"done": True})


@contextlib.contextmanager
def graceful_stop(out: Path):
    """While the study runs: the first SIGINT (Ctrl-C) or SIGTERM (``ray job stop``) creates the stop file, so each
    running trial saves a checkpoint at the step it has reached and ends; a second one stops at once (the trials
    then resume from their last periodic checkpoint). Ray Tune's own SIGINT handler is off meanwhile: it would
    end the trials' actors without a checkpoint. Outside the main thread (no signal handlers there) only the
    stop file works."""
    stop_file = out / STOP_FILE
    stop_file.unlink(missing_ok=True)  # a request left by a killed study must not stop this one
    old_env = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    old = {}

    def on_signal(signum, _frame) -> None:
        for s, h in old.items():  # the next signal acts as it would without us
            signal.signal(s, h)
        stop_file.touch()
        _say(f"{signal.Signals(signum).name}: each running trial saves a checkpoint and stops (run the same "
             f"command to resume); send it again to stop at once")

    if threading.current_thread() is threading.main_thread():
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
        old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop_file
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if old:
            if old_env is None:
                os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
            else:
                os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = old_env
        stop_file.unlink(missing_ok=True)


def trial_resources(cfg):
    """Ray Tune resources of a trial: one CPU for the driver (where an in-process run trains), and under
    ``cluster.runtime=ray`` a bundle per rollout worker and one for the learner (with the GPU it asks for)."""
    from ray import tune

    from asyncmarl.cluster.topology import learner_gpus

    bundles = [{"CPU": 1.0}]
    if cfg.cluster.runtime == "local":
        if cfg.learner.device == "cuda":
            bundles[0]["GPU"] = 1.0
    else:
        cpus = cfg.cluster.actor_cpus
        if cpus > 0:
            bundles += [{"CPU": cpus} for _ in range(cfg.cluster.num_rollout_workers)]
        learner = {"CPU": cpus} if cpus > 0 else {}
        gpus = learner_gpus(cfg)
        if gpus:
            learner["GPU"] = float(gpus)
        if learner:
            bundles.append(learner)
    return tune.PlacementGroupFactory(bundles, strategy="PACK")


# ---------------------------------------------------------------------------------------------- the study
def run_study(path: str | Path, out: str | Path | None = None, address: str | None = None,
              rerun_changed: bool = False) -> dict:
    """Run (or continue) the study in ``path``; returns ``{"out", "trials", "skipped", "finished", "failed",
    "unfinished", "rerun"}``. Trials that already trained with other settings than their presets give now stop
    the study (:class:`StudyError` naming them and the keys), or with ``rerun_changed`` train again from scratch."""
    from asyncmarl.cluster.study_record import changed_trials, describe_changes

    spec = read_study(path)
    out = study_dir(spec, out).resolve()
    all_trials = trials(spec)
    configs = {t.id: trial_config(t, spec.name) for t in all_trials}  # every config checked before anything runs
    changed = changed_trials(out, [t.id for t in all_trials if has_trained(out, t.id)], configs)
    if changed and not rerun_changed:
        raise StudyError(describe_changes(spec.name, changed))
    for tid in changed:
        forget(out, tid)
    prepare(spec, out, all_trials, configs)
    # seed by seed: every method's first seed before any second seed, so a study cut short compares methods
    todo = sorted((t for t in all_trials if not finished(out, t.id)), key=lambda t: spec.seeds.index(t.seed))
    _say(f"study {spec.name}: {len(all_trials)} trials, {len(all_trials) - len(todo)} finished before, "
         f"{len(todo)} to run; folder {out}")
    failed: list[str] = []
    if todo:
        failed = _tune(spec, out, todo, configs, address)
    done = [t.id for t in all_trials if finished(out, t.id)]
    stopped = len(all_trials) - len(done) - len(failed)  # interrupted (Ctrl-C, a stopped job) before finishing
    _say(f"study {spec.name}: {len(done)} of {len(all_trials)} trials finished"
         + (f", {len(failed)} failed: {', '.join(failed)}" if failed else "")
         + (f", {stopped} stopped before finishing (run the same command again to resume them)" if stopped else "")
         + (f"; report: asyncmarl report {out}" if done else ""))
    return {"out": str(out), "trials": len(all_trials), "skipped": len(all_trials) - len(todo),
            "finished": len(done), "failed": failed, "unfinished": len(all_trials) - len(done),
            "rerun": sorted(changed)}


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _tune(spec: StudySpec, out: Path, todo: list[Trial], configs: dict, address: str | None) -> list[str]:
    """Run ``todo`` as Ray Tune trials; returns the ids of trials that failed."""
    import ray
    from ray import tune

    from asyncmarl.cluster.ray_session import connect

    started = connect(address)
    try:
        _check_fits(todo, configs, started)
        trainable = tune.with_resources(_tune_trainable,
                                        lambda config: trial_resources(configs[config["trial"]["id"]]))
        space = {"trial": tune.grid_search([_plain(t) for t in todo]), "study": spec.name, "out": str(out)}
        tuner = tune.Tuner(
            trainable, param_space=space,
            tune_config=tune.TuneConfig(max_concurrent_trials=spec.max_concurrent or None,
                                        trial_name_creator=_trial_name, trial_dirname_creator=_trial_name),
            run_config=tune.RunConfig(name=f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}",
                                      storage_path=str(out / "tune_state"), verbose=0,
                                      failure_config=tune.FailureConfig(max_failures=spec.max_failures),
                                      callbacks=[_lines_callback()]))
        with graceful_stop(out):
            grid = tuner.fit()
        failed = []
        for r in grid:
            if r.error is not None:
                tid = (r.config or {}).get("trial", {}).get("id", "?")
                failed.append(tid)
                _say(f"trial {tid} failed: {str(r.error).strip().splitlines()[-1][:300]}")
        return failed
    finally:
        if started:
            ray.shutdown()


def _trial_name(trial) -> str:
    return trial.config["trial"]["id"]


def _plain(t: Trial) -> dict:
    from dataclasses import asdict

    d = asdict(t)
    d["overrides"] = list(t.overrides)
    return d


def _check_fits(todo: list[Trial], configs: dict, started: bool) -> None:
    """On a Ray instance this study started, a trial needing more CPUs or GPUs than it has fails now (Tune would
    wait for ever)."""
    import ray

    if not started:
        return  # an existing cluster may autoscale
    have = ray.cluster_resources()
    for t in todo:
        need: dict[str, float] = {}
        for b in trial_resources(configs[t.id]).bundles:
            for k, v in b.items():
                need[k] = need.get(k, 0.0) + v
        short = {k: v for k, v in need.items() if v > have.get(k, 0.0)}
        if short:
            raise ValueError(f"trial {t.id} needs {need} and this Ray instance has "
                             f"{ {k: have.get(k, 0.0) for k in need} }; lower cluster.actor_cpus or use a cluster")


def _lines_callback():
    """A Ray Tune callback printing one line when a trial starts, finishes or fails (Tune's own tables are off)."""
    from ray.tune import Callback

    class Lines(Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            _say(f"trial {trial.config['trial']['id']}: started")

        def on_trial_complete(self, iteration, trials, trial, **info):
            r = trial.last_result or {}
            if r.get("stopped"):
                _say(f"trial {trial.config['trial']['id']}: stopped"
                     + (f" at {r['env_steps']} env steps, checkpoint saved" if r.get("env_steps") else
                        " before it began"))
                return
            ret = r.get("return_mean")
            _say(f"trial {trial.config['trial']['id']}: finished, {r.get('env_steps')} env steps, final greedy "
                 f"return {ret if ret is None else round(ret, 2)}")

        def on_trial_error(self, iteration, trials, trial, **info):
            _say(f"trial {trial.config['trial']['id']}: failed (Ray Tune's log: {trial.local_path})")

    return Lines()
