"""Single-copy (B = 1) step of macro-action Overcooked on plain Python numbers.

At ``B = 1`` the batched step (:mod:`~asyncmarl.platform.envs.overcooked.macro`, ``Kitchen.step``) spends its
time in the fixed cost of a few hundred small numpy calls. This stepper runs the very same rules, in the same
order, over the same tables (the kitchen layouts, neighbour and distance tables, the memoised A* of
:class:`~asyncmarl.platform.envs.overcooked.layout.Navigator`) on Python ints and lists:

1. the macro controller turns each agent's running macro-action into a primitive move (``primitives``);
2. the primitive step moves agents in index order, in passes (an agent walking into a teammate that has not
   acted yet waits for it, or they swap), and interacts with what it walks into (``Kitchen.step``);
3. the true item cells, each agent's window and belief, the end-of-step checks (``finished``), and the
   observations (``OvercookedEnv._views`` / ``_observe``).

Its Step holds the observation arrays and shared read-only reward and flags, and builds the state and the
per-agent arrays only when they are read (:meth:`Step.lazy`). :meth:`ScalarStepper.export` writes the Python
state into the env's arrays (rendering and inspection read those). A test steps this stepper and the batched
core with the same random actions over many episodes and compares every field of every step.
"""
from __future__ import annotations

import numpy as np

from asyncmarl.platform.envs.base import Step
from asyncmarl.platform.envs.overcooked import layout as L
from asyncmarl.platform.envs.overcooked import macro as M
from asyncmarl.platform.envs.overcooked.kitchen import _FOOD_BITS, _PICKABLE, IS_FOOD


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


_FLAG = {False: _frozen(np.zeros(1, bool)), True: _frozen(np.ones(1, bool))}
_SUCCESS = {False: _frozen(np.zeros(1, np.float32)), True: _frozen(np.ones(1, np.float32))}
_N = L.N_AGENTS
_A0, _DLV, _NONE = L.A0, L.DLV, L.Navigator.NONE
# Plain-Python copies of the tables (numpy scalar indexing costs more than the work it indexes).
_NEIGHBOUR = L.NEIGHBOUR.tolist()
_MANHATTAN = L.MANHATTAN.tolist()
_CHEBYSHEV = L.CHEBYSHEV.tolist()
_XY = [(x / L.SIZE, y / L.SIZE) for x, y in L.XY.tolist()]  # cell -> (x / 7, y / 7), as the batched core divides
_IS_FOOD = IS_FOOD.tolist()  # item slot (-1 reads the last entry, False) -> food?
_PICK = _PICKABLE.tolist()
_FOOD_OF_CODE = L.FOOD_OF_CODE.tolist()
_ITEM_CODE = L.ITEM_CODE.tolist()
_ITEM_OF_MACRO = M._ITEM_OF_MACRO.tolist()
_IS_FOOD_M, _IS_PLATE_M, _IS_KNIFE_M = M.IS_FOOD_M.tolist(), M.IS_PLATE_M.tolist(), M.IS_KNIFE_M.tolist()
_IS_ITEM_M, _ENDS_ADJ_EMPTY_M = M.IS_ITEM_M.tolist(), M.ENDS_ADJ_EMPTY_M.tolist()
_MATES = M._MATES.tolist()  # per agent, the belief slots of its two teammates
_FOOD_BITS_PY = _FOOD_BITS.tolist()
_AGENT, _SPACE, _COUNTER, _KNIFE, _PLATE, _DELIVERY = L.AGENT, L.SPACE, L.COUNTER, L.KNIFE, L.PLATE, L.DELIVERY
_STAY = L.STAY
_ORDER_MATTERS = (L.AGENT, L.DELIVERY)  # walking into these depends on who goes first
# per item slot, (offset, length) of its entries in the full-view vector: x, y (and chop progress for food)
_SPANS = [(3 * s, 3) if s < L.N_FOOD else (9 + 2 * (s - L.N_FOOD), 2) for s in range(L.N_ITEMS)]
_ZEROS = {2: (0.0, 0.0), 3: (0.0, 0.0, 0.0)}


class ScalarStepper:
    """Python-number state and step of one Overcooked copy; ``export`` writes it into the owning env's arrays."""

    def __init__(self, env):
        self.env = env
        s, lay, k = env.settings, env.lay, env.kitchen
        self.lay = lay
        self.floor = lay.floor.tolist()
        self.init_grid = lay.init_grid.tolist()
        self.init_pos = lay.init_pos.tolist()
        self.counter_seq = lay.counter_seq.tolist()
        self.knife_at = k.knife_at.tolist()
        self.in_task = k.in_task.tolist()
        self.task_bits = k.task_bits
        self.r_subtask, self.r_correct, self.r_wrong = k.r_subtask, k.r_correct, k.r_wrong
        self.step_penalty = s.step_penalty
        self.horizon = s.horizon
        self.radius = env.radius
        self.counter_on_arrival = env.right_index > M.COUNTER_M and s.counter_ends_on_arrival
        self.kind = env.macro_kind.tolist()
        self.right = env.right_index
        self.nav = env.nav
        self.onehot = env.onehot.tolist()
        self.mask = env.mask
        self._rewards: dict[float, np.ndarray] = {}  # reward -> [1] float32, shared read-only
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        self.grid = list(self.init_grid)  # [49] map codes
        self.apos = self.init_pos[_A0:]  # [3] agent cells
        self.ipos = self.init_pos[:5]  # [5] cell of each movable item while it lies on a cell
        self.holder = [-1] * 5  # agent holding each movable item
        self.hold = [-1] * _N  # item slot each agent holds
        self.in_plate = [-1] * L.N_FOOD  # plate slot a food lies in
        self.chop = [0] * (L.N_ITEMS + 1)  # chops per item slot; slot -1 reads the last, always-0 entry
        self.knife_hold = [-1] * 3  # item on knife 0, 1; entry 2 (knife -1) always -1
        self.bel = [list(self.init_pos) for _ in range(_N)]  # [3][11] believed cell of every item
        self.cur_mac = [0] * _N
        self.mac_done = [True] * _N
        self.chop_times = [0] * _N
        self.run_len = [0] * _N
        self.last_mac, self.last_elapsed = [0] * _N, [0] * _N
        self.t, self.reward, self.terminated, self.truncated = 0, 0.0, False, False
        self.pos = self._positions()
        self.full, inwin = self._views(self.pos)
        self.real = self._real(self.full, inwin)
        self.macro = list(self.real)  # per agent, the frozen macro-observation (a list of 32 floats)
        self.macro_arr = None  # the [1, 3, 32] array of ``macro`` while it is unchanged

    def reset_step(self) -> Step:
        """The Step of a fresh episode."""
        zeros = np.zeros((1, _N), np.int64)
        real = np.array([self.real], np.float32)
        self.macro_arr = _frozen(real.copy())
        return Step(
            obs=self.macro_arr, real_obs=real, state=self._state(self.full), reward=np.zeros(1, np.float32),
            terminated=np.zeros(1, bool), truncated=np.zeros(1, bool), choosing=np.ones((1, _N), bool),
            macro_action=zeros, elapsed=zeros.copy(), action_mask=self.mask, t=np.zeros(1, np.int64),
            extras={"success": np.zeros(1, np.float32)},
        )

    # ------------------------------------------------------------------ step
    def step(self, row: list[int]) -> Step:
        """One step with actions ``row`` (one int per agent, validated)."""
        choose = self.mac_done
        self.cur_mac = cur = [a if c else m for a, c, m in zip(row, choose, self.cur_mac, strict=True)]
        self.run_len = run = [0 if c else r + 1 for c, r in zip(choose, self.run_len, strict=True)]
        prim = self._primitives(self.pos)
        reward, delivered = self._kitchen_step(prim)
        self.pos = pos = self._positions()
        full, inwin = self._views(pos)
        self._update_belief(pos, inwin)
        self._finished(pos)
        real = self._real(full, inwin)
        done = self.mac_done
        if any(done):
            self.macro = [r if d else o for r, d, o in zip(real, done, self.macro, strict=True)]
            self.macro_arr = None
        self.t = t = self.t + 1
        truncated = t >= self.horizon and not delivered
        self.reward, self.terminated, self.truncated = reward, delivered, truncated
        self.last_mac, self.last_elapsed = cur, run
        self.full = full
        real_arr = np.array([real], np.float32)
        if self.macro_arr is None:
            self.macro_arr = _frozen(real_arr.copy() if all(done) else np.array([self.macro], np.float32))
        rewards = self._rewards
        r = rewards.get(reward)
        if r is None:
            r = rewards[reward] = _frozen(np.array([reward], np.float32))

        def fill() -> dict:  # the state and per-agent arrays, built only if read
            return {"state": self._state(full), "choosing": np.array([done]), "t": np.array([t], np.int64),
                    "macro_action": np.array([cur], np.int64), "elapsed": np.array([run], np.int64)}

        # positional: obs, real_obs, reward, terminated, truncated, action_mask, extras
        return Step.lazy(fill, (done, cur, run), self.macro_arr, real_arr, r, _FLAG[delivered], _FLAG[truncated],
                         self.mask, {"success": _SUCCESS[delivered]})

    # ------------------------------------------------------------------ observations and belief
    def _positions(self) -> list[int]:
        """True cell of every item slot (held items at their agent, plated food at its plate)."""
        pos = self.init_pos[:]
        pos[_A0:] = self.apos
        for s in range(5):
            h = self.holder[s]
            pos[s] = pos[_A0 + h] if h >= 0 else self.ipos[s]
        for f in range(L.N_FOOD):
            p = self.in_plate[f]
            if p >= 0 and self.holder[f] < 0:
                pos[f] = pos[p]
        return pos

    def _views(self, pos: list[int]) -> tuple[list[float], list[list[bool]]]:
        """(full-view vector [25], in-window [3][11]) of true item cells ``pos``."""
        full = []
        chop = self.chop
        for s in range(L.N_ITEMS):
            full.extend(_XY[pos[s]])
            if s < L.N_FOOD:
                full.append(chop[s] / 3)
        r = self.radius
        if r == 0:
            inwin = [[True] * L.N_ITEMS for _ in range(_N)]
        else:
            inwin = [[row[c] <= r for c in pos] for row in (_CHEBYSHEV[a] for a in self.apos)]
        return full, inwin

    def _real(self, full: list[float], inwin: list[list[bool]]) -> list[list[float]]:
        """Every agent's real observation (32 floats): the full view with items outside its window zeroed."""
        out = []
        for w in inwin:
            row = []
            for s, (o, n) in enumerate(_SPANS):
                row.extend(full[o:o + n] if w[s] else _ZEROS[n])
            row.extend(self.onehot)
            out.append(row)
        return out

    def _state(self, full: list[float]) -> np.ndarray:
        return np.array([full + self.onehot], np.float32)

    def _update_belief(self, pos: list[int], inwin: list[list[bool]]) -> None:
        """Seen items at their cell; a remembered cell now in view but empty of the item resets the belief to the
        item's start cell; other items stay where last seen."""
        if self.radius == 0:
            self.bel = [list(pos) for _ in range(_N)]
            return
        r, init = self.radius, self.init_pos
        for i in range(_N):
            cheb, b, w = _CHEBYSHEV[self.apos[i]], self.bel[i], inwin[i]
            for s in range(L.N_ITEMS):
                if w[s]:
                    b[s] = pos[s]
                elif cheb[b[s]] <= r:
                    b[s] = init[s]

    # ------------------------------------------------------------------ macro controller
    def _counter_target(self, bel: list[int]) -> tuple[bool, int]:
        """First believed-free divider cell in the reference's order: (found, cell)."""
        for c in self.counter_seq:
            if c not in bel:
                return True, c
        return False, self.counter_seq[0]

    def _astar(self, i: int, start: int, target: int) -> int:
        """The reference's A* first move of agent ``i`` on its believed map."""
        b = self.bel[i]
        mates = b[_A0:]
        blocked = tuple(c for c in b[:5] if self.floor[c] and c not in mates)
        m0, m1 = _MATES[i]
        return self.nav.move(start, target, b[m0], b[m1], blocked)

    def _primitives(self, pos: list[int]) -> list[int]:
        """This step's primitive move per agent; sets ``mac_done`` and ``chop_times`` (``macro.primitives``)."""
        prim = [_STAY] * _N
        done = [False] * _N
        for i in range(_N):
            m, apos, b = self.cur_mac[i], self.apos[i], self.bel[i]
            kind = self.kind[m]
            if kind == 0:  # stay
                done[i] = True
            elif kind == 2:  # chop the first raw food on a knife next to it (right, down, left, up)
                for d in range(4):
                    kh = self.knife_hold[self.knife_at[_NEIGHBOUR[apos][d]]]
                    if _IS_FOOD[kh] and self.chop[kh] < 3:
                        prim[i] = d
                        self.chop_times[i] += 1
                        if self.chop_times[i] >= 3:
                            self.chop_times[i] = 0
                            done[i] = True
                        break
                else:
                    done[i] = True
            elif kind == 3:  # go to counter
                found, tgt = self._counter_target(b)
                if found:
                    prim[i] = self._astar(i, apos, tgt)
                done[i] = not found or _MANHATTAN[apos][tgt] == 1
            elif kind == 4:  # one-step move into a believed-free floor cell
                d = (m - self.right) & 3
                new = _NEIGHBOUR[apos][d]
                if self.floor[new] and new not in b:
                    prim[i] = d
                done[i] = True
            elif m == M.DELIVER and apos == M.C11 and M.C21 in b[_A0:]:
                prim[i] = 0  # the reference's deadlock escape: "deliver" from (1,1) with a teammate below
            else:
                prim[i], done[i] = self._navigate(i, m, apos, b, pos)
        self.mac_done = done
        return prim

    def _navigate(self, i: int, m: int, apos: int, b: list[int], pos: list[int]) -> tuple[int, bool]:
        """The "go to item" branch (``macro._navigate``) for agent ``i``: (primitive move, macro-action done)."""
        item = _ITEM_OF_MACRO[m]
        tgt = b[item]
        inwin = _CHEBYSHEV[apos][tgt] <= self.radius if self.radius else True
        is_food = _IS_FOOD_M[m]
        if is_food and inwin and (pos[L.P1] == tgt or pos[L.P2] == tgt):
            return _STAY, True  # a food seen lying in a plate cannot be fetched
        if tgt == M.C10 and apos == M.C31 and M.C21 in b[_A0:]:
            return 0, False  # the reference's deadlock escape toward knife 1
        if inwin and tgt in b[_A0:]:
            return _STAY, True  # an agent stands on / holds the target
        step = self._astar(i, apos, tgt)
        done = step == _STAY
        if _MANHATTAN[apos][tgt] != 1:
            return step, done
        # next to the target: the move interacts with it, except in the cases the reference stops first
        h = self.hold[i]
        h_chopped = self.chop[h] >= 3
        p = _IS_PLATE_M[m] and _IS_FOOD[h]
        done = not (p and h_chopped)  # "get plate" holding chopped food: plate it, pick the plate up next step
        stop = p and not h_chopped
        stop = stop or _IS_KNIFE_M[m] and h < 0
        kh = self.knife_hold[self.knife_at[tgt]]
        stop = stop or is_food and _IS_FOOD[kh] and self.chop[kh] < 3
        stop = stop or _IS_ITEM_M[m] and tgt != pos[item]
        return (_STAY if stop else step), done

    def _finished(self, pos: list[int]) -> None:
        """The reference's end-of-step checks (``macro.finished``) on the post-step state."""
        done = self.mac_done
        for i in range(_N):
            if done[i]:
                continue
            m, apos, b = self.cur_mac[i], self.apos[i], self.bel[i]
            empty = self.hold[i] < 0
            item = _ITEM_OF_MACRO[m]
            tgt = b[item]
            adj = _MANHATTAN[apos][tgt] == 1
            end = _ENDS_ADJ_EMPTY_M[m] and empty and adj
            end = end or _IS_FOOD_M[m] and adj and self.knife_at[tgt] >= 0 and self.chop[item] < 3
            if self.counter_on_arrival and m == M.COUNTER_M and empty:
                found, ctgt = self._counter_target(b)
                end = end or not found or _MANHATTAN[apos][ctgt] == 1
            end = end or _IS_ITEM_M[m] and tgt != pos[item]
            if end:
                done[i] = True

    # ------------------------------------------------------------------ primitive step
    def _kitchen_step(self, prim: list[int]) -> tuple[float, bool]:
        """Execute the primitive moves (``Kitchen.step``); returns (reward, delivered)."""
        self._r = self.step_penalty
        self._delivered = False
        go = [p != _STAY for p in prim]
        if not any(go):
            return self._r, False
        apos, grid = self.apos, self.grid
        tc = [_NEIGHBOUR[apos[i]][prim[i]] for i in range(_N)]
        marks = [tc[i] if go[i] else -1 - i for i in range(_N)]
        hard = len(set(marks)) < _N or any(go[i] and grid[tc[i]] in _ORDER_MATTERS for i in range(_N))
        if not hard:  # no shared target, no teammate or delivery in the way: the moves commute
            for i in range(_N):
                if go[i]:
                    self._act(i, tc[i], grid[tc[i]], prim, None)
            return self._r, self._delivered
        moved = [not g for g in go]
        for _ in range(_N):  # a chain of waiting agents resolves within n passes
            for i in range(_N):
                if not moved[i]:
                    moved[i] = True
                    t = _NEIGHBOUR[apos[i]][prim[i]]
                    self._act(i, t, grid[t], prim, moved)
            if all(moved):
                break
        return self._r, self._delivered

    def _act(self, i: int, tc: int, tn: int, prim: list[int], moved: list[bool] | None) -> None:
        """Agent ``i`` moves into cell ``tc`` (map code ``tn``)."""
        apos = self.apos
        a = apos[i]
        if tn == _AGENT:
            j = apos.index(tc)
            if not moved[j]:  # the teammate has not acted yet: wait for it, or swap when it walks into us
                if _NEIGHBOUR[tc][prim[j]] == a:
                    apos[j], apos[i] = a, tc
                    moved[j] = True
                else:
                    moved[i] = False
        elif tn == _SPACE:
            self.grid[a] = _SPACE
            apos[i] = tc
            self.grid[tc] = _AGENT
        else:
            self._interact(i, tc, tn)

    def _interact(self, i: int, tc: int, tn: int) -> None:
        """Agent ``i`` moves into the non-walkable cell ``tc`` with map code ``tn`` (``Kitchen._interact``)."""
        h = self.hold[i]
        chop, holder, knife_hold, grid = self.chop, self.holder, self.knife_hold, self.grid
        knife = self.knife_at[tc]
        kh = knife_hold[knife]
        kh_chopped = chop[kh] >= 3
        on_knife = tn == _KNIFE
        if h < 0:  # empty-handed: pick up from a counter, take from a knife, or chop
            pick = _PICK[tn]
            take = on_knife and (kh >= 3 or kh_chopped)
            if pick or take:
                if on_knife:
                    item = kh
                elif tn == _PLATE:
                    item = 3 if holder[3] < 0 and self.ipos[3] == tc else 4  # the first plate lying there
                else:
                    item = _FOOD_OF_CODE[tn]
                self.hold[i] = item
                holder[item] = i
                if pick:
                    grid[tc] = _COUNTER
                if take:
                    knife_hold[knife] = -1
            elif on_knife and _IS_FOOD[kh] and not kh_chopped:
                chop[kh] += 1
                if chop[kh] == 3 and self.in_task[kh]:
                    self._r += self.r_subtask
            return
        chopped_h = chop[h] >= 3
        if tn == _COUNTER or on_knife and kh < 0:  # put down
            self.ipos[h] = tc
            holder[h] = -1
            self.hold[i] = -1
            if on_knife:
                knife_hold[knife] = h
            else:
                grid[tc] = _ITEM_CODE[h]
        elif tn == _PLATE and chopped_h:  # chopped food onto a plate on a counter
            first_plate = 3 if holder[3] < 0 and self.ipos[3] == tc else 4
            self.ipos[h] = tc
            holder[h] = -1
            self.hold[i] = -1
            self.in_plate[h] = first_plate
        elif on_knife and kh_chopped and h >= 3:  # chopped food from a knife into the held plate
            knife_hold[knife] = -1
            self.in_plate[kh] = h
        elif on_knife and kh >= 3 and chopped_h:  # chopped held food onto a plate on a knife: take the plate
            knife_hold[knife] = -1
            self.hold[i] = kh
            holder[kh] = i
            holder[h] = -1
            self.in_plate[h] = kh
        elif _FOOD_OF_CODE[tn] >= 0 and h >= 3 and chop[_FOOD_OF_CODE[tn]] >= 3:  # chopped food into the plate
            self.in_plate[_FOOD_OF_CODE[tn]] = h
            grid[tc] = _COUNTER
        elif tn == _DELIVERY:
            self._deliver(i, h)

    def _deliver(self, i: int, h: int) -> None:
        """Agent ``i`` hands item ``h`` to the delivery counter (``Kitchen._deliver``)."""
        contents = [h >= 3 and p == h for p in self.in_plate]  # foods on the delivered plate
        bits = sum(b for b, c in zip(_FOOD_BITS_PY, contents, strict=True) if c)
        ok = h >= 3 and bits == self.task_bits and bits > 0
        self._r += self.r_correct if ok else self.r_wrong
        self.hold[i] = -1
        self.holder[h] = -1
        if ok:
            self._delivered = True
            self.ipos[h] = self.init_pos[_DLV]
            return
        # the wrong dish respawns: the item, and for a plate everything on it, go back to their start cells
        for s in range(5):
            if s == h or s < L.N_FOOD and contents[s]:
                init = self.init_pos[s]
                self.ipos[s] = init
                self.holder[s] = -1
                self.grid[init] = _ITEM_CODE[s]
                if s < L.N_FOOD:
                    self.in_plate[s] = -1
                    self.chop[s] = 0

    # ------------------------------------------------------------------ export
    def export(self) -> None:
        """Write this state into the owning env's arrays (for rendering and inspection)."""
        env, k = self.env, self.env.kitchen
        k.grid[0], k.apos[0], k.ipos[0], k.holder[0] = self.grid, self.apos, self.ipos, self.holder
        k.hold[0], k.in_plate[0], k.chop[0], k.knife_hold[0] = self.hold, self.in_plate, self.chop, self.knife_hold
        env.bel = np.array([self.bel], np.int64)
        env.cur_mac = np.array([self.cur_mac], np.int64)
        env.mac_done = np.array([self.mac_done])
        env.chop_times = np.array([self.chop_times], np.int64)
        env.run_len = np.array([self.run_len], np.int64)
        env.last_mac = np.array([self.last_mac], np.int64)
        env.last_elapsed = np.array([self.last_elapsed], np.int64)
        env.macro_obs = np.array([self.macro], np.float32)
        env.t = np.array([self.t], np.int64)
        env.reward = np.array([self.reward], np.float32)
        env.terminated = np.array([self.terminated])
        env.truncated = np.array([self.truncated])
        env.pos = np.array([self.pos], np.int64)
