"""The levelled graphs of LeGEM, all agents in one array-backed store.

Graph ``phi_i^l`` (agent ``i``, trajectories of ``l + 1`` steps) holds one node per (level ``t``, afterstate key)
with a visit count, links to its predecessors (level ``t - 1``) and successors (level ``t + 1``). Its sub-graphs
``phi_i^{l, omega}`` split it by episode-return bucket: every node and edge keeps one count per bucket, so a
sub-graph is the set of nodes and edges with a non-zero count in its bucket and the whole graph's count is the
sum over buckets. Inserting a trajectory (paper Alg. 3) adds 1 to its nodes and edges in its bucket, creating
what is missing.

Storage: node and edge counts are numpy arrays ``[capacity, n_buckets]`` (grown by doubling); a dict maps a
node's (agent, l, level, key) to its row and an int-keyed dict maps an edge (src, dst) to its row; each node
keeps the lists of its incoming and outgoing edges and, per sub-graph, its most visited incoming edge (updated
at insert time). A walk up a path is therefore O(levels) array look-ups.

Bounded (our design): beyond ``node_cap`` nodes the least-visited nodes (ties: the oldest first) are evicted,
with their edges, down to ``node_cap * (1 - evict_fraction)``, so eviction runs once per many inserts.
"""
from __future__ import annotations

import sys

import numpy as np

NodeKey = tuple  # (agent, length l, level t, key bytes)


def _grow(arr: np.ndarray, need: int, fill: int = 0) -> np.ndarray:
    if need <= arr.shape[0]:
        return arr
    new = np.full((max(need, 2 * arr.shape[0]),) + arr.shape[1:], fill, dtype=arr.dtype)
    new[: arr.shape[0]] = arr
    return new


class LevelledGraphs:
    """Every agent's levelled graphs and their return-bucket sub-graphs (see the module docstring)."""

    def __init__(self, n_buckets: int, node_cap: int, evict_fraction: float):
        self.n_buckets = int(n_buckets)
        self.node_cap = int(node_cap)
        self.evict_fraction = float(evict_fraction)
        self._clear()

    def _clear(self) -> None:
        self.index: dict[NodeKey, int] = {}  # (agent, l, level, key) -> node row
        self.node_keys: list[NodeKey] = []  # node row -> its (agent, l, level, key)
        self.level = np.zeros(64, dtype=np.int64)  # [N] level t of each node
        self.visits = np.zeros((64, self.n_buckets), dtype=np.int64)  # [N, n_buckets] visits per sub-graph
        # [N, n_buckets] most visited incoming edge per sub-graph (-1: none), kept up to date at insert time
        self.best_in = np.full((64, self.n_buckets), -1, dtype=np.int64)
        self.n_nodes = 0
        self.edge_index: dict[int, int] = {}  # (src << 32) | dst -> edge row
        self.edge_src = np.zeros(64, dtype=np.int64)  # [E] predecessor node (level t - 1)
        self.edge_dst = np.zeros(64, dtype=np.int64)  # [E] successor node (level t)
        self.edge_visits = np.zeros((64, self.n_buckets), dtype=np.int64)  # [E, n_buckets]
        self.n_edges = 0
        self.in_edges: list[list[int]] = []  # node row -> rows of its incoming edges (predecessor links)
        self.out_edges: list[list[int]] = []  # node row -> rows of its outgoing edges (successor links)
        self.key_bytes = 0  # total length of stored key bytes (memory estimate)
        self.evictions = 0  # nodes evicted so far
        self.evicted_edges = 0

    # ------------------------------------------------------------------ insert
    def _new_node(self, node_key: NodeKey) -> int:
        row = self.n_nodes
        self.level = _grow(self.level, row + 1)
        self.visits = _grow(self.visits, row + 1)
        self.best_in = _grow(self.best_in, row + 1, fill=-1)
        self.level[row] = node_key[2]
        self.index[node_key] = row
        self.node_keys.append(node_key)
        self.in_edges.append([])
        self.out_edges.append([])
        self.key_bytes += len(node_key[3])
        self.n_nodes += 1
        return row

    def _new_edge(self, code: int, src: int, dst: int) -> int:
        row = self.n_edges
        self.edge_src = _grow(self.edge_src, row + 1)
        self.edge_dst = _grow(self.edge_dst, row + 1)
        self.edge_visits = _grow(self.edge_visits, row + 1)
        self.edge_src[row], self.edge_dst[row] = src, dst
        self.edge_index[code] = row
        self.in_edges[dst].append(row)
        self.out_edges[src].append(row)
        self.n_edges += 1
        return row

    def insert(self, agent: int, keys: list[bytes], bucket: int) -> None:
        """Add one agent trajectory (afterstate keys of steps 0..L-1) to graph phi^{L-1}, sub-graph ``bucket``."""
        length = len(keys) - 1  # graph index l: trajectories of l + 1 steps
        index, rows = self.index, []
        for t, key in enumerate(keys):
            node_key = (agent, length, t, key)
            row = index.get(node_key)
            rows.append(self._new_node(node_key) if row is None else row)
        self.visits[rows, bucket] += 1  # rows are distinct (one per level), so fancy += is exact
        edges = []
        for src, dst in zip(rows[:-1], rows[1:], strict=True):
            code = (src << 32) | dst
            row = self.edge_index.get(code)
            edges.append(self._new_edge(code, src, dst) if row is None else row)
        if edges:
            ev = self.edge_visits
            ev[edges, bucket] += 1
            # the most visited incoming edge changes only where an edge of this path overtakes it (ties: the
            # edge that reached the count first stays)
            e, dst = np.asarray(edges), np.asarray(rows[1:])
            cur = self.best_in[dst, bucket]  # [L-1]
            better = (cur < 0) | (ev[e, bucket] > ev[np.maximum(cur, 0), bucket])
            self.best_in[dst[better], bucket] = e[better]

    # ------------------------------------------------------------------ queries
    def lookup(self, agent: int, length: int, level: int, key: bytes) -> int:
        """Row of the node, or -1 when the graph has no such node (never inserted, or evicted)."""
        return self.index.get((agent, length, level, key), -1)

    def best_predecessor(self, node: int, bucket: int) -> int:
        """Predecessor over the most visited incoming edge of ``node`` in sub-graph ``bucket`` (-1: none)."""
        e = self.best_in[node, bucket]
        return int(self.edge_src[e]) if e >= 0 else -1

    def predecessors(self, node: int, bucket: int) -> tuple[np.ndarray, np.ndarray]:
        """(predecessor rows, edge visits in ``bucket``) over the sub-graph's incoming edges of ``node``."""
        edges = self.in_edges[node]
        if not edges:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        e = np.asarray(edges, dtype=np.int64)
        counts = self.edge_visits[e, bucket]  # [deg]
        keep = counts > 0
        return self.edge_src[e[keep]], counts[keep]

    def successors(self, node: int, bucket: int | None = None) -> np.ndarray:
        """Successor rows of ``node`` (in sub-graph ``bucket`` when given, else in the whole graph)."""
        e = np.asarray(self.out_edges[node], dtype=np.int64)
        if bucket is not None and e.size:
            e = e[self.edge_visits[e, bucket] > 0]
        return self.edge_dst[e]

    # ------------------------------------------------------------------ bounds
    def evict_if_needed(self) -> int:
        """Evict least-visited nodes when over ``node_cap``; returns how many were evicted."""
        if self.n_nodes <= self.node_cap:
            return 0
        target = max(0, int(self.node_cap * (1.0 - self.evict_fraction)))
        total = self.visits[: self.n_nodes].sum(axis=1)  # [N]
        # least visits first; among equals, the oldest (lowest row) first
        order = np.lexsort((np.arange(self.n_nodes), total))
        keep = np.ones(self.n_nodes, dtype=bool)
        keep[order[: self.n_nodes - target]] = False
        return self._compact(keep)

    def _compact(self, keep: np.ndarray) -> int:
        n_old, m_old = self.n_nodes, self.n_edges
        new_row = np.cumsum(keep) - 1  # [N] old row -> new row (valid where keep)
        src, dst = self.edge_src[:m_old], self.edge_dst[:m_old]
        keep_e = keep[src] & keep[dst]
        node_keys = [k for k, kk in zip(self.node_keys, keep.tolist(), strict=True) if kk]
        level, visits = self.level[:n_old][keep], self.visits[:n_old][keep]
        e_src, e_dst = new_row[src[keep_e]], new_row[dst[keep_e]]
        e_visits = self.edge_visits[:m_old][keep_e]
        # best incoming edges survive renumbered; where one was evicted, the best surviving edge takes over
        old_best = self.best_in[:n_old][keep]  # [N', n_buckets]
        alive = (old_best >= 0) & keep_e[np.maximum(old_best, 0)]
        best_in = np.where(alive, (np.cumsum(keep_e) - 1)[np.maximum(old_best, 0)], -1)
        lost = (old_best >= 0) & ~alive
        evictions, evicted_edges = self.evictions, self.evicted_edges
        self._clear()
        self._load_arrays(node_keys, level, visits, e_src, e_dst, e_visits, best_in)
        if lost.any():
            self._recompute_best(lost)
        self.evictions = evictions + int(n_old - keep.sum())
        self.evicted_edges = evicted_edges + int(m_old - keep_e.sum())
        return int(n_old - keep.sum())

    def _load_arrays(self, node_keys, level, visits, e_src, e_dst, e_visits, best_in) -> None:
        n, m = len(node_keys), int(e_src.shape[0])
        self.node_keys = list(node_keys)
        self.index = {k: i for i, k in enumerate(self.node_keys)}
        self.key_bytes = sum(len(k[3]) for k in self.node_keys)
        self.level = _grow(np.zeros(64, np.int64), n)
        self.level[:n] = level
        self.visits = _grow(np.zeros((64, self.n_buckets), np.int64), n)
        self.visits[:n] = visits
        self.n_nodes = n
        self.edge_src = _grow(np.zeros(64, np.int64), m)
        self.edge_dst = _grow(np.zeros(64, np.int64), m)
        self.edge_visits = _grow(np.zeros((64, self.n_buckets), np.int64), m)
        self.edge_src[:m], self.edge_dst[:m], self.edge_visits[:m] = e_src, e_dst, e_visits
        self.n_edges = m
        self.edge_index = {(int(s) << 32) | int(d): i
                           for i, (s, d) in enumerate(zip(e_src.tolist(), e_dst.tolist(), strict=True))}
        self.best_in = _grow(np.full((64, self.n_buckets), -1, np.int64), n, fill=-1)
        self.best_in[:n] = best_in
        self.in_edges = [[] for _ in range(n)]
        self.out_edges = [[] for _ in range(n)]
        for i, (s, d) in enumerate(zip(e_src.tolist(), e_dst.tolist(), strict=True)):
            self.in_edges[d].append(i)
            self.out_edges[s].append(i)

    def _recompute_best(self, where: np.ndarray) -> None:
        """Set best_in[where] ([N, n_buckets] mask) to the most visited incoming edge, ties to the oldest."""
        ev, dst = self.edge_visits[: self.n_edges], self.edge_dst[: self.n_edges]
        for b in np.flatnonzero(where.any(axis=0)).tolist():
            self.best_in[: self.n_nodes, b][where[:, b]] = -1
            live = np.flatnonzero((ev[:, b] > 0) & where[dst, b])
            if live.size:
                o = live[np.lexsort((live, -ev[live, b], dst[live]))]  # by dst, then most visited, then oldest
                first = np.ones(o.size, bool)
                first[1:] = dst[o[1:]] != dst[o[:-1]]
                self.best_in[dst[o[first]], b] = o[first]

    # ------------------------------------------------------------------ metrics and state
    def nbytes(self) -> int:
        """Approximate memory held: arrays, the two dicts, node keys and per-node edge lists."""
        arrays = sum(a.nbytes for a in (self.level, self.visits, self.best_in, self.edge_src, self.edge_dst,
                                        self.edge_visits))
        dicts = sys.getsizeof(self.index) + sys.getsizeof(self.edge_index)
        node_keys = self.n_nodes * (sys.getsizeof((0, 0, 0, b"")) + sys.getsizeof(b"")) + self.key_bytes
        small_ints = 28 * (self.n_nodes + 3 * self.n_edges)  # ints boxed in dict keys/values and edge lists
        lists = sys.getsizeof(self.node_keys) + sys.getsizeof(self.in_edges) + 2 * self.n_nodes * sys.getsizeof([])
        return int(arrays + dicts + node_keys + small_ints + lists + 16 * self.n_edges)

    def state_dict(self) -> dict:
        """Plain tensors-and-ints state (loads with ``torch.load(weights_only=True)``)."""
        import torch

        n, m = self.n_nodes, self.n_edges
        keys = [k[3] for k in self.node_keys]
        lengths = np.fromiter((len(k) for k in keys), dtype=np.int64, count=n)
        flat = np.frombuffer(b"".join(keys), dtype=np.uint8).copy()
        meta = np.asarray([k[:3] for k in self.node_keys], dtype=np.int64).reshape(n, 3)  # agent, l, level
        return {
            "node_meta": torch.from_numpy(meta),
            "node_key_lengths": torch.from_numpy(lengths),
            "node_key_bytes": torch.from_numpy(flat),
            "node_visits": torch.from_numpy(self.visits[:n].copy()),
            "edge_src": torch.from_numpy(self.edge_src[:m].copy()),
            "edge_dst": torch.from_numpy(self.edge_dst[:m].copy()),
            "edge_visits": torch.from_numpy(self.edge_visits[:m].copy()),
            "best_in": torch.from_numpy(self.best_in[:n].copy()),
            "evictions": self.evictions,
            "evicted_edges": self.evicted_edges,
        }

    def load_state_dict(self, state: dict) -> None:
        meta = state["node_meta"].numpy()
        lengths = state["node_key_lengths"].numpy()
        flat = state["node_key_bytes"].numpy().tobytes()
        visits = state["node_visits"].numpy()
        if visits.ndim != 2 or visits.shape[1] != self.n_buckets:
            raise ValueError(f"LeGEM state: node_visits must be [N, {self.n_buckets}] (one column per return "
                             f"bucket of this config), got {tuple(visits.shape)}")
        offsets = np.concatenate([[0], np.cumsum(lengths)]).tolist()
        node_keys = [(int(a), int(l), int(t), flat[offsets[i]: offsets[i + 1]])
                     for i, (a, l, t) in enumerate(meta.tolist())]
        self._clear()
        self._load_arrays(node_keys, meta[:, 2] if len(meta) else np.zeros(0, np.int64), visits,
                          state["edge_src"].numpy(), state["edge_dst"].numpy(), state["edge_visits"].numpy(),
                          state["best_in"].numpy())
        self.evictions = int(state["evictions"])
        self.evicted_edges = int(state["evicted_edges"])
