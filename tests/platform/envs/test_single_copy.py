"""Single-copy (B = 1) paths: the plain-Python steppers against the batched cores, ``step_row`` against
``step``, lazily built Step fields, and the PettingZoo view against the core it wraps."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from asyncmarl.platform.envs import make, make_batched, names
from asyncmarl.platform.envs.base import LAZY_FIELDS, Step

FIELDS = ("obs", "real_obs", "state", "reward", "terminated", "truncated", "choosing", "macro_action", "elapsed",
          "t")
# Overcooked macro-actions of a salad plan (every map): followed most of the time, so that chopping, plating,
# correct and wrong deliveries happen often
TOMATO, LETTUCE, ONION, PLATE1, KNIFE1, KNIFE2, DELIVER, CHOP = 1, 2, 3, 4, 6, 7, 8, 9
SALAD = [TOMATO, KNIFE1, CHOP, LETTUCE, KNIFE2, CHOP, PLATE1, TOMATO, LETTUCE, KNIFE1, ONION, KNIFE2, CHOP, ONION,
         KNIFE1, DELIVER]


def _assert_steps_equal(batched: Step, singles: list[Step], where: str) -> None:
    for f in FIELDS:
        expect = getattr(batched, f)
        got = np.concatenate([getattr(s, f) for s in singles])
        assert got.dtype == expect.dtype, f"{f} dtype {where}"
        np.testing.assert_array_equal(got, expect, err_msg=f"{f} {where}")
    for key in batched.extras:
        np.testing.assert_array_equal(np.concatenate([s.extras[key] for s in singles]), batched.extras[key])


def _overcooked_run(name: str, seed: int, steps: int, p_plan: float, **settings) -> dict:
    """B = 3 batched core vs three B = 1 cores (the plain-Python stepper; copy 0 stepped with ``step``, the
    others with ``step_row``), the same actions, every field compared at every step; returns event counts."""
    B = 3
    big = make_batched(name, B, **settings)
    singles = [make_batched(name, 1, **settings) for _ in range(B)]
    assert big._sc is None and all(e._sc is not None for e in singles)
    rng = np.random.default_rng(seed)
    sb = big.reset(seed=0)
    ss = [e.reset(seed=0) for e in singles]
    plan_at = np.zeros((B, 3), int)
    events = {"chop": 0, "correct": 0, "wrong": 0, "episodes": 0}
    for k in range(steps):
        a = rng.integers(0, big.n_actions, (B, 3))
        follow = sb.choosing & (rng.random((B, 3)) < p_plan)
        a = np.where(follow, np.array(SALAD)[plan_at % len(SALAD)], a)
        plan_at += follow
        sb = big.step(a)
        ss = [singles[0].step(a[:1])] + [e.step_row(a[b].tolist()) for b, e in enumerate(singles) if b]
        _assert_steps_equal(sb, ss, f"at step {k}")
        r = sb.reward
        events["correct"] += int(sb.terminated.sum())
        events["chop"] += int(((r > 5) & ~sb.terminated).sum())
        events["wrong"] += int((r < -4).sum())
        if sb.done.any():
            done = sb.done
            events["episodes"] += int(done.sum())
            sb = big.reset(seed=0, where=done)
            plan_at[done] = 0
            ss = [e.reset(seed=0) if done[b] else e.last for b, e in enumerate(singles)]
            _assert_steps_equal(sb, ss, f"after reset at step {k}")
    return events


@pytest.mark.parametrize("name", ["overcooked-a", "overcooked-b", "overcooked-c"])
@pytest.mark.parametrize("settings", [{"horizon": 60}, {"horizon": 50, "obs_radius": 0},
                                      {"horizon": 60, "counter_ends_on_arrival": True}])
def test_overcooked_single_copy_stepper_equals_the_batched_core(name, settings):
    events = _overcooked_run(name, seed=len(settings) + ord(name[-1]), steps=600, p_plan=0.85, **settings)
    # map B's divider keeps plates and food apart unless passed over it, which the plan does not do
    assert events["episodes"] >= 20 and events["chop"] > 0 and (events["wrong"] > 0 or name == "overcooked-b")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["overcooked-a", "overcooked-b", "overcooked-c"])
def test_overcooked_single_copy_stepper_long_runs(name):
    """Full-length episodes (horizon 200), mostly following the salad plan: correct deliveries on maps A and C
    (map B needs passing over the divider, which the plan does not do)."""
    events = _overcooked_run(name, seed=7, steps=3000, p_plan=0.9)
    assert events["chop"] > 20 and (events["correct"] > 5 or name == "overcooked-b")


@pytest.mark.parametrize("name", ["boxpushing-6", "boxpushing-10", "wtd-a", "wtd-d", "wtd-e", "overcooked-a",
                                  "overcooked-b", "stag-hunter"])
def test_step_row_and_lazy_fields_equal_the_array_path(name):
    """One B = 1 core stepped with ``step_row`` whose Steps are read only after the whole run (lazy fields must
    keep their own step's values), one with ``step`` read at once: identical Steps."""
    lazy_core, eager_core = make_batched(name, 1), make_batched(name, 1)
    kept, eager = [lazy_core.reset(seed=1)], [eager_core.reset(seed=1)]
    rng = np.random.default_rng(3)
    for _ in range(400):
        mask = eager[-1].action_mask[0]
        row = [int(rng.choice(np.flatnonzero(m))) if m.any() else 0 for m in mask]
        kept.append(lazy_core.step_row(row))
        step = eager_core.step(np.array([row]))
        eager.append(Step(**{f: getattr(step, f).copy() for f in FIELDS}, action_mask=step.action_mask.copy(),
                          extras={k: v.copy() for k, v in step.extras.items()}))
        if step.done[0]:
            kept.append(lazy_core.reset(seed=2))
            eager.append(eager_core.reset(seed=2))
    for k, (a, b) in enumerate(zip(kept, eager, strict=True)):
        _assert_steps_equal(b, [a], f"at step {k}")
        np.testing.assert_array_equal(a.action_mask, b.action_mask)
        assert a.agent_lists() == (b.choosing[0].tolist(), b.macro_action[0].tolist(), b.elapsed[0].tolist())


def test_lazy_step_pickles_and_copies_whole():
    core = make_batched("wtd-a", 1)
    core.reset(seed=0)
    step = core.step_row([0, 1, 2])
    assert "_fill" in step.__dict__  # nothing read yet
    back = pickle.loads(pickle.dumps(step))
    assert not any(k.startswith("_") for k in back.__dict__)
    assert set(LAZY_FIELDS) <= set(back.__dict__)
    _assert_steps_equal(step, [back], "after pickling")
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        step.nonsense  # noqa: B018


@pytest.mark.parametrize("name", names())
def test_pettingzoo_view_reports_the_core_step(name):
    """Every key of every agent's info, observations, rewards and flags equal the core's Step at B = 1; masks
    are read-only int8, observations fresh arrays the core never sees again."""
    env, core = make(name), make_batched(name, 1)
    obs, infos = env.reset(seed=4)
    step = core.reset(seed=4)
    for t in range(120):
        for i, a in enumerate(env.possible_agents):
            info = infos[a]
            assert set(info) >= {"macro_done", "macro_action", "elapsed", "action_mask", "macro_obs", "real_obs"}
            assert info["macro_done"] is bool(step.choosing[0, i])
            assert type(info["macro_action"]) is int and info["macro_action"] == step.macro_action[0, i]
            assert type(info["elapsed"]) is int and info["elapsed"] == step.elapsed[0, i]
            assert info["action_mask"].dtype == np.int8 and not info["action_mask"].flags.writeable
            np.testing.assert_array_equal(info["action_mask"], step.action_mask[0, i])
            np.testing.assert_array_equal(obs[a], step.obs[0, i])
            np.testing.assert_array_equal(info["macro_obs"], step.obs[0, i])
            np.testing.assert_array_equal(info["real_obs"], step.real_obs[0, i])
            assert obs[a].dtype == np.float32 and obs[a].flags.writeable
            obs[a][:] = -7.0  # the user's copy: the core's observations must not change
            info["real_obs"][:] = -7.0
        assert not (core.last.obs == -7.0).any() and not (env.core.last.real_obs == -7.0).any()
        np.testing.assert_array_equal(env.state(), step.state[0])
        if not env.agents:
            obs, infos = env.reset(seed=t)
            step = core.reset(seed=t)
            continue
        actions = {a: env.action_space(a).sample(infos[a]["action_mask"]) for a in env.agents}
        if t % 2:
            actions = {a: int(v) for a, v in actions.items()}  # plain ints and numpy integers alike
        obs, rewards, terms, truncs, infos = env.step(actions)
        step = core.step(np.array([[actions[a] for a in env.possible_agents]]))
        assert rewards == dict.fromkeys(env.possible_agents, float(step.reward[0]))
        assert terms == dict.fromkeys(env.possible_agents, bool(step.terminated[0]))
        assert truncs == dict.fromkeys(env.possible_agents, bool(step.truncated[0] and not step.terminated[0]))
        if step.done[0]:
            assert env.agents == []
            for key, v in step.extras.items():
                assert all(infos[a][key] == float(v[0]) for a in env.possible_agents)
