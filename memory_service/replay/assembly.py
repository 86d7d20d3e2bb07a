"""Reassembling an episode from per-agent segments that arrive in any order, from any worker.

Each joint row is written once, by the first segment that carries it; later segments covering the same rows
are checked against it. While an episode is open its rows are kept packed (all fields of a row as bytes in
their stored dtypes, ``schema.STORED_DTYPES``), so a segment costs one comparison and one write whatever the
number of fields. A segment is validated completely before anything is written, so a rejected one leaves the
stored data unchanged.
"""
from __future__ import annotations

import numpy as np

from asyncmarl.platform.data import Segment
from asyncmarl.platform.schema import FINAL_FIELDS, SEGMENT_FIELDS, STEP_FIELDS, STORED_DTYPES

# dtype kinds accepted per field (b bool, i/u integers, f floats), from the stored dtype: anything that converts
# to it without losing meaning
_KINDS = {f: "b" if d == np.bool_ else "iu" if np.issubdtype(d, np.integer) else "fiu"
          for f, d in STORED_DTYPES.items()}
_KIND_NAMES = {f: {"b": "bool", "iu": "an integer type", "fiu": "a numeric type"}[k] for f, k in _KINDS.items()}


class SegmentError(ValueError):
    """A segment replay refuses (malformed, duplicated, overlapping, or for an episode no longer open)."""


class Schema:
    """Per-field trailing shapes every segment of a shard must have, fixed by the first accepted segment."""

    def __init__(self, seg: Segment):
        acts = np.asarray(seg.steps.get("actions"))
        if acts.ndim != 2:
            raise SegmentError(f"segment steps['actions'] must be [L, n_agents], got shape {acts.shape}")
        self.n_agents = acts.shape[1]
        self.shapes = {f: np.shape(seg.steps[f])[1:] for f in STEP_FIELDS if f in seg.steps}
        self._row_bytes = None
        bad = [f.name for f in SEGMENT_FIELDS
               if f.name not in self.shapes or len(self.shapes[f.name]) != len(f.shape_tail)
               or (f.per_agent and self.shapes[f.name][0] != self.n_agents)]
        if bad:
            raise SegmentError(
                f"segment fields {bad} do not fit n_agents = {self.n_agents} (from actions); "
                f"shapes: { {f: np.shape(v) for f, v in seg.steps.items()} }"
            )

    def _layout(self) -> list[tuple[str, int, int]]:
        """(field, byte offset, bytes) of each STEP_FIELD inside a packed row."""
        if getattr(self, "_lay", None) is None:
            self._lay, off = [], 0
            for f in STEP_FIELDS:
                nb = int(np.prod(self.shapes[f], dtype=np.int64)) * np.dtype(STORED_DTYPES[f]).itemsize
                self._lay.append((f, off, nb))
                off += nb
        return self._lay

    def pack(self, steps: dict[str, np.ndarray], L: int) -> np.ndarray:
        """A segment's joint rows as one ``[L, row_bytes]`` uint8 array in stored dtypes: one comparison and one
        write per segment instead of one per field."""
        return np.concatenate(
            [np.ascontiguousarray(steps[f], STORED_DTYPES[f]).reshape(L, -1).view(np.uint8) for f in STEP_FIELDS], 1
        )

    def unpack(self, packed: np.ndarray, f: str) -> np.ndarray:
        """Field ``f`` ``[L, ...]`` of packed rows (a copy)."""
        _, off, nb = next(x for x in self._layout() if x[0] == f)
        cols = np.ascontiguousarray(packed[:, off : off + nb])
        return cols.view(STORED_DTYPES[f]).reshape((len(packed),) + self.shapes[f])

    def _bytes(self, fields) -> int:
        return sum(int(np.prod(self.shapes[f], dtype=np.int64)) * np.dtype(STORED_DTYPES[f]).itemsize for f in fields)

    def row_bytes(self) -> int:
        """Bytes of one stored joint step row (all STEP_FIELDS)."""
        if self._row_bytes is None:
            self._row_bytes = self._bytes(STEP_FIELDS)
        return self._row_bytes

    def final_bytes(self) -> int:
        """Bytes of the stored final observation row (FINAL_FIELDS)."""
        return self._bytes(FINAL_FIELDS)

    def check(self, seg: Segment, gamma: float, ret_tol: float) -> None:
        """Raise :class:`SegmentError` naming what is wrong with ``seg`` on its own (no episode context)."""
        where = f"segment (episode {seg.episode_id}, agent {seg.agent}, index {seg.index})"
        if not (0 <= seg.agent < self.n_agents):
            raise SegmentError(f"{where}: agent must be in [0, {self.n_agents}), got {seg.agent}")
        if seg.index < 0 or seg.start < 0 or seg.end < seg.start:
            raise SegmentError(f"{where}: need index >= 0 and 0 <= start <= end, got start={seg.start}, end={seg.end}")
        if set(seg.steps) != set(STEP_FIELDS):
            raise SegmentError(
                f"{where}: steps must have exactly the fields {sorted(STEP_FIELDS)}, got {sorted(seg.steps)}")
        L = seg.end - seg.start + 1
        for f, shape in self.shapes.items():
            got = np.shape(seg.steps[f])
            if got != (L,) + shape:
                raise SegmentError(f"{where}: steps[{f!r}] must have shape {(L,) + shape}, got {got}")
        if seg.final is not None:
            if set(seg.final) != set(FINAL_FIELDS):
                raise SegmentError(
                    f"{where}: final must have exactly the fields {sorted(FINAL_FIELDS)}, got {sorted(seg.final)}")
            for f in FINAL_FIELDS:
                if np.shape(seg.final[f]) != self.shapes[f]:
                    raise SegmentError(
                        f"{where}: final[{f!r}] must have shape {self.shapes[f]}, got {np.shape(seg.final[f])}")
        s, i = seg.steps, seg.agent
        for f in STEP_FIELDS:
            kind = np.asarray(s[f]).dtype.kind
            if kind not in _KINDS[f]:
                raise SegmentError(
                    f"{where}: steps[{f!r}] has dtype {np.asarray(s[f]).dtype}, expected {_KIND_NAMES[f]}")
        acts = np.asarray(s["actions"])
        if not np.issubdtype(acts.dtype, np.integer) or acts.min() < -1 or acts.max() >= 2**15:
            raise SegmentError(f"{where}: actions must be integers in [-1, 32767]")
        if not (acts[:, i] == seg.action).all():
            raise SegmentError(f"{where}: steps['actions'][:, {i}] must all equal the segment's action {seg.action}")
        if not (np.asarray(s["elapsed"])[:, i] == np.arange(L)).all():
            raise SegmentError(f"{where}: steps['elapsed'][:, {i}] must count 0..{L - 1}")
        ch = np.asarray(s["choosing"], bool)[:, i]
        if not ch[0] or ch[1:].any():
            raise SegmentError(f"{where}: agent {i} must choose at its start step only (choosing {ch.tolist()})")
        r = np.asarray(s["reward"], np.float64)
        ret = float(np.sum(gamma ** np.arange(L) * r))
        if not abs(ret - seg.ret) <= ret_tol * max(1.0, abs(ret)):
            raise SegmentError(
                f"{where}: ret {seg.ret} != sum gamma^k r = {ret} (gamma {gamma}); check the gammas agree")


class OpenEpisode:
    """An episode being reassembled: joint rows filled so far, per-agent segment records, final rows."""

    def __init__(self, episode_id: int, schema: Schema, now: float):
        self.episode_id, self.schema, self.last_update = episode_id, schema, now
        self.cap = 16
        self.packed = np.zeros((self.cap, schema.row_bytes()), np.uint8)  # [cap, row_bytes] joint rows, packed
        self.filled = np.zeros(self.cap, bool)  # [cap] rows written
        self.segs: list[dict[int, tuple]] = [{} for _ in range(schema.n_agents)]  # agent -> index -> record
        self.covered = np.zeros(schema.n_agents, np.int64)  # steps covered per agent
        self.owner = np.zeros((schema.n_agents, self.cap), np.int64)  # [n, cap] action index + 1 at each step
        self.max_end = -1  # last step any stored segment covers
        self.T: int | None = None  # episode length, known once a final segment arrived
        self.final: dict[str, np.ndarray] | None = None
        self.terminated = False
        self.extras: dict[str, float] = {}
        self.ncopy_bytes = 0  # what n per-agent copies of these segments would hold

    def check(self, seg: Segment, check_rows: bool) -> None:
        """Raise :class:`SegmentError` if ``seg`` conflicts with what this episode already holds."""
        where = (f"segment (episode {seg.episode_id}, agent {seg.agent}, index {seg.index}, "
                 f"steps {seg.start}..{seg.end})")
        mine = self.segs[seg.agent]
        if seg.index in mine:
            raise SegmentError(f"{where}: duplicate, agent {seg.agent}'s action {seg.index} is already stored")
        owner = self.owner[seg.agent]  # [cap] index + 1 of the action covering each step, 0 if none yet
        hit = owner[seg.start : seg.end + 1]
        if hit.any():
            k = int(hit[np.flatnonzero(hit)[0]]) - 1
            raise SegmentError(f"{where}: overlaps agent {seg.agent}'s action {k} at steps {mine[k][0]}..{mine[k][1]}")
        before, after = owner[: seg.start], owner[seg.end + 1 :]
        prev = int(before[np.flatnonzero(before)[-1]]) - 1 if before.any() else -1
        nxt = int(after[np.flatnonzero(after)[0]]) - 1 if after.any() else None
        if prev >= seg.index or (nxt is not None and nxt <= seg.index):
            k = prev if prev >= seg.index else nxt
            raise SegmentError(
                f"{where}: out of order with agent {seg.agent}'s action {k} at steps {mine[k][0]}..{mine[k][1]}")
        T = seg.end + 1 if seg.is_last else self.T
        if seg.is_last and self.T is not None and (self.T != T or self.terminated != bool(seg.terminated)):
            raise SegmentError(f"{where}: ends the episode at {T} steps (terminated={seg.terminated}) but another "
                               f"segment ended it at {self.T} (terminated={self.terminated})")
        if T is not None:
            if self.max_end >= T or seg.end >= T:
                raise SegmentError(f"{where}: runs past the episode's end (length {T})")
            if seg.end == T - 1 and not seg.is_last:
                raise SegmentError(f"{where}: ends at the last step {T - 1} but carries no final rows")
        if self.covered[seg.agent] + seg.length == T and max(max(mine, default=-1), seg.index) != len(mine):
            raise SegmentError(
                f"{where}: agent {seg.agent}'s actions cover the episode but indices are not 0..{len(mine)}")
        if check_rows:
            self._check_rows(seg, where)

    def _check_rows(self, seg: Segment, where: str) -> None:
        lo, hi = seg.start, min(seg.end + 1, self.cap)
        have = self.filled[lo:hi]
        if hi > lo and have.any():
            old = self.packed[lo:hi][have]
            self._pack = (seg, self.schema.pack(seg.steps, seg.length))  # reused by write()
            new = self._pack[1][: hi - lo][have]
            if not np.array_equal(old, new):
                bad = [f for f in STEP_FIELDS
                       if not np.array_equal(self.schema.unpack(old, f), self.schema.unpack(new, f), equal_nan=True)]
                if bad:
                    raise SegmentError(f"{where}: joint rows of {bad} disagree with another agent's segment")
        if seg.final is not None and self.final is not None:
            for f in FINAL_FIELDS:
                if not np.array_equal(self.final[f], np.asarray(seg.final[f], STORED_DTYPES[f])):
                    raise SegmentError(f"{where}: final {f!r} disagrees with another agent's final rows")

    def write(self, seg: Segment, now: float) -> None:
        """Store ``seg`` (already checked)."""
        if seg.end + 1 > self.cap:
            new_cap = max(2 * self.cap, seg.end + 1)
            grown = np.zeros((new_cap, self.packed.shape[1]), np.uint8)
            grown[: self.cap] = self.packed
            self.packed = grown
            self.filled = np.concatenate([self.filled, np.zeros(new_cap - self.cap, bool)])
            self.owner = np.concatenate([self.owner, np.zeros((len(self.owner), new_cap - self.cap), np.int64)], 1)
            self.cap = new_cap
        sl = slice(seg.start, seg.end + 1)
        new = ~self.filled[sl]  # rows no other segment delivered yet
        if new.any():
            cached = getattr(self, "_pack", None)
            rows = cached[1] if cached is not None and cached[0] is seg else self.schema.pack(seg.steps, seg.length)
            if new.all():
                self.packed[sl] = rows
            else:
                self.packed[sl][new] = rows[new]
            self.filled[sl] = True
        self._pack = None
        self.owner[seg.agent, sl] = seg.index + 1
        self.max_end = max(self.max_end, seg.end)
        self.segs[seg.agent][seg.index] = (seg.start, seg.end, float(seg.ret), seg.action, seg.policy_version)
        self.covered[seg.agent] += seg.length
        if seg.is_last:
            self.T = seg.end + 1
            self.terminated = bool(seg.terminated)
            self.extras = dict(seg.extras)
            if self.final is None:
                self.final = {f: np.asarray(seg.final[f], STORED_DTYPES[f]).copy() for f in FINAL_FIELDS}
        # an n-copies layout stores every segment's rows for its agent (same compact dtypes, for a fair count)
        self.ncopy_bytes += seg.length * self.schema.row_bytes() + (self.schema.final_bytes() if seg.is_last else 0)
        self.last_update = now

    def oldest_version(self) -> int:
        """The oldest policy version among the segments written so far."""
        return min((r[4] for segs in self.segs for r in segs.values()), default=0)

    def field(self, f: str) -> np.ndarray:
        """Field ``f`` of the episode's ``T`` step rows (complete episodes)."""
        return self.schema.unpack(self.packed[: self.T], f)

    @property
    def complete(self) -> bool:
        return self.T is not None and bool((self.covered == self.T).all())
