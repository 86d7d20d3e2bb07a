"""legem.commit_only (our design): a pivot is a step where the agent committed an action, never a wait/busy step."""
import numpy as np
import pytest

from asyncmarl.memory_service.legem import LegemConfig, LegemMemory
from asyncmarl.memory_service.legem.synthetic import random_shots, stag_hunter_episode


def thin_graph_dataset():
    """50 episodes of hunters that shoot with probability 0.5 per ready step: two catches, both (0, 5)."""
    rng = np.random.default_rng(1)
    shots = random_shots(rng, 50, 0.5)
    return shots, [stag_hunter_episode(s, episode_id=i) for i, s in enumerate(shots)]


def caught(episodes):
    return [e for e in episodes if e["return"] > 0]


def test_commit_only_is_the_default_and_checked():
    assert LegemConfig().commit_only is True
    with pytest.raises(ValueError, match="legem.commit_only"):
        LegemConfig(commit_only="yes")


def test_thin_graph_pivot_moves_from_a_wait_step_to_the_decisive_shot():
    """In a thin early graph hunter 1's share of caught visits peaks at its wait at t = 0, not at its shot at
    t = 5: without the rule both hunters vote 0 and the catch is credited to a step where hunter 1 waited."""
    shots, episodes = thin_graph_dataset()
    wins = caught(episodes)
    assert len(wins) == 2 and all(s == [0, 5] for s, e in zip(shots, episodes, strict=True) if e["return"] > 0)
    literal = LegemMemory(LegemConfig(scheme="II", commit_only=False))
    literal.add_episodes(episodes)
    ours = LegemMemory(LegemConfig(scheme="II"))
    ours.add_episodes(episodes)
    for e in wins:
        t = int(np.flatnonzero(e["reward"])[0])  # the catch lands at t = 8
        assert literal.agent_pivots(e)[0, t].tolist() == [0, 0]
        assert ours.agent_pivots(e)[0, t].tolist() == [0, 5]
        red = ours.redistribute(e)
        assert red[5] == pytest.approx(10.0) and red[t] == pytest.approx(0.1) and red.sum() == pytest.approx(10.1)


@pytest.mark.parametrize("scheme", ["I", "II"])
def test_every_moved_reward_lands_on_a_committed_shot(scheme):
    """Invariant over a larger exploring dataset: a pivot is always a step where some hunter fired."""
    rng = np.random.default_rng(3)
    episodes = [stag_hunter_episode(s, episode_id=i) for i, s in enumerate(random_shots(rng, 600, 0.3))]
    mem = LegemMemory(LegemConfig(scheme=scheme))
    mem.add_episodes(episodes)
    moved = 0
    for e in caught(episodes):
        t = int(np.flatnonzero(e["reward"])[0])
        pivot = int(mem.pivots(e)[0, t])
        fired = e["choosing"][:-1] & (e["actions"] == 1)  # [T, n]
        if pivot < t:
            moved += 1
            assert fired[pivot].any()
    assert moved > 0


def waiting_episode(reward_last: float, cells):
    """One agent that only waits (action 0) through one-hot cells; reward in the last step."""
    T = len(cells)
    obs = np.zeros((T + 1, 1, 6), np.float32)
    obs[np.arange(T), 0, cells] = 1.0
    reward = np.zeros(T, np.float32)
    reward[-1] = reward_last
    return {"real_obs": obs, "obs": obs, "actions": np.zeros((T, 1), np.int64), "choosing": np.ones((T + 1, 1), bool),
            "reward": reward, "return": float(reward_last), "length": T, "extras": {}}


@pytest.mark.parametrize("scheme", ["I", "II"])
def test_a_reward_after_waits_only_stays_where_it_is(scheme):
    """No committed action on the path: the agent abstains and the reward is not moved (the literal search
    would move it to a wait step)."""
    win, lose = waiting_episode(1.0, [0, 1, 3, 4]), waiting_episode(0.0, [0, 2, 3, 4])
    episodes = [win] * 3 + [lose] * 6
    ours = LegemMemory(LegemConfig(scheme=scheme, key="exact"))
    ours.add_episodes(episodes)
    assert ours.redistribute(win).tolist() == [0.0, 0.0, 0.0, 1.0]
    literal = LegemMemory(LegemConfig(scheme=scheme, key="exact", commit_only=False, ranking="all"))
    literal.add_episodes(episodes)
    assert literal.pivots(win)[0, 3] == 1
