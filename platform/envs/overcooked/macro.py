"""Macro-action controller of the reference (``Overcooked_MA_V1``), vectorised over copies and agents.

:func:`primitives` turns each agent's running macro-action into this step's primitive move (and ends the
macro-actions the reference ends before moving); :func:`finished` applies the reference's end-of-step checks.
Targets are where the agent *believes* the item is (its belief vector, ``agent.obs`` in the reference), and the
agent's believed map (``pomap``) is the static layout overwritten by believed items, agents last.
"""
from __future__ import annotations

import numpy as np

from asyncmarl.platform.envs.overcooked import layout as L
from asyncmarl.platform.envs.overcooked.kitchen import IS_FOOD

# Macro indices shared by every map.
STAY_M, GET_T, GET_L, GET_O, GET_P1, GET_P2, KNIFE1, KNIFE2, DELIVER, CHOP = range(10)
COUNTER_M = 10  # "go to counter" on maps B and C
C11, C21, C31, C10 = L.cell(1, 1), L.cell(2, 1), L.cell(3, 1), L.cell(1, 0)
_ITEM_OF_MACRO = np.clip(np.arange(16) - 1, 0, L.DLV)  # macro "get/go to item" 1..8 -> item slot 0..7
# Per macro index (one lookup instead of several comparisons): which family it belongs to.
_M = np.arange(16)
IS_FOOD_M = (_M >= GET_T) & (_M <= GET_O)
IS_PLATE_M = (_M == GET_P1) | (_M == GET_P2)
IS_ITEM_M = IS_FOOD_M | IS_PLATE_M  # macros whose item can move away
IS_KNIFE_M = (_M == KNIFE1) | (_M == KNIFE2)
ENDS_ADJ_EMPTY_M = IS_KNIFE_M | (_M == DELIVER)  # end next to the target when empty-handed


def _believes_agent_at(bel: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """[B, 3] whether the agent's believed map shows an agent on ``cells`` [B, 3]."""
    return (bel[:, :, L.A0:] == cells[..., None]).any(-1)


def _believed_free(bel: np.ndarray, cells: np.ndarray, base: np.ndarray) -> np.ndarray:
    """[B, 3] whether the believed map shows the static code ``base`` (no believed item or agent) on ``cells``."""
    return ~(bel == cells[..., None]).any(-1) & base


def counter_target(lay: L.Layout, bel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """("go to counter") first believed-free divider cell in the reference's order: (found [B, 3], cell [B, 3])."""
    free = ~(bel[:, :, :, None] == lay.counter_seq).any(2)  # [B, 3, K]
    return free.any(-1), lay.counter_seq[free.argmax(-1)]


# Per agent, the item slots of its two teammates (their believed cells mark "agent" in its believed map).
_MATES = np.array([[L.A0 + j for j in range(L.N_AGENTS) if j != i] for i in range(L.N_AGENTS)])  # [3, 2]


def _astar(env, apos: np.ndarray, tgt: np.ndarray) -> np.ndarray:
    """[B, 3] the reference's A* first move from ``apos`` toward ``tgt`` on each agent's believed map."""
    bel = env.bel
    mates = bel[env.bi[..., None], env.ai[..., None], _MATES]  # [B, 3, 2]
    items = bel[:, :, :5]  # [B, 3, 5] believed cells of food and plates
    on_floor = env.lay.floor[items]
    if not np.count_nonzero(on_floor):
        return env.nav(apos, tgt, mates)
    # an item believed on a floor cell blocks it, unless a believed agent overrides it on the map
    blocks = on_floor & ~(items[..., None] == bel[:, :, None, L.A0:]).any(-1)
    return env.nav(apos, tgt, mates, np.where(blocks, items, L.Navigator.NONE))


def primitives(env, pos: np.ndarray) -> np.ndarray:
    """This step's primitive move [B, 3] for every agent; sets ``env.mac_done`` / ``env.chop_times`` in place.

    ``pos`` [B, 11] are the true item cells before the step.
    """
    k = env.kitchen
    m, bel, apos = env.cur_mac, env.bel, k.apos
    right = env.right_index
    prim = np.full(m.shape, L.STAY, np.int64)
    kind = env.macro_kind[m]  # [B, 3] 0 stay, 1 go to an item, 2 chop, 3 go to counter, 4 one-step move
    done = kind == 0
    chop = kind == 2
    navigate = kind == 1
    # the reference's deadlock escape: "deliver" from (1,1) with a teammate believed below steps right
    deliver_hack = navigate & (apos == C11)
    if np.count_nonzero(deliver_hack):
        deliver_hack &= (m == DELIVER) & _believes_agent_at(bel, np.full_like(apos, C21))
        navigate = navigate & ~deliver_hack
    go_counter = kind == 3
    move = kind == 4

    if np.count_nonzero(chop):
        nb = L.NEIGHBOUR[apos, :4]  # [B, 3, 4] cells right, down, left, up
        kn = k.knife_at[nb]  # [B, 3, 4]
        bi = env.bi[..., None]
        kh = k.knife_hold[bi, kn]  # [B, 3, 4] item on that knife (-1: none, or no knife there)
        cut = IS_FOOD[kh] & (k.chop[bi, kh] < 3)
        can = chop & cut.any(-1)
        prim = np.where(can, cut.argmax(-1), prim)
        env.chop_times += can
        full = can & (env.chop_times >= 3)
        env.chop_times[full] = 0
        done |= full | (chop & ~can)
    prim = np.where(deliver_hack, 0, prim)
    if np.count_nonzero(go_counter):
        found, tgt = counter_target(env.lay, bel)
        prim = np.where(go_counter & found, _astar(env, apos, tgt), prim)
        done |= go_counter & (~found | (L.MANHATTAN[apos, tgt] == 1))
    if np.count_nonzero(move):
        d = (m - right) & 3
        new = L.NEIGHBOUR[apos, d]
        prim = np.where(move & _believed_free(bel, new, env.lay.floor[new]), d, prim)
        done |= move
    if np.count_nonzero(navigate):
        prim, done = _navigate(env, pos, navigate, prim, done)
    env.mac_done = done
    return prim


def _navigate(env, pos, navigate, prim, done):
    """The reference's "go to item" branch: target cell, early exits, A* move, and the arrival cases."""
    k = env.kitchen
    m, bel, apos = env.cur_mac, env.bel, k.apos
    item = _ITEM_OF_MACRO[m]  # macro 1..8 -> item slot 0..7
    tgt = bel[env.bi, env.ai, item]  # [B, 3]
    inwin = (L.CHEBYSHEV[apos, tgt] <= env.radius) if env.radius else np.ones(tgt.shape, bool)
    is_food, is_plate, is_knife = IS_FOOD_M[m], IS_PLATE_M[m], IS_KNIFE_M[m]
    # a food the agent sees lying in a plate cannot be fetched
    in_plate = navigate & is_food & inwin & ((pos[:, None, L.P1] == tgt) | (pos[:, None, L.P2] == tgt))
    done = done | in_plate
    rest = navigate & ~in_plate
    # the reference's deadlock escape: heading for knife 1 from (3,1) with a teammate believed at (2,1)
    knife_hack = rest & (tgt == C10) & (apos == C31)
    if np.count_nonzero(knife_hack):
        knife_hack &= _believes_agent_at(bel, np.full_like(apos, C21))
        prim = np.where(knife_hack, 0, prim)
        rest &= ~knife_hack
    taken = rest & inwin & _believes_agent_at(bel, tgt)  # an agent stands on / holds the target
    done |= taken
    go = rest & ~taken
    step = _astar(env, apos, tgt)
    prim = np.where(go, step, prim)
    done |= go & (step == L.STAY)
    adj = go & (L.MANHATTAN[apos, tgt] == 1)
    done |= adj
    if np.count_nonzero(adj):
        h = k.hold
        holding = h >= 0
        h_food = IS_FOOD[h]
        h_chopped = k.chop[env.bi, h] >= 3
        # "get plate" holding chopped food: put it on the plate, then pick the plate up next step
        p = adj & is_plate & h_food
        done &= ~(p & h_chopped)
        stop = p & ~h_chopped
        stop |= adj & is_knife & ~holding
        kh = k.knife_hold[env.bi, k.knife_at[tgt]]  # [B, 3] item on the knife at the target, -1 if none
        raw_on_knife = IS_FOOD[kh] & (k.chop[env.bi, kh] < 3)
        stop |= adj & is_food & raw_on_knife
        moved_away = tgt != pos[env.bi, item]
        stop |= adj & IS_ITEM_M[m] & moved_away
        prim = np.where(stop, L.STAY, prim)
    return prim, done


def finished(env, pos: np.ndarray) -> None:
    """The reference's end-of-step checks (``_checkMacroActionDone``) on the post-step state, in place.

    The reference's "go to counter " check (trailing space) never matches, so by default an empty-handed agent
    ends "go to counter" one step after arriving, when :func:`primitives` sees it next to the counter. With the
    setting ``counter_ends_on_arrival`` it ends here, on arrival next to the first believed-free divider cell,
    or at once when there is none.
    """
    k = env.kitchen
    run = ~env.mac_done
    if not np.count_nonzero(run):
        return
    m, bel, apos = env.cur_mac, env.bel, k.apos
    empty = k.hold < 0
    item = _ITEM_OF_MACRO[m]
    tgt = bel[env.bi, env.ai, item]
    adj = L.MANHATTAN[apos, tgt] == 1
    end = run & ENDS_ADJ_EMPTY_M[m] & empty & adj
    raw = k.chop[env.bi, item] < 3
    end |= run & IS_FOOD_M[m] & adj & (k.knife_at[tgt] >= 0) & raw
    if env.right_index > COUNTER_M and env.settings.counter_ends_on_arrival:
        gc = run & (m == COUNTER_M) & empty
        if np.count_nonzero(gc):
            found, ctgt = counter_target(env.lay, bel)
            end |= gc & (~found | (L.MANHATTAN[apos, ctgt] == 1))
    end |= run & IS_ITEM_M[m] & (tgt != pos[env.bi, item])
    env.mac_done = env.mac_done | end
