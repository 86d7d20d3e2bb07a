"""Static facts of the macro-action Overcooked kitchens and the lookup tables the batched core steps with.

Cells are numbered ``c = x * 7 + y`` where ``x`` is the row (the reference's first map index, "down" grows it)
and ``y`` the column ("right" grows it). Items follow the reference's ``itemList`` order: tomato, lettuce, onion,
plate 1, plate 2, knife 1, knife 2, delivery, agent 1..3.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

SIZE = 7  # the kitchen is SIZE x SIZE cells
N_CELLS = SIZE * SIZE
N_AGENTS = 3

# Cell codes of the reference map (``ITEMIDX``); the dynamic grid keeps these per copy.
SPACE, COUNTER, AGENT, TOMATO, LETTUCE, PLATE, KNIFE, DELIVERY, ONION = range(9)
# Primitive moves in the reference's order (``DIRECTION``): right (y+1), down (x+1), left (y-1), up (x-1), stay.
MOVES = np.array([(0, 1), (1, 0), (0, -1), (-1, 0), (0, 0)])
STAY = 4

# Item slots (reference itemList order) and their map codes.
T, L, O, P1, P2, K1, K2, DLV, A0 = range(9)
N_ITEMS = 11
N_FOOD = 3  # slots 0..2 are foods, 3..4 plates: the movable items (slots 0..4)
ITEM_CODE = np.array([TOMATO, LETTUCE, ONION, PLATE, PLATE, KNIFE, KNIFE, DELIVERY, AGENT, AGENT, AGENT])
FOOD_OF_CODE = np.full(9, -1)  # map code -> food slot
FOOD_OF_CODE[[TOMATO, LETTUCE, ONION]] = [T, L, O]
FOOD_NAMES = ("tomato", "lettuce", "onion")

TASKS = ("tomato salad", "lettuce salad", "onion salad", "lettuce-tomato salad", "onion-tomato salad",
         "lettuce-onion salad", "lettuce-onion-tomato salad")

# The three 7 x 7 three-agent kitchens (reference ``Overcooked_V1`` with n_agent = 3).
_MAPS = {
    "A": ["1111131",
          "6020204",
          "6000008",
          "7000001",
          "1000001",
          "1020005",
          "1111151"],
    "B": ["1111131",
          "6021204",
          "6001008",
          "7001001",
          "1001001",
          "1021005",
          "1111151"],
    "C": ["1111131",
          "6021204",
          "6001008",
          "7001001",
          "1001001",
          "1020005",
          "1111151"],
}
# "go to counter" tries the divider rows in this order (reference ``counterSequence``), column 3.
_COUNTER_SEQUENCE = {"A": (), "B": (3, 2, 4, 1, 5), "C": (3, 2, 4, 1)}

MACRO_NAMES_A = ("stay", "get tomato", "get lettuce", "get onion", "get plate 1", "get plate 2", "go to knife 1",
                 "go to knife 2", "deliver", "chop", "right", "down", "left", "up")
MACRO_NAMES_BC = MACRO_NAMES_A[:10] + ("go to counter",) + MACRO_NAMES_A[10:]


def cell(x: int, y: int) -> int:
    """The cell index of row ``x``, column ``y``."""
    return x * SIZE + y


@dataclass(frozen=True, eq=False)
class Layout:
    """One kitchen: the initial map and every table the step path looks things up in."""

    map_type: str
    init_grid: np.ndarray  # [49] int8 map codes at reset (agents and items included)
    init_pos: np.ndarray  # [11] int64 initial cell of each item slot (reference itemList order)
    floor: np.ndarray  # [49] bool, walkable cells of the static layout
    pomap_static: np.ndarray  # [49] int8, an agent's believed map before items: 1 on counters, 0 on floor
    counter_seq: np.ndarray  # [K] int64 divider cells "go to counter" tries in order (empty on map A)
    macro_names: tuple[str, ...]  # macro-action names in index order


def load(map_type: str) -> Layout:
    """Parse kitchen ``map_type`` ("A", "B" or "C") into a :class:`Layout`."""
    if map_type not in _MAPS:
        raise ValueError(f"map_type must be one of {sorted(_MAPS)}, got {map_type!r}")
    grid = np.array([[int(ch) for ch in row] for row in _MAPS[map_type]], np.int8).reshape(-1)
    pos = np.zeros(N_ITEMS, np.int64)
    agents = [c for c in range(N_CELLS) if grid[c] == AGENT]  # row-major scan, as the reference creates them
    knives = [c for c in range(N_CELLS) if grid[c] == KNIFE]
    plates = [c for c in range(N_CELLS) if grid[c] == PLATE]
    pos[[T, L, O]] = [int(np.flatnonzero(grid == code)[0]) for code in (TOMATO, LETTUCE, ONION)]
    pos[[P1, P2]] = plates
    pos[[K1, K2]] = knives
    pos[DLV] = int(np.flatnonzero(grid == DELIVERY)[0])
    pos[A0:] = agents
    floor = (grid == SPACE) | (grid == AGENT)
    pomap = np.where(floor, SPACE, COUNTER).astype(np.int8)
    seq = np.array([cell(x, SIZE // 2) for x in _COUNTER_SEQUENCE[map_type]], np.int64)
    names = MACRO_NAMES_A if map_type == "A" else MACRO_NAMES_BC
    return Layout(map_type, grid, pos, floor, pomap, seq, names)


# ----------------------------------------------------------------------------- geometry tables
_XY = np.stack(np.divmod(np.arange(N_CELLS), SIZE), -1)  # [49, 2] (x, y)
XY = _XY
MANHATTAN = np.abs(_XY[:, None] - _XY[None]).sum(-1)  # [49, 49]
CHEBYSHEV = np.abs(_XY[:, None] - _XY[None]).max(-1)  # [49, 49]
_nxt = _XY[:, None, :] + MOVES[None]  # [49, 5, 2]
_inside = ((_nxt >= 0) & (_nxt < SIZE)).all(-1)
NEIGHBOUR = np.where(_inside, _nxt[..., 0] * SIZE + _nxt[..., 1], np.arange(N_CELLS)[:, None])  # [49, 5]


class _Node:
    """A search node ordered like the reference's A* nodes: by f, then by "stands on an agent", both with <=."""

    __slots__ = ("c", "f", "agent", "g", "first")

    def __init__(self, c, g, f, agent, first):
        self.c, self.g, self.f, self.agent, self.first = c, g, f, agent, first

    def __lt__(self, other):  # non-strict on purpose: the heap order then matches the reference's tie-breaking
        if self.f != other.f:
            return self.f < other.f
        return self.agent <= other.agent


# The reference expands neighbours in this order (right, left, down, up) to "explore up and down first".
_SEARCH_DIRS = (0, 2, 1, 3)
# Plain-Python copies for the scalar search (numpy scalar indexing is slow there).
_NEIGHBOURS_PY = [[(d, int(NEIGHBOUR[c, d])) for d in _SEARCH_DIRS] for c in range(N_CELLS)]
_MANHATTAN_PY = MANHATTAN.tolist()


def astar_first_move(floor: np.ndarray, start: int, target: int, agents: tuple[int, ...] = (),
                     blocked: tuple[int, ...] = ()) -> int:
    """First primitive move of the reference's A* from ``start`` to a cell next to ``target`` (STAY: no path).

    Walkable cells are the static floor less ``blocked`` (floor cells where the agent believes an item lies);
    ``agents`` are the cells it believes teammates stand on (walkable, but the search prefers other cells among
    equally promising ones).
    """
    walkable = list(floor)
    for c in blocked:
        walkable[c] = False
    visited = [False] * N_CELLS
    visited[start] = True
    dist = _MANHATTAN_PY[target]
    heap = [_Node(start, 0, dist[start], 0, None)]
    while heap:
        node = heapq.heappop(heap)
        for d, nc in _NEIGHBOURS_PY[node.c]:
            if visited[nc]:
                continue
            first = node.first if node.first is not None else d
            if walkable[nc]:
                g = node.g + 1
                heapq.heappush(heap, _Node(nc, g, g + dist[nc], int(nc in agents), first))
                visited[nc] = True
            if nc == target:
                return first
    return STAY


class Navigator:
    """First A* moves, memoised in a dense [start, target, teammate 1, teammate 2] table (cell 49: none).

    Lookups are one gather over all copies and agents; a combination seen for the first time is searched once
    per process, so misses grow rarer as the table fills. An agent that believes an item lies on a floor cell
    (a teammate carried it out of sight) plans around it: those rare searches are memoised in a dict keyed by
    the blocked cells as well.
    """

    NONE = N_CELLS

    def __init__(self, floor: np.ndarray):
        self.floor = [bool(f) for f in floor]  # plain list: the search indexes it cell by cell
        self.table = np.full((N_CELLS, N_CELLS, N_CELLS + 1, N_CELLS + 1), -1, np.int8)
        self.rare: dict[tuple, int] = {}
        self.memo: dict[int, int] = {}  # the table's entries as a dict of Python ints, for single-agent lookups

    def move(self, start: int, target: int, mate0: int, mate1: int, blocked: tuple[int, ...] = ()) -> int:
        """One agent's first move in plain ints (the single-copy stepper's lookup), exactly what ``__call__``
        gives for that entry: teammate cells ``mate0``, ``mate1`` (``NONE``: none), believed floor items
        ``blocked`` (cells)."""
        if mate0 == start:
            mate0 = self.NONE
        if mate1 == start:
            mate1 = self.NONE
        lo, hi = (mate0, mate1) if mate0 <= mate1 else (mate1, mate0)
        if blocked:
            key = (start, target, lo, hi, tuple(sorted(set(blocked))))
            mv = self.rare.get(key)
            if mv is None:
                mv = self.rare[key] = astar_first_move(self.floor, start, target,
                                                       tuple(c for c in (lo, hi) if c < N_CELLS), key[4])
            return mv
        k = ((start * N_CELLS + target) * (N_CELLS + 1) + lo) * (N_CELLS + 1) + hi
        mv = self.memo.get(k)
        if mv is None:
            mv = int(self.table[start, target, lo, hi])
            if mv < 0:
                mv = astar_first_move(self.floor, start, target, tuple(c for c in (lo, hi) if c < N_CELLS))
                self.table[start, target, lo, hi] = mv
            self.memo[k] = mv
        return mv

    def __call__(self, start: np.ndarray, target: np.ndarray, mates: np.ndarray,
                 blocked: np.ndarray | None = None) -> np.ndarray:
        """Moves [...] for ``start``, ``target`` [...], believed teammate cells ``mates`` [..., 2] and believed
        item cells ``blocked`` [..., k] (``NONE`` where the item does not block the floor; None: nothing does)."""
        mates = np.where(mates == start[..., None], self.NONE, mates)
        lo, hi = np.minimum(mates[..., 0], mates[..., 1]), np.maximum(mates[..., 0], mates[..., 1])
        moves = self.table[start, target, lo, hi]
        missing = moves < 0
        if np.count_nonzero(missing):
            keys = np.unique(np.stack([start[missing], target[missing], lo[missing], hi[missing]], -1), axis=0)
            for s, t, a, b in keys.tolist():
                self.table[s, t, a, b] = astar_first_move(self.floor, s, t, tuple(c for c in (a, b) if c < N_CELLS))
            moves = self.table[start, target, lo, hi]
        moves = moves.astype(np.int64)
        if blocked is None:
            return moves
        odd = (blocked < self.NONE).any(-1)
        for ix in zip(*np.nonzero(odd), strict=True):  # rare: a believed item on the floor
            key = (int(start[ix]), int(target[ix]), int(lo[ix]), int(hi[ix]),
                   tuple(sorted(set(int(c) for c in blocked[ix] if c < self.NONE))))
            if key not in self.rare:
                self.rare[key] = astar_first_move(self.floor, key[0], key[1], tuple(c for c in key[2:4]
                                                                                    if c < N_CELLS), key[4])
            moves[ix] = self.rare[key]
        return moves
