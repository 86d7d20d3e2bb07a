"""BoxPushing (macro-actions): two agents, two small boxes and one big box that only both agents together can push.

A batched numpy port of MacroMARL's ``BoxPushing_harder`` (gym id ``BP-MA-v0``), matched step for step: same
layout, greedy go-to controller (with its quirks), push rules, frozen macro-observations, state and rewards.
Scenarios ``boxpushing-{6,8,10,12,14,20,30}`` (grid side ``L``); see ``docs/boxpushing.md``.

* Actions (every agent): 0 go to small box 0, 1 go to small box 1, 2 go to big-box spot 0, 3 go to big-box spot 1,
  4 push, 5 turn left, 6 turn right, 7 stay. All are always allowed (the reference's mask is all ones).
* ``Step.obs`` is the macro-observation (frozen while the agent is inside an action, as the reference returns it);
  ``Step.real_obs`` the 5 bits of the cell in front this step: small box, big box, empty, wall, teammate.
* ``Step.state`` (18): per agent x/L, y/L of the cell centre and one-hot orientation (up, right, down, left); per box
  (small 0, small 1, big) x/L, y/L.
* Reward: ``step_reward`` every step, ``penalty`` per wall hit or illegal push, and the box reward when a box
  reaches the goal (top) row, which ends the episode (``terminated``). ``truncated`` at ``horizon`` steps.

The reference has no randomness (``random_init`` is off in every published script), so seeds do not change
trajectories; ``reset(seed)`` accepts them for the common interface.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asyncmarl.platform.envs.base import BatchedEnv, Step
from asyncmarl.platform.envs.boxpushing_render import render_ansi, render_frame
from asyncmarl.platform.envs.boxpushing_single import single_tables, step_single, sync
from asyncmarl.platform.envs.boxpushing_tables import NO_PUSH, RIDE, tables
from asyncmarl.platform.envs.registry import register

# name -> (big_box_reward, small_box_reward, penalty)
REWARD_PRESETS = {
    "published": (300.0, 20.0, -10.0),  # MacroMARL scripts' defaults, behind every published BoxPushing number
    "tomacvf": (100.0, 10.0, -10.0),  # as stated in the ToMacVF appendix
}
GRID_SIZES = (6, 8, 10, 12, 14, 20, 30)  # registered scenarios
MAX_GRID = 40  # largest grid_size accepted (the tables grow with L^3: about 33 MB at L = 30)
ACTION_NAMES = ("go_small_box_0", "go_small_box_1", "go_big_box_spot_0", "go_big_box_spot_1", "push",
                "turn_left", "turn_right", "stay")
# obs code (bits: 1 small box, 2 big box, 4 wall, 8 teammate) -> the 5 observation bits; "empty" when none is set
OBS_TABLE = np.array(
    [[c & 1, (c >> 1) & 1, c == 0, (c >> 2) & 1, (c >> 3) & 1] for c in range(16)], np.float32
)


@dataclass(frozen=True)
class BoxPushingSettings:
    """Settings of a BoxPushing scenario (the scenario presets set ``grid_size``)."""

    grid_size: int = 6  # side L of the square grid: an even int in 6..40 (the reference's layouts)
    reward_preset: str = "published"  # "published" (big 300, small 20, penalty -10) or "tomacvf" (100, 10, -10)
    big_box_reward: float | None = None  # overrides the preset's big-box reward when set
    small_box_reward: float | None = None  # overrides the preset's small-box reward when set
    penalty: float | None = None  # overrides the preset's wall-hit / illegal-push penalty when set
    step_reward: float = -0.1  # reward added every timestep
    horizon: int = 100  # episode limit in timesteps (truncation)

    def __post_init__(self):
        L = self.grid_size
        if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or not 6 <= L <= MAX_GRID or L % 2:
            raise ValueError(f"BoxPushing setting grid_size must be an even int in 6..{MAX_GRID} "
                             f"(registered: {GRID_SIZES}), got {L!r}")
        if self.reward_preset not in REWARD_PRESETS:
            raise ValueError(
                f"BoxPushing setting reward_preset must be one of {sorted(REWARD_PRESETS)}, got {self.reward_preset!r}"
            )
        for f in ("big_box_reward", "small_box_reward", "penalty", "step_reward"):
            v = getattr(self, f)
            if v is None and f != "step_reward":
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ValueError(f"BoxPushing setting {f} must be a number, got {v!r}")
        h = self.horizon
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1:
            raise ValueError(f"BoxPushing setting horizon must be a positive int, got {h!r}")

    @property
    def rewards(self) -> tuple[float, float, float]:
        """(big_box_reward, small_box_reward, penalty) after applying the preset and the overrides."""
        big, small, pen = REWARD_PRESETS[self.reward_preset]
        pick = lambda v, d: float(d if v is None else v)  # noqa: E731
        return pick(self.big_box_reward, big), pick(self.small_box_reward, small), pick(self.penalty, pen)


class BoxPushing(BatchedEnv):
    """``B`` copies of BoxPushing stepped together (see the module docstring for the spaces).

    Hot path: each agent's outcome is one lookup in :mod:`~asyncmarl.platform.envs.boxpushing_tables`, indexed
    by its action row, pose and whether a box is in front. Steps where a box moves, a joint push may start, or
    small box 0 is off its start row go through :meth:`_slow_step`, which keeps the reference's agent order.
    At ``B = 1`` the same tables are read with Python ints (:mod:`~asyncmarl.platform.envs.boxpushing_single`).
    """

    n_agents = 2
    n_actions = 8
    obs_dim = 5
    state_dim = 18

    def __init__(self, batch_size: int, settings: BoxPushingSettings | None = None, name: str | None = None):
        super().__init__(batch_size)
        s = settings or BoxPushingSettings()
        self.settings = s
        L = s.grid_size
        self.name = name or f"boxpushing-{L}"
        self.horizon = int(s.horizon)
        self.action_names = (ACTION_NAMES, ACTION_NAMES)
        self.big_box_reward, self.small_box_reward, self.penalty = s.rewards
        self.step_reward = float(s.step_reward)
        tb = self._tb = tables(L)
        # joint reward of a step without a box reaching the goal, by number of penalties, summed in the
        # reference's order (step reward, then agent_0's, then agent_1's) in float64
        r1 = self.step_reward + self.penalty
        self._rew64 = np.array([self.step_reward, r1, r1 + self.penalty])
        self._rew32 = self._rew64.astype(np.float32)
        self._rew32_1 = self._rew32[:, None]  # [3, 1]: a B = 1 reward array per number of penalties
        self._rew_frozen = [r.copy() for r in self._rew32_1]  # the same as shared read-only Step rewards
        for r in self._rew_frozen:
            r.flags.writeable = False
        self._box_rewards = np.array([self.small_box_reward, self.small_box_reward, self.big_box_reward])
        B = self.batch_size
        self._single = single_tables(L) if B == 1 else None  # Python-int fast path at B = 1
        self._py = None  # that path's Python copy of the state; None whenever another path changed the arrays
        self._stale = False  # the arrays lag behind _py (boxpushing_single.sync brings them up to date)
        lay = tb.layout
        self._pose0 = np.array([[tb.encode(x, y, o, 0) for x, y, o in lay.agent_start]], np.int64)  # [1, 2]
        # constants with the batch's shape: same-shape, same-dtype ufuncs take numpy's fastest path
        self._boff = np.repeat((np.arange(B, dtype=np.int64) * 5)[:, None], 2, 1)  # [B, 2] offsets into box rows
        self._one2 = np.ones((B, 2), np.int64)
        self._swap = np.arange(2 * B).reshape(B, 2)[:, ::-1].copy()  # [B, 2] flat index of the other agent
        self._one = np.ones(B, np.int64)
        self._hor = np.full(B, self.horizon, np.int64)
        self._nact_u = np.full((B, 2), self.n_actions, np.uint64)
        self._zb2 = bytes(2 * B)  # tobytes() of an all-False [B, 2] bool array: a cheap "any"
        self._zb = bytes(B)
        self._shape = (B, 2)
        mask = np.ones((B, 2, self.n_actions), bool)
        mask.flags.writeable = False
        self._mask = mask  # every action is always allowed
        zf = np.zeros(B, np.float32)
        zf.flags.writeable = False
        self._zero_extras = {"big_box": zf, "small_boxes": zf}
        self._box_x = np.array([lay.small_x[0] + 0.5, lay.small_x[1] + 0.5, lay.big_x + 1.0]) / L
        # per-copy state (arrays handed out in a Step are never written to afterwards)
        self._pose = np.repeat(self._pose0, B, 0)  # [B, 2] pose index (cell, orientation, big-box waypoint)
        self._cur = np.full((B, 2), 8, np.int64)  # [B, 2] current action + 8 (RIDE: locked into the big-box push)
        self._choosing = np.ones((B, 2), bool)  # [B, 2]
        self._keep = np.zeros((B, 2), np.int64)  # [B, 2] -1 busy (elapsed counts on), 0 choosing (restarts)
        self._elapsed = np.zeros((B, 2), np.int64)  # [B, 2]
        # [B, 5] box rows: small 0, small 1, big, a sentinel no front row equals, scratch for "pushes no box"
        self._Y = np.full((B, 5), tb.SENTINEL, np.int64)
        self._Y[:, :3] = lay.box_row
        self._goal_bytes = bytes(3 * B)
        self._ytab = ((np.arange(L + 1) + 0.5) / L).astype(np.float32)  # box row -> state value
        self._yflat = self._Y.reshape(-1)  # a view: the box rows indexed by boff + box
        self._hp = np.zeros((B, 2), np.int64)  # [B, 2] pose + P * (a box is in front)
        self._mcode = np.zeros((B, 2), np.int64)  # [B, 2] frozen macro-observation code
        self._t = np.zeros(B, np.int64)
        self._boxstate = np.zeros((B, 18), np.float32)  # the boxes' part of the state
        self._update_boxstate()
        self._riding = False  # some copy is in a joint big-box push
        self._y0_moved = False  # some copy's small box 0 left its start row (go-to obstacles moved)
        self._done_any = False
        # the start of an episode, for resetting every copy at once (arrays never written in place are shared)
        self._init_Y = self._Y.copy()
        self._init_code = self._observe(self._pose)
        self._init_hp, self._init_pose, self._init_box = self._hp, self._pose, self._boxstate
        self._init_state = self._make_step(self._init_code, *[None] * 6).state
        self._zero2 = np.zeros((B, 2), np.int64)
        self._cur8 = np.full((B, 2), 8, np.int64)
        for a in (self._init_Y, self._init_code, self._init_pose, self._init_box, self._zero2, self._cur8):
            a.flags.writeable = False

    # ------------------------------------------------------------------ validation fast path
    def validate_actions(self, actions) -> np.ndarray:
        """The base checks, short-cut when every entry is an int64 in range (all actions are always allowed)."""
        if (
            type(actions) is np.ndarray
            and actions.dtype == np.int64
            and actions.shape == self._shape
            and not self._done_any
            and (actions.view(np.uint64) >= self._nact_u).tobytes() == self._zb2  # negatives wrap to huge
        ):
            return actions
        return super().validate_actions(actions)

    # ------------------------------------------------------------------ reset / step
    def step_row(self, row: list[int]) -> Step:
        """B = 1: Python ints straight to the single-copy stepper (every action is always allowed)."""
        if self._single is not None and self._last is not None and not self._done_any and len(row) == 2:
            a0, a1 = row
            if type(a0) is int and type(a1) is int and 0 <= a0 < 8 and 0 <= a1 < 8:
                step = step_single(self, a0, a1)
                if step is not None:
                    self._last = step
                    return step
        return super().step_row(row)  # joint pushes, other types, errors: the array path

    def _reset(self, where: np.ndarray, seeds: np.ndarray) -> Step:
        tb, B, w = self._tb, self.batch_size, where
        sync(self)
        self._py = None
        if w.all():
            self._pose, self._hp, self._boxstate = self._init_pose, self._init_hp, self._init_box
            self._cur, self._keep, self._mcode = self._cur8, self._zero2, self._init_code
            self._choosing = np.ones((B, 2), bool)
            self._elapsed = np.zeros((B, 2), np.int64)
            self._Y[:] = self._init_Y
            self._t = np.zeros(B, np.int64)
            self._riding = self._y0_moved = self._done_any = False
            obs = OBS_TABLE.take(self._init_code, axis=0)
            return Step(obs, obs.copy(), self._init_state.copy(), np.zeros(B, np.float32), np.zeros(B, bool),
                        np.zeros(B, bool), self._choosing, np.zeros((B, 2), np.int64), self._elapsed, self._mask,
                        self._t.copy(), self._zero_extras)
        w2 = w[:, None]
        self._pose = np.where(w2, self._pose0, self._pose)
        self._cur = np.where(w2, 8, self._cur)
        self._choosing = np.where(w2, True, self._choosing)
        self._keep = np.where(w2, 0, self._keep)
        self._Y[w, :3] = tb.layout.box_row
        self._t = np.where(w, 0, self._t)
        self._update_boxstate()
        self._riding = bool((self._cur == RIDE).any())
        self._y0_moved = bool((self._Y[:, 0] != tb.layout.box_row).any())
        code = self._observe(self._pose)
        self._mcode = np.where(w2, code, self._mcode)
        last = self._last
        if last is None:
            reward, term, trunc = np.zeros(B, np.float32), np.zeros(B, bool), np.zeros(B, bool)
            mac, self._elapsed, extras = np.zeros((B, 2), np.int64), np.zeros((B, 2), np.int64), self._zero_extras
        else:
            reward = np.where(w, np.float32(0), last.reward)
            term, trunc = last.terminated & ~w, last.truncated & ~w
            mac, self._elapsed = np.where(w2, 0, last.macro_action), np.where(w2, 0, last.elapsed)
            extras = {k: np.where(w, np.float32(0), v) for k, v in last.extras.items()}
        self._done_any = bool((term | trunc).any())
        return self._make_step(code, reward, term, trunc, mac, self._t.copy(), extras)

    def _step(self, actions: np.ndarray) -> Step:
        if self._single is not None:
            step = step_single(self, *actions[0].tolist())
            if step is not None:
                return step
            sync(self)
            self._py = None
        tb = self._tb
        e2 = np.where(self._choosing, actions, self._cur)  # [B, 2] chosen action, or current action + 8 if busy
        T = tb.ES[e2] + self._hp  # [B, 2] index of each agent's outcome in the tables
        npose, dn = tb.NP[T], tb.DN[T]
        # elapsed counts on while busy and restarts at 0 on the step an action is chosen (keep = 0)
        self._elapsed = elapsed = (self._elapsed + self._one2) & self._keep
        if self._riding or self._y0_moved or tb.SPECIAL[T].tobytes() != self._zb2:
            npose, dn, e2, term, reward, extras = self._slow_step(e2, T, npose, dn)
            self._keep = dn.astype(np.int64) - 1
        else:  # no box moves this step, so no episode can finish
            pc = tb.PC[T]
            reward = self._rew32[pc[:, 0] + pc[:, 1]]
            term, extras = np.zeros(self.batch_size, bool), self._zero_extras
            self._keep = tb.KEEP[T]
        self._cur = cur = tb.NEXTCUR[e2]
        self._pose = npose
        self._choosing = dn
        self._t = t = self._t + self._one
        trunc = t >= self._hor
        code = self._observe(npose)
        self._mcode = np.where(dn, code, self._mcode)  # busy agents keep the observation they chose with
        if term.tobytes() != self._zb:
            trunc &= ~term
            self._done_any = True
        else:
            self._done_any = trunc.tobytes() != self._zb
        return self._make_step(code, reward, term, trunc, tb.REPORT[cur], t, extras, elapsed)

    def _slow_step(self, e2, T, npose, dn):
        """Exact sequential semantics when a box moves, a joint push may start, or small box 0 is off its row.

        Agents act in order (agent_0 first), as in the reference: a box agent_0 pushes has already moved when
        agent_1 acts, and small box 0's row is where the go-to controller sees obstacles.
        Returns ``(npose, dn, e2, terminated, reward, extras)``.
        """
        tb, Y, yflat, L = self._tb, self._Y, self._yflat, self._tb.L
        pose = self._pose
        pc = tb.PC[T]  # [B, 2] penalties
        k = tb.PUSHK[T]  # [B, 2] small box each agent pushes up (NO_PUSH: none)
        rv = tb.READY[T]  # [B, 2] big-box spot (1 or 2) of an agent that chose push facing up, else 0
        start = rv[:, 0] * rv[:, 1] == 2  # [B] both on different big-box spots: they push it together
        any_start = start.tobytes() != self._zb
        if any_start:
            k[start] = NO_PUSH
        box0_off = self._y0_moved
        moved = False
        for i in (0, 1):
            if i == 1 and moved and (tb.KF[pose[:, 1]] == k[:, 0]).any():
                # agent_0 moved the box in front of agent_1's column: agent_1 meets the new box row
                p1 = pose[:, 1]
                T1 = tb.ES[e2[:, 1]] + p1 + tb.HITP[yflat[self._boff[:, 1] + tb.KF[p1]] - tb.FY[p1]]
                npose[:, 1], dn[:, 1], pc[:, 1], k[:, 1] = tb.NP[T1], tb.DN[T1], tb.PC[T1], tb.PUSHK[T1]
                if any_start:
                    k[start, 1] = NO_PUSH
            if box0_off:
                self._move_off_row(i, e2, npose, dn, pc, start)
            ki = k[:, i]
            if (ki != NO_PUSH).any():
                yflat[self._boff[:, i] + ki] += 1  # copies that push nothing bump the scratch column
                moved = True
                box0_off = box0_off or (Y[:, 0] != tb.layout.box_row).any()
        if any_start:  # both locked into pushing the big box: carried up with it, no action of their own
            npose[start] = pose[start] + tb.row_stride
            dn[start] = False
            pc[start] = 0
            e2 = np.where(start[:, None], RIDE, e2)
        if self._riding or any_start:
            riding = e2[:, 0] == RIDE
            self._riding = bool(riding.any())
            if self._riding:
                Y[riding, 2] += 1
                dn[riding & (Y[:, 2] == L - 1)] = True
                moved = True
        pcs = pc[:, 0] + pc[:, 1]
        if not moved:
            return npose, dn, e2, np.zeros(self.batch_size, bool), self._rew32[pcs], self._zero_extras
        self._y0_moved = bool(box0_off)
        bs = self._boxstate.copy()
        bs[:, 13::2] = self._ytab[Y[:, :3]]
        self._boxstate = bs
        at_goal = Y[:, :3] == L - 1  # [B, 3]
        if at_goal.tobytes() == self._goal_bytes:
            return npose, dn, e2, np.zeros(self.batch_size, bool), self._rew32[pcs], self._zero_extras
        term = at_goal.any(1)
        reward = (self._rew64[pcs] + at_goal @ self._box_rewards).astype(np.float32)
        extras = {"big_box": at_goal[:, 2].astype(np.float32), "small_boxes": at_goal[:, :2].sum(1, dtype=np.float32)}
        return npose, dn, e2, term, reward, extras

    def _move_off_row(self, i, e2, npose, dn, pc, start) -> None:
        """Redo agent ``i``'s go-to steps in copies whose small box 0 left its start row (obstacles moved)."""
        tb, Y = self._tb, self._Y
        y0 = Y[:, 0] - tb.layout.box_row  # [B]
        mv = tb.IS_MOVE[e2[:, i]] & (y0 != 0) & ~start
        if mv.any():
            idx = tb.MOVEY_GOFF[e2[mv, i]] + y0[mv] * tb.P + self._pose[mv, i]
            npose[mv, i], dn[mv, i], pc[mv, i] = tb.MOVEY_NP[idx], tb.MOVEY_DN[idx], 0

    # ------------------------------------------------------------------ observation, state, Step
    def _observe(self, pose: np.ndarray) -> np.ndarray:
        """Real observation codes [B, 2] of poses ``pose``; also caches pose + P * (box in front) for the tables."""
        tb = self._tb
        # the box of the front column is in the front row: select the "box in front" half of the tables
        self._hp = hp = pose + tb.HITP[self._yflat[self._boff + tb.KF[pose]] - tb.FY[pose]]
        mate_cell = tb.CELL[pose.reshape(-1)[self._swap]]  # [B, 2] the other agent's cell
        return tb.OBI[hp] + tb.MATE8[tb.FC[pose] - mate_cell]  # + teammate bit

    def _update_boxstate(self) -> None:
        bs = np.zeros((self.batch_size, 18), np.float32)
        bs[:, 12::2] = self._box_x
        bs[:, 13::2] = self._ytab[self._Y[:, :3]]
        self._boxstate = bs

    def _make_step(self, code, reward, term, trunc, mac, t, extras, elapsed=None) -> Step:
        tb, pose = self._tb, self._pose
        state = tb.SA0.take(pose[:, 0], axis=0) + tb.SA1.take(pose[:, 1], axis=0) + self._boxstate
        return Step(
            obs=OBS_TABLE.take(self._mcode, axis=0),
            real_obs=OBS_TABLE.take(code, axis=0),
            state=state,
            reward=reward,
            terminated=term,
            truncated=trunc,
            choosing=self._choosing,
            macro_action=mac,
            elapsed=self._elapsed if elapsed is None else elapsed,
            action_mask=self._mask,
            t=t,
            extras=extras,
        )

    # ------------------------------------------------------------------ inspection
    def positions(self, index: int = 0) -> dict:
        """Copy ``index`` in cells: agents ``[(x, y, orientation)]`` and boxes ``[(x, y)]`` (big box: left cell)."""
        tb = self._tb
        sync(self)
        p = self._pose[index]
        lay = tb.layout
        xs = (lay.small_x[0], lay.small_x[1], lay.big_x)
        return {
            "agents": [(int(tb.PX[q]), int(tb.PY[q]), int(tb.PO[q])) for q in p],
            "boxes": [(xs[k], int(self._Y[index, k])) for k in range(3)],
        }

    def render_rgb(self, index: int = 0) -> np.ndarray:
        return render_frame(self, index)

    def render_ansi(self, index: int = 0) -> str:
        positions = self.positions(index)  # brings the arrays up to date first
        return render_ansi(self._tb.layout, positions, int(self._t[index]))


def _factory(batch_size: int, settings: BoxPushingSettings) -> BoxPushing:
    return BoxPushing(batch_size, settings, name=f"boxpushing-{settings.grid_size}")


for _L in GRID_SIZES:
    register(
        f"boxpushing-{_L}",
        _factory,
        BoxPushingSettings,
        {"grid_size": _L},
        family="macro",
        description=f"BoxPushing {_L}x{_L} (MacroMARL BoxPushing_harder): 2 agents, 8 macro-actions, horizon 100",
    )
