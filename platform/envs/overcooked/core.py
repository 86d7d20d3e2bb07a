"""Batched macro-action Overcooked (reference: ``WeihaoTan/gym-macro-overcooked``, ``Overcooked_MA_V1``).

Three agents prepare a salad in a 7 x 7 kitchen with macro-actions (get an item, go to a knife, chop, deliver,
go to the divider counter, one-step moves). Per agent, ``Step.obs`` is the **macro-observation** (frozen until
the agent's macro-action ends, as the reference returns it) and ``Step.real_obs`` the observation of this step;
both are 32 values: tomato, lettuce, onion (x, y, chop progress), plates 1-2, knives 1-2, delivery (x, y),
agents 1-3 (x, y), recipe one-hot (7); coordinates divided by 7; items outside the agent's window are 0.
``Step.state`` is the same vector seen with no window (the reference's full-view ``_get_vector_state``).
The environment has no randomness: ``reset`` seeds are accepted and ignored.
"""
from __future__ import annotations

import functools

import numpy as np

from asyncmarl.platform.envs.base import BatchedEnv, Step
from asyncmarl.platform.envs.overcooked import layout as L
from asyncmarl.platform.envs.overcooked import macro
from asyncmarl.platform.envs.overcooked.kitchen import Kitchen
from asyncmarl.platform.envs.overcooked.render import render_ansi, render_rgb
from asyncmarl.platform.envs.overcooked.scalar import ScalarStepper
from asyncmarl.platform.envs.overcooked.settings import OvercookedSettings

# Observation entry -> (item slot, 0 x / 1 y / 2 chop progress), in the reference's vector order.
_ENTRIES = [(s, k) for s in range(L.N_ITEMS) for k in ((0, 1, 2) if s < L.N_FOOD else (0, 1))]
ENTRY_ITEM = np.array([s for s, _ in _ENTRIES])  # [25]
ENTRY_KIND = np.array([k for _, k in _ENTRIES])  # [25]
OBS_DIM = len(_ENTRIES) + len(L.TASKS)  # 32


@functools.cache
def navigator(map_type: str) -> L.Navigator:
    """The process-wide memoised A* of kitchen ``map_type``."""
    return L.Navigator(L.load(map_type).floor)


class OvercookedEnv(BatchedEnv):
    """``B`` copies of one Overcooked kitchen; agents ``agent_0..2`` are the reference's agents in map order."""

    obs_dim = OBS_DIM
    state_dim = OBS_DIM

    def __init__(self, batch_size: int, settings: OvercookedSettings = OvercookedSettings(), name: str = ""):
        super().__init__(batch_size)
        s = settings
        self.settings = s
        self.name = name or f"overcooked-{s.map_type.lower()}"
        self.lay = L.load(s.map_type)
        self.n_agents = L.N_AGENTS
        self.n_actions = len(self.lay.macro_names)
        self.horizon = s.horizon
        self.action_names = (self.lay.macro_names,) * L.N_AGENTS
        self.right_index = self.lay.macro_names.index("right")
        # [16] per macro index: 0 stay, 1 go to an item, 2 chop, 3 go to counter, 4 one-step move
        self.macro_kind = np.array([0] + [1] * 8 + [2] + [3] * (self.right_index - 10) + [4] * (16 - self.right_index))
        self.radius = s.obs_radius
        self.nav = navigator(s.map_type)
        task = L.TASKS[s.task]
        self.kitchen = Kitchen(self.lay, self.batch_size, task, (s.subtask_reward, s.correct_delivery,
                                                                  s.wrong_delivery))
        B, n = self.batch_size, L.N_AGENTS
        self.bi = np.arange(B)[:, None]  # [B, 1] copy index for fancy indexing
        self.ai = np.arange(n)[None, :]  # [1, 3] agent index
        self.onehot = np.eye(len(L.TASKS), dtype=np.float32)[s.task]
        self.bel = np.zeros((B, n, L.N_ITEMS), np.int64)  # [B, 3, 11] believed cell of every item
        self.cur_mac = np.zeros((B, n), np.int64)  # [B, 3] running macro-action
        self.mac_done = np.ones((B, n), bool)  # [B, 3] macro-action ended: choose at the next step
        self.chop_times = np.zeros((B, n), np.int64)  # [B, 3] chops of the running "chop" (kept when cut short)
        self.run_len = np.zeros((B, n), np.int64)  # [B, 3] steps the running macro-action ran before this step
        self.macro_obs = np.zeros((B, n, OBS_DIM), np.float32)  # [B, 3, 32] frozen macro-observations
        self.t = np.zeros(B, np.int64)
        self.reward = np.zeros(B, np.float32)
        self.terminated = np.zeros(B, bool)
        self.truncated = np.zeros(B, bool)
        self.last_mac = np.zeros((B, n), np.int64)
        self.last_elapsed = np.zeros((B, n), np.int64)
        self.mask = np.ones((B, n, self.n_actions), bool)  # [B, 3, n_actions] every macro-action is always allowed
        self.mask.flags.writeable = False
        self.pos = np.zeros((B, L.N_ITEMS), np.int64)  # [B, 11] true item cells after the last step or reset
        # at B = 1 a plain-Python stepper runs the same rules (the arrays above are written by sync())
        self._sc = ScalarStepper(self) if B == 1 else None

    # ------------------------------------------------------------------ observations
    def _views(self, pos: np.ndarray):
        """(full-view vector [B, 25], in-window [B, 3, 11]) of true item cells ``pos`` [B, 11]."""
        vals = np.empty((self.batch_size, L.N_ITEMS, 3))
        vals[:, :, :2] = L.XY[pos] / L.SIZE
        vals[:, :L.N_FOOD, 2] = self.kitchen.chop[:, :L.N_FOOD] / 3
        full = vals[:, ENTRY_ITEM, ENTRY_KIND]  # [B, 25]
        if self.radius == 0:
            inwin = np.ones((self.batch_size, L.N_AGENTS, L.N_ITEMS), bool)
        else:
            inwin = L.CHEBYSHEV[self.kitchen.apos[:, :, None], pos[:, None, :]] <= self.radius
        return full, inwin

    def _observe(self, full: np.ndarray, inwin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(real_obs [B, 3, 32], state [B, 32]) float32."""
        B = self.batch_size
        real = np.empty((B, L.N_AGENTS, OBS_DIM), np.float32)
        real[:, :, :25] = full[:, None, :] * inwin[:, :, ENTRY_ITEM]
        real[:, :, 25:] = self.onehot
        state = np.empty((B, OBS_DIM), np.float32)
        state[:, :25] = full
        state[:, 25:] = self.onehot
        return real, state

    def _update_belief(self, pos: np.ndarray, inwin: np.ndarray) -> None:
        """Reference ``_get_vector_obs``: seen items at their cell; a remembered cell now in view but empty of
        the item resets the belief to the item's start cell; other items stay where last seen."""
        if self.radius == 0:
            self.bel[:] = pos[:, None, :]
            return
        stale = L.CHEBYSHEV[self.kitchen.apos[:, :, None], self.bel] <= self.radius  # [B, 3, 11]
        self.bel = np.where(inwin, pos[:, None, :], np.where(stale, self.lay.init_pos, self.bel))

    def _make_step(self, real: np.ndarray, state: np.ndarray) -> Step:
        # Every array handed out here is replaced, never written in place, by later steps and resets.
        return Step(
            obs=self.macro_obs, real_obs=real, state=state, reward=self.reward, terminated=self.terminated,
            truncated=self.truncated, choosing=self.mac_done, macro_action=self.last_mac,
            elapsed=self.last_elapsed, action_mask=self.mask, t=self.t,
            extras={"success": self.terminated.astype(np.float32)},
        )

    # ------------------------------------------------------------------ BatchedEnv
    def _reset(self, where: np.ndarray, seeds: np.ndarray) -> Step:
        if self._sc is not None:
            if not where[0] and self._last is not None:
                return self._last
            self._sc.reset()
            return self._sc.reset_step()
        idx = np.flatnonzero(where)
        self.kitchen.reset(idx)
        self.bel[idx] = self.lay.init_pos
        for attr, value in (("cur_mac", 0), ("mac_done", True), ("chop_times", 0), ("run_len", 0), ("t", 0),
                            ("reward", 0), ("terminated", False), ("truncated", False), ("last_mac", 0),
                            ("last_elapsed", 0)):
            arr = getattr(self, attr).copy()  # copies: earlier Steps keep their arrays
            arr[idx] = value
            setattr(self, attr, arr)
        self.pos = self.kitchen.positions()
        full, inwin = self._views(self.pos)
        real, state = self._observe(full, inwin)
        self.macro_obs = self.macro_obs.copy()
        self.macro_obs[idx] = real[idx]
        return self._make_step(real, state)

    def validate_actions(self, actions) -> np.ndarray:
        """The base class's checks, short-cut at B = 1 when the actions are integers in range (every macro-action
        is always allowed); anything else gets the base class's checks and errors."""
        if (self._sc is not None and type(actions) is np.ndarray and actions.dtype.kind in "iu"
                and actions.shape == (1, 3) and not (self._sc.terminated or self._sc.truncated)):
            row = actions[0].tolist()
            if min(row) >= 0 and max(row) < self.n_actions:
                return actions.astype(np.int64, copy=False)
        return super().validate_actions(actions)

    def step_row(self, row: list[int]) -> Step:
        """B = 1: Python ints straight to the plain-Python stepper (every macro-action is always allowed)."""
        sc = self._sc
        if sc is not None and self._last is not None and not (sc.terminated or sc.truncated) and len(row) == 3:
            n = self.n_actions
            for v in row:
                if type(v) is not int or not 0 <= v < n:
                    break
            else:
                self._last = step = sc.step(row)
                return step
        return super().step_row(row)  # the array path: same result, or the detailed error

    def _step(self, actions: np.ndarray) -> Step:
        if self._sc is not None:
            return self._sc.step(actions[0].tolist())
        s = self.settings
        choose = self.mac_done
        self.cur_mac = np.where(choose, actions, self.cur_mac)
        self.run_len = np.where(choose, 0, self.run_len + 1)
        self.last_mac = self.cur_mac
        self.last_elapsed = self.run_len
        prim = macro.primitives(self, self.pos)
        reward, delivered = self.kitchen.step(prim, np.full(self.batch_size, s.step_penalty))
        self.pos = pos = self.kitchen.positions()
        full, inwin = self._views(pos)
        self._update_belief(pos, inwin)
        macro.finished(self, pos)
        real, state = self._observe(full, inwin)
        self.macro_obs = np.where(self.mac_done[..., None], real, self.macro_obs)
        self.t = self.t + 1
        self.reward = reward.astype(np.float32)
        self.terminated = delivered
        self.truncated = (self.t >= self.horizon) & ~delivered
        return self._make_step(real, state)

    def render_rgb(self, index: int = 0) -> np.ndarray:
        self.sync()
        return render_rgb(self, index)

    def render_ansi(self, index: int = 0) -> str:
        self.sync()
        return render_ansi(self, index)

    def sync(self) -> None:
        """At B = 1, write the plain-Python stepper's state into the arrays (rendering and inspection read
        those); nothing to do for B > 1."""
        if self._sc is not None:
            self._sc.export()
