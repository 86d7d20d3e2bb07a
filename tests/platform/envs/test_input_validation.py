"""Scenario settings must be finite numbers; actions outside the int range give a ValueError naming the agent,
never an OverflowError, and a busy agent's action is ignored whatever it is."""
import numpy as np
import pytest

from asyncmarl.platform.envs import make, make_batched, resolve_settings


@pytest.mark.parametrize("scenario, setting, value, shown", [
    ("boxpushing-6", "step_reward", float("nan"), "nan"),
    ("boxpushing-6", "big_box_reward", float("inf"), "inf"),
    ("wtd-a", "delivery_reward", float("-inf"), "-inf"),
    ("wtd-a", "turtlebot_speed", float("nan"), "nan"),
    ("overcooked-a", "subtask_reward", np.float32("nan"), "np.float32(nan)"),
    ("stag-hunter", "catch_reward", float("nan"), "nan"),
    ("stag-hunter", "duration_probs", [[[0.5, float("nan")], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]]], "nan"),
])
def test_non_finite_settings_are_refused_naming_the_setting(scenario, setting, value, shown):
    with pytest.raises(ValueError) as e:
        make(scenario, **{setting: value})
    assert str(e.value) == f"scenario {scenario!r}: setting {setting} must be a finite number, got {shown}"


def test_settings_beyond_int64_are_refused():
    with pytest.raises(ValueError, match=r"setting horizon=1180591620717411303424 does not fit a 64-bit integer"):
        make_batched("boxpushing-6", 1, horizon=2**70)


def test_finite_settings_still_apply():
    s = resolve_settings("boxpushing-6", step_reward=-0.5, big_box_reward=50.0)
    assert s.step_reward == -0.5 and s.rewards == (50.0, 20.0, -10.0)


@pytest.mark.parametrize("value", [2**63, 2**64, -1, -(2**63) - 1, np.uint64(2**63), 8])
def test_out_of_range_actions_name_the_agent(value):
    env = make("boxpushing-6")
    env.reset(seed=0)
    with pytest.raises(ValueError) as e:
        env.step({a: value for a in env.agents})
    assert str(e.value) == f"boxpushing-6: action {int(value)} for agent_0 is out of range; valid actions are 0..7"


@pytest.mark.parametrize("value", [1.0, "3", None, True])
def test_non_int_actions_name_the_agent(value):
    env = make("boxpushing-6")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action for agent_0 must be an int in 0..7"):
        env.step({a: value for a in env.agents})


def test_busy_agent_may_send_anything():
    env = make("boxpushing-6")
    _, infos = env.reset(seed=0)
    rng = np.random.default_rng(0)
    sent_to_busy = 0
    for _ in range(200):
        acts = {}
        for a in env.agents:
            if infos[a]["macro_done"]:
                acts[a] = int(rng.choice(np.flatnonzero(infos[a]["action_mask"])))
            else:
                acts[a] = 2**63  # ignored: the agent is inside its macro-action
                sent_to_busy += 1
        _, _, terms, truncs, infos = env.step(acts)
        if not env.agents:
            _, infos = env.reset(seed=1)
    assert sent_to_busy > 0


def test_batched_uint64_actions_do_not_wrap():
    env = make_batched("boxpushing-6", 2)
    env.reset(seed=0)
    acts = np.zeros((2, 2), np.uint64)
    acts[1, 1] = np.uint64(2**63)
    with pytest.raises(ValueError) as e:
        env.step(acts)
    assert str(e.value) == ("boxpushing-6: action 9223372036854775808 for agent_1 (copy 1) is out of range; "
                            "valid actions are 0..7")
    with pytest.raises(ValueError, match="actions must be integers, got dtype object"):
        env.step(np.array([[2**64, 0], [0, 0]], dtype=object))
    step = env.step(np.zeros((2, 2), np.uint64))  # in-range unsigned actions are fine
    assert step.t.tolist() == [1, 1]
