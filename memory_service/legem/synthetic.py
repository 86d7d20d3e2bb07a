"""Scripted Stag-Hunter-like trajectories with known shooting times, for LeGEM's tests and benchmark.

They follow the rules of the spec's Stag-Hunter and the off-beat timing of ``asyncmarl.platform.envs.offbeat``:
hunter i commits "shoot" (action 1) at step s_i, is busy during s_i + 1 .. s_i + m_i (m_i its arrow flight
time) and the arrow lands in step s_i + m_i. The episode ends in the step the first arrow lands: reward +10
there when every hunter's arrow lands in that step, 0 otherwise; or at the horizon. Observation of hunter i:
[ready, in flight, spent, stag visible (0 once caught or fled), t / horizon]. Trajectories have the layout of
:class:`~asyncmarl.memory_service.legem.memory.LegemMemory.add_episodes`.
"""
from __future__ import annotations

import numpy as np

OBS_DIM = 5


def stag_hunter_episode(shots, flights=(8, 3), horizon: int = 20, reward: float = 10.0,
                        episode_id: int = 0) -> dict:
    """The trajectory of hunters shooting at ``shots[i]`` (None: never). Returns the trajectory dict."""
    n = len(flights)
    flights = np.asarray(flights, dtype=np.int64)  # [n]
    shot = np.asarray([horizon + 10**6 if s is None else s for s in shots], dtype=np.int64)  # [n]
    lands = shot + flights  # [n]
    first = int(lands.min())
    length = min(first + 1, horizon)
    caught = first < horizon and bool((lands == first).all())
    t = np.arange(length + 1)[:, None]  # [T+1, 1]
    ready, flying = t <= shot[None], (t > shot[None]) & (t <= lands[None])  # [T+1, n]
    real_obs = np.zeros((length + 1, n, OBS_DIM), dtype=np.float32)
    real_obs[..., 0], real_obs[..., 1] = ready, flying
    real_obs[..., 2] = ~(ready | flying)
    real_obs[..., 3] = 1.0
    if first < horizon:
        real_obs[length, :, 3] = 0.0  # caught or fled in the last step: the stag is gone
    real_obs[..., 4] = np.minimum(t, horizon) / horizon
    # macro-observation: frozen at the commit step while the arrow flies
    frozen_row = np.where(flying, np.minimum(shot[None], length), t)  # [T+1, n]
    obs = real_obs[frozen_row, np.arange(n)[None, :]]
    actions = ((t[:-1] >= shot[None]) & (t[:-1] <= lands[None])).astype(np.int64)  # [T, n]
    rewards = np.zeros(length, dtype=np.float32)
    if caught:
        rewards[first] = reward
    return {
        "episode_id": episode_id, "real_obs": real_obs, "obs": obs, "actions": actions,
        "choosing": ~flying, "reward": rewards, "return": float(rewards.sum()), "length": length,
        "extras": {"catch_rate": float(caught)},
    }


def random_shots(rng: np.random.Generator, n_episodes: int, p_shoot: float, n_hunters: int = 2,
                 horizon: int = 20) -> list[list]:
    """Exploring hunters: while ready, each shoots with probability ``p_shoot`` per step (geometric times)."""
    times = rng.geometric(p_shoot, size=(n_episodes, n_hunters)) - 1  # [E, n] first shooting step
    return [[None if s >= horizon else int(s) for s in row] for row in times]
