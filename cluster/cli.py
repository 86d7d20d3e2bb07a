"""The ``asyncmarl`` command line (also ``python -m asyncmarl``).

    asyncmarl train CONFIG [key=value ...] [--resume RUN_DIR]
    asyncmarl evaluate RUN_DIR|CHECKPOINT [--episodes N]
    asyncmarl render CHECKPOINT --out episode.gif
    asyncmarl plot RUN_DIR ... --out curves.png
    asyncmarl list
    asyncmarl show CONFIG [key=value ...]
    asyncmarl study STUDY.yaml [--out DIR]
    asyncmarl report DIR [...] [--out DIR]
    asyncmarl --version

Bad configs, checkpoints and cluster addresses end with one ``error:`` line and exit status 2, before anything
starts. Output piped into a reader that stops early (``asyncmarl list | head``) ends quietly.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

SIGPIPE_STATUS = 141  # what a shell reports for a command ended by SIGPIPE (128 + 13), as `yes | head` gives


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows each option's default (where it has one: not for None or an off switch)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class _Version(argparse.Action):
    """``--version``: the package version from its metadata and the code's git commit (computed only when asked)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from asyncmarl.cluster.provenance import code_version

        v = code_version()
        where = ""
        if v["commit"]:
            where = f" (commit {v['commit'][:12]}{', uncommitted changes' if v['dirty'] else ''})"
        print(f"asyncmarl {v['version']}{where}")
        parser.exit()


def _train(a) -> int:
    from asyncmarl.cluster.config import load_config
    from asyncmarl.cluster.driver import train
    from asyncmarl.cluster.rundir import check_run_root, read_config

    if a.resume and (a.config is None or "=" in a.config):
        overrides = ([a.config] if a.config else []) + a.overrides
        cfg = read_config(a.resume, overrides, for_training=True)
    elif a.config is None:
        raise ValueError("train needs CONFIG (a preset name or YAML path) or --resume RUN_DIR")
    else:
        cfg = load_config(a.config, a.overrides)
        check_run_root(cfg)  # a run root that is a file, read-only or full fails before Ray or any folder starts
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
    from asyncmarl.cluster.presets import (
        PRESET_DIR,
        REFERENCE_DIR,
        composed_presets,
        method_presets,
        reference_presets,
        scenario_presets,
    )
    from asyncmarl.learner.config import ALGOS
    from asyncmarl.platform.envs import names, spec

    print("scenarios:")
    for n in names():
        s = spec(n)
        print(f"  {n:<24} {s.family:<8} {s.description}")
    print("algorithms:\n  " + " ".join(ALGOS))
    composed, refs = composed_presets(), set(reference_presets())
    print("presets <scenario>_<method> (asyncmarl show PRESET prints one resolved; * the method's reference-script "
          f"values for the scenario, cluster/configs/{REFERENCE_DIR}/):")
    for stem in scenario_presets():
        methods = [m + ("*" if f"{stem}_{m}" in refs else "") for m in method_presets() if f"{stem}_{m}" in composed]
        print(f"  {stem + '_':<16} {', '.join(methods)}")
    print("other presets:\n  " + " ".join(sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))))
    return 0


def _study(a) -> int:
    from asyncmarl.cluster.study import run_study

    summary = run_study(a.study, a.out, a.address, rerun_changed=a.rerun_changed)
    print(json.dumps(summary))
    return 1 if summary["unfinished"] else 0  # failed or interrupted trials: rerun to resume them


def _report(a) -> int:
    from asyncmarl.cluster.report import write_report

    print(f"wrote {write_report(a.dirs, a.out, a.threshold)}")
    return 0


def _show(a) -> int:
    from asyncmarl.cluster.fields import show_lines

    print("\n".join(show_lines(a.config, a.overrides)))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="asyncmarl", description="Asynchronous cooperative MARL on Ray.",
                                formatter_class=_Help)
    p.add_argument("--version", action=_Version, help="print the version (and git commit) and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help[0].upper() + help[1:].replace("%%", "%") + ".",
                              formatter_class=_Help)

    t = command("train", "train from a preset or YAML config with key=value overrides")
    t.add_argument("config", nargs="?", help="preset name (asyncmarl list) or YAML path")
    t.add_argument("overrides", nargs="*", help="key=value overrides, e.g. learner.lr=0.001 seed=3")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    t.set_defaults(fn=_train)
    e = command("evaluate", "greedy decentralised episodes of a checkpoint")
    e.add_argument("path", metavar="RUN_DIR|CHECKPOINT", help="run directory (its last checkpoint) or checkpoint")
    e.add_argument("--episodes", type=int, default=32, help="greedy episodes to run")
    e.add_argument("--seed", type=int, default=12345, help="seed of the evaluation environments")
    e.set_defaults(fn=_evaluate)
    r = command("render", "GIF of one greedy episode")
    r.add_argument("path", metavar="CHECKPOINT", help="checkpoint file or run directory")
    r.add_argument("--out", default="episode.gif", help="GIF file to write")
    r.add_argument("--seed", type=int, default=0, help="seed of the rendered episode")
    r.set_defaults(fn=_render)
    pl = command("plot", "learning curves of runs (mean and 95%% CI over seeds)")
    pl.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (seeds of one config "
                    "are grouped)")
    pl.add_argument("--out", default="curves.png", help="PNG file to write")
    pl.add_argument("--metric", default="charts/episodic_return", help="metric of metrics.jsonl to draw")
    pl.set_defaults(fn=_plot)
    cv = command("convert-checkpoint", "rewrite an old pickled checkpoint in the safe format")
    cv.add_argument("path", metavar="OLD_CHECKPOINT", help="checkpoint in the old pickled format")
    cv.add_argument("out", metavar="NEW_CHECKPOINT", help="ckpt_<updates>.pt path to write")
    cv.add_argument("--trust", action="store_true", help="confirm the old file is yours (unpickling runs code)")
    cv.set_defaults(fn=_convert)
    ls = command("list", "scenarios, algorithms and presets")
    ls.set_defaults(fn=_list)
    st = command("study", "run a study (presets x seeds x grid) as Ray Tune trials; rerun to resume it")
    st.add_argument("study", metavar="STUDY.yaml", help="study file (see studies/)")
    st.add_argument("--out", metavar="DIR", help="study folder (default: studies/results/<name>)")
    st.add_argument("--address", help="Ray cluster to attach to (default: RAY_ADDRESS, else a local instance)")
    st.add_argument("--rerun-changed", action="store_true",
                    help="train again from scratch the trials whose preset or overrides changed since they trained "
                         "(without it the study stops and names them)")
    st.set_defaults(fn=_study)
    rp = command("report", "markdown tables and PNG figures (one per scenario) of study folders")
    rp.add_argument("dirs", nargs="+", metavar="DIR", help="study folders (asyncmarl study --out)")
    rp.add_argument("--out", metavar="DIR", help="where report.md and figures/ go (default: the study folder)")
    rp.add_argument("--threshold", type=float, help="greedy return to count seeds reaching (default: the study's)")
    rp.set_defaults(fn=_report)
    sh = command("show", "the resolved config of a preset: every field's value, default, origin and meaning")
    sh.add_argument("config", metavar="CONFIG", help="preset name (asyncmarl list) or YAML path")
    sh.add_argument("overrides", nargs="*", help="key=value overrides, e.g. learner.lr=0.001")
    sh.set_defaults(fn=_show)
    return p


def _quiet_broken_pipe() -> int:
    """The reader of our stdout went away (``| head``): send what is left to /dev/null so the interpreter's final
    flush cannot raise again, and end like a command killed by SIGPIPE, without a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return SIGPIPE_STATUS


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``asyncmarl``; returns the exit status."""
    from asyncmarl.cluster.ray_session import ClusterUnreachable
    from asyncmarl.cluster.supervisor import GaveUp

    a = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        status = a.fn(a)
        sys.stdout.flush()  # a closed pipe fails here, inside the handler, not at interpreter exit
        return status
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except (ValueError, ClusterUnreachable, OSError) as e:  # bad input, unreachable cluster, unusable file/path
        print("error: " + " ".join(str(e).split("\n")), file=sys.stderr)
        return 2
    except GaveUp as e:  # restarts exhausted or the cluster failed: what could be saved is saved
        print("error: " + " ".join(str(e).split("\n")), file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
