"""Chunk records kept on disk: fixed-width integer columns and one UTF-8 text file, read memory-mapped.

A segment (rag.storage.segments) stores its chunk records as
  chunks.npy        int64 [C, 5]: ordinal, start, end, sent_lo, sent_hi of each chunk
  chunk_text.npy    int64 [C + 1]: byte offsets of each chunk's text in chunk_text.bin
  chunk_text.bin    the texts, UTF-8, one after the other
and the document of each chunk follows from documents.json (contiguous per document). Nothing
is parsed at load: ``Part`` holds the memory-mapped columns and the open text file and builds a record (the same dict
older indexes kept in chunks.jsonl) only when a row is read. ``Chunks`` is a version's records
in version order (a read-only sequence of dicts over the segments' parts, through the same
run map as rag.storage.vector_rows), with whole columns as arrays (``column``)
for code that needs every row. ``write`` and ``read_part`` do the files; ``from_records`` makes
a part of records held in memory (an older segment's chunks.jsonl). Does not verify checksums
(rag.storage.segments does) and never writes a file twice.
"""
from __future__ import annotations

import os
import weakref
from pathlib import Path

import numpy as np

from rag.errors import IndexCorruptError

COLUMNS = ("ordinal", "start", "end", "sent_lo", "sent_hi")
FILES = ("chunks.npy", "chunk_text.npy", "chunk_text.bin")


class Part:
    """The chunk records of one segment: columns [C, 5] and text offsets [C + 1] (memory-mapped)
    and the text file (a descriptor, read with pread), or texts held in memory (an older segment's)."""

    def __init__(self, doc_ids: list[str], doc_of: np.ndarray, cols: np.ndarray, offsets=None, blob=None,
                 texts: list[str] | None = None):
        self.doc_ids, self.doc_of, self.cols = doc_ids, doc_of, cols
        self.offsets, self.blob, self.texts = offsets, blob, texts

    def __len__(self) -> int:
        return len(self.cols)

    def text(self, row: int) -> str:
        if self.texts is not None:
            return self.texts[row]
        a, b = int(self.offsets[row]), int(self.offsets[row + 1])
        try:
            return os.pread(self.blob, b - a, a).decode("utf-8") if b > a else ""
        except UnicodeDecodeError as exc:
            raise IndexCorruptError(f"chunk_text.bin: text of chunk {row} is not UTF-8 ({exc})") from None

    def record(self, row: int) -> dict:
        c = self.cols[row]
        out = {"doc": self.doc_ids[self.doc_of[row]]}
        out.update(zip(COLUMNS, (int(x) for x in c)))
        out["text"] = self.text(row)
        return out


def _doc_of(docs: list[dict]) -> np.ndarray:
    return np.repeat(np.arange(len(docs), dtype=np.int32), [d["chunks"] for d in docs]).astype(np.int32)


def from_records(docs: list[dict], chunks: list[dict]) -> Part:
    """A part over records in memory (docs: the segment's documents.json, chunks in its order)."""
    cols = np.array([[c[k] for k in COLUMNS] for c in chunks], dtype=np.int64).reshape(-1, len(COLUMNS))
    return Part([d["id"] for d in docs], _doc_of(docs), cols, texts=[c["text"] for c in chunks])


def write(folder: Path, chunks) -> None:
    """chunks.npy, chunk_text.npy and chunk_text.bin in folder (records in segment order)."""
    folder = Path(folder)
    cols = np.array([[c[k] for k in COLUMNS] for c in chunks], dtype=np.int64).reshape(-1, len(COLUMNS))
    offsets = np.zeros(len(cols) + 1, dtype=np.int64)
    with open(folder / "chunk_text.bin", "wb") as f:
        for n, c in enumerate(chunks):
            raw = c["text"].encode("utf-8")
            f.write(raw)
            offsets[n + 1] = offsets[n] + len(raw)
    np.save(folder / "chunks.npy", cols, allow_pickle=False)
    np.save(folder / "chunk_text.npy", offsets, allow_pickle=False)


def read_part(folder: Path, docs: list[dict]) -> Part:
    """The part of a segment folder (checksums already checked), its shapes checked against docs."""
    folder = Path(folder)
    cols = np.load(folder / "chunks.npy", allow_pickle=False, mmap_mode="r")
    offsets = np.load(folder / "chunk_text.npy", allow_pickle=False, mmap_mode="r")
    size = (folder / "chunk_text.bin").stat().st_size
    n = sum(d["chunks"] for d in docs)
    problems = []
    if cols.dtype != np.int64 or cols.shape != (n, len(COLUMNS)):
        problems.append(f"chunks.npy is {cols.dtype} {cols.shape}, expected int64 [{n}, {len(COLUMNS)}]")
    elif n and int(cols.min()) < 0:
        problems.append("chunks.npy holds negative numbers")
    if offsets.dtype != np.int64 or offsets.shape != (n + 1,):
        problems.append(f"chunk_text.npy is {offsets.dtype} {offsets.shape}, expected int64 [{n + 1}]")
    elif offsets[0] != 0 or offsets[-1] != size or (n and bool(np.any(np.diff(offsets) < 0))):
        problems.append(f"chunk_text.npy offsets do not cover chunk_text.bin ({size} bytes)")
    if problems:
        raise IndexCorruptError("; ".join(problems))
    blob = os.open(folder / "chunk_text.bin", os.O_RDONLY)   # texts are read with pread: nothing mapped
    part = Part([d["id"] for d in docs], _doc_of(docs), cols, offsets, blob)
    weakref.finalize(part, os.close, blob)
    return part


class Chunks:
    """A version's chunk records by row: a read-only sequence of dicts built on access.

    parts: one Part per segment; runs: (version row, part, local row, length), in order
    (rag.storage.vector_rows.runs_of). Equal to a list of the same dicts."""

    def __init__(self, parts: list[Part], runs: list[tuple[int, int, int, int]]):
        runs = [r for r in runs if r[3] > 0]
        self.parts = parts
        self._start = np.array([r[0] for r in runs], dtype=np.int64)
        self._part = np.array([r[1] for r in runs], dtype=np.int64)
        self._local = np.array([r[2] for r in runs], dtype=np.int64)
        self._len = np.array([r[3] for r in runs], dtype=np.int64)
        self.n = int(self._start[-1] + self._len[-1]) if runs else 0

    def __len__(self) -> int:
        return self.n

    def locate(self, rows) -> tuple[np.ndarray, np.ndarray]:
        """(part, local row) of each version row."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(rows) and (rows.min() < 0 or rows.max() >= self.n):
            raise IndexError(f"chunk row out of range for {self.n} rows")
        run = np.searchsorted(self._start, rows, side="right") - 1
        return self._part[run], rows - self._start[run] + self._local[run]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.n))]
        i = int(i)
        if i < 0:
            i += self.n
        part, local = self.locate([i])
        return self.parts[int(part[0])].record(int(local[0]))

    def __iter__(self):
        for start, part, local, length in zip(self._start, self._part, self._local, self._len):
            p = self.parts[int(part)]
            for j in range(int(local), int(local + length)):
                yield p.record(j)

    def __eq__(self, other) -> bool:
        if isinstance(other, (Chunks, list)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def text(self, i: int) -> str:
        part, local = self.locate([i])
        return self.parts[int(part[0])].text(int(local[0]))

    def column(self, name: str, rows=None) -> np.ndarray:
        """int64 values of one column (ordinal, start, end, sent_lo, sent_hi) for rows (None: all)."""
        k = COLUMNS.index(name)
        rows = np.arange(self.n) if rows is None else rows
        part, local = self.locate(rows)
        out = np.empty(len(local), dtype=np.int64)
        for p in np.unique(part):
            where = part == p
            out[where] = self.parts[int(p)].cols[local[where], k]
        return out

    def doc_ids(self, rows) -> list[str]:
        part, local = self.locate(rows)
        return [self.parts[int(p)].doc_ids[self.parts[int(p)].doc_of[j]] for p, j in zip(part, local)]


def column(chunks, name: str) -> np.ndarray:
    """int64 values of one column of every record, for Chunks or a list of records."""
    if isinstance(chunks, Chunks):
        return chunks.column(name)
    return np.array([c[name] for c in chunks], dtype=np.int64)
