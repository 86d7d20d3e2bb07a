"""Single-copy (B = 1) step of Warehouse Tool Delivery on plain Python numbers.

At ``B = 1`` every numpy call costs about a microsecond whatever its size, and the batched step needs over a
hundred of them; the reference steps in ~25 us. This stepper runs the same rules as ``WTDEnv._step`` (same
tables, same order: turtlebots, Fetch, termination, humans) on Python ints and lists. Its Step holds shared
read-only arrays for the observations (memoised per combination of table rows), reward and flags, and builds
the state and the per-agent arrays only when they are read (:meth:`Step.lazy`; the PettingZoo view reads the
Python lists instead). Tests check it against the batched step (B copies vs B single runs) and the reference.
"""
from __future__ import annotations

import numpy as np

from asyncmarl.platform.envs.base import Step


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


# shared read-only [1] flags (no allocation per step); Step consumers copy what they keep
_FLAG = {False: _frozen(np.zeros(1, bool)), True: _frozen(np.ones(1, bool))}
_SUCCESS = {False: _frozen(np.zeros(1, np.float32)), True: _frozen(np.ones(1, np.float32))}
_EXTRAS = {v: {"success": a} for v, a in _SUCCESS.items()}  # shared, like the arrays in them: read, never written
_OBS_MEMO = 1 << 14  # most observation combinations memoised at once (a few MB)


class ScalarStepper:
    """Python-number state and step of one copy; ``export`` writes it into the owning env's arrays."""

    def __init__(self, env):
        self.env = env
        tb, s = env.tab, env.settings
        self.nT, self.nH, self.nO, self.nS, self.n = env.nT, env.nH, env.nO, env.nS, env.n_agents
        self.GT, self.hold, self.nTA, self.E, self.NN = tb.GT, tb.hold, tb.nTA, tb.E, tb.NN
        self.wait_limit, self.cap = tb.wait_limit, tb.tools_per_kind
        self.moves = tb.moves_flat.tolist()
        self.tcost = tb.tcost.tolist()
        self.tcost_ext = tb.tcost_ext.tolist()
        self.pos_state = [tuple(r) for r in tb.pos_state.tolist()]
        self.stage_state = [tuple(r) for r in tb.stage_state.tolist()]
        self.human_state = [tuple(r) for r in tb.human_state.tolist()]
        self.phase = tb.phase_steps.tolist()
        self.pair_n, self.pair_first = tb.pair_n.tolist(), tb.pair_first.tolist()
        self.pair_pop, self.pair_push = tb.pair_pop.tolist(), tb.pair_push.tolist()
        self.bpow, self.NB, self.fetch_off = tb.bpow.tolist(), tb.NB, tb.fetch_off
        base = tb.tools_per_kind + 1
        # basket code -> tool counts per kind (the state lists counts; the stepper keeps codes)
        self.basket_of = [tuple(c // b % base for b in self.bpow) for c in range(tb.NB)]
        self.start_checked = env._start_checked.tolist()
        self.fetch_state = tuple(float(v) for v in env._fetch_state.astype(np.float64))
        self.start_code = tb.start_code.tolist()
        self.reward0, self.d_rew = s.step_reward, s.delivery_reward
        self.late, self.drop = s.late_penalty, s.drop_penalty
        self.horizon = s.horizon
        self.rows = tb.obs_rows
        self._obs_memo: dict[tuple, np.ndarray] = {}  # observation rows -> [1, n, obs_dim] (see _obs_of)
        self._rewards: dict[float, np.ndarray] = {}  # reward -> [1] float32, shared read-only
        self.mask = env._mask
        self.reset()

    def reset(self) -> None:
        nT, nH, nO = self.nT, self.nH, self.nO
        self.act, self.el, self.done = [0] * self.n, [0] * self.n, [True] * self.n
        self.cw, self.tl, self.moving = [nH + 2] * nT, [0] * nT, [False] * nT
        self.pcode = list(self.start_code)
        self.basket = [[0] * nO for _ in range(nT)]
        self.bcode = [0] * nT  # basket code: sum of count * bpow
        self.pair, self.found, self.failed, self.ftl, self.fact = 0, [0] * nO, False, 0, -1
        self.cs, self.htl = [0] * nH, [p[0] for p in self.phase]
        self.got, self.fin, self.served = [False] * nH, [False] * nH, [False] * nH
        self.t = 0
        self.over = False  # the episode ended at the last step
        self.obs_rows = self._rows()  # table rows of the macro-observations
        self.obs_arr = self._obs_of(self.obs_rows)  # and their [1, n, obs_dim] array

    # ------------------------------------------------------------------ step
    def step(self, row: list[int]) -> Step:
        """One step with actions ``row`` (one int per agent, validated)."""
        nT, nH, nO, nS, GT = self.nT, self.nH, self.nO, self.nS, self.GT
        prev_done = self.done
        a, el = list(row), [0] * self.n  # action run this step, steps of it run before this step
        for i, d in enumerate(prev_done):
            if not d:
                a[i], el[i] = self.act[i], self.el[i] + 1
        done = [False] * self.n
        reward = self.reward0
        cw, tl, moving, basket, cs, htl, got = self.cw, self.tl, self.moving, self.basket, self.cs, self.htl, self.got
        pcode, moves, NN, nTA, E, hold = self.pcode, self.moves, self.NN, self.nTA, self.E, self.hold

        # ---- turtlebots in index order
        for k in range(nT):
            ak, e = a[k], el[k] + 1
            fidx = (k * NN + cw[k]) * nTA + ak
            pcode[k] = fidx * (E + 1) + (e if e < E else E)
            if e <= moves[fidx]:
                moving[k], tl[k] = True, 1
                continue
            moving[k] = False
            fresh = tl[k] > 0
            if fresh:
                tl[k] = 0
            cw[k] = ak
            if fresh and ak == hold:
                continue
            if ak == GT:
                tl[k] -= 1
                if tl[k] <= -self.wait_limit:
                    tl[k], done[k] = -1, True
                continue
            done[k] = True
            if ak < nH and not got[ak]:  # deliver the tool this human needs, if carried
                need = cs[ak] if cs[ak] < nO else nO - 1
                if basket[k][need] > 0:
                    basket[k][need] -= 1
                    self.bcode[k] -= self.bpow[need]
                    got[ak] = True
                    reward += self.d_rew + (self.late if htl[ak] <= 0 else 0.0)

        # ---- Fetch
        fa, fe = a[nT], el[nT] + 1
        tc = self.tcost[fa]
        f_done = fe >= tc
        if 1 <= fa <= nT:
            k = fa - 1
            if prev_done[nT] and self.start_checked[fa]:
                self.failed = not (cw[k] == GT and tl[k] <= -1)
            if f_done:
                if not self.failed and tl[k] < 0 and a[k] == GT:
                    first = self.pair_first[self.pair]
                    if first >= 0:
                        basket[k][first] += 1
                        self.bcode[k] += self.bpow[first]
                    self.pair = self.pair_pop[self.pair]
                    done[k], tl[k] = True, 0
                else:
                    reward += self.drop
                self.failed = False
        elif fa > nT and f_done:
            j = fa - nT - 1
            if self.pair_n[self.pair] < 2 and self.found[j] < self.cap:
                self.found[j] += 1
                self.pair = self.pair_push[self.pair * nO + j]
        done[nT] = f_done

        # ---- termination, then the humans work on
        served, fin = self.served, self.fin
        for h in range(nH):
            if cs[h] == nS - 2 and got[h]:
                served[h] = True
        terminated = all(served)
        for h in range(nH):
            if fin[h]:
                continue
            htl[h] -= 1
            if htl[h] <= 0 and got[h]:
                if cs[h] == nS - 1:
                    fin[h] = True
                else:
                    cs[h] += 1
                    htl[h] = self.phase[h][cs[h]]
                    if cs[h] < nS - 1:
                        got[h] = False

        self.act, self.el, self.done = a, el, done
        self.ftl, self.fact = ftl, fact = tc - fe, fa
        self.t = t = self.t + 1
        truncated = t >= self.horizon and not terminated
        self.over = terminated or truncated
        real_rows = self._rows()
        if any(done):  # macro-observations change only for agents whose action ended
            self.obs_rows = [r if d else o for r, d, o in zip(real_rows, done, self.obs_rows, strict=True)]
            self.obs_arr = self._obs_of(self.obs_rows)
        # the state and the per-agent arrays are built only if read (a PettingZoo step reads neither)
        snap = (tuple(pcode), tuple(self.bcode), self.pair, fact, f_done, ftl, tuple(cs), tuple(htl))

        def fill() -> dict:
            return {"state": self._state(*snap), "choosing": np.array([done]), "t": np.array([t], np.int64),
                    "macro_action": np.array([a], np.int64), "elapsed": np.array([el], np.int64)}

        rewards = self._rewards
        r = rewards.get(reward)
        if r is None:
            r = rewards[reward] = _frozen(np.array([reward], np.float32))
        # positional: obs, real_obs, reward, terminated, truncated, action_mask, extras
        return Step.lazy(fill, (done, a, el), self.obs_arr, self._obs_of(real_rows), r, _FLAG[terminated],
                         _FLAG[truncated], self.mask, _EXTRAS[terminated])

    def _obs_of(self, rows: list[int]) -> np.ndarray:
        """[1, n, obs_dim] observations of table rows ``rows``: a shared read-only array per combination (a
        bounded memo: macro-observations repeat while agents are busy, and one lookup beats building it)."""
        key = tuple(rows)
        o = self._obs_memo.get(key)
        if o is None:
            if len(self._obs_memo) >= _OBS_MEMO:
                self._obs_memo.clear()
            o = self._obs_memo[key] = _frozen(self.rows.take([rows], 0))
        return o

    # ------------------------------------------------------------------ observations, state, export
    def _rows(self) -> list[int]:
        """Row of every agent's real observation in ``tab.obs_rows``."""
        nH, nS, NB = self.nH, self.nS, self.NB
        n_st = self.pair_n[self.pair]
        cw, cs, bcode = self.cw, self.cs, self.bcode
        rows, bits = [], 0
        for k, moving in enumerate(self.moving):
            if moving:  # "moving" shares the start node's location slot; no work phase seen
                rows.append(((nH + 2) * nS * 3 + n_st) * NB + bcode[k])
                continue
            loc = cw[k]
            rows.append(((loc * nS + (cs[loc] if loc < nH else 0)) * 3 + n_st) * NB + bcode[k])
            if loc == self.GT:  # standing on its table spot
                bits |= 1 << k
        rows.append(self.fetch_off + self.pair * (1 << self.nT) + bits)
        return rows

    def _snapshot(self) -> tuple:
        """What the state is computed from, as immutable values."""
        return (tuple(self.pcode), tuple(self.bcode), self.pair, self.fact, self.done[self.nT], self.ftl,
                tuple(self.cs), tuple(self.htl))

    def _state(self, pcode, bcode, pair, fact, fetch_done, ftl, cs, htl) -> np.ndarray:
        """[1, state_dim] float32 state of a :meth:`_snapshot`."""
        st = []
        for k in range(self.nT):
            st.extend(self.pos_state[pcode[k]])
        st.extend(self.fetch_state)
        for k in range(self.nT):
            st.extend(self.basket_of[bcode[k]])
        in_hand = 1 <= fact <= self.nT and not fetch_done
        st.extend(self.stage_state[pair * 2 + in_hand])
        st.append(ftl / self.tcost_ext[fact + 1])
        R, off = self.env.tab.R, self.env.tab.htl_off
        for h in range(self.nH):
            st.extend(self.human_state[(h * self.nS + cs[h]) * R + htl[h] + off])
        return np.array([st], np.float32)

    def step_result_reset(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(obs, real_obs, state) of a fresh episode, as [1, ...] arrays."""
        r = self.rows[self.obs_rows][None]
        return r, r.copy(), self._state(*self._snapshot())

    def export(self) -> None:
        """Write this state into the owning env's arrays (for rendering and inspection)."""
        env = self.env
        env.act[0], env.el[0], env.done[0] = self.act, self.el, self.done
        env.cw[0], env.tl[0], env.moving[0], env.pcode[0] = self.cw, self.tl, self.moving, self.pcode
        env.basket[0], env.pair[0], env.found[0], env.failed[0] = self.basket, self.pair, self.found, self.failed
        env.ftl[0], env.fact[0], env.t[0] = self.ftl, self.fact, self.t
        env.cs[0], env.htl[0], env.got[0] = self.cs, self.htl, self.got
        env.fin[0], env.served[0] = self.fin, self.served
