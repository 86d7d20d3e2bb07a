"""Quarry and Afforestation end at the horizon with ``terminated`` (t / T is observed, so the last step is
terminal); ``terminal_horizon=false`` restores a truncation there."""
import numpy as np
import pytest

from asyncmarl.platform.envs import make_batched


def run(game: str, schedule: dict[int, dict[int, int]] | None = None, **settings):
    """Every step of one episode; ``schedule[t][agent]`` = action committed at t (others wait)."""
    env = make_batched(game, 1, **settings)
    step, steps = env.reset(seed=0), []
    while True:
        t = len(steps)
        a = np.zeros((1, env.n_agents), np.int64)
        for agent, action in (schedule or {}).get(t, {}).items():
            a[0, agent] = action
        step = env.step(a)
        steps.append(step)
        if step.terminated[0] or step.truncated[0]:
            return steps


@pytest.mark.parametrize(("game", "horizon"), [("quarry", 40), ("afforestation", 50)])
def test_the_horizon_terminates_by_default(game, horizon):
    steps = run(game)
    assert len(steps) == horizon
    assert steps[-1].terminated[0] and not steps[-1].truncated[0]
    assert not any(s.terminated[0] or s.truncated[0] for s in steps[:-1])
    assert sum(float(s.reward[0]) for s in steps) == 0.0


@pytest.mark.parametrize(("game", "horizon"), [("quarry", 40), ("afforestation", 50)])
def test_terminal_horizon_false_truncates(game, horizon):
    steps = run(game, terminal_horizon=False)
    assert len(steps) == horizon
    assert steps[-1].truncated[0] and not steps[-1].terminated[0]


def test_a_rock_broken_in_the_last_step_pays_and_ends_the_game():
    steps = run("quarry", {37: {0: 1}})  # miner 0 (duration 2) strikes rock 0 at t = 37: lands at t = 39
    assert len(steps) == 40 and steps[-1].terminated[0]
    assert [float(s.reward[0]) for s in steps[-3:]] == [0.0, 0.0, 5.0]
    assert steps[-1].extras["success"][0] == 0.0  # rocks 1 and 2 are still intact


@pytest.mark.parametrize("game", ["quarry", "afforestation"])
def test_terminal_horizon_must_be_a_bool(game):
    with pytest.raises(ValueError, match="terminal_horizon must be true or false"):
        make_batched(game, 1, terminal_horizon="yes")
