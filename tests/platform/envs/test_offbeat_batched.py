"""Off-beat games: batched cores equal repeated single runs, and durations 0 give the synchronous game."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncmarl.platform.envs import make_batched

GAMES = ["stag-hunter", "quarry", "afforestation", "2m-vs-1z"]
RANDOM_DURATIONS = {  # a stochastic variant of each game, to cover the hashed duration draws too
    "stag-hunter": {"duration_probs": (((1, 0, 0), (0.2, 0.5, 0.3)), ((0.5, 0.5, 0), (0, 0.5, 0.5)))},
    "quarry": {"duration_probs": tuple(((1.0, 0, 0),) + ((0.3, 0.3, 0.4),) * 3 for _ in range(3))},
    "afforestation": {"horizon": 30, "duration_probs": tuple(
        ((1.0, 0, 0, 0),) + ((0, 0.2, 0.3, 0.5),) * 6 + ((0.1, 0.6, 0.3, 0),) * 6 for _ in range(3))},
    "2m-vs-1z": {"duration_probs": (((1.0, 0, 0),) * 6 + ((0.2, 0.3, 0.5),),) * 2},
}
FIELDS = ("obs", "real_obs", "state", "reward", "terminated", "truncated", "choosing", "macro_action", "elapsed",
          "action_mask", "t")


def rollout(name: str, batch: int, seeds: np.ndarray, scores: np.ndarray, overrides: dict):
    """Run ``batch`` copies for len(scores) steps, resetting finished ones with seed + 1000 + k.

    Returns every Step with the [B] mask of the copies it concerns (all for a step, the reset ones for a reset).
    """
    env = make_batched(name, batch, **overrides)
    step = env.reset(seed=seeds)
    log = [(step, np.ones(batch, bool))]
    for k in range(len(scores)):
        actions = (scores[k] * step.action_mask).argmax(-1)  # [B, n] random valid actions
        step = env.step(actions)
        log.append((step, np.ones(batch, bool)))
        if step.done.any():
            done = step.done.copy()
            step = env.reset(seed=seeds + 1000 + k, where=done)
            log.append((step, done))
    return log


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(GAMES),
    batch=st.integers(2, 5),
    stochastic=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
    n_steps=st.integers(1, 60),
)
def test_batched_equals_repeated_single_runs(name, batch, stochastic, seed, n_steps):
    overrides = RANDOM_DURATIONS[name] if stochastic else {}
    rng = np.random.default_rng(seed)
    probe = make_batched(name, 1, **overrides)
    scores = rng.random((n_steps, batch, probe.n_agents, probe.n_actions))
    seeds = rng.integers(0, 2**31, batch)
    batched = rollout(name, batch, seeds, scores, overrides)
    # single copies reset at exactly the same points as in the batch: replay copy b alone
    for b in range(batch):
        single = rollout(name, 1, seeds[b:b + 1], scores[:, b:b + 1], overrides)
        rows = [s for s, mask in batched if mask[b]]
        assert len(rows) == len(single)
        for s_b, (s_1, _) in zip(rows, single, strict=True):
            for f in FIELDS:
                np.testing.assert_array_equal(getattr(s_b, f)[b], getattr(s_1, f)[0], err_msg=f)
            for k in s_1.extras:
                np.testing.assert_array_equal(s_b.extras[k][b], s_1.extras[k][0], err_msg=k)


# --------------------------------------------------------------------------- durations 0: synchronous games
class SyncStag:
    """Stag-Hunter as an ordinary synchronous game: shots land when taken."""

    def __init__(self, n=2):
        self.ready = [True] * n

    def step(self, a):
        shots = [i for i, x in enumerate(a) if x == 1]
        for i in shots:
            self.ready[i] = False
        if not shots:
            return 0.0, False
        return (10.0 if len(shots) == len(a) else 0.0), True


class SyncQuarry:
    def __init__(self, hardness=(1, 2, 3)):
        self.hardness, self.intact = hardness, [True] * len(hardness)

    def step(self, a):
        reward = 0.0
        for k, h in enumerate(self.hardness):
            if self.intact[k] and sum(x == k + 1 for x in a) >= h:
                self.intact[k] = False
                reward += 5.0 * h
        return reward, not any(self.intact)


class SyncForest:
    def __init__(self, plots=6):
        self.P, self.status, self.age = plots, ["empty"] * plots, [0] * plots

    def step(self, a):
        reward = 0.0
        self.age = [x + 1 for x in self.age]
        for p in range(self.P):
            if self.status[p] == "sapling" and self.age[p] > 4:
                self.status[p], self.age[p] = "dead", 0
        for p in range(self.P):
            if self.status[p] == "empty" and any(x == 1 + p for x in a):
                self.status[p], self.age[p] = "sapling", 0
        watered = set()
        for p in range(self.P):
            if self.status[p] == "sapling" and any(x == 1 + self.P + p for x in a):
                self.status[p], self.age[p] = "watered", 0
                watered.add(p)
        for p in range(self.P):
            if self.status[p] == "watered" and p not in watered and self.age[p] >= 6:
                self.status[p], self.age[p] = "mature", 0
                reward += 1.0
        return reward, all(s in ("mature", "dead") for s in self.status)


SYNC = {"stag-hunter": SyncStag, "quarry": SyncQuarry, "afforestation": SyncForest}


def test_durations_zero_reduce_to_the_synchronous_game():
    """Every action of duration 0: all agents choose every step, elapsed is 0, obs == real_obs, and rewards and
    termination equal a plain synchronous implementation of the same rules, over many random episodes."""
    rng = np.random.default_rng(7)
    for name in SYNC:  # the games with a plain synchronous reference here
        probe = make_batched(name, 1)
        zeros = tuple((0,) * probe.n_actions for _ in range(probe.n_agents))
        B = 64
        # the references have no horizon: Quarry's and Afforestation's horizon terminates, Stag-Hunter's truncates
        horizon = {} if name == "stag-hunter" else {"terminal_horizon": False}
        env = make_batched(name, B, durations=zeros, **horizon)
        step = env.reset(seed=0)
        refs = [SYNC[name]() for _ in range(B)]
        finished, rewarded = 0, 0
        for _ in range(3 * env.horizon):
            # bias towards waiting so that episodes last and rewards happen
            scores = rng.random((B, env.n_agents, env.n_actions)) * np.where(np.arange(env.n_actions) == 0, 3, 1)
            actions = (scores * step.action_mask).argmax(-1)
            step = env.step(actions)
            assert step.choosing.all() and (step.elapsed == 0).all()
            np.testing.assert_array_equal(step.obs, step.real_obs)
            np.testing.assert_array_equal(step.macro_action, actions)
            for b in range(B):
                r, term = refs[b].step(actions[b].tolist())
                assert step.reward[b] == r and step.terminated[b] == term, (name, b)
            rewarded += int((step.reward > 0).sum())
            if step.done.any():
                finished += int(step.done.sum())
                for b in np.flatnonzero(step.done):
                    refs[b] = SYNC[name]()
                step = env.reset(seed=int(rng.integers(1 << 30)), where=step.done)
        assert finished > 0 and rewarded > 0, (name, finished, rewarded)


def test_durations_zero_stag_catch_is_simultaneous_shooting():
    env = make_batched("stag-hunter", 3, arrow_flight=(0, 0))
    env.reset(seed=0)
    step = env.step(np.array([[1, 1], [1, 0], [0, 0]]))
    assert step.reward.tolist() == [10.0, 0.0, 0.0]
    assert step.terminated.tolist() == [True, True, False]
    assert step.extras["catch_rate"].tolist() == [1.0, 0.0, 0.0]
