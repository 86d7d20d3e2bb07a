"""The segment cutter: turns a batched environment's Steps into per-agent segments (Mac-SJERT's D_k^i) and
finished trajectories (for LeGEM).

Every copy keeps its current episode in preallocated arrays ``[B, H, ...]`` (``H`` doubles when an episode
outgrows it). Appending a timestep is one array operation per field for all copies; only emitting the
segments of the (few) agents whose action ended loops in Python.

Fields, dtypes and rows follow :mod:`asyncmarl.platform.schema`: row ``t`` holds what the agents saw before acting
at ``t`` (state, obs, real_obs, action_mask, choosing) and what happened during step ``t`` (actions, elapsed,
reward).
"""
from __future__ import annotations

import numpy as np

from asyncmarl.platform.data import Segment
from asyncmarl.platform.envs.base import Step
from asyncmarl.platform.schema import FINAL_FIELDS, SEGMENT_FIELDS, STEP_FIELDS

_OBS_FIELDS = FINAL_FIELDS  # written at row t+1 from the Step a step returns (row 0 from the reset Step)


class SegmentCutter:
    """Cuts ``batch_size`` environment copies' experience into per-agent segments.

    ``begin`` starts episodes (after reset), ``record`` appends one joint step and returns the segments whose
    action ended plus the trajectories of finished episodes, ``abandon`` drops open episodes.
    ``Segment.ret`` is R_m = sum_{t=start}^{end} gamma^(t - start) r_t (ToMacVF eq. 5). ``trajectories``: also
    emit each finished episode's arrays (copies; only LeGEM reads them).
    """

    def __init__(self, batch_size: int, n_agents: int, gamma: float, worker_id: int = 0, initial_horizon: int = 64,
                 trajectories: bool = True):
        if batch_size < 1 or n_agents < 1:
            raise ValueError(f"batch_size and n_agents must be >= 1, got {batch_size} and {n_agents}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}")
        self.B, self.n, self.gamma, self.worker_id = int(batch_size), int(n_agents), float(gamma), int(worker_id)
        self.trajectories = bool(trajectories)
        self._H = max(2, int(initial_horizon))  # rows per copy currently allocated
        self._buf: dict[str, np.ndarray] | None = None  # field -> [B, H, ...], allocated on the first begin
        B, n = self.B, self.n
        self.active = np.zeros(B, bool)  # [B] copy has an open episode
        self.episode_ids = np.zeros(B, np.int64)  # [B]
        self.t = np.zeros(B, np.int64)  # [B] steps recorded in the open episode
        self._seg_start = np.zeros((B, n), np.int64)  # [B, n] first step of each agent's running action
        self._seg_index = np.zeros((B, n), np.int64)  # [B, n] k of the running action m_k^i
        self._seg_version = np.zeros((B, n), np.int64)  # [B, n] policy version that chose it
        self._ret = np.zeros((B, n), np.float64)  # [B, n] R_m accumulated so far
        self._episode_return = np.zeros(B, np.float64)  # [B] undiscounted episode return

    # ------------------------------------------------------------------ storage
    def _allocate(self, step: Step) -> None:
        B, H, n = self.B, self._H, self.n
        if step.obs.shape[:2] != (B, n):
            raise ValueError(f"Step.obs must have shape ({B}, {n}, obs_dim), got {step.obs.shape}")
        dims = {"n_agents": n, "obs_dim": step.obs.shape[-1], "state_dim": step.state.shape[-1],
                "n_actions": step.action_mask.shape[-1]}
        self._buf = {f.name: np.zeros((B, H) + f.tail(dims), f.dtype) for f in SEGMENT_FIELDS}

    def _grow(self, need: int) -> None:
        if need < self._H:
            return
        new_h = self._H
        while new_h <= need:
            new_h *= 2
        for f, arr in self._buf.items():
            grown = np.zeros((self.B, new_h) + arr.shape[2:], arr.dtype)
            grown[:, : self._H] = arr
            self._buf[f] = grown
        self._H = new_h

    # ------------------------------------------------------------------ API
    def begin(self, step: Step, where: np.ndarray, episode_ids: np.ndarray) -> None:
        """Start episodes in copies where ``where`` is True from their reset ``step`` (row 0)."""
        where = np.asarray(where, bool)
        ids = np.asarray(episode_ids, np.int64)
        if where.shape != (self.B,) or ids.shape != (self.B,):
            raise ValueError(f"where and episode_ids must have shape ({self.B},), got {where.shape}, {ids.shape}")
        if self._buf is None:
            self._allocate(step)
        idx = np.flatnonzero(where)
        for f in _OBS_FIELDS:
            self._buf[f][idx, 0] = getattr(step, f)[idx]
        self.active[idx] = True
        self.episode_ids[idx] = ids[idx]
        self.t[idx] = 0
        self._seg_start[idx] = 0
        self._seg_index[idx] = 0
        self._ret[idx] = 0.0
        self._episode_return[idx] = 0.0

    def abandon(self, where: np.ndarray) -> None:
        """Drop the open episodes of copies where ``where`` is True (nothing is emitted for them)."""
        where = np.asarray(where, bool)
        self.active[where] = False
        self.t[where] = 0  # inactive copies keep writing (ignored) rows; keep them inside the buffer

    def record(self, actions: np.ndarray, step: Step, policy_version: int = 0) -> tuple[list[Segment], list[dict]]:
        """Append the joint step that produced ``step`` (``actions`` [B, n] were sent for it).

        Returns the segments of every agent whose action ended at this step (all agents of copies whose
        episode ended) and the finished trajectories of those copies (empty unless ``trajectories``).
        """
        if self._buf is None:
            raise RuntimeError("SegmentCutter: call begin() before record()")
        actions = np.asarray(actions)
        if actions.shape != (self.B, self.n):
            raise ValueError(f"actions must have shape ({self.B}, {self.n}), got {actions.shape}")
        buf, rows, t = self._buf, np.arange(self.B), self.t
        self._grow(int(t[self.active].max(initial=0)) + 1)
        buf = self._buf
        starting = buf["choosing"][rows, t]  # [B, n] agents that chose the action run during step t
        buf["actions"][rows, t] = np.where(starting, actions, step.macro_action)
        buf["elapsed"][rows, t] = step.elapsed
        buf["reward"][rows, t] = step.reward
        for f in _OBS_FIELDS:
            buf[f][rows, t + 1] = getattr(step, f)
        # A new action starts where the agent chose at t: its segment starts here, its return restarts.
        self._seg_start = np.where(starting, t[:, None], self._seg_start)
        self._seg_version = np.where(starting, policy_version, self._seg_version)
        discount = self.gamma ** (t[:, None] - self._seg_start).astype(np.float64)  # [B, n]
        self._ret = np.where(starting, 0.0, self._ret) + discount * step.reward[:, None]
        self._episode_return += step.reward

        done = np.asarray(step.done, bool) & self.active  # [B]
        ended = (np.asarray(step.choosing, bool) | done[:, None]) & self.active[:, None]  # [B, n]
        segments = [self._segment(int(b), int(i), step) for b, i in np.argwhere(ended)]
        self._seg_index += ended
        self.t = np.where(self.active, t + 1, t)
        trajectories = [self._trajectory(int(b), step) for b in np.flatnonzero(done)] if self.trajectories else []
        self.active &= ~done
        self.t[done] = 0  # until begin(): inactive copies' ignored rows stay inside the buffer
        return segments, trajectories

    # ------------------------------------------------------------------ emission
    def _segment(self, b: int, i: int, step: Step) -> Segment:
        start, end = int(self._seg_start[b, i]), int(self.t[b])
        steps = {f: self._buf[f][b, start : end + 1].copy() for f in STEP_FIELDS}
        done = bool(step.terminated[b] or step.truncated[b])
        final = {f: self._buf[f][b, end + 1].copy() for f in FINAL_FIELDS} if done else None
        extras = {k: float(np.asarray(v)[b]) for k, v in step.extras.items()} if done else {}
        return Segment(
            episode_id=int(self.episode_ids[b]), agent=i, index=int(self._seg_index[b, i]), start=start, end=end,
            action=int(steps["actions"][0, i]), ret=float(self._ret[b, i]), steps=steps,
            terminated=bool(step.terminated[b]) if done else False,
            truncated=bool(step.truncated[b]) if done else False,
            final=final, policy_version=int(self._seg_version[b, i]), worker_id=self.worker_id, extras=extras,
        )

    def _trajectory(self, b: int, step: Step) -> dict:
        T = int(self.t[b])
        buf = self._buf
        return {
            "episode_id": int(self.episode_ids[b]),
            "real_obs": buf["real_obs"][b, : T + 1].copy(),  # [T+1, n, O]
            "obs": buf["obs"][b, : T + 1].copy(),  # [T+1, n, O]
            "state": buf["state"][b, : T + 1].copy(),  # [T+1, state_dim]
            "actions": buf["actions"][b, :T].copy(),  # [T, n]
            "choosing": buf["choosing"][b, : T + 1].copy(),  # [T+1, n]
            "reward": buf["reward"][b, :T].copy(),  # [T]
            "return": float(self._episode_return[b]),
            "length": T,
            "terminated": bool(step.terminated[b]),
            "extras": {k: float(np.asarray(v)[b]) for k, v in step.extras.items()},
        }
