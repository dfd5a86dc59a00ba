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

import weakref

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


class FileArray:
    """A 2-D ``.npy`` file read by rows with ``os.pread``: nothing is mapped, so reading rows adds
    nothing to the process's resident memory (memory-mapped files are mapped a whole page-cache
    folio at a time, up to megabytes around each row read, and a server's random reads soon map
    the whole file). Consecutive rows are read in one call. Read-only; shape, dtype and ndim as
    numpy's; indexing with an int, a slice or an array of rows returns an in-memory array."""

    def __init__(self, path):
        import os

        from numpy.lib import format as npy

        with open(path, "rb") as f:
            version = npy.read_magic(f)
            read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, fortran, dtype = read(f)
            self.offset = f.tell()
        if fortran or len(shape) != 2:
            raise ValueError(f"{path} is not a 2-D C-ordered array")
        self.path, self.shape, self.dtype, self.ndim = str(path), tuple(shape), np.dtype(dtype), 2
        self._row = self.dtype.itemsize * self.shape[1]
        size = os.stat(path).st_size
        if size != self.offset + self._row * self.shape[0]:
            raise ValueError(f"{path} holds {size} bytes, its header says {self.offset + self._row * self.shape[0]}")
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        import os

        if isinstance(rows, slice):
            rows = np.arange(*rows.indices(self.shape[0]))
        scalar = np.ndim(rows) == 0
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        n = self.shape[0]
        if len(rows) and (rows.min() < -n or rows.max() >= n):
            raise IndexError(f"row out of range for {n} rows")
        rows = np.where(rows < 0, rows + n, rows)
        out = np.empty((len(rows), self.shape[1]), dtype=self.dtype)
        if len(rows):
            order = np.argsort(rows, kind="stable")
            sr = rows[order]
            cuts = np.flatnonzero(np.diff(sr) != 1) + 1
            for lo, hi in zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [len(sr)]])):
                first, count = int(sr[lo]), int(hi - lo)
                raw = os.pread(self._fd, count * self._row, self.offset + first * self._row)
                out[order[lo:hi]] = np.frombuffer(raw, dtype=self.dtype).reshape(count, self.shape[1])
        return out[0] if scalar else out

    def __array__(self, dtype=None, copy=None):
        whole = self[np.arange(self.shape[0])]
        return whole if dtype is None else whole.astype(dtype)
