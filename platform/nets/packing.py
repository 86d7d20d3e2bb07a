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
        order = torch.argsort(rows, descending=True, stable=True)  # longest first
        counts = torch.bincount(rows, minlength=L + 1)  # episodes with exactly k rows
        steps = counts.flip(0).cumsum(0).flip(0)[1:]  # [L]: episodes with more than t rows
        self.steps = tuple(int(s) for s in steps.tolist() if s > 0)  # GRU steps: up to the longest episode
        self.R = sum(self.steps)
        sizes = steps.to(rows.device)
        t = torch.repeat_interleave(torch.arange(L, device=rows.device), sizes)  # [R] time of each packed row
        rank = torch.arange(self.R, device=rows.device) - torch.repeat_interleave(sizes.cumsum(0) - sizes, sizes)
        self.index = order[rank] * L + t  # [R] row of the flattened [B * L] batch
        self._ranked = rank * L + t  # [R] the same rows with episodes renumbered longest first
        ranked_rows = rows[order].tolist()
        # episodes (longest first) in groups of similar length: rows in (2^(k-1), 2^k], a group's attention
        # needs only its longest episode's rows
        self.groups: list[tuple[int, int, int]] = []  # (first rank, end rank, rows)
        for i, r in enumerate(ranked_rows):
            if not self.groups or r <= self.groups[-1][2] // 2:
                self.groups.append((i, i + 1, r))
            else:
                self.groups[-1] = (self.groups[-1][0], i + 1, self.groups[-1][2])

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

    def unpack(self, x: Tensor, ranked: bool = False) -> Tensor:
        """``[R, ...]`` -> ``[B, L, ...]`` with zeros on the rows that were left out; ``ranked``: episodes in
        rank order (longest first, as :attr:`groups` counts them) instead of the batch's."""
        full = x.new_zeros(self.B * self.L, *x.shape[1:])
        return full.index_copy(0, self._ranked if ranked else self.index, x).view(self.B, self.L, *x.shape[1:])

    def pack_ranked(self, x: Tensor) -> Tensor:
        """``[B, L, ...]`` with episodes in rank order -> ``[R, ...]`` (inverse of ``unpack(ranked=True)``)."""
        return x.reshape(self.B * self.L, *x.shape[2:]).index_select(0, self._ranked)
