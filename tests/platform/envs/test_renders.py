"""Every scenario's picture: readable size, one size per episode (GIF frames stack), status panel facts (step,
reward, return, each agent's action and elapsed counter), agents that share a spot both visible."""
from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from asyncmarl.platform.envs import drawing, make_batched, names


def _random_episode(name, steps, seed=0):
    env = make_batched(name, 1)
    step = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    frames, rewards = [env.render_rgb(0)], []
    for _ in range(steps):
        if step.done[0]:
            break
        step = env.step((rng.random(step.action_mask.shape) * step.action_mask).argmax(-1))
        rewards.append(float(step.reward[0]))
        frames.append(env.render_rgb(0))
    return env, frames, rewards


@pytest.mark.parametrize("name", names())
def test_frames_are_readable_size_fixed_and_track_the_return(name):
    env, frames, rewards = _random_episode(name, 15)
    shapes = {f.shape for f in frames}
    assert len(shapes) == 1, f"{name}: frame size changes within an episode: {shapes}"
    h, w, c = frames[0].shape
    assert c == 3 and min(h, w) >= 300 and all(f.dtype == np.uint8 for f in frames)
    assert len({f.tobytes() for f in frames}) > 1  # the status panel changes every step at least
    t, ret = drawing._RETURNS[env][0]
    assert t == len(rewards) and ret == pytest.approx(sum(rewards))
    assert isinstance(env.render_ansi(0), str)


def test_return_is_unknown_after_a_step_that_was_not_drawn():
    env = make_batched("quarry", 1)
    env.reset(seed=0)
    env.step(np.zeros((1, env.n_agents), np.int64))
    env.render_rgb(0)
    assert drawing._RETURNS[env][0] == (1, None)  # the reset frame was never drawn: return shown as "?"


def test_status_names_actions_with_elapsed_and_durations():
    env = make_batched("stag-hunter", 1)
    env.reset(seed=0)
    assert drawing.agent_status(env, 0) == [("choosing its first action", "", True)] * 2
    env.step(np.array([[1, 0]]))  # hunter 0 shoots (8 steps), hunter 1 waits (0 steps)
    assert drawing.agent_status(env, 0) == [("shoot", "elapsed 0/8", False), ("wait", "elapsed 0/0", True)]
    env.step(np.array([[0, 0]]))
    assert drawing.agent_status(env, 0)[0] == ("shoot", "elapsed 1/8", False)
    box = make_batched("boxpushing-6", 1)
    box.reset(seed=0)
    box.step(np.array([[2, 3]]))  # both walk to the big box's spots: macro-actions of unknown length
    assert [s[:2] for s in drawing.agent_status(box, 0)] == [("go_big_box_spot_0", "elapsed 0"),
                                                             ("go_big_box_spot_1", "elapsed 0")]


def test_boxpushing_agents_sharing_a_cell_are_both_visible():
    from asyncmarl.platform.envs.boxpushing_render import AGENT_RGB, render_ansi, scene_rgb

    env = make_batched("boxpushing-6", 1)
    env.reset(seed=0)
    pos = env.positions(0)
    pos["agents"] = [(5, 2, 1), (5, 2, 3)]  # both at (5, 2), as the frame had them
    img = scene_rgb(env._tb.layout, pos)
    for color in AGENT_RGB:
        assert (img == color).all(-1).sum() > 30
    text = render_ansi(env._tb.layout, pos, 7)
    assert "01|" in text and "agent_0 at (5, 2) facing >" in text and "agent_1 at (5, 2) facing <" in text


def test_wtd_turtlebots_at_one_spot_are_spread_apart():
    from asyncmarl.platform.envs.wtd.render import R_BOT, _spread

    out = _spread([(100, 100), (100, 100), (101, 99), (400, 50)])
    assert out[3] == (400, 50)
    xs = sorted(x for x, _ in out[:3])
    assert all(b - a >= 2 * R_BOT for a, b in pairwise(xs)) and len({y for _, y in out[:3]}) == 1


def test_offbeat_landing_step_is_drawn_in_the_landing_colour():
    from asyncmarl.platform.envs.offbeat.render import LANDS

    env = make_batched("quarry", 1)
    env.reset(seed=0)
    env.step(np.array([[1, 0, 0]]))  # miner 0 strikes rock 0: 2 steps
    before = (env.render_rgb(0) == LANDS).all(-1).sum()
    env.step(np.zeros((1, 3), np.int64))
    env.step(np.zeros((1, 3), np.int64))  # lands now (elapsed 2/2), breaking rock 0 (hardness 1)
    assert not env.intact[0, 0] and float(env.last.reward[0]) == 5.0
    assert (env.render_rgb(0) == LANDS).all(-1).sum() > before + 100
