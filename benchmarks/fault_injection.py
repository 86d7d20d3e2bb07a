"""Fault injection under Ray: kill every role several times at random moments, and the driver once, then resume;
compare with a fault-free run of the same seed.

    python benchmarks/fault_injection.py [--preset staghunter_qmix_legem] [--steps 200000] [--kills 3] [--seed 0]
                                         [--out DIR]

Three runs of the preset (default: QMIX with LeGEM on Stag-Hunter, so all four roles exist), each a child process
with its own local Ray instance (2 rollout actors, 2 replay shards):
1. fault-free;
2. faulted: each of rollout actor, replay shard, learner and LeGEM is killed ``--kills`` times at random env-step
   marks (``ray.kill``, as ``kill -9`` of the actor process; a learner kill waits for the first checkpoint); at a
   random point between 40% and 60% of the run the parent ``SIGKILL``s the whole driver process group;
3. resumed: ``asyncmarl train --resume`` of run 2's directory, with the remaining role kills.
Prints one table: kills, restarts per role, episodes dropped incomplete, partial rows sampled (must be 0), env
steps and updates lost (driver kill: logged beyond the last checkpoint; learner kills: ``faults/updates_lost``)
and the final greedy return of both runs. Takes about 15-25 minutes on a 2-core machine.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("WANDB_MODE", "disabled")

ROLES = ("rollout", "shard", "learner", "legem")


def overrides(args, run_root: Path, name: str) -> list[str]:
    return ["cluster.runtime=ray", "cluster.num_rollout_workers=2", "cluster.num_replay_shards=2",
            "cluster.actor_cpus=0", f"cluster.total_env_steps={args.steps}", "cluster.checkpoint_interval=100",
            "replay.incomplete_timeout_s=2.0", "cluster.max_restarts=20", f"seed={args.seed}",
            f"logging.run_root={run_root}", f"name={name}", "logging.wandb_mode=disabled", "logging.progress=false"]


def child(args) -> None:
    """One training run (fresh or resumed) with the role kills of ``args.plan`` applied as hooks."""
    import ray

    from asyncmarl.cluster import train
    from asyncmarl.cluster.config import load_config
    from asyncmarl.cluster.rundir import read_config

    plan = json.loads(args.plan)  # [[env_step, role], ...] still to do
    log_path = Path(args.kill_log)

    def kill(d):
        while plan and d.c.env_steps >= plan[0][0]:
            _, role = plan.pop(0)
            topo = d.topo
            handle = {"rollout": lambda topo=topo: topo.rollouts[len(plan) % len(topo.rollouts)],
                      "shard": lambda topo=topo: topo.shards[len(plan) % len(topo.shards)],
                      "learner": lambda topo=topo: topo.learner, "legem": lambda topo=topo: topo.legem}[role]()
            if role == "learner" and d.last_checkpoint is None:
                plan.insert(0, [d.c.env_steps + 1, role])  # nothing to restart from yet: kill once one exists
                return
            ray.kill(handle, no_restart=True)
            with open(log_path, "a") as f:
                f.write(json.dumps({"role": role, "env_steps": d.c.env_steps, "updates": d.c.updates}) + "\n")

    if args.resume:
        cfg = read_config(args.resume)
        final = train(cfg, resume=args.resume, hooks=(kill,))
    else:
        cfg = load_config(args.preset, overrides(args, Path(args.run_root), args.name))
        final = train(cfg, hooks=(kill,) if plan else ())
    Path(args.result).write_text(json.dumps(final, default=str))


def spawn(args, extra: list[str]) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "--child", "--steps", str(args.steps), "--seed", str(args.seed),
           "--preset", args.preset, *extra]
    return subprocess.Popen(cmd, start_new_session=True)  # its own process group: Ray's processes die with it


def rows_of(run_dir: Path) -> list[dict]:
    from asyncmarl.cluster.monitor import read_metrics

    return read_metrics(run_dir)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="staghunter_qmix_legem", help="a preset with LeGEM, so all four roles exist")
    p.add_argument("--steps", type=int, default=200_000, help="env steps per run")
    p.add_argument("--kills", type=int, default=3, help="kills of each role")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="folder for the runs (default: a temporary folder)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--plan", default="[]", help=argparse.SUPPRESS)
    p.add_argument("--kill-log", default="", help=argparse.SUPPRESS)
    p.add_argument("--result", default="", help=argparse.SUPPRESS)
    p.add_argument("--run-root", default="", help=argparse.SUPPRESS)
    p.add_argument("--name", default="", help=argparse.SUPPRESS)
    p.add_argument("--resume", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    import numpy as np

    out = Path(args.out or tempfile.mkdtemp(prefix="fault_injection_"))
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    marks = rng.uniform(0.1, 0.9, size=(len(ROLES), args.kills)) * args.steps
    plan = sorted([int(m), role] for role, ms in zip(ROLES, marks, strict=True) for m in ms)
    t0 = time.time()

    # 1. fault-free
    clean = spawn(args, ["--run-root", str(out), "--name", "clean", "--result", str(out / "clean.json")])
    assert clean.wait() == 0, "the fault-free run failed"
    # 2. faulted, driver killed once
    kill_log = out / "kills.jsonl"
    kill_log.unlink(missing_ok=True)
    run_dir = out / "faulted"
    proc = spawn(args, ["--run-root", str(out), "--name", "faulted", "--plan", json.dumps(plan),
                        "--kill-log", str(kill_log), "--result", str(out / "faulted.json")])
    from asyncmarl.cluster.checkpoint import list_checkpoints, load_checkpoint

    driver_killed = None
    mark = rng.uniform(0.4, 0.6) * args.steps  # the driver dies at a random moment once a checkpoint exists
    while proc.poll() is None:
        time.sleep(0.5)
        if not list_checkpoints(run_dir / "checkpoints"):
            continue
        try:
            logged = max((r.get("env_steps", 0) for r in rows_of(run_dir)), default=0)
        except Exception:  # noqa: BLE001 - a row being written right now
            continue
        if logged >= mark:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            driver_killed = logged
            break
    assert driver_killed is not None, "the faulted run ended before the driver could be killed"
    # what the killed driver had done beyond its last checkpoint (its rows are dropped on resume)
    logged = [r for r in rows_of(run_dir) if "env_steps" in r]
    ckpt = load_checkpoint(list_checkpoints(run_dir / "checkpoints")[-1])["counters"]
    lost_steps = max(r["env_steps"] for r in logged) - ckpt["env_steps"]
    lost_updates = max(r["updates"] for r in logged) - ckpt["updates"]
    done = [json.loads(x) for x in kill_log.read_text().splitlines()] if kill_log.exists() else []
    remaining = [[m, r] for m, r in plan if m > ckpt["env_steps"]]
    # 3. resume with the remaining kills
    res = spawn(args, ["--resume", str(run_dir), "--plan", json.dumps(remaining), "--kill-log", str(kill_log),
                       "--result", str(out / "resumed.json")])
    assert res.wait() == 0, "the resumed run failed"
    kills = [json.loads(x) for x in kill_log.read_text().splitlines()]
    final = json.loads((out / "resumed.json").read_text())
    base = json.loads((out / "clean.json").read_text())
    rows = [r for r in rows_of(run_dir) if "faults/restarts_rollout" in r]
    last = rows[-1]
    table = {
        "kills": {role: sum(k["role"] == role for k in kills) for role in ROLES} | {"driver": 1},
        "kills_before_driver_kill": len(done),
        "restarts": {role: last[f"faults/restarts_{role}"] for role in ROLES},
        "episodes_dropped_incomplete": last.get("replay/dropped_incomplete"),
        "partial_rows_sampled": max(r.get("replay/partial_rows", 0) for r in rows),
        "driver_kill_env_steps_lost": lost_steps, "driver_kill_updates_lost": lost_updates,
        "learner_kill_updates_lost": last.get("faults/updates_lost"),
        "env_steps": final.get("env_steps"), "updates": final.get("updates"),
        "eval_return_faulted": final.get("eval/return_mean"), "eval_return_fault_free": base.get("eval/return_mean"),
        "wall_s": round(time.time() - t0, 1), "runs": str(out),
    }
    print(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
