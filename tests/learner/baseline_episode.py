"""The ToMacVF Figure 1 episode with two actions per agent and fixed choices, stored in a real replay shard, and
stub networks whose outputs are lookup tables (so targets can be computed by hand)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from asyncmarl.memory_service.replay import ReplayConfig, ReplayShard
from asyncmarl.memory_service.replay.synthetic import ScriptedMacroEnv, ScriptedSettings
from asyncmarl.platform.envs.base import EnvInfo
from asyncmarl.rollout_workers.segments import SegmentCutter

GAMMA = 0.75
REWARDS = (1.0, -2.0, 8.0, 3.0, 5.0, 7.0)
SETTINGS = ScriptedSettings(n_agents=2, n_actions=2, horizon=6, durations=((3, 3), (2, 2)), rewards=REWARDS)
INFO = EnvInfo("scripted", n_agents=2, n_actions=2, obs_dim=3, state_dim=2, horizon=6)
CHOICES = (1, 0)  # agent 0 always picks action 1 (3 steps), agent 1 action 0 (2 steps)


def figure1_batch(view: str, terminate_at: int = 0, version: int = 0) -> dict:
    """One episode: agent 0 runs steps 0-2 and 3-5, agent 1 runs 0-1, 2-3 and 4-5; the Mac-JERT rows are at
    t = 0, 2, 3, 4, 6."""
    settings = ScriptedSettings(**{**SETTINGS.__dict__, "terminate_at": terminate_at})
    env = ScriptedMacroEnv(1, settings)
    cutter = SegmentCutter(1, 2, GAMMA, trajectories=False)
    step = env.reset(seed=0)
    cutter.begin(step, np.ones(1, bool), np.array([7]))
    segs = []
    while True:
        step = env.step(np.array([CHOICES]))
        segs += cutter.record(np.array([CHOICES]), step, policy_version=version)[0]
        if step.done[0]:
            break
    shard = ReplayShard(ReplayConfig(min_episodes=1, gamma=GAMMA), seed=0)
    assert shard.add(segs) == 1
    return shard.sample(1, view=view)


class TableQ(nn.Module):
    """A joint network stub: row r of any input sequence gets ``table[r]`` (``[R, out]``)."""

    def __init__(self, table):
        super().__init__()
        self.table = nn.Parameter(torch.as_tensor(table, dtype=torch.float32))

    def forward(self, x):
        B, L = x.shape[:2]
        return self.table[:L].expand(B, L, -1)


class TableAgent(nn.Module):
    """An agent-network stub: decision l of agent i gets ``table[l, i]`` (``[L, n, A]``); inputs are ignored."""

    def __init__(self, table):
        super().__init__()
        self.table = nn.Parameter(torch.as_tensor(table, dtype=torch.float32))

    def features(self, obs, prev_action, prev_elapsed, t):
        return obs

    def hiddens_from_features(self, feats):
        return feats

    def q_values(self, hidden, elapsed=None):
        B, L = hidden.shape[:2]
        return self.table[:L].expand(B, L, -1, -1)
