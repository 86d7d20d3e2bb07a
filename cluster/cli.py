"""The ``asyncmarl`` command line (also ``python -m asyncmarl``).

    asyncmarl train CONFIG [key=value ...] [--resume RUN_DIR]
    asyncmarl evaluate RUN_DIR|CHECKPOINT [--episodes N]
    asyncmarl render CHECKPOINT --out episode.gif
    asyncmarl plot RUN_DIR ... --out curves.png
    asyncmarl list

Bad configs, checkpoints and cluster addresses end with one ``error:`` line and exit status 2, before anything
starts.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys


def _train(a) -> int:
    from asyncmarl.cluster.config import load_config
    from asyncmarl.cluster.driver import train
    from asyncmarl.cluster.rundir import read_config

    if a.resume and (a.config is None or "=" in a.config):
        overrides = ([a.config] if a.config else []) + a.overrides
        cfg = read_config(a.resume, overrides)
    elif a.config is None:
        raise ValueError("train needs CONFIG (a preset name or YAML path) or --resume RUN_DIR")
    else:
        cfg = load_config(a.config, a.overrides)
    final = train(cfg, resume=a.resume)
    keys = ("run_dir", "checkpoint", "stopped", "env_steps", "updates", "episodes", "charts/episodic_return",
            "eval/return_mean", "eval/return_ci95")
    print(json.dumps({k: final.get(k) for k in keys}))
    return 0


def _evaluate(a) -> int:
    from asyncmarl.cluster.offline import evaluate_checkpoint, format_evaluation

    result = evaluate_checkpoint(a.path, a.episodes, seed=a.seed)
    print(format_evaluation(result))
    return 0


def _render(a) -> int:
    from asyncmarl.cluster.offline import render_checkpoint

    path = render_checkpoint(a.path, a.out, seed=a.seed)
    print(f"wrote {path}")
    return 0


def _plot(a) -> int:
    from asyncmarl.cluster.plot import plot_runs

    print(f"wrote {plot_runs(a.run_dirs, a.out, metric=a.metric)}")
    return 0


def _convert(a) -> int:
    from asyncmarl.cluster.checkpoint import convert_legacy_checkpoint

    if not a.trust:
        raise ValueError("convert-checkpoint unpickles the old file, which runs any code it carries: pass --trust "
                         "only for a checkpoint you made yourself")
    print(f"wrote {convert_legacy_checkpoint(a.path, a.out)}")
    return 0


def _list(_a) -> int:
    from asyncmarl.cluster.config import presets
    from asyncmarl.learner.config import ALGOS
    from asyncmarl.platform.envs import names, spec

    print("scenarios:")
    for n in names():
        s = spec(n)
        print(f"  {n:<24} {s.family:<8} {s.description}")
    print("algorithms:\n  " + " ".join(ALGOS))
    print("presets:\n  " + " ".join(presets()))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="asyncmarl", description="Asynchronous cooperative MARL on Ray.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train from a preset or YAML config with key=value overrides")
    t.add_argument("config", nargs="?", help="preset name (asyncmarl list) or YAML path")
    t.add_argument("overrides", nargs="*", help="key=value overrides, e.g. learner.lr=0.001 seed=3")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    t.set_defaults(fn=_train)
    e = sub.add_parser("evaluate", help="greedy decentralised episodes of a checkpoint")
    e.add_argument("path", metavar="RUN_DIR|CHECKPOINT")
    e.add_argument("--episodes", type=int, default=32)
    e.add_argument("--seed", type=int, default=12345)
    e.set_defaults(fn=_evaluate)
    r = sub.add_parser("render", help="GIF of one greedy episode")
    r.add_argument("path", metavar="CHECKPOINT", help="checkpoint file or run directory")
    r.add_argument("--out", default="episode.gif")
    r.add_argument("--seed", type=int, default=0)
    r.set_defaults(fn=_render)
    pl = sub.add_parser("plot", help="learning curves of runs (mean and spread over seeds)")
    pl.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    pl.add_argument("--out", default="curves.png")
    pl.add_argument("--metric", default="charts/episodic_return")
    pl.set_defaults(fn=_plot)
    cv = sub.add_parser("convert-checkpoint", help="rewrite an old pickled checkpoint in the safe format")
    cv.add_argument("path", metavar="OLD_CHECKPOINT")
    cv.add_argument("out", metavar="NEW_CHECKPOINT", help="ckpt_<updates>.pt path to write")
    cv.add_argument("--trust", action="store_true", help="confirm the old file is yours (unpickling runs code)")
    cv.set_defaults(fn=_convert)
    ls = sub.add_parser("list", help="scenarios, algorithms and presets")
    ls.set_defaults(fn=_list)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``asyncmarl``; returns the exit status."""
    from asyncmarl.cluster.ray_session import ClusterUnreachable

    a = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return a.fn(a)
    except (ValueError, ClusterUnreachable, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
