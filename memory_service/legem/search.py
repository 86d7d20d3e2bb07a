"""Pivot search in one agent's levelled graph (paper Sec. 4.2): Scheme I, Scheme II, and the ranking of eq. 1.

A search starts at the agent's node at level ``t`` (the afterstate of the rewarded step) in graph phi^l and
walks predecessor links towards level 0 inside the sub-graph phi^{l, omega} of the episode's return bucket.
It returns a candidate pivot level in ``[0, t)``, or ``-1`` when it finds no displacement.

Choices that are ours, not the paper's (documented in docs/legem.md):

* A search that finds no pattern returns -1 and the agent abstains from the ranking (Alg. 2 would return t,
  and eq. 1 would then let any such agent veto every move). A pivot equal to t also counts as "none".
* Runs of equal counts (plateaus) resolve to their first level: after an agent commits an action its path
  continues through nodes only that commit reaches, which repeat the commit node's count.
* Scheme I enumerates at most ``path_cap`` paths, depth-first with predecessors ordered by sub-graph edge
  visits (most visited first, then oldest edge), so the first path is the greedy most-visited one; it reads
  visit counts of the whole graph phi^l (``scheme1_counts="graph"``) or of the sub-graph.
* Scheme II follows the most-visited incoming edge at each level (maintained at insert time, so one array
  read per level; ties: the edge that reached the count first) and
  ranks nodes by sub-graph visits divided by graph visits (``scheme2_normalise``): the share of this
  afterstate's visits that ended in the return bucket. Results are memoised per call, so every rewarded
  step of a batch together costs O(distinct nodes walked).
"""
from __future__ import annotations

import numpy as np

from asyncmarl.memory_service.legem.graph import LevelledGraphs

NONE = -1  # "no pivot found": the agent abstains from the ranking


def action_bytes(action: int) -> bytes:
    """The action part of a node key (8 little-endian bytes, as :mod:`.keys` writes it)."""
    return np.int64(action).astype("<i8").tobytes()


def up_low(c: np.ndarray) -> int:
    """UL: from level 0 down while counts do not increase; the end of that run (its plateau's first level).

    ``c`` [L] are visit counts from the path's top (index 0) to the rewarded node (index L - 1). Needs at least
    one strict decrease on the way; a result at the rewarded node itself is "none".
    """
    n, i, dropped = len(c), 0, False
    while i < n - 1 and c[i + 1] <= c[i]:
        dropped |= bool(c[i + 1] < c[i])
        i += 1
    if not dropped:
        return NONE
    while i > 0 and c[i - 1] == c[i]:
        i -= 1
    return NONE if i == n - 1 else i


def low_up(c: np.ndarray) -> int:
    """LU: from the rewarded node up while counts (read in level order) do not decrease; where that run ends.

    A path whose counts are all equal carries no pattern and gives "none".
    """
    n = len(c)
    i, rose = n - 1, False
    while i > 0 and c[i - 1] <= c[i]:
        rose |= bool(c[i - 1] < c[i])
        i -= 1
    if i == n - 1 or not (rose or i > 0):
        return NONE
    return i


def summarize(candidates: list[int]) -> int:
    """Most frequent found candidate over paths (Alg. 7); ties go to the one found first (best-first order)."""
    found = [c for c in candidates if c != NONE]
    if not found:
        return NONE
    values, first, counts = np.unique(np.asarray(found), return_index=True, return_counts=True)
    best = np.flatnonzero(counts == counts.max())
    return int(values[best[np.argmin(first[best])]])


class PivotSearch:
    """Scheme I and Scheme II over one :class:`LevelledGraphs`; create one per search call (it memoises)."""

    def __init__(self, graphs: LevelledGraphs, path_cap: int, scheme1_counts: str, scheme2_normalise: bool,
                 commit_only: bool = False, no_commit: tuple[int, ...] = (0,)):
        """``no_commit``: key actions that are not a commit (off-beat games: the wait 0, which busy steps are
        keyed with too; macro-action scenarios: only the busy key -1, every real action being a commit)."""
        self.g = graphs
        self._no_commit = frozenset(action_bytes(a) for a in no_commit)
        self.path_cap = path_cap
        self.scheme1_counts = scheme1_counts
        self.scheme2_normalise = scheme2_normalise
        self.commit_only = commit_only
        self._preds: dict[tuple[int, int], list[int]] = {}  # (node, bucket) -> predecessors, most visited first
        self._best: dict[tuple[int, int], tuple[float, int]] = {}  # Scheme II memo: (max value, its level)

    def _sorted_preds(self, node: int, bucket: int) -> list[int]:
        """Predecessors of ``node`` in the sub-graph, most visited edge first (equal counts: oldest edge first).
        Plain Python over the (short) edge list: numpy calls cost more than they save at these sizes."""
        key = (node, bucket)
        preds = self._preds.get(key)
        if preds is None:
            ev, src = self.g.edge_visits, self.g.edge_src
            ranked = [(-int(ev[e, bucket]), i, int(src[e])) for i, e in enumerate(self.g.in_edges[node])
                      if ev[e, bucket] > 0]
            if len(ranked) > 1:
                ranked.sort()
            preds = [r[2] for r in ranked]
            self._preds[key] = preds
        return preds

    def _commits(self, nodes) -> np.ndarray:
        """[L] bool: the node's afterstate action (the key's last 8 bytes) is not in ``no_commit`` (a wait or a
        busy step), i.e. the agent committed an action at that step."""
        keys, skip = self.g.node_keys, self._no_commit
        return np.asarray([keys[v][3][-8:] not in skip for v in nodes], dtype=bool)

    # ------------------------------------------------------------------ Scheme I
    def paths(self, node: int, bucket: int) -> list[np.ndarray]:
        """Up to ``path_cap`` paths from ``node`` to level 0 (each top-first); a path stops early at a node whose
        predecessors were all evicted. Depth-first, most visited predecessor first; work is bounded by
        ``2 * path_cap * (level + 1)`` node expansions."""
        level = int(self.g.level[node])
        budget = 2 * self.path_cap * (level + 1)
        out: list[np.ndarray] = []
        path, preds, nxt = [node], [self._sorted_preds(node, bucket)], [0]
        while path and len(out) < self.path_cap and budget > 0:
            budget -= 1
            top = path[-1]
            if nxt[-1] == 0 and (self.g.level[top] == 0 or len(preds[-1]) == 0):
                out.append(np.asarray(path[::-1], dtype=np.int64))
                path.pop(), preds.pop(), nxt.pop()
                continue
            if nxt[-1] < len(preds[-1]):
                p = preds[-1][nxt[-1]]
                nxt[-1] += 1
                path.append(p), preds.append(self._sorted_preds(p, bucket)), nxt.append(0)
            else:
                path.pop(), preds.pop(), nxt.pop()
        return out

    def scheme1(self, node: int, bucket: int) -> int:
        """Scheme I (Alg. 2): UL, else LU, on each path; Summarize over paths. Level in [0, t) or NONE."""
        candidates = []
        for path in self.paths(node, bucket):
            visits = self.g.visits[path]  # [L, n_buckets]
            c = visits.sum(axis=1) if self.scheme1_counts == "graph" else visits[:, bucket]  # [L]
            e = up_low(c)
            if e == NONE:
                e = low_up(c)
            if e != NONE and self.commit_only and not self._commits([path[e]])[0]:
                e = NONE  # a wait or busy step cannot have started the off-beat action
            candidates.append(NONE if e == NONE else int(self.g.level[path[0]]) + e)
        return summarize(candidates)

    # ------------------------------------------------------------------ Scheme II
    def _values(self, nodes: list[int], bucket: int) -> list[float]:
        visits = self.g.visits[nodes]  # [L, n_buckets]
        sub = visits[:, bucket].astype(np.float64)  # [L]
        if not self.scheme2_normalise:
            return np.where(self._commits(nodes), sub, -np.inf).tolist() if self.commit_only else sub.tolist()
        total = visits.sum(axis=1)  # [L]
        value = np.where(total > 0, sub / np.maximum(total, 1), 0.0)  # [L]
        if self.commit_only:  # wait / busy steps never hold the maximum: they cannot have started the action
            value = np.where(self._commits(nodes), value, -np.inf)
        return value.tolist()

    def scheme2(self, node: int, bucket: int) -> int:
        """Scheme II: on the most-visited path, the level nearest to t whose node has the path's maximum value.

        A dynamic programme over the path, top-down: best(v) = (max value from level 0 to v, nearest level
        holding it), combined from best(most visited predecessor of v). Level in [0, t) or NONE.
        """
        memo, chain, v, best = self._best, [], node, self.g.best_predecessor
        while v >= 0 and (v, bucket) not in memo:
            chain.append(v)
            v = best(v, bucket)
        values = self._values(chain + ([v] if v >= 0 else []), bucket)
        levels = self.g.level[chain].tolist()
        x_u = values[-1] if v >= 0 else None
        for j in range(len(chain) - 1, -1, -1):
            w, x, k = chain[j], values[j], levels[j]
            if x_u is None:
                res = (x, k)
            else:
                m_u, p_u = memo[(v, bucket)]
                if x > m_u or (x == m_u and x_u != x):
                    res = (x, k)  # a new maximum, or the first level of a new plateau at the maximum
                else:
                    res = (m_u, p_u)
            memo[(w, bucket)] = res
            v, x_u = w, x
        best_value, pivot = memo[(node, bucket)]
        return NONE if pivot == int(self.g.level[node]) or best_value == -np.inf else pivot


    def scheme2_own(self, nodes: list[int], bucket: int) -> int:
        """Scheme II on the query episode's own path (``scheme2_path="own"``): ``nodes`` are the agent's nodes at
        levels 0..t of this episode (-1 where one is not in memory). The level nearest to t holding the path's
        maximum value (first level of its plateau, as :meth:`scheme2`); NONE if it is t or nothing qualifies."""
        known = [(k, v) for k, v in enumerate(nodes) if v >= 0]
        if not known:
            return NONE
        values = self._values([v for _, v in known], bucket)
        best, pivot, prev = -np.inf, NONE, None
        for (k, _), x in zip(known, values, strict=True):
            if x > best or (x == best and prev != x):
                best, pivot = x, k
            prev = x
        return NONE if best == -np.inf or pivot == len(nodes) - 1 else pivot


def rank(candidates: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Paper eq. 1: the joint pivot is the agents' candidate closest to t (the latest one).

    ``candidates`` [..., n] int (NONE = abstain), ``t`` [...] int -> [...] int; t where every agent abstains.
    """
    best = candidates.max(axis=-1)  # [...]
    return np.where(best >= 0, best, t)
