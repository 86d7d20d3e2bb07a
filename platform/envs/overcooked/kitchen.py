"""The kitchen's dynamic state for ``B`` copies and the reference's primitive step on it.

The primitive step resolves agents one after another in index order, in passes, exactly as the reference's
``Overcooked_V1.step``: an agent walking into a teammate that has not acted yet waits for it (or swaps places
with it when the two walk into each other); moving into an item interacts with it (pick up, put down, plate,
chop, deliver). One pass is vectorised over copies; only the copies where something happens are touched.
"""
from __future__ import annotations

import numpy as np

from asyncmarl.platform.envs.overcooked import layout as L

# Cell codes an empty-handed agent picks up from a counter.
_PICKABLE = np.zeros(9, bool)
_PICKABLE[[L.TOMATO, L.LETTUCE, L.PLATE, L.ONION]] = True
_IS_FOOD_CODE = L.FOOD_OF_CODE >= 0
_KNIFE_AT = np.full(L.N_CELLS, -1)  # cell -> knife number (0, 1), filled per layout below
_FOOD_BITS = np.array([1, 2, 4])  # tomato, lettuce, onion
# Per item slot, padded so that slot -1 ("nothing") reads the last entry: food? plate?
IS_FOOD = np.array([True, True, True, False, False, False])
IS_PLATE = np.array([False, False, False, True, True, False])
_ORDER_MATTERS = np.zeros(9, bool)  # moving into a teammate or the delivery counter depends on who goes first
_ORDER_MATTERS[[L.AGENT, L.DELIVERY]] = True
_STAY_MARKS = -1 - np.arange(L.N_AGENTS)  # distinct non-cells for agents that stay


def task_bits(task: str) -> int:
    """Bit mask of the foods a recipe name contains (the reference matches names, so this is its set)."""
    return int(sum(b for b, name in zip(_FOOD_BITS, L.FOOD_NAMES, strict=True) if name in task))


class Kitchen:
    """Positions, holdings, chop progress and the map code grid of ``B`` copies (all int64/int8 arrays).

    Movable items (slots 0..4) are either on a cell (``ipos``), held by an agent (``holder``) or, for food, in a
    plate (``in_plate``); their true cell is derived from that, as the reference moves held items with agents.
    """

    def __init__(self, layout: L.Layout, batch_size: int, task: str, rewards: tuple[float, float, float]):
        self.lay = layout
        self.B = batch_size
        self.ar = np.arange(batch_size)
        self.bi = self.ar[:, None]  # [B, 1] copy index for fancy indexing
        self.task_bits = task_bits(task)
        # The reference pays the chopping reward when the food's name is a substring of the recipe.
        self.in_task = np.array([name in task for name in L.FOOD_NAMES])
        self.r_subtask, self.r_correct, self.r_wrong = rewards
        self.knife_at = np.full(L.N_CELLS, -1)  # cell -> knife number; -1 reads knife_hold's always-empty column
        self.knife_at[layout.init_pos[[L.K1, L.K2]]] = [0, 1]
        B = batch_size
        self.grid = np.zeros((B, L.N_CELLS), np.int8)  # [B, 49] the reference's map codes
        self.apos = np.zeros((B, L.N_AGENTS), np.int64)  # [B, 3] agent cells
        self.ipos = np.zeros((B, 5), np.int64)  # [B, 5] cell of each movable item while it lies on a cell
        self.holder = np.full((B, 5), -1, np.int64)  # [B, 5] agent holding the item, -1 if none
        self.hold = np.full((B, L.N_AGENTS), -1, np.int64)  # [B, 3] item slot an agent holds, -1 if none
        self.in_plate = np.full((B, L.N_FOOD), -1, np.int64)  # [B, 3] plate slot (3, 4) a food lies in, -1
        # [B, 12] chops each food slot has had (3 = chopped); columns 3.. stay 0 so any slot, -1 included, indexes it
        self.chop = np.zeros((B, L.N_ITEMS + 1), np.int64)
        self.knife_hold = np.full((B, 3), -1, np.int64)  # [B, 3] item slot on knife 0, 1 (-1: none); column 2 unused

    def reset(self, idx: np.ndarray) -> None:
        """Put copies ``idx`` back to the initial kitchen."""
        lay = self.lay
        self.grid[idx] = lay.init_grid
        self.apos[idx] = lay.init_pos[L.A0:]
        self.ipos[idx] = lay.init_pos[:5]
        self.holder[idx] = -1
        self.hold[idx] = -1
        self.in_plate[idx] = -1
        self.chop[idx] = 0
        self.knife_hold[idx] = -1

    def positions(self) -> np.ndarray:
        """[B, 11] true cell of every item slot (held items at their agent, plated food at its plate)."""
        pos = np.empty((self.B, L.N_ITEMS), np.int64)
        pos[:, L.K1:L.A0] = self.lay.init_pos[L.K1:L.A0]
        pos[:, L.A0:] = self.apos
        held = self.holder >= 0
        # held items sit on their agent: slot A0 + holder, or their own cell otherwise
        pos[:, :5] = np.where(held, pos[self.bi, L.A0 + self.holder], self.ipos)
        plated = (self.in_plate >= 0) & ~held[:, :3]
        pos[:, :3] = np.where(plated, pos[self.bi, self.in_plate], pos[:, :3])
        return pos

    # ------------------------------------------------------------------------- primitive step
    def step(self, prim: np.ndarray, reward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Execute primitive moves ``prim`` [B, 3] (0..3 moves, 4 stay) adding event rewards to ``reward`` [B]
        (it starts at the step penalty, as the reference's sum does); return (reward [B], delivered [B]).

        In a copy where no two agents target the same cell, none targets a teammate's cell and none delivers,
        the agents' moves commute, so all of them are applied at once; the other copies are resolved agent by
        agent in passes, as the reference does.
        """
        delivered = np.zeros(self.B, bool)
        go = prim != L.STAY  # [B, 3]
        if not np.count_nonzero(go):
            return reward, delivered
        tc = L.NEIGHBOUR[self.apos, prim]  # [B, 3] cell each agent moves into
        tn = self.grid[self.bi, tc]  # [B, 3] its map code
        mark = np.where(go, tc, _STAY_MARKS)
        hard = (mark[:, 0] == mark[:, 1]) | (mark[:, 0] == mark[:, 2]) | (mark[:, 1] == mark[:, 2])
        hard |= (go & _ORDER_MATTERS[tn]).any(1)
        easy = go & ~hard[:, None]
        if np.count_nonzero(easy):
            b, i = easy.nonzero()
            self._act(b, i, tc[b, i], tn[b, i], prim, None, reward, delivered)
        if np.count_nonzero(hard):
            moved = ~go | ~hard[:, None]  # [B, 3] agents already done this step
            for _ in range(L.N_AGENTS):  # a chain of waiting agents resolves within n passes
                for i in range(L.N_AGENTS):
                    b = (~moved[:, i]).nonzero()[0]
                    if len(b):
                        moved[b, i] = True
                        ib = np.full(len(b), i)
                        t = L.NEIGHBOUR[self.apos[b, i], prim[b, i]]
                        self._act(b, ib, t, self.grid[b, t], prim, moved, reward, delivered)
                if np.count_nonzero(moved) == moved.size:
                    break
        return reward, delivered

    def _act(self, b, i, tc, tn, prim, moved, reward, delivered) -> None:
        """Agents ``i`` in copies ``b`` move into cells ``tc`` (map codes ``tn``). ``moved`` [B, 3] tracks who
        has acted this step when a teammate may stand in the way (None when none does)."""
        a = self.apos[b, i]
        blk = tn == L.AGENT
        if np.count_nonzero(blk):
            bb, ib, ab, tb = b[blk], i[blk], a[blk], tc[blk]
            j = (self.apos[bb] == tb[:, None]).argmax(1)
            wait = ~moved[bb, j]  # the teammate has not acted yet: wait for it, or swap when it walks into us
            jd = prim[bb, j]
            swap = wait & (L.NEIGHBOUR[tb, jd] == ab)
            moved[bb[wait & ~swap], ib[wait & ~swap]] = False
            if np.count_nonzero(swap):
                bs, js = bb[swap], j[swap]
                self.apos[bs, js] = ab[swap]
                self.apos[bs, ib[swap]] = tb[swap]
                moved[bs, js] = True
        free = tn == L.SPACE
        if np.count_nonzero(free):
            bf = b[free]
            self.grid[bf, a[free]] = L.SPACE
            self.apos[bf, i[free]] = tc[free]
            self.grid[bf, tc[free]] = L.AGENT
        it = ~blk & ~free
        if np.count_nonzero(it):
            self._interact(i[it], b[it], tc[it], tn[it], reward, delivered)

    def _interact(self, i, b, tc, tn, reward, delivered) -> None:
        """Agents ``i`` in copies ``b`` move into non-walkable cells ``tc`` with map codes ``tn`` (one agent per
        cell, so the updates below never collide)."""
        h = self.hold[b, i]
        empty = h < 0
        chopped_h = self.chop[b, h] >= 3  # only food gets chopped; plates and "nothing" read 0
        knife = self.knife_at[tc]
        kh = self.knife_hold[b, knife]
        kh_food = IS_FOOD[kh]
        kh_chopped = self.chop[b, kh] >= 3
        on_knife = tn == L.KNIFE
        # the plate a "plate" cell names: the first plate lying there (reference _findItem)
        first_plate = np.where((self.holder[b, 3] < 0) & (self.ipos[b, 3] == tc), 3, 4)

        # ---- empty-handed: pick up from a counter, take from a knife, or chop
        pick = empty & _PICKABLE[tn]
        take = empty & on_knife & ((kh >= 3) | kh_chopped)
        chop = empty & on_knife & kh_food & ~kh_chopped
        if np.count_nonzero(pick) or np.count_nonzero(take):
            item = np.where(on_knife, kh, np.where(tn == L.PLATE, first_plate, L.FOOD_OF_CODE[tn]))
            got = pick | take
            bg, ig = b[got], item[got]
            self.hold[bg, i[got]] = ig
            self.holder[bg, ig] = i[got]
            self.grid[b[pick], tc[pick]] = L.COUNTER
            self.knife_hold[b[take], knife[take]] = -1
        if np.count_nonzero(chop):
            bc, fc = b[chop], kh[chop]
            self.chop[bc, fc] += 1
            done = self.chop[bc, fc] == 3
            np.add.at(reward, bc, np.where(done & self.in_task[fc], self.r_subtask, 0.0))

        full = ~empty
        # ---- holding: put down on a free counter or an empty knife
        put = full & ((tn == L.COUNTER) | (on_knife & (kh < 0)))
        # chopped food onto a plate on a counter
        plate = full & (tn == L.PLATE) & chopped_h
        # chopped food from a knife into the held plate; chopped held food onto a plate on a knife
        knife_to_plate = full & on_knife & kh_chopped & (h >= 3)
        food_to_knife_plate = full & on_knife & (kh >= 3) & chopped_h
        # chopped food from a counter into the held plate
        scoop = full & _IS_FOOD_CODE[tn] & (h >= 3) & (self.chop[b, L.FOOD_OF_CODE[tn]] >= 3)
        deliver = full & (tn == L.DELIVERY)
        if np.count_nonzero(put) or np.count_nonzero(plate):
            down = put | plate
            bd, hd = b[down], h[down]
            self.ipos[bd, hd] = tc[down]
            self.holder[bd, hd] = -1
            self.hold[bd, i[down]] = -1
            self.grid[b[put & ~on_knife], tc[put & ~on_knife]] = L.ITEM_CODE[h[put & ~on_knife]]
            self.knife_hold[b[put & on_knife], knife[put & on_knife]] = h[put & on_knife]
            self.in_plate[b[plate], h[plate]] = first_plate[plate]
        if np.count_nonzero(knife_to_plate):
            m = knife_to_plate
            self.knife_hold[b[m], knife[m]] = -1
            self.in_plate[b[m], kh[m]] = h[m]
        if np.count_nonzero(food_to_knife_plate):
            m = food_to_knife_plate
            bm = b[m]
            self.knife_hold[bm, knife[m]] = -1
            self.hold[bm, i[m]] = kh[m]
            self.holder[bm, kh[m]] = i[m]
            self.holder[bm, h[m]] = -1
            self.in_plate[bm, h[m]] = kh[m]
        if np.count_nonzero(scoop):
            f = L.FOOD_OF_CODE[tn[scoop]]
            self.in_plate[b[scoop], f] = h[scoop]
            self.grid[b[scoop], tc[scoop]] = L.COUNTER
        if np.count_nonzero(deliver):
            self._deliver(i[deliver], b[deliver], h[deliver], reward, delivered)

    def _deliver(self, i, b, h, reward, delivered) -> None:
        """Agents ``i`` in copies ``b`` (one per copy) hand items ``h`` to the delivery counter."""
        contents = (self.in_plate[b] == h[:, None]) & (h[:, None] >= 3)  # [n, 3] foods on the delivered plate
        bits = contents @ _FOOD_BITS
        ok = (h >= 3) & (bits == self.task_bits) & (bits > 0)
        reward[b] += np.where(ok, self.r_correct, self.r_wrong)
        delivered[b[ok]] = True
        self.hold[b, i] = -1
        self.holder[b, h] = -1
        self.ipos[b[ok], h[ok]] = self.lay.init_pos[L.DLV]
        bad = ~ok
        if np.count_nonzero(bad):
            # the wrong dish respawns: the item, and for a plate everything on it, go back to their start cells
            respawn = np.zeros((len(b), 5), bool)
            respawn[np.arange(len(b)), h] = True
            respawn[:, :3] |= contents
            respawn &= bad[:, None]
            rb, rs = np.nonzero(respawn)
            bb = b[rb]
            init = self.lay.init_pos[rs]
            self.ipos[bb, rs] = init
            self.holder[bb, rs] = -1
            self.grid[bb, init] = L.ITEM_CODE[rs]
            food = rs < 3
            self.in_plate[bb[food], rs[food]] = -1
            self.chop[bb[food], rs[food]] = 0
