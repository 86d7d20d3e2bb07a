"""legem.ranking (our design): eq. 1 ranks only the agents whose action ended (landed) in the rewarded step.

Scripted Quarry episodes (strike durations 2, 4, 6; hardness 1, 2, 3) run through the registered game and the
rollout SegmentCutter, so the trajectories are exactly what a run's LeGEM role receives.
"""
import numpy as np
import pytest

from asyncmarl.memory_service.legem import LegemConfig, LegemMemory
from asyncmarl.memory_service.legem.episodes import from_trajectory
from asyncmarl.platform.envs import make_batched
from asyncmarl.rollout_workers.segments import SegmentCutter


def quarry_episode(schedule: dict[int, dict[int, int]], episode_id: int = 0) -> dict:
    """One Quarry trajectory: ``schedule[t][agent] = action`` for the agents that commit at t (others wait)."""
    env = make_batched("quarry", 1)
    step = env.reset(seed=0)
    cutter = SegmentCutter(1, env.n_agents, gamma=0.99)
    cutter.begin(step, np.ones(1, bool), np.asarray([episode_id]))
    for t in range(env.horizon):
        a = np.zeros((1, env.n_agents), np.int64)
        for agent, action in schedule.get(t, {}).items():
            assert step.choosing[0, agent], f"agent {agent} is busy at t = {t}"
            a[0, agent] = action
        step = env.step(a)
        _, trajs = cutter.record(a, step)
        if trajs:
            return trajs[0]
    raise AssertionError("the scripted episode did not end")


# miner 2 strikes rock 2 at t = 0 (lands at 6, alone: wasted); miner 0 strikes rock 0 at t = 1 (lands at 3:
# +5); miner 1 strikes rock 1 at t = 2 (lands at 6, alone: wasted). At t = 3 miners 1 and 2 are bystanders
# with strikes in flight; the decisive commit is miner 0's at t = 1.
BYSTANDERS = {0: {2: 3}, 1: {0: 1}, 2: {1: 2}}
WAIT = {}


def memory(ranking: str) -> tuple[LegemMemory, dict]:
    ep = quarry_episode(BYSTANDERS)
    mem = LegemMemory(LegemConfig(ranking=ranking))
    mem.add_episodes([ep, quarry_episode(WAIT, 1)])  # one rewarded, one zero-return episode
    return mem, ep


def test_ranking_defaults_to_ended_and_is_checked():
    assert LegemConfig().ranking == "ended"
    with pytest.raises(ValueError, match="legem.ranking must be one of"):
        LegemConfig(ranking="some")


def test_episodes_mark_the_step_each_action_landed():
    ep = from_trajectory(quarry_episode(BYSTANDERS), "real_obs")
    ended = ep.ended[0]  # [T, n]
    assert np.flatnonzero(ended[:, 0]).tolist() == [3]  # miner 0: committed at 1, duration 2
    assert np.flatnonzero(ended[:, 1]).tolist() == [6]  # miner 1: committed at 2, duration 4
    assert np.flatnonzero(ended[:, 2]).tolist() == [6]  # miner 2: committed at 0, duration 6
    assert ep.reward[0, 3] == 5.0 and ep.reward[0].sum() == 5.0


def test_bystanders_with_strikes_in_flight_no_longer_take_the_reward():
    """Every agent ranked (eq. 1 over all agents): miner 1's strike in flight, committed at t = 2, is the
    latest candidate and takes the rock-0 reward. Ranked over the agents whose action landed at t = 3 (miner 0
    only), the reward moves to miner 0's strike at t = 1."""
    literal, ep = memory("all")
    assert literal.agent_pivots(ep)[0, 3].tolist() == [1, 2, 0]
    assert literal.pivots(ep)[0, 3] == 2
    ours, _ = memory("ended")
    assert ours.agent_pivots(ep)[0, 3].tolist() == [1, -1, -1]
    assert ours.pivots(ep)[0, 3] == 1
    red = ours.redistribute(ep)
    assert red[1] == pytest.approx(5.0) and red[3] == pytest.approx(0.05) and red.sum() == pytest.approx(5.05)


def test_a_reward_no_landing_explains_stays_in_place():
    """A reward at a step where no agent's action ended (possible in games whose effects come later, e.g.
    Afforestation's maturation) finds no ranked agent: e_t = t and r_t stays."""
    mem, ep = memory("ended")
    ep = dict(ep)
    ep["reward"] = np.zeros_like(ep["reward"])
    ep["reward"][4] = 1.0  # nobody's action ended at t = 4
    assert mem.agent_pivots(ep)[0, 4].tolist() == [-1, -1, -1]
    assert mem.pivots(ep)[0, 4] == 4
    assert mem.redistribute(ep).tolist() == ep["reward"].tolist()


def test_scheme2_on_the_own_path_finds_a_rare_episodes_decisive_strike():
    """X (x3): miner 0 strikes rock 1 at t = 0 (lands at 2, wasted), then rock 0 at t = 3 (lands at 5: +5).
    Y (x1): miner 0 strikes rock 0 at t = 1 (lands at 3: +5). Y's landing at t = 3 follows the busy node at
    level 2 that X's wasted strike also passes (keys hold the busy flag, not the target), whose most visited
    predecessor in the rewarded sub-graph is X's (3 visits against 1): the most visited path reaches X's strike
    at t = 0 and credits Y's reward there. Y's own path holds its strike at t = 1."""
    x = quarry_episode({0: {0: 2}, 3: {0: 1}})
    y = quarry_episode({1: {0: 1}}, 1)
    assert np.flatnonzero(x["reward"]).tolist() == [5] and np.flatnonzero(y["reward"]).tolist() == [3]
    visited = LegemMemory(LegemConfig(scheme2_path="most_visited"))
    own = LegemMemory(LegemConfig(scheme2_path="own"))
    for mem in (visited, own):
        mem.add_episodes([x, x, x, y])
    assert visited.agent_pivots(y)[0, 3].tolist() == [0, -1, -1]
    assert own.agent_pivots(y)[0, 3].tolist() == [1, -1, -1]
    red = own.redistribute(y)
    assert red[1] == pytest.approx(5.0) and red[3] == pytest.approx(0.05) and red.sum() == pytest.approx(5.05)
    assert own.pivots(x)[0, 5] == 3 and visited.pivots(x)[0, 5] == 3  # X's own reward: its strike at t = 3


def test_scheme2_path_is_checked():
    with pytest.raises(ValueError, match="legem.scheme2_path must be one of"):
        LegemConfig(scheme2_path="shortest")
