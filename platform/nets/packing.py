"""Packing the real rows of a padded episode batch, so that the networks spend no compute on padding.

Replay pads every episode of a batch to the longest one; with BoxPushing's early 100-step episodes beside
learned 10-step ones most rows are padding. :class:`RowPacking` keeps only each episode's real rows (steps
0..len-1 and the final observation row len), time-major and longest episode first: the layout of
``torch.nn.utils.rnn.PackedSequence``, so the GRU unrolls over shrinking batches (:func:`gru_packed`) and every
per-row layer runs on the packed rows. The losses read the results back in the padded layout (zeros on
padding rows, which every loss term masks out).
"""
from __future__ import annotations

import torch
from torch import Tensor


class RowPacking:
    """Where the real rows of a ``[B, L, ...]`` batch go in the packed ``[R, ...]`` layout.

    ``rows[b]`` real rows per episode (a prefix of its L rows). ``steps[t]`` is the number of episodes with a
    row t (non-increasing); packed rows are step 0's episodes, then step 1's, ..., each step longest first.
    """

    def __init__(self, rows: Tensor, L: int):
        rows = rows.long()
        if rows.dim() != 1 or bool(((rows < 1) | (rows > L)).any()):
            raise ValueError(f"rows per episode must be a [B] tensor of values in 1..{L}")
        self.B, self.L = int(rows.shape[0]), L
        self.rows = rows  # [B] real rows per episode: RowPacking(rows, L) rebuilds this packing
        order = torch.argsort(rows, descending=True, stable=True)  # longest first
        counts = torch.bincount(rows, minlength=L + 1)  # episodes with exactly k rows
        steps = counts.flip(0).cumsum(0).flip(0)[1:]  # [L]: episodes with more than t rows
        self.steps = tuple(int(s) for s in steps.tolist() if s > 0)  # GRU steps: up to the longest episode
        self.R = sum(self.steps)
        sizes = steps.to(rows.device)
        t = torch.repeat_interleave(torch.arange(L, device=rows.device), sizes)  # [R] time of each packed row
        rank = torch.arange(self.R, device=rows.device) - torch.repeat_interleave(sizes.cumsum(0) - sizes, sizes)
        self.index = order[rank] * L + t  # [R] row of the flattened [B * L] batch
        self._group_layout(rows[order], steps)

    def _group_layout(self, ranked_rows: Tensor, steps: Tensor) -> None:
        """Episodes (longest first) in groups of similar length (each at most twice as long as the group's
        shortest), each group padded to its longest episode: the layout of :meth:`to_groups`."""
        groups: list[list[int]] = []  # [first rank, end rank, rows]
        for i, r in enumerate(ranked_rows.tolist()):
            if groups and 2 * r > groups[-1][2]:
                groups[-1][1] = i + 1
            else:
                groups.append([i, i + 1, r])
        self.groups = [tuple(g) for g in groups]
        dev = ranked_rows.device
        offsets = torch.cat([steps.new_zeros(1), steps.cumsum(0)]).to(dev)  # first packed row of each step
        parts = []
        for first, end, rows in self.groups:
            rank = torch.arange(first, end, device=dev).unsqueeze(1)  # [G, 1]
            t = torch.arange(rows, device=dev)  # [rows]
            pos = offsets[t] + rank  # packed row of (rank, t) ...
            parts.append(torch.where(t < ranked_rows[first:end].unsqueeze(1), pos, self.R).flatten())  # ... or R
        self._to_groups = torch.cat(parts)  # [sum of G x rows] rows of [packed; a zero row]
        real = self._to_groups < self.R
        self._from_groups = torch.empty(self.R, dtype=torch.long, device=dev)
        self._from_groups[self._to_groups[real]] = torch.arange(len(self._to_groups), device=dev)[real]

    @classmethod
    def of_batch(cls, filled: Tensor) -> RowPacking | None:
        """The packing of an episode batch's rows 0..T from ``filled`` ``[B, T]`` (1 on real steps, a prefix per
        episode): each episode keeps its real steps and its final observation row. None when there is no
        padding to skip or ``filled`` is not a prefix mask."""
        B, T = filled.shape
        real = filled > 0
        steps = real.sum(1)  # [B]
        prefix = torch.arange(T, device=filled.device) < steps.unsqueeze(1)
        if not torch.equal(prefix, real) or bool((steps == T).all()):
            return None
        return cls(steps + 1, T + 1)

    def pack(self, x: Tensor) -> Tensor:
        """``[B, L, ...]`` -> the real rows ``[R, ...]``."""
        return x.reshape(self.B * self.L, *x.shape[2:]).index_select(0, self.index)

    def unpack(self, x: Tensor) -> Tensor:
        """``[R, ...]`` -> ``[B, L, ...]`` with zeros on the rows that were left out."""
        full = x.new_zeros(self.B * self.L, *x.shape[1:])
        return full.index_copy(0, self.index, x).view(self.B, self.L, *x.shape[1:])

    def to_groups(self, x: Tensor) -> list[Tensor]:
        """``[R, ...]`` -> per group of :attr:`groups`, its episodes padded to its longest ``[G, rows, ...]``
        (zeros on padding): sequence layers then cost about what the real rows need."""
        ext = torch.cat([x, x.new_zeros(1, *x.shape[1:])])  # row R: the zero row padding points to
        flat = ext.index_select(0, self._to_groups)
        sizes = [(end - first) * rows for first, end, rows in self.groups]
        return [c.view(end - first, rows, *x.shape[1:])
                for c, (first, end, rows) in zip(flat.split(sizes), self.groups, strict=True)]

    def from_groups(self, parts: list[Tensor]) -> Tensor:
        """Per group ``[G, rows, ...]`` (as :meth:`to_groups` gave) -> the packed real rows ``[R, ...]``."""
        flat = torch.cat([p.reshape(-1, *p.shape[2:]) for p in parts])
        return flat.index_select(0, self._from_groups)
