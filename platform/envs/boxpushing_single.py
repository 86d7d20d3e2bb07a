"""The B = 1 fast path of BoxPushing: the same lookup tables, indexed with Python ints.

At ``B = 1`` numpy's per-call overhead (about 0.3-1 us a call) dominates a table-driven step of ~50 calls.
Except while a joint big-box push starts or runs, :func:`step_single` reads the copy's state out of the core's
arrays (or out of the Python tuple it kept from its previous step), does the lookups in Python lists built from
the very same tables (keeping the reference's agent order for box pushes), and keeps the new state as Python
values; :func:`sync` writes them into the arrays before anything else reads those (joint pushes, resets,
rendering, inspection), so every other path (joint pushes, resets, ``B > 1``) is the vectorised one. Observations,
reward and flags of its Step are shared read-only arrays; the state and per-agent arrays are built if read. Tests
compare ``B > 1`` cores against ``B = 1`` cores step by step, so the two paths are checked against each other.
"""
from __future__ import annotations

import functools

import numpy as np

from asyncmarl.platform.envs.base import Step


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


_FLAG = {False: _frozen(np.zeros(1, bool)), True: _frozen(np.ones(1, bool))}  # shared read-only [1] flags


class SingleTables:
    """Python-list copies of the tables of one grid size, and small tables of ready-made [1, ...] arrays."""

    def __init__(self, tb, obs_table: np.ndarray):
        self.ES, self.NP, self.DN, self.PC = tb.ES.tolist(), tb.NP.tolist(), tb.DN.tolist(), tb.PC.tolist()
        self.PUSHK, self.READY, self.NEXTCUR = tb.PUSHK.tolist(), tb.READY.tolist(), tb.NEXTCUR.tolist()
        self.KF, self.FY, self.FC, self.CELL, self.OBI = (v.tolist() for v in (tb.KF, tb.FY, tb.FC, tb.CELL, tb.OBI))
        self.IS_MOVE, self.MOVEY_GOFF = tb.IS_MOVE.tolist(), tb.MOVEY_GOFF.tolist()
        self.MOVEY_NP, self.MOVEY_DN = tb.MOVEY_NP, tb.MOVEY_DN  # large and rarely read: stay arrays
        self.P, self.L, self.row0 = tb.P, tb.L, tb.layout.box_row
        codes = np.arange(256)
        self.OBS2 = _frozen(obs_table[np.stack([codes // 16, codes % 16], 1)][:, None])  # [256, 1, 2, 5]
        self.MC2 = _frozen(np.stack([codes // 16, codes % 16], 1)[:, None])  # [256, 1, 2] code pairs
        cur = np.arange(17 * 17)
        self.CUR2 = _frozen(np.stack([cur // 17, cur % 17], 1)[:, None])  # [289, 1, 2] current-action pairs
        self.REPORT2 = _frozen(tb.REPORT[self.CUR2])  # [289, 1, 2] reported macro-actions
        self.REPORT = tb.REPORT.tolist()  # current action (+ 8) -> reported macro-action
        ch = np.array([[False, False], [False, True], [True, False], [True, True]])
        self.CH2 = _frozen(ch[:, None])  # [4, 1, 2] choosing pairs
        self.KEEP2 = _frozen(np.where(ch, 0, -1)[:, None].astype(np.int64))  # [4, 1, 2]
        self.FALSE1 = _frozen(np.zeros(1, bool))
        # the boxes' part of the state [1, 18] for every combination of box rows (each in row0 .. L - 1)
        ny = tb.L - self.row0
        self.NY = ny
        rows = np.stack(np.meshgrid(*[np.arange(ny)] * 3, indexing="ij"), -1).reshape(-1, 3) + self.row0
        lay = tb.layout
        bs = np.zeros((ny ** 3, 1, 18), np.float32)
        bs[:, 0, 12::2] = np.array([lay.small_x[0] + 0.5, lay.small_x[1] + 0.5, lay.big_x + 1.0]) / tb.L
        bs[:, 0, 13::2] = (rows + 0.5) / tb.L
        self.BOXSTATE = _frozen(bs)


@functools.cache
def single_tables(L: int) -> SingleTables:
    from asyncmarl.platform.envs.boxpushing import OBS_TABLE
    from asyncmarl.platform.envs.boxpushing_tables import tables

    return SingleTables(tables(L), OBS_TABLE)


def sync(env) -> None:
    """Write the Python state :func:`step_single` keeps into the core's arrays (they lag behind it while only
    this path runs); every reader of those arrays calls this first."""
    if not env._stale:
        return
    s = env._single
    d0, d1, cur0, cur1, hp0, hp1, n0, n1, el0, el1, m0, m1, t, _ = env._py
    env._pose = np.array([[n0, n1]], np.int64)
    env._hp = np.array([[hp0, hp1]], np.int64)
    env._cur = s.CUR2[cur0 * 17 + cur1]
    env._mcode = s.MC2[m0 * 16 + m1]
    ch = 2 * d0 + d1
    env._keep = s.KEEP2[ch]
    env._choosing = s.CH2[ch].copy()
    env._elapsed = np.array([[el0, el1]], np.int64)
    env._t = np.array([t], np.int64)
    env._stale = False


def step_single(env, a0: int, a1: int) -> Step | None:
    """One step of a ``B = 1`` core in Python ints (actions ``a0``, ``a1`` validated), or ``None`` (nothing
    changed) when a joint big-box push is under way or starts this step (the vectorised path handles those)."""
    s = env._single
    py = env._py  # Python copy of the state this function wrote last (None: read the arrays)
    if py is None:
        (c0, c1), = env._choosing.tolist()
        (u0, u1), = env._cur.tolist()
        (h0, h1), = env._hp.tolist()
        (p0, p1), = env._pose.tolist()
        (el0, el1), = env._elapsed.tolist()
        (m0, m1), = env._mcode.tolist()
        t = env._t.item()
        y = env._Y[0].tolist()  # box rows: small 0, small 1, big, sentinel, scratch
    else:
        c0, c1, u0, u1, h0, h1, p0, p1, el0, el1, m0, m1, t, y = py
    e0 = a0 if c0 else u0  # chosen action, or current action + 8 while busy
    e1 = a1 if c1 else u1
    T0, T1 = s.ES[e0] + h0, s.ES[e1] + h1
    if env._riding or s.READY[T0] * s.READY[T1] == 2:
        return None
    NP, DN, PC, KF, FY, P = s.NP, s.DN, s.PC, s.KF, s.FY, s.P
    row0 = s.row0
    # agent_0 acts first; a box it pushes has moved when agent_1 acts (reference order)
    n0, d0, pc0 = NP[T0], DN[T0], PC[T0]
    if y[0] != row0 and s.IS_MOVE[e0]:  # go-to obstacles follow small box 0's row
        i = s.MOVEY_GOFF[e0] + (y[0] - row0) * P + p0
        n0, d0, pc0 = int(s.MOVEY_NP[i]), bool(s.MOVEY_DN[i]), 0
    k0 = s.PUSHK[T0]
    moved = k0 != 4
    if moved:
        y[k0] += 1
        if KF[p1] == k0:  # that box is in agent_1's front column: agent_1 meets its new row
            T1 = s.ES[e1] + p1 + (P if y[k0] == FY[p1] else 0)
    n1, d1, pc1 = NP[T1], DN[T1], PC[T1]
    if y[0] != row0 and s.IS_MOVE[e1]:
        i = s.MOVEY_GOFF[e1] + (y[0] - row0) * P + p1
        n1, d1, pc1 = int(s.MOVEY_NP[i]), bool(s.MOVEY_DN[i]), 0
    k1 = s.PUSHK[T1]
    if k1 != 4:
        y[k1] += 1
        moved = True
    el0, el1 = 0 if c0 else el0 + 1, 0 if c1 else el1 + 1
    cur0, cur1 = s.NEXTCUR[e0], s.NEXTCUR[e1]
    t += 1
    # observation: is the front column's box in the front row, is the teammate in the front cell
    FC, CELL, OBI = s.FC, s.CELL, s.OBI
    hp0 = n0 + P if y[KF[n0]] == FY[n0] else n0
    hp1 = n1 + P if y[KF[n1]] == FY[n1] else n1
    code0 = OBI[hp0] + (8 if FC[n0] == CELL[n1] else 0)
    code1 = OBI[hp1] + (8 if FC[n1] == CELL[n0] else 0)
    if d0:
        m0 = code0
    if d1:
        m1 = code1
    term, extras = False, env._zero_extras
    if moved:
        Y = env._Y
        if k0 != 4:
            Y[0, k0] = y[k0]
        if k1 != 4:
            Y[0, k1] = y[k1]
        env._y0_moved = y[0] != row0
        ny = s.NY
        env._boxstate = s.BOXSTATE[((y[0] - row0) * ny + y[1] - row0) * ny + y[2] - row0]
        goal = [v == s.L - 1 for v in y[:3]]
        term = goal[0] or goal[1] or goal[2]
    if term:
        r = env._rew64[pc0 + pc1] + sum(g * v for g, v in zip(goal, env._box_rewards.tolist(), strict=True))
        reward = np.array([r], np.float32)
        extras = {"big_box": np.array([goal[2]], np.float32), "small_boxes": np.array([goal[0] + goal[1]], np.float32)}
    else:
        reward = env._rew_frozen[pc0 + pc1]
    trunc = t >= env.horizon and not term
    env._done_any = term or trunc
    # the arrays are written only when something reads them (sync); the Step's state and per-agent arrays too
    env._py = (d0, d1, cur0, cur1, hp0, hp1, n0, n1, el0, el1, m0, m1, t, y)
    env._stale = True
    boxstate = env._boxstate
    rep = [s.REPORT[cur0], s.REPORT[cur1]]
    sa0, sa1 = env._tb.SA0, env._tb.SA1

    def fill() -> dict:
        return {"state": sa0[n0] + sa1[n1] + boxstate, "choosing": s.CH2[2 * d0 + d1].copy(),
                "macro_action": np.array([rep], np.int64), "elapsed": np.array([[el0, el1]], np.int64),
                "t": np.array([t], np.int64)}

    # positional: obs, real_obs, reward, terminated, truncated, action_mask, extras
    return Step.lazy(fill, ([d0, d1], rep, [el0, el1]), s.OBS2[m0 * 16 + m1], s.OBS2[code0 * 16 + code1], reward,
                     _FLAG[term], _FLAG[trunc], env._mask, extras)
