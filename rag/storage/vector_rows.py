"""A version's vectors without copying them: rows gathered from per-segment arrays on demand.

A version's chunk (or sentence) rows are its live documents in manifest order;
on disk each document's rows are one contiguous range of some segment's array
(float16, memory-mapped: rag.storage.segments). ``Rows`` keeps those arrays as they are
plus a run map (version row -> segment array and local row; adjacent documents
of one segment form one run) and returns float32 copies of only the rows asked
for, so loading a version of a million passages reads no vector into memory.
``global_rows`` gives the inverse map of one array (local row -> version row,
-1 for rows of deleted documents), which rag.storage.dense uses to map search results.
Does not search (rag.storage.dense) nor verify the arrays (rag.storage.segments does).
"""
from __future__ import annotations

import numpy as np


class Rows:
    """Read-only [n, dim] float32 view over parts; indexing returns float32 arrays."""

    dtype = np.dtype(np.float32)
    ndim = 2

    def __init__(self, parts: list, runs: list[tuple[int, int, int, int]], dim: int, dtype=np.float32):
        """parts: 2-D arrays (any float dtype); runs: (version row, part, local row, length), in order;
        dtype: of the rows returned (float32 for vectors; int64 serves sentence spans)."""
        self.parts, self.dim, self.dtype = parts, dim, np.dtype(dtype)
        runs = [r for r in runs if r[3] > 0]
        self._start = np.array([r[0] for r in runs], dtype=np.int64)
        self._part = np.array([r[1] for r in runs], dtype=np.int64)
        self._local = np.array([r[2] for r in runs], dtype=np.int64)
        self._len = np.array([r[3] for r in runs], dtype=np.int64)
        self.n = int(self._start[-1] + self._len[-1]) if runs else 0
        if runs and not np.array_equal(self._start[1:], (self._start + self._len)[:-1]):
            raise ValueError("runs must cover the rows in order without gaps")

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n, self.dim)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, rows) -> np.ndarray:
        if isinstance(rows, slice):
            rows = np.arange(*rows.indices(self.n))
        scalar = np.ndim(rows) == 0
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        out = np.empty((len(rows), self.dim), dtype=self.dtype)
        if len(rows):
            if rows.min() < -self.n or rows.max() >= self.n:
                raise IndexError(f"row out of range for {self.n} rows")
            rows = np.where(rows < 0, rows + self.n, rows)
            run = np.searchsorted(self._start, rows, side="right") - 1
            part, local = self._part[run], rows - self._start[run] + self._local[run]
            for p in np.unique(part):
                where = part == p
                out[where] = self.parts[p][local[where]]
        return out[0] if scalar else out

    def __array__(self, dtype=None, copy=None):
        whole = self[np.arange(self.n)]
        return whole if dtype is None else whole.astype(dtype)

    def global_rows(self, part: int) -> np.ndarray:
        """int64 [len(parts[part])]: the version row of each of that array's rows, -1 when unused."""
        out = np.full(len(self.parts[part]), -1, dtype=np.int64)
        for s, p, lo, n in zip(self._start, self._part, self._local, self._len):
            if p == part:
                out[lo:lo + n] = np.arange(s, s + n)
        return out


def runs_of(ranges: list[tuple[int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Runs from per-document (part, local lo, local hi) ranges in version order, adjacent ones merged."""
    runs: list[list[int]] = []
    row = 0
    for part, lo, hi in ranges:
        if runs and runs[-1][1] == part and runs[-1][2] + runs[-1][3] == lo:
            runs[-1][3] += hi - lo
        else:
            runs.append([row, part, lo, hi - lo])
        row += hi - lo
    return [tuple(r) for r in runs]
