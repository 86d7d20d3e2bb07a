"""BoxPushing geometry and the lookup tables its batched core steps with.

Cells are integer ``(x, y)`` with ``y`` growing upwards (row 0 at the bottom, the goal is row ``L - 1``); the
reference's float coordinates are cell centres, ``x + 0.5``. Orientation ``0 up, 1 right, 2 down, 3 left``.

An agent's *pose* packs its cell, orientation and ``bwpc`` (which big-box waypoint the agent last reached by a
go-to action: 0 none or a small-box waypoint, 1 big-box spot 0, 2 big-box spot 1; the reference keeps this as
``cur_BWP`` and never clears it) into one integer. The pose grid reaches past the walls because the reference's
low-level controller can step one cell outside the grid, and agents riding the big box are carried above it.

The per-agent outcome of one step is a pure function of (action row, "a box is in front", pose) as long as no box
has left its start row (the go-to controller treats cells of small box 0's *current* row as obstacles). The
tables hold that function; the core falls back to :func:`move_exact` for copies where small box 0 has moved.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

DX = np.array([0, 1, 0, -1])  # per orientation: up, right, down, left
DY = np.array([1, 0, -1, 0])
# Go-to controller cost of heading in direction d while facing o: 0 straight on, 0.1 a quarter turn, 0.2 reverse.
COST = np.array([[0.0, 0.1, 0.2, 0.1], [0.1, 0.0, 0.1, 0.2], [0.2, 0.1, 0.0, 0.1], [0.1, 0.2, 0.1, 0.0]])

# Table rows (the action an agent executes this step).
ROW_PUSH_CHOSEN = 4  # push chosen this step: may start a joint big-box push
ROW_PUSH_BUSY = 8  # push continued from an earlier step
ROW_RIDE = 9  # locked into the joint big-box push: carried one row up
N_ROWS = 10
RIDE = 16  # internal "current action" code of an agent locked into the big-box push (reported as 4)
NO_BOX = 3  # box index meaning "no box column" (column 3 of the per-copy box rows is a sentinel, never a row)
NO_PUSH = 4  # box index meaning "pushes no box" (column 4 of the box rows is scratch that absorbs the increment)


@dataclass(frozen=True)
class Layout:
    """Start positions of one grid size, in cells (from the reference's ``createAgents``/``createBoxes``)."""

    L: int
    small_x: tuple[int, int]  # columns of small boxes 0 and 1 (and of their waypoints)
    big_x: int  # left column of the big box (it covers big_x and big_x + 1)
    box_row: int  # row all boxes start in (just above the middle)
    waypoints: tuple[tuple[int, int], ...]  # (x, y) of the 4 waypoints, in go-to action order
    agent_start: tuple[tuple[int, int, int], ...]  # (x, y, orientation) of agent_0, agent_1

    @classmethod
    def of(cls, L: int) -> Layout:
        off = 1 if L >= 8 else 0  # L = 6 puts small boxes against the walls, larger grids one cell in
        half = L // 2
        sx = (off, L - 1 - off)
        wps = ((sx[0], half - 1), (sx[1], half - 1), (half - 1, half - 1), (half, half - 1))
        return cls(L, sx, half - 1, half, wps, ((sx[0], 1, 1), (sx[1], 1, 3)))


class Tables:
    """Pose encoding and the per-agent outcome tables of one grid size (built once per size, shared)."""

    def __init__(self, L: int):
        lay = Layout.of(L)
        self.layout = lay
        self.L = L
        self.xmin, self.ymin = -2, -2
        self.W = L + 4  # columns -2 .. L + 1
        self.H = L + L // 2 + 4  # rows -2 .. L + L//2 + 1 (riders are carried up to L + L//2 - 2)
        self.P = self.H * self.W * 12  # poses: cell x orientation x bwpc
        self.row_stride = self.W * 12  # pose offset of one row up
        # column -> box whose column it is (boxes only ever move up, so this never changes)
        colbox = np.full(self.W, NO_BOX, np.int64)
        colbox[lay.small_x[0] - self.xmin] = 0
        colbox[lay.small_x[1] - self.xmin] = 1
        colbox[lay.big_x - self.xmin] = 2
        colbox[lay.big_x + 1 - self.xmin] = 2
        self.obstacle_cols = np.array([lay.small_x[0], lay.small_x[1], lay.big_x, lay.big_x + 1])

        p = np.arange(self.P)
        self.PB = p % 3  # bwpc
        self.PO = (p // 3) % 4  # orientation
        self.PX = (p // 12) % self.W + self.xmin
        self.PY = p // self.row_stride + self.ymin
        fx, fy = self.PX + DX[self.PO], self.PY + DY[self.PO]
        fcol = np.clip(fx - self.xmin, 0, self.W - 1)
        inside_f = (fx >= self.xmin) & (fx < self.xmin + self.W)
        self.KF = np.where(inside_f, colbox[fcol], NO_BOX)  # [P] box whose column is in front
        self.FY = fy  # [P] row of the cell in front
        self.NC = self.W * self.H  # cells of the pose grid
        self.CELL = (self.PY - self.ymin) * self.W + (self.PX - self.xmin)  # [P] own cell id
        inside = inside_f & (fy >= self.ymin) & (fy < self.ymin + self.H)
        # [P] front cell id; fronts off the pose grid (unreachable poses) get an id no agent can have
        self.FC = np.where(inside, (fy - self.ymin) * self.W + (fx - self.xmin), self.NC + 5)
        # MATE8[front cell - teammate's cell] is 8 (the teammate obs bit) exactly when the difference is 0;
        # negative differences index from the end, where the table is 0
        self.MATE8 = np.zeros(2 * self.NC + 11, np.int64)
        self.MATE8[0] = 8
        # Box rows are kept per copy with a sentinel row for "no box"; HITP[row of the front column's box - front
        # row] is P (select the "box in front" half of the tables) exactly when the difference is 0.
        self.SENTINEL = -4 * self.H
        self.HITP = np.zeros(12 * self.H, np.int64)
        self.HITP[0] = self.P
        wall = (fx < 0) | (fx > L - 1) | (fy < 0) | (fy > L - 1)
        # obs code bits: 1 small box, 2 big box, 4 wall, 8 teammate ("empty" when none is set)
        box_bits = np.where(self.KF == 2, 2, np.where(self.KF < 2, 1, 0))
        self.OBI = np.concatenate([wall * 4, wall * 4 + box_bits]).astype(np.int64)  # [2P] by (hit, pose)
        # state rows: x/L, y/L, one-hot orientation (reference get_state, float coordinates)
        sa = np.zeros((self.P, 6), np.float32)
        sa[:, 0] = (self.PX + 0.5) / L
        sa[:, 1] = (self.PY + 0.5) / L
        sa[p, 2 + self.PO] = 1.0
        self.SA = sa
        self.SA0 = np.concatenate([sa, np.zeros((self.P, 12), np.float32)], 1)  # [P, 18] agent_0's part of the state
        self.SA1 = np.concatenate([np.zeros((self.P, 6), np.float32), sa, np.zeros((self.P, 6), np.float32)], 1)
        self.ISOBS = np.zeros(self.W + 2, bool)  # by column - xmin (clipped): one of the four box columns
        self.ISOBS[self.obstacle_cols - self.xmin] = True
        self._build_outcomes()

    # ------------------------------------------------------------------ encoding
    def encode(self, x, y, ori, bwpc) -> np.ndarray:
        """Pose index of cell ``(x, y)``, orientation and bwpc (positions clipped into the pose grid)."""
        xi = np.clip(np.asarray(x) - self.xmin, 0, self.W - 1)
        yi = np.clip(np.asarray(y) - self.ymin, 0, self.H - 1)
        return ((yi * self.W + xi) * 4 + np.asarray(ori)) * 3 + np.asarray(bwpc)

    # ------------------------------------------------------------------ exact dynamics
    def move_exact(self, x, y, ori, goal, y0):
        """One step of the reference's greedy go-to controller towards waypoint ``goal`` (arrays, any shape).

        Obstacles are the box columns in row ``y0`` (small box 0's current row, as the reference has it).
        Returns ``(x, y, ori, done)``.
        """
        wp = np.array(self.layout.waypoints)
        gx, gy = wp[goal, 0], wp[goal, 1]
        at = (x == gx) & (y == gy)
        cx = x[..., None] + DX  # [..., 4] neighbour cells
        cy = y[..., None] + DY
        h = (np.abs(gx[..., None] - cx) + np.abs(gy[..., None] - cy)).astype(np.float64)
        blocked = (cy == np.asarray(y0)[..., None]) & self.ISOBS[np.clip(cx - self.xmin, 0, self.W + 1)]
        h[blocked] = np.inf
        d = np.argmin(h + COST[ori], axis=-1)
        rel = (d - ori) % 4  # 0 straight on (step), 2 reverse (turn right), else turn to face d
        step = rel == 0
        nx = np.where(step, x + DX[d], x)
        ny = np.where(step, y + DY[d], y)
        nori = np.where(step, ori, np.where(rel == 2, (ori + 1) % 4, d))
        done = (nx == gx) & (ny == gy) & (nori == 0)
        nx, ny = np.where(at, x, nx), np.where(at, y, ny)
        nori = np.where(at, 0, nori)
        return nx, ny, nori, at | done

    def _at_wall(self, x, y, o):
        """Facing the wall from the cell next to it (the reference's exact-position test)."""
        L = self.L
        return ((o == 0) & (y == L - 1)) | ((o == 1) & (x == L - 1)) | ((o == 2) & (y == 0)) | ((o == 3) & (x == 0))

    def _build_outcomes(self) -> None:
        L, P = self.L, self.P
        x, y, o, b = self.PX, self.PY, self.PO, self.PB
        n = N_ROWS * 2 * P
        NP = np.zeros(n, np.int64)  # next pose
        DN = np.zeros(n, bool)  # action ends this step
        PEN = np.zeros(n, bool)  # wall hit or illegal push
        PUSHK = np.full(n, NO_PUSH, np.int64)  # small box pushed one row up (NO_PUSH: none)
        READY = np.zeros(n, np.int64)  # bwpc of an agent that chose push facing up (joint push candidate)

        def put(row, hit, npose, dn, pen=False, pushk=NO_PUSH, ready=0):
            sl = slice((row * 2 + hit) * P, (row * 2 + hit + 1) * P)
            NP[sl], DN[sl], PEN[sl], PUSHK[sl], READY[sl] = npose, dn, pen, pushk, ready

        for hit in (0, 1):
            for g in range(4):
                nx, ny, no, dn = self.move_exact(x, y, o, np.full(P, g), self.layout.box_row)
                nb = np.where(dn, {2: 1, 3: 2}.get(g, 0), b)
                put(g, hit, self.encode(nx, ny, no, nb), dn)
            # push: wall in front -> penalty; else step forward into the front cell, then
            #   small box there and facing up -> it moves up with the agent (ends when it reaches the goal row);
            #   any other box there -> bounce back, penalty; nothing there -> ends at the wall.
            edge = self._at_wall(x, y, o)
            fx, fy = x + DX[o], y + DY[o]
            pushes = (hit == 1) & (o == 0) & (self.KF < 2) & ~edge
            bounce = (hit == 1) & ~pushes & ~edge
            stay = edge | bounce
            npose = np.where(stay, np.arange(P), self.encode(fx, fy, o, b))
            dn = stay | np.where(pushes, fy + 1 == L - 1, self._at_wall(fx, fy, o))
            pushk = np.where(pushes, self.KF, NO_PUSH)
            put(ROW_PUSH_BUSY, hit, npose, dn, stay, pushk)
            put(ROW_PUSH_CHOSEN, hit, npose, dn, stay, pushk, np.where(o == 0, b, 0))
            put(5, hit, self.encode(x, y, (o + 3) % 4, b), True)
            put(6, hit, self.encode(x, y, (o + 1) % 4, b), True)
            put(7, hit, np.arange(P), True)
            put(ROW_RIDE, hit, np.minimum(np.arange(P) + self.row_stride, P - 1), False)
        self.NP, self.DN, self.PEN, self.PUSHK, self.READY = NP, DN, PEN, PUSHK, READY
        # slow-path trigger: a small box moves, or a joint big-box push may start
        self.SPECIAL = (PUSHK != NO_PUSH) | (READY > 0)
        self.PC = PEN.astype(np.int64)  # penalties of the outcome (0 or 1)
        # go-to outcomes with small box 0 in any row y0 >= its start row,
        # at index (goal * NY + y0 - box_row) * P + pose
        ny = L - self.layout.box_row
        g, y0 = np.repeat(np.arange(4), ny * P), np.tile(np.repeat(np.arange(ny) + self.layout.box_row, P), 4)
        xx, yy, oo, bb = (np.tile(v, 4 * ny) for v in (x, y, o, b))
        nx, nyy, no, dn = self.move_exact(xx, yy, oo, g, y0)
        self.MOVEY_NP = self.encode(nx, nyy, no, np.where(dn, np.array([0, 0, 1, 2])[g], bb))
        self.MOVEY_DN = dn
        self._movey_stride = ny * P
        self.KEEP = np.where(DN, 0, -1).astype(np.int64)  # elapsed mask for the next step: 0 restarts the count
        # e2 (chosen action 0..7, or current action + 8 for a busy agent, RIDE) -> offset of its table row
        rows = np.array([0, 1, 2, 3, ROW_PUSH_CHOSEN, 5, 6, 7, 0, 1, 2, 3, ROW_PUSH_BUSY, 5, 6, 7, ROW_RIDE])
        self.ES = rows * 2 * P
        self.IS_MOVE = np.array([True] * 4 + [False] * 4 + [True] * 4 + [False] * 5)  # by e2
        self.GOAL = np.array([0, 1, 2, 3, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0])  # by e2
        # e2 -> the agent's current action code after this step; and code -> reported macro-action index
        self.NEXTCUR = np.array(list(range(8, 16)) + list(range(8, 16)) + [RIDE])
        self.REPORT = np.array([0] * 8 + list(range(8)) + [4])
        self.MOVEY_GOFF = self.GOAL * self._movey_stride  # by e2: offset of the go-to's goal in MOVEY_*


@functools.cache
def tables(L: int) -> Tables:
    """The (read-only, shared) tables of grid size ``L``."""
    t = Tables(L)
    for v in vars(t).values():
        if isinstance(v, np.ndarray):
            v.flags.writeable = False
    return t
