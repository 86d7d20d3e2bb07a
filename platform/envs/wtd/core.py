"""Batched numpy core of Warehouse Tool Delivery: ``B`` copies stepped with array operations.

Agents ``agent_0 .. agent_{nT-1}`` are the turtlebots, ``agent_{nT}`` the Fetch (the reference's order).
Every step runs, as the reference does: the turtlebots in index order (move, wait at the table, deliver on
arrival at a work area), then the Fetch (start or finish a pass or a search), then the check that every human
has received its last tool (termination), then the humans' work clocks, then the observations.

Observations: ``Step.obs`` is the reference's macro-observation, recomputed only when an agent's action ends
and frozen otherwise; ``Step.real_obs`` is the same formula applied every step (a turtlebot in transit has the
"moving" location). The reference is deterministic (its noise settings are 0 in every published run), so the
seeds only label copies.
"""
from __future__ import annotations

import numpy as np

from asyncmarl.platform.envs.base import BatchedEnv, Step
from asyncmarl.platform.envs.wtd.render import render_ansi, render_rgb
from asyncmarl.platform.envs.wtd.scalar import ScalarStepper
from asyncmarl.platform.envs.wtd.settings import WTDSettings
from asyncmarl.platform.envs.wtd.tables import Tables


class WTDEnv(BatchedEnv):
    """``B`` copies of one Warehouse Tool Delivery scenario (see :class:`WTDSettings`)."""

    def __init__(self, batch_size: int, settings: WTDSettings | None = None, name: str = "wtd"):
        super().__init__(batch_size)
        self.settings = s = settings if settings is not None else WTDSettings()
        if not isinstance(s, WTDSettings):
            raise ValueError(f"settings must be a WTDSettings, got {type(s).__name__}")
        self.tab = tb = Tables(s)
        self.name = name
        self.nT, self.nH, self.nO, self.nS = tb.nT, tb.nH, tb.nO, tb.nS
        self.n_agents = tb.nT + 1
        self.n_actions = max(tb.nTA, tb.nFA)
        self.obs_dim, self.state_dim, self.horizon = tb.obs_dim, tb.state_dim, s.horizon
        turtlebot = tuple([f"go_work_area_{h}" for h in range(tb.nH)] + ["go_tool_room", "get_tool"])
        fetch = ["wait"] + [f"pass_to_agent_{k}" for k in range(tb.nT)] + [f"search_tool_{j}" for j in range(tb.nO)]
        self.action_names = (turtlebot,) * tb.nT + (tuple(fetch),)
        B, n, nT, nH, nO = self.batch_size, self.n_agents, tb.nT, tb.nH, tb.nO
        mask = np.zeros((n, self.n_actions), bool)
        mask[:nT, : tb.nTA] = True
        mask[nT, : tb.nFA] = True
        self._mask = np.broadcast_to(mask, (B, n, self.n_actions))  # read-only, shared by every Step
        # flat-index offsets (row b of a [B, k] array starts at b * k)
        ar = np.arange(B, dtype=np.int64)
        self._hb = (ar * nH)[:, None]  # [B, 1]
        self._tb = ar * nT  # [B]
        self._bask_off = ((ar[:, None] * nT + np.arange(nT)) * nO).astype(np.int64)  # [B, nT]
        self._found_off = ar * nO  # [B]
        self._k_off = np.arange(nT, dtype=np.int64) * (tb.NN * tb.nTA)  # [nT]
        self._h_off = np.arange(nH, dtype=np.int64) * tb.nS  # [nH] row of each human's phase durations
        self._hum_off = self._h_off * tb.R + tb.htl_off  # [nH] its rows in tab.human_state
        # fetch actions whose start is checked: passes to turtlebots 0 and 1 (the reference never checks the
        # start of a pass to turtlebot 2; ``fix_reference_quirks`` adds it)
        checked = [False] * tb.nFA
        for k in range(nT):
            checked[1 + k] = k < 2 or s.fix_reference_quirks
        self._start_checked = np.asarray(checked)
        self._lower = np.tril(np.ones((nT, nT), bool), -1)  # [k, j]: j comes before k
        self._fetch_state = np.asarray(tb.fetch_xy / np.array([7.0, 5.0]), np.float32)
        # fast action validation: per (copy, agent) a row over actions -1 .. n_actions (ends = out of range)
        ext = np.zeros((n, self.n_actions + 2), bool)
        ext[:, 1:-1] = mask
        self._ext = np.tile(ext.reshape(-1), B)
        self._ext_off = (np.arange(B * n, dtype=np.int64) * (self.n_actions + 2) + 1).reshape(B, n)
        self._n_valid = [tb.nTA] * nT + [tb.nFA]  # each agent's valid actions are 0 .. n_valid - 1
        self._valid_py = [range(v) for v in self._n_valid]
        self._any_done = False
        self._alloc()
        # at B = 1 a plain-Python stepper runs the same rules ~10x faster than array calls can
        self._sc = ScalarStepper(self) if B == 1 else None

    # ------------------------------------------------------------------ state
    def _alloc(self) -> None:
        B, n, nT, nH, nO = self.batch_size, self.n_agents, self.nT, self.nH, self.nO
        i64 = np.int64
        self.act = np.zeros((B, n), i64)  # action each agent runs
        self.el = np.zeros((B, n), i64)  # steps of it run before the last step
        self.done = np.ones((B, n), bool)  # the agent chooses at the next step
        self.cw = np.full((B, nT), nH + 2, i64)  # last node reached (start node = reference's None)
        self.tl = np.zeros((B, nT), i64)  # reference cur_action_time_left: > 0 moving, < 0 waiting at table
        self.moving = np.zeros((B, nT), bool)  # in transit after the last step
        self.pcode = np.zeros((B, nT), i64)  # position code (row of tab.pos_flat): turtlebot position
        self.basket = np.zeros((B, nT, nO), i64)  # tools carried, per kind
        self.pair = np.zeros(B, i64)  # staged tools in order, as a pair code (see Tables; 0 = none)
        self.found = np.zeros((B, nO), i64)  # tools of each kind found so far
        self.failed = np.zeros(B, bool)  # the running pass started without its turtlebot waiting
        self.ftl = np.zeros(B, i64)  # fetch time left (reference), for the state's status entry
        self.fact = np.full(B, -1, i64)  # fetch's action for the state (-1 = none yet)
        self.cs = np.zeros((B, nH), i64)  # human work phase
        self.htl = np.zeros((B, nH), i64)  # steps left in the phase (<= 0: waiting for a tool)
        self.got = np.zeros((B, nH), bool)  # the tool for the next phase was delivered
        self.fin = np.zeros((B, nH), bool)  # whole task finished (the human stops)
        self.served = np.zeros((B, nH), bool)  # received its last tool (episode ends when all have)
        self.t = np.zeros(B, i64)
        self.obs = np.zeros((B, n, self.obs_dim), np.float32)
        self.seeds = np.zeros(B, i64)

    def _reset(self, where: np.ndarray, seeds: np.ndarray) -> Step:
        if self._sc is not None:
            return self._reset_one(bool(where[0]), seeds)
        w = where
        tb = self.tab
        # arrays earlier Steps hold are replaced, never written in place
        self.act, self.el, self.obs, self.t = self.act.copy(), self.el.copy(), self.obs.copy(), self.t.copy()
        self.act[w] = 0
        self.el[w] = 0
        self.done[w] = True
        self.cw[w] = self.nH + 2
        self.tl[w] = 0
        self.moving[w] = False
        self.pcode[w] = tb.start_code
        self.basket[w] = 0
        self.pair[w] = 0
        self.found[w] = 0
        self.failed[w] = False
        self.ftl[w] = 0
        self.fact[w] = -1
        self.cs[w] = 0
        self.htl[w] = tb.phase_steps[:, 0]
        self.got[w] = False
        self.fin[w] = False
        self.served[w] = False
        self.t[w] = 0
        self.seeds[w] = seeds[w]
        real = self._real_obs()
        self.obs[w] = real[w]
        last = self._last
        if last is None:
            B, n = self.batch_size, self.n_agents
            reward = np.zeros(B, np.float32)
            term, trunc = np.zeros(B, bool), np.zeros(B, bool)
            mac, el = np.zeros((B, n), np.int64), np.zeros((B, n), np.int64)
        else:
            reward = np.where(w, 0.0, last.reward).astype(np.float32)
            term, trunc = last.terminated & ~w, last.truncated & ~w
            mac = np.where(w[:, None], 0, last.macro_action)
            el = np.where(w[:, None], 0, last.elapsed)
        self._any_done = bool(term.any() or trunc.any())
        return Step(
            obs=self.obs.copy(), real_obs=real, state=self._state(), reward=reward, terminated=term,
            truncated=trunc, choosing=self.done.copy(), macro_action=mac, elapsed=el, action_mask=self._mask,
            t=self.t.copy(), extras={"success": term.astype(np.float32)},
        )

    def _reset_one(self, reset: bool, seeds: np.ndarray) -> Step:
        if not reset and self._last is not None:
            return self._last
        self._sc.reset()
        self.seeds[0] = seeds[0]
        self._any_done = False
        obs, real, state = self._sc.step_result_reset()
        zeros = np.zeros((1, self.n_agents), np.int64)
        return Step(
            obs=obs, real_obs=real, state=state, reward=np.zeros(1, np.float32), terminated=np.zeros(1, bool),
            truncated=np.zeros(1, bool), choosing=np.ones((1, self.n_agents), bool), macro_action=zeros,
            elapsed=zeros.copy(), action_mask=self._mask, t=np.zeros(1, np.int64),
            extras={"success": np.zeros(1, np.float32)},
        )

    # ------------------------------------------------------------------ step
    def validate_actions(self, actions) -> np.ndarray:
        """The base class's checks with a fast path when every choosing agent's action is allowed."""
        arr = actions if type(actions) is np.ndarray else np.asarray(actions)
        if self._sc is not None:
            if arr.dtype.kind in "iu" and arr.shape == (1, self.n_agents) and not self._any_done:
                row, done, valid = arr[0].tolist(), self._sc.done, self._n_valid
                if all(not done[i] or 0 <= row[i] < valid[i] for i in range(self.n_agents)):
                    return arr
            return super().validate_actions(actions)  # raises the detailed error
        if arr.dtype.kind in "iu" and arr.shape == self.done.shape and not self._any_done:
            a = arr.astype(np.int64)
            ok = self._ext[self._ext_off + np.minimum(np.maximum(a, -1), self.n_actions)] | ~self.done
            if np.logical_and.reduce(ok, None):
                return a
        return super().validate_actions(actions)  # raises the detailed error

    def step_row(self, row: list[int]) -> Step:
        """B = 1: validated in Python and stepped by the plain-Python stepper, no action array built."""
        sc = self._sc
        if sc is not None and self._last is not None and not self._any_done and len(row) == self.n_agents:
            for v, choosing, valid in zip(row, sc.done, self._valid_py, strict=True):
                if type(v) is not int or choosing and v not in valid:
                    break
            else:
                self._last = step = sc.step(row)
                self._any_done = sc.over
                return step
        return super().step_row(row)  # the array path: same result, or the detailed error

    def _step(self, actions: np.ndarray) -> Step:
        if self._sc is not None:
            step = self._sc.step(actions[0].tolist())
            self._any_done = self._sc.over
            return step
        tb, s = self.tab, self.settings
        nT, nH, nO, nS = self.nT, self.nH, self.nO, self.nS
        GT = tb.GT
        choosing = self.done  # [B, n]
        a = np.where(choosing, actions, self.act)  # [B, n] action run this step
        el = np.where(choosing, 0, self.el + 1)  # [B, n] steps of it run before this step
        e = el + 1  # [B, n] this step's number inside the action

        # ---- turtlebots (independent apart from deliveries to the same human, resolved below in index order)
        aT, eT, cw0, tl0 = a[:, :nT], e[:, :nT], self.cw, self.tl
        fidx = self._k_off + cw0 * tb.nTA + aT  # [B, nT] path of (turtlebot, origin, target)
        m = tb.moves_flat[fidx]  # moving steps of that path
        arrived = eT > m  # at the target this step (arrival, or already there)
        moving = ~arrived
        fresh = arrived & (tl0 > 0)  # arrival after moving: time_left drops to 0
        hold = fresh & (aT == tb.hold)  # ... and this action ends the step there (not done, not waiting)
        gt = aT == GT
        waiting = arrived & gt & ~hold  # waiting at the table counts time_left down
        tl = np.where(fresh, 0, tl0) - waiting
        timeout = tl <= -tb.wait_limit
        tl = np.where(moving, 1, np.where(timeout, -1, tl))
        done_t = (arrived & ~gt & ~hold) | timeout  # [B, nT]
        self.pcode = fidx * (tb.E + 1) + np.minimum(eT, tb.E)
        cw = np.where(arrived, aT, cw0)

        # deliveries: a turtlebot arriving at work area h hands over the tool human h needs, if it carries one
        hsel = np.minimum(aT, nH - 1)  # [B, nT] human at the target (valid where aT < nH)
        hflat = self._hb + hsel
        need = np.minimum(self.cs.reshape(-1)[hflat], nO - 1)  # tool = the human's phase (none in the last)
        bidx = self._bask_off + need
        basket_flat = self.basket.reshape(-1)
        cand = arrived & (aT < nH) & (basket_flat[bidx] > 0) & ~self.got.reshape(-1)[hflat]
        # of several turtlebots reaching the same human this step, the first in index order delivers
        clash = np.logical_or.reduce((hsel[:, :, None] == hsel[:, None, :]) & cand[:, None, :] & self._lower, 2)
        deliver = cand & ~clash  # [B, nT]
        basket_flat[bidx] -= deliver
        self.got.reshape(-1)[hflat[deliver]] = True
        bonus = deliver * (s.delivery_reward + s.late_penalty * (self.htl.reshape(-1)[hflat] <= 0))
        reward = s.step_reward + np.add.reduce(bonus, 1)  # [B]

        # ---- Fetch
        fa, fe = a[:, nT], e[:, nT]  # [B]
        tc = tb.tcost[fa]
        f_done = fe >= tc
        is_pass = (fa >= 1) & (fa <= nT)
        kflat = self._tb + tb.fetch_k[fa]  # the pass's turtlebot
        tl_k = tl.reshape(-1)[kflat]
        # a pass fails unless its turtlebot already waits at the table when it starts and when it ends
        start_ok = (cw.reshape(-1)[kflat] == GT) & (tl_k <= -1)
        failed = np.where(choosing[:, nT] & self._start_checked[fa], ~start_ok, self.failed)
        pass_end = is_pass & f_done
        ok = pass_end & ~failed & (tl_k < 0) & (aT.reshape(-1)[kflat] == GT)
        self.failed = failed & ~pass_end
        first = tb.pair_first[self.pair]  # next staged tool (-1: none)
        basket_flat[kflat * nO + np.maximum(first, 0)] += ok & (first >= 0)
        hit = kflat[ok]
        done_t.reshape(-1)[hit] = True  # the pass ends the turtlebot's get-tool
        tl.reshape(-1)[hit] = 0
        pair = np.where(ok, tb.pair_pop[self.pair], self.pair)
        reward = reward + s.drop_penalty * (pass_end & ~ok)
        # a search stages its tool if fewer than two are staged and that kind is not used up
        j = tb.fetch_j[fa]
        jflat = self._found_off + j
        found_flat = self.found.reshape(-1)
        push = (fa > nT) & f_done & (tb.pair_n[pair] < 2) & (found_flat[jflat] < tb.tools_per_kind)
        found_flat[jflat] += push
        self.pair = np.where(push, tb.pair_push[pair * nO + j], pair)

        # ---- termination: every human has received the tool of its second-to-last phase (its last tool)
        self.served = served = self.served | ((self.cs == nS - 2) & self.got)
        terminated = np.logical_and.reduce(served, 1)

        # ---- humans work on
        active = ~self.fin
        htl = self.htl - active
        adv = active & (htl <= 0) & self.got
        last = self.cs == nS - 1
        up = adv & ~last
        self.cs = cs = self.cs + up
        self.htl = np.where(up, tb.phase_flat[self._h_off + cs], htl)
        self.got &= ~(up & (cs < nS - 1))  # entering the last phase needs no further tool
        self.fin |= adv & last

        # ---- commit
        done = np.concatenate([done_t, f_done[:, None]], axis=1)  # [B, n]
        self.act, self.el, self.done = a, el, done
        self.cw, self.tl, self.moving = cw, tl, moving
        self.ftl, self.fact = tc - fe, fa
        self.t = t = self.t + 1
        truncated = (t >= self.horizon) & ~terminated
        self._any_done = bool(np.logical_or.reduce(terminated | truncated, None))
        real = self._real_obs()
        self.obs = obs = np.where(done[:, :, None], real, self.obs)
        return Step(
            obs=obs, real_obs=real, state=self._state(), reward=reward.astype(np.float32), terminated=terminated,
            truncated=truncated, choosing=done.copy(), macro_action=a, elapsed=el, action_mask=self._mask, t=t,
            extras={"success": terminated.astype(np.float32)},
        )

    # ------------------------------------------------------------------ observations and state
    def _real_obs(self) -> np.ndarray:
        """[B, n, obs_dim] float32: every agent's observation as the reference computes it at a decision point."""
        tb, nT, nH, nS = self.tab, self.nT, self.nH, self.nS
        loc = np.where(self.moving, nH + 2, self.cw)  # [B, nT] "moving" shares the start node's slot
        ph = self.cs.reshape(-1)[self._hb + np.minimum(loc, nH - 1)]
        rows = np.empty((self.batch_size, self.n_agents), np.int64)
        rows[:, :nT] = ((loc * nS + ph) * 3 + tb.pair_n[self.pair][:, None]) * tb.NB + self.basket @ tb.bpow
        beside = (self.cw == tb.GT) & ~self.moving  # standing on its table spot
        rows[:, nT] = tb.fetch_off + self.pair * (1 << nT) + beside @ tb.pow2
        return tb.obs_rows[rows]

    def _state(self) -> np.ndarray:
        """[B, state_dim] float32: the reference's ``get_state`` (generalised to three turtlebots)."""
        tb, nT, nO = self.tab, self.nT, self.nO
        B = self.batch_size
        st = np.empty((B, self.state_dim), np.float32)
        st[:, : 2 * nT] = tb.pos_state[self.pcode].reshape(B, -1)
        o = 2 * nT
        st[:, o : o + 2] = self._fetch_state
        o += 2
        st[:, o : o + nT * nO] = self.basket.reshape(B, -1)
        o += nT * nO
        in_hand = (self.fact >= 1) & (self.fact <= nT) & ~self.done[:, nT]
        st[:, o : o + 2 * nO] = tb.stage_state[self.pair * 2 + in_hand]
        o += 2 * nO
        st[:, o] = self.ftl / tb.tcost_ext[self.fact + 1]
        o += 1
        hidx = self._hum_off + self.cs * tb.R + self.htl  # row of tab.human_state
        st[:, o:] = tb.human_state[hidx].reshape(B, -1)
        return st

    @property
    def pos(self) -> np.ndarray:
        """[B, nT, 2] turtlebot positions (metres)."""
        return self.tab.pos_flat[self.pcode]

    # ------------------------------------------------------------------ rendering
    def render_rgb(self, index: int = 0) -> np.ndarray:
        return render_rgb(self, self._check_index(index))

    def render_ansi(self, index: int = 0) -> str:
        return render_ansi(self, self._check_index(index))

    def _check_index(self, index) -> int:
        if not isinstance(index, (int, np.integer)) or not 0 <= index < self.batch_size:
            raise ValueError(f"{self.name}: index must be an int in 0..{self.batch_size - 1}, got {index!r}")
        if self._last is None:
            raise RuntimeError(f"{self.name}: call reset() before rendering")
        self.sync()
        return int(index)

    def sync(self) -> None:
        """At B = 1, copy the Python stepper's state into the arrays (render and inspection read those)."""
        if self._sc is not None:
            self._sc.export()
