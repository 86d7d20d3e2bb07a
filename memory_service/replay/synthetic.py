"""A scripted macro-action environment with known durations and rewards, for tests and replay benchmarks.

Agent ``i``'s action ``a`` lasts ``durations[i][a]`` steps (default ``a + 1``). The reward of step ``t`` is
``rewards[t % len(rewards)]`` (default ``t + 1``), so every return a test checks is known in closed form.
Observations encode (t, agent, copy) so tests can tell rows apart; the macro-observation is frozen while
an agent is busy, as the real scenarios do.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asyncmarl.platform.envs.base import BatchedEnv, Step


@dataclass(frozen=True)
class ScriptedSettings:
    n_agents: int = 2  # agents
    n_actions: int = 4  # actions per agent
    obs_dim: int = 3  # observation size (>= 3: t, agent, copy, then zeros)
    state_dim: int = 2  # state size (>= 2: t, copy, then zeros)
    horizon: int = 10  # truncation
    terminate_at: int = 0  # terminate after this many steps (0: never, only truncation)
    durations: tuple = ()  # per agent, per action, steps the action lasts (empty: action a lasts a + 1)
    rewards: tuple = ()  # reward of step t is rewards[t % len] (empty: t + 1)


class ScriptedMacroEnv(BatchedEnv):
    """``B`` copies of a deterministic macro-action episode (see module docstring)."""

    name = "scripted"

    def __init__(self, batch_size: int, settings: ScriptedSettings = ScriptedSettings()):
        super().__init__(batch_size)
        s = self.settings = settings
        if s.obs_dim < 3 or s.state_dim < 2:
            raise ValueError(f"obs_dim must be >= 3 and state_dim >= 2, got {s.obs_dim}, {s.state_dim}")
        self.n_agents, self.n_actions, self.obs_dim, self.state_dim = s.n_agents, s.n_actions, s.obs_dim, s.state_dim
        self.horizon = s.horizon
        self.action_names = tuple(tuple(f"a{a}" for a in range(s.n_actions)) for _ in range(s.n_agents))
        dur = (np.asarray(s.durations, np.int64) if s.durations
               else np.tile(np.arange(1, s.n_actions + 1), (s.n_agents, 1)))
        if dur.shape != (s.n_agents, s.n_actions) or (dur < 1).any():
            raise ValueError(f"durations must be [n_agents, n_actions] positive ints, got {dur.tolist()}")
        self._dur = dur  # [n, A]
        B, n = self.batch_size, s.n_agents
        self._t = np.zeros(B, np.int64)
        self._action = np.zeros((B, n), np.int64)
        self._elapsed = np.zeros((B, n), np.int64)  # steps run before the coming step
        self._left = np.zeros((B, n), np.int64)  # steps left of the running action (0: choosing)
        self._macro_obs = np.zeros((B, n, s.obs_dim), np.float32)

    def _real_obs(self) -> np.ndarray:
        B, n = self.batch_size, self.n_agents
        o = np.zeros((B, n, self.obs_dim), np.float32)
        o[..., 0] = self._t[:, None]
        o[..., 1] = np.arange(n)
        o[..., 2] = np.arange(B)[:, None]
        return o

    def _make_step(self, reward, terminated, truncated, macro_action, elapsed) -> Step:
        real = self._real_obs()
        choosing = self._left == 0
        self._macro_obs = np.where(choosing[..., None], real, self._macro_obs)
        state = np.zeros((self.batch_size, self.state_dim), np.float32)
        state[:, 0], state[:, 1] = self._t, np.arange(self.batch_size)
        return Step(
            obs=self._macro_obs.copy(), real_obs=real, state=state, reward=reward.astype(np.float32),
            terminated=terminated, truncated=truncated, choosing=choosing, macro_action=macro_action,
            elapsed=elapsed, action_mask=np.ones((self.batch_size, self.n_agents, self.n_actions), bool),
            t=self._t.copy(), extras={"success": terminated.astype(np.float32)},
        )

    def _reset(self, where: np.ndarray, seeds: np.ndarray) -> Step:
        self._t[where] = 0
        self._left[where] = 0
        self._elapsed[where] = 0
        self._action[where] = 0
        B, n = self.batch_size, self.n_agents
        z = np.zeros(B, bool)
        return self._make_step(np.zeros(B), z, z.copy(), np.zeros((B, n), np.int64), np.zeros((B, n), np.int64))

    def _step(self, actions: np.ndarray) -> Step:
        s = self.settings
        choosing = self._left == 0  # [B, n]
        self._action = np.where(choosing, actions, self._action)
        self._elapsed = np.where(choosing, 0, self._elapsed)
        self._left = np.where(choosing, np.take_along_axis(self._dur, self._action.T, axis=1).T, self._left)
        macro_action, elapsed = self._action.copy(), self._elapsed.copy()
        reward = (np.asarray(s.rewards, np.float64)[self._t % len(s.rewards)] if s.rewards else self._t + 1.0)
        self._t += 1
        self._left -= 1
        self._elapsed += 1
        terminated = (self._t == s.terminate_at) if s.terminate_at else np.zeros(self.batch_size, bool)
        truncated = (self._t >= s.horizon) & ~terminated
        return self._make_step(reward, terminated, truncated, macro_action, elapsed)

    def render_rgb(self, index: int = 0) -> np.ndarray:
        return np.zeros((8, 8, 3), np.uint8)

    def render_ansi(self, index: int = 0) -> str:
        return f"t={int(self._t[index])} actions={self._action[index].tolist()} left={self._left[index].tolist()}"


def scripted_segments(settings: ScriptedSettings, batch_size: int, steps: int, gamma: float, seed: int = 0,
                      worker_id: int = 0, first_id: int = 1, env=None):
    """Run ``env`` (default: the scripted env) with uniformly random valid actions through a
    :class:`~asyncmarl.rollout_workers.segments.SegmentCutter`, as a rollout worker does.

    Returns ``(segments, trajectories)``; episode ids count up from ``first_id``.
    """
    from asyncmarl.rollout_workers.segments import SegmentCutter

    env = env or ScriptedMacroEnv(batch_size, settings)
    B = env.batch_size
    rng = np.random.default_rng(seed)
    cutter = SegmentCutter(B, env.n_agents, gamma, worker_id)
    step = env.reset(seed=seed)
    next_id = first_id
    cutter.begin(step, np.ones(B, bool), np.arange(next_id, next_id + B))
    next_id += B
    segments, trajectories = [], []
    for k in range(steps):
        actions = (rng.random(step.action_mask.shape) * step.action_mask).argmax(-1)  # [B, n]
        step = env.step(actions)
        segs, trajs = cutter.record(actions, step, policy_version=k)
        segments += segs
        trajectories += trajs
        done = step.done
        if done.any():
            step = env.reset(seed=int(rng.integers(2**31)), where=done)
            ids = np.zeros(B, np.int64)
            ids[done] = np.arange(next_id, next_id + int(done.sum()))
            next_id += int(done.sum())
            cutter.begin(step, done, ids)
    return segments, trajectories
