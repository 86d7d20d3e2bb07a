"""docs/tutorial.md, followed as written: its scenario module is written to a folder outside the package and
imported from there (registering ``toy-tasks``), then its training script runs in process."""
from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"


def _block(filename: str) -> str:
    """The tutorial's Python code block that starts with ``# <filename>``."""
    for code in re.findall(r"```python\n(.*?)```", TUTORIAL.read_text(), flags=re.S):
        if code.startswith(f"# {filename}\n"):
            return code
    raise AssertionError(f"docs/tutorial.md has no python block starting with '# {filename}'")


@pytest.fixture
def toy_module(tmp_path, monkeypatch):
    """The tutorial's my_scenarios.py in tmp_path (outside the package), importable; unregistered afterwards."""
    from asyncmarl.platform.envs import registry

    (tmp_path / "my_scenarios.py").write_text(_block("my_scenarios.py"))
    (tmp_path / "train_toy.py").write_text(_block("train_toy.py"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    registry._REGISTRY.pop("toy-tasks", None)
    sys.modules.pop("my_scenarios", None)


def test_toy_scenario_registers_from_outside_and_follows_the_contract(toy_module):
    import my_scenarios

    from asyncmarl.platform.envs import make_batched, names

    assert "toy-tasks" in names() and not my_scenarios.__file__.startswith(str(TUTORIAL.parents[1] / "platform"))
    env = make_batched("toy-tasks", 3)
    env.reset(seed=0)
    rewards = []
    for _ in range(12):  # everyone always takes the long task: +5 per worker every 3 steps
        step = env.step(np.ones((3, 2), np.int64))
        rewards.append(step.reward.copy())
    assert np.sum(rewards, 0).tolist() == [40.0] * 3 and step.truncated.all()
    frame = env.render_rgb(0)
    assert frame.dtype == np.uint8 and min(frame.shape[:2]) >= 300


@pytest.mark.slow
def test_training_script_runs_as_written(toy_module, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    runpy.run_path(str(toy_module / "train_toy.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "Passed Parallel API test" in out
    run_dir, env_steps, eval_return = out.strip().splitlines()[-1].split()
    run_dir = toy_module / run_dir  # relative to where the script ran (logging.run_root is "runs")
    assert run_dir.parent == toy_module / "runs" and run_dir.is_dir() and int(env_steps) >= 600
    assert 0.0 <= float(eval_return) <= 40.0  # the best possible return is 40
    assert "scenario: toy-tasks" in (run_dir / "config.yaml").read_text()
    assert list((run_dir / "media").glob("eval_*.gif"))  # drawn by the toy's render_rgb
