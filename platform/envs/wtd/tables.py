"""Lookup tables precomputed once per scenario so the batched step is mostly array indexing.

Turtlebot motion is deterministic (the reference's motion noise is 0 in every published run) and a macro-action
can only start at a node (a waypoint, or the start position), so every move is one of a few fixed paths. We
simulate each (turtlebot, origin node, target) path once with the reference's arithmetic (float64, the distance
rounded to 2 decimals, a move of ``speed`` along the straight line, arrival once within ``speed``) and index it
by the step number inside the action.

Node ids per turtlebot: ``0 .. nH-1`` work areas, ``nH`` tool-room waiting spot, ``nH+1`` its table spot,
``nH+2`` its start position (the reference's ``cur_BWP is None``). Turtlebot action ``a`` targets node ``a``.
"""
from __future__ import annotations

import numpy as np

from asyncmarl.platform.envs.wtd.settings import LAYOUTS, WTDSettings


def simulate_path(start, goal, speed: float) -> list[tuple[float, float]]:
    """Positions after 0, 1, ..., m moving steps from ``start`` toward ``goal`` (the arrival step snaps to goal)."""
    x, y = np.float64(start[0]), np.float64(start[1])
    gx, gy = float(goal[0]), float(goal[1])
    out = [(float(x), float(y))]
    while True:
        dist = np.round(np.sqrt((gx - x) ** 2 + (gy - y) ** 2), 2)
        if dist <= speed:
            return out
        x = x + speed / dist * (gx - x)
        y = y + speed / dist * (gy - y)
        out.append((float(x), float(y)))


class Tables:
    """Geometry, motion and observation tables of one scenario (plain numpy arrays, shared by all copies)."""

    def __init__(self, s: WTDSettings):
        lay = LAYOUTS[s.layout]
        self.nT, self.nH, self.nO = s.n_turtlebots, s.n_humans, s.n_tools
        self.nS = self.nO + 1  # human work phases
        nT, nH, nO, nS = self.nT, self.nH, self.nO, self.nS
        self.nTA = nH + 2  # turtlebot actions: go to work area 0..nH-1, go to tool room, get tool
        self.nFA = 1 + nT + nO  # fetch actions: wait, pass to turtlebot 0..nT-1, look for tool 0..nO-1
        self.GT = nH + 1  # get-tool action (and table node)
        self.NN = nH + 3  # nodes per turtlebot
        self.tools_per_kind = lay["tools_per_kind"]
        self.wait_limit = s.pass_steps + s.search_steps  # get-tool gives up after waiting this long
        # the action that ends its arrival step without finishing or waiting (get-tool, but see LAYOUTS)
        self.hold = self.GT if s.fix_reference_quirks else lay.get("hold_on_arrival", self.GT)

        # ---- node coordinates [nT, NN, 2]
        nodes = np.zeros((nT, self.NN, 2))
        for k in range(nT):
            nodes[k, :nH] = lay["work_areas"]
            nodes[k, nH] = lay["wait_spot"]
            nodes[k, nH + 1] = lay["tables"][k]
            nodes[k, nH + 2] = lay["starts"][k]
        self.nodes = nodes
        self.fetch_xy = np.asarray(lay["fetch"], np.float64)

        # ---- motion: m[k, o, a] moving steps before arrival; pos[k, o, a, e] position after step e (e > m: goal)
        paths = {}
        for k in range(nT):
            for o in range(self.NN):
                for a in range(self.nTA):
                    paths[k, o, a] = simulate_path(nodes[k, o], nodes[k, a], s.turtlebot_speed)
        self.E = max(len(p) for p in paths.values())  # = max m + 1: the arrival step of the longest path
        self.moves = np.zeros((nT, self.NN, self.nTA), np.int64)
        pos = np.zeros((nT, self.NN, self.nTA, self.E + 1, 2))
        for (k, o, a), p in paths.items():
            m = len(p) - 1
            self.moves[k, o, a] = m
            pos[k, o, a, : m + 1] = p
            pos[k, o, a, m + 1 :] = nodes[k, a]
        self.moves_flat = self.moves.reshape(-1)
        self.pos_flat = pos.reshape(-1, 2)  # row = position code (turtlebot, origin, action, step number)
        self.pos_state = self.pos_flat / np.array([7.0, 5.0])  # the reference's state entries x / 7, y / 5
        self.start_code = (np.arange(nT) * self.NN + nH + 2) * self.nTA * (self.E + 1)  # [nT] at the start

        # ---- turtlebot observation rows, indexed by ((loc * nS + phase there) * 3 + tools staged) * NB + basket
        # code (basket code = sum_j count_j * base**j). Layout: location one-hot (nH + 3, last = "moving /
        # unknown"), phase one-hots (nS per human), basket counts (nO), staged-tool indicator (one / two staged)
        self.obs_dim_T = self.NN + nS * nH + nO + 2
        self.obs_dim_F = nO + nT
        self.obs_dim = max(self.obs_dim_T, self.obs_dim_F)
        self.basket_off = self.NN + nS * nH
        base = self.tools_per_kind + 1  # a basket holds 0 .. tools_per_kind of each kind
        self.NB = base**nO
        self.bpow = (base ** np.arange(nO)).astype(np.int64)
        digits = (np.arange(self.NB)[:, None] // self.bpow) % base  # [NB, nO] counts of each basket code
        tb = np.zeros((self.NN, nS, 3, self.NB, self.obs_dim), np.float32)
        for loc in range(self.NN):
            tb[loc, :, :, :, loc] = 1.0
            for ph in range(nS):
                if loc < nH:
                    tb[loc, ph, :, :, self.NN + loc * nS + ph] = 1.0
                else:  # the staged-tool message is heard in the tool room (and, as in the reference, when
                    for n_st in (1, 2):  # the location is unknown)
                        tb[loc, ph, n_st, :, self.basket_off + nO + n_st - 1] = 1.0
        tb[..., self.basket_off : self.basket_off + nO] = digits
        tb_rows = tb.reshape(-1, self.obs_dim)

        # ---- staged pair code: (s0 + 1) * (nO + 1) + (s1 + 1), slot value -1 = empty
        self.n_pair = (nO + 1) ** 2
        staged_counts = np.zeros((self.n_pair, nO), np.float32)
        first = np.full(self.n_pair, -1, np.int64)
        for s0 in range(-1, nO):
            for s1 in range(-1, nO):
                c = (s0 + 1) * (nO + 1) + (s1 + 1)
                first[c] = s0
                for v in (s0, s1):
                    if v >= 0:
                        staged_counts[c, v] += 1.0
        # fetch observation rows, indexed by pair code * 2**nT + beside-table bits
        fo = np.zeros((self.n_pair, 2**nT, self.obs_dim), np.float32)
        for c in range(self.n_pair):
            for bits in range(2**nT):
                fo[c, bits, :nO] = staged_counts[c]
                fo[c, bits, nO : nO + nT] = [(bits >> k) & 1 for k in range(nT)]
        # one table for every agent's observation row; the Fetch's rows follow the turtlebots'
        self.fetch_off = len(tb_rows)
        self.obs_rows = np.concatenate([tb_rows, fo.reshape(-1, self.obs_dim)])
        # staged-pair bookkeeping: tools staged, the first (next to pass, -1 none), after popping it, after a push
        self.pair_n = np.zeros(self.n_pair, np.int64)
        self.pair_pop = np.zeros(self.n_pair, np.int64)
        self.pair_push = np.zeros(self.n_pair * nO, np.int64)
        for s0 in range(-1, nO):
            for s1 in range(-1, nO):
                c = (s0 + 1) * (nO + 1) + (s1 + 1)
                self.pair_n[c] = (s0 >= 0) + (s1 >= 0)
                self.pair_pop[c] = (s1 + 1) * (nO + 1)
                for j in range(nO):
                    self.pair_push[c * nO + j] = (j + 1) * (nO + 1) if s0 < 0 else (s0 + 1) * (nO + 1) + j + 1
        self.pair_first = first
        self.pow2 = (2 ** np.arange(nT)).astype(np.int64)
        # state rows for (pair code, fetch holds a tool in hand): staged counts, then the tool in hand (one-hot)
        st = np.zeros((self.n_pair, 2, 2 * nO), np.float32)
        st[:, :, :nO] = staged_counts[:, None]
        for c in range(self.n_pair):
            if first[c] >= 0:
                st[c, 1, nO + first[c]] = 1.0
        self.stage_state = st.reshape(-1, 2 * nO)

        # ---- fetch action durations (index fa + 1; -1 = no action yet, status 0)
        tcost = [1] + [s.pass_steps] * nT + [s.search_steps] * nO
        self.tcost = np.asarray(tcost, np.int64)
        self.tcost_ext = np.asarray([1] + tcost, np.float64)

        # fetch action -> its pass's turtlebot / its search's tool (clipped; used where the action is one)
        self.fetch_k = np.clip(np.arange(self.nFA) - 1, 0, nT - 1)
        self.fetch_j = np.clip(np.arange(self.nFA) - 1 - nT, 0, nO - 1)

        # ---- humans
        self.phase_steps = np.asarray(s.human_phase_steps, np.int64)  # [nH, nS]
        self.phase_flat = self.phase_steps.reshape(-1)
        # state block of a human: phase one-hot, then 1 - time_left / phase duration (or -1 while waiting),
        # indexed by (h * nS + phase) * R + time_left + horizon (time left never drops below 1 - horizon)
        self.R = int(self.phase_steps.max()) + s.horizon + 1
        self.htl_off = s.horizon
        hum = np.zeros((nH, nS, self.R, nS + 1))
        left = np.arange(self.R) - self.htl_off
        for h in range(nH):
            for ph in range(nS):
                hum[h, ph, :, ph] = 1.0
                hum[h, ph, :, nS] = np.where(left >= 0, 1.0 - left / self.phase_steps[h, ph], -1.0)
        self.human_state = hum.reshape(-1, nS + 1)
        # global state: agent positions (2 per agent), baskets, staged + in hand, fetch status, humans
        self.state_dim = 2 * (nT + 1) + nT * nO + 2 * nO + 1 + nH * (nS + 1)
