"""Command-line papercuts: --version, help texts with defaults, output piped into a reader that stops early."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from asyncmarl.cluster.cli import SIGPIPE_STATUS, main, parser
from asyncmarl.cluster.provenance import code_version, package_version


def test_version_names_the_package_version_and_commit(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    out = capsys.readouterr().out.strip()
    assert e.value.code == 0 and out.startswith(f"asyncmarl {package_version()}")
    assert package_version() == "0.1.0"  # from the installed metadata (pyproject.toml)
    commit = code_version()["commit"]
    assert commit is None or f"commit {commit[:12]}" in out


@pytest.mark.parametrize("command,expected", [
    ("evaluate", ["(default: 32)", "(default: 12345)"]),
    ("render", ["(default: episode.gif)", "(default: 0)"]),
    ("plot", ["(default: curves.png)", "(default: charts/episodic_return)", "95% CI"]),
])
def test_help_shows_defaults(command, expected):
    sub = parser()._subparsers._group_actions[0].choices[command]
    text = " ".join(sub.format_help().split())  # unwrap argparse's line breaks
    assert all(e in text for e in expected)
    assert "default: None" not in text


def test_output_into_a_closed_pipe_ends_quietly():
    """`asyncmarl list | head -0`: the reader is gone before we write; no BrokenPipeError traceback."""
    read, write = os.pipe()
    os.close(read)
    proc = subprocess.run([sys.executable, "-m", "asyncmarl", "list"], stdout=write, stderr=subprocess.PIPE,
                          text=True, timeout=120)
    os.close(write)
    assert proc.returncode == SIGPIPE_STATUS and proc.stderr == ""
