"""Dense candidates over a version's segments: exact for small segments, approximate for large ones.

A segment written with at least ``Config.ann_threshold`` chunks gets an
approximate index of its chunk vectors beside its arrays (``ann.faiss``, FAISS's
own binary format, checksummed like the segment's other files): an inverted file
of ``nlist`` = 2 sqrt(n) lists (k-means on up to 64 vectors per list, seeded, so a
rebuild gives the same index) over 8-bit scalar-quantized vectors (1 byte per
dimension), searched in ``nprobe`` = nlist / 16 lists (at least 16). Both numbers
are recorded in the manifest's segment entry; README "Scale" gives the recall they
reach. Smaller segments are searched exactly (inner product over their float16
vectors, built at load from the live rows). ``Dense.search`` asks every segment,
maps segment rows to version rows (rows of deleted documents dropped, asking a
segment for proportionally more when it holds some) and merges by score, ties by
row; its callers rescore the candidates exactly (rag.retrieve.retriever). Does not decide
which segments exist (rag.storage.plan) nor verify files (rag.storage.segments).
"""
from __future__ import annotations

import math

import numpy as np

from rag.storage.layout import ANN_FILE, ANN_KIND

FILE, KIND = ANN_FILE, ANN_KIND
TRAIN_PER_LIST = 64
_BLOCK = 65536


def plan(n: int) -> dict:
    """The parameters for a segment of n chunk vectors (recorded in its manifest entry)."""
    nlist = max(1, min(int(2 * math.sqrt(n)), n // 39 or 1))
    return {"kind": KIND, "nlist": nlist, "nprobe": min(nlist, max(16, nlist // 16))}


def _float32(vecs, lo: int, hi: int) -> np.ndarray:
    return np.ascontiguousarray(vecs[lo:hi], dtype=np.float32)


def build(vecs) -> tuple[object, dict]:
    """(FAISS index over every row of vecs [n, dim], its parameters); rows keep their order."""
    import faiss

    n, dim = vecs.shape
    params = plan(n)
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(quantizer, dim, params["nlist"], faiss.ScalarQuantizer.QT_8bit,
                                          faiss.METRIC_INNER_PRODUCT)
    index.cp.seed, index.cp.niter = 1234, 10
    sample = np.sort(np.random.default_rng(0).permutation(n)[:params["nlist"] * TRAIN_PER_LIST])
    index.train(np.ascontiguousarray(vecs[sample], dtype=np.float32))
    for lo in range(0, n, _BLOCK):
        index.add(_float32(vecs, lo, min(n, lo + _BLOCK)))
    index.nprobe = params["nprobe"]
    return index, params


def write(index, path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def read(path, params: dict, rows: int, dim: int):
    """The index in path, checked against its manifest entry; ValueError when it disagrees."""
    import faiss

    index = faiss.read_index(str(path))
    if (not isinstance(index, faiss.IndexIVFScalarQuantizer) or index.ntotal != rows or index.d != dim
            or index.nlist != params["nlist"]):
        raise ValueError(f"{path.name} holds {type(index).__name__} of {index.ntotal} rows, dimension "
                         f"{index.d}; expected {params['kind']} of {rows} rows, dimension {dim}, "
                         f"{params['nlist']} lists")
    index.nprobe = params["nprobe"]
    return index


def exact(vecs, rows: np.ndarray):
    """An exact inner-product index over vecs[rows] (stored as float16, as on disk)."""
    import faiss

    index = faiss.IndexScalarQuantizer(vecs.shape[1], faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    for lo in range(0, len(rows), _BLOCK):
        index.add(np.ascontiguousarray(vecs[rows[lo:lo + _BLOCK]], dtype=np.float32))
    return index


class Dense:
    """FAISS-like search over segments; parts: [(index, local row -> version row or -1)]."""

    def __init__(self, parts: list[tuple[object, np.ndarray]], dim: int):
        self.parts, self.d = parts, dim
        self._live = [int((m >= 0).sum()) for _, m in parts]
        self.ntotal = sum(self._live)

    def within(self, allowed: np.ndarray) -> "Within":
        """The rows allowed (bool [version rows]) as each segment's FAISS ID selector (build once, search often)."""
        return Within(self, allowed)

    def search(self, q: np.ndarray, k: int, allowed=None) -> tuple[np.ndarray, np.ndarray]:
        """([1, k] scores, [1, k] version rows), best first; -1 rows pad a short result.
        allowed: None, bool [version rows] or a Within; only those rows are searched (a FAISS ID
        selector inside each segment's search, not a filter of its results)."""
        q = np.ascontiguousarray(np.asarray(q, dtype=np.float32).reshape(1, -1))
        if allowed is not None and not isinstance(allowed, Within):
            allowed = Within(self, allowed)
        scores, rows = [], []
        for n, ((index, to_version), live) in enumerate(zip(self.parts, self._live)):
            if not live or k < 1:
                continue
            if allowed is None:
                want = min(index.ntotal, math.ceil(k * index.ntotal / live))
                d, i = index.search(q, want)
            else:
                sel, count = allowed.parts[n]
                if not count:
                    continue
                d, i = _search_within(index, q, min(k, count), sel)
            ok = i[0] >= 0
            found = to_version[i[0][ok]]
            scores.append(d[0][ok][found >= 0])
            rows.append(found[found >= 0])
        s = np.concatenate(scores) if scores else np.zeros(0, np.float32)
        r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        order = np.lexsort((r, -s))[:k]
        out_s, out_r = np.full((1, k), -np.inf, np.float32), np.full((1, k), -1, np.int64)
        out_s[0, :len(order)], out_r[0, :len(order)] = s[order], r[order]
        return out_s, out_r


class Within:
    """Allowed rows of a version as one FAISS ID selector per segment of a Dense: parts[n] = (selector or
    None, allowed rows in that segment)."""

    def __init__(self, dense: Dense, allowed: np.ndarray):
        allowed = np.asarray(allowed, dtype=bool)
        self.parts = []
        for _, to_version in dense.parts:
            local = (to_version >= 0) & allowed[np.maximum(to_version, 0)]
            n = int(local.sum())
            self.parts.append((_selector(local) if n else None, n))


def _selector(local: np.ndarray):
    """A FAISS ID selector of the local rows where local is True: a hash set of few ids, else a bitmap."""
    import faiss

    if int(local.sum()) * 8 < len(local):
        return faiss.IDSelectorBatch(np.flatnonzero(local).astype(np.int64))
    bits = np.packbits(local, bitorder="little")
    sel = faiss.IDSelectorBitmap(bits)
    sel.bits_ref = bits   # the selector reads this buffer: keep it alive as long as the selector
    return sel


def _search_within(index, q: np.ndarray, want: int, sel):
    """index.search(q, want) over only the rows sel selects (want: at most how many it selects);
    an IVF index whose probed lists hold fewer than want of them is searched again in all its lists."""
    import faiss

    if not hasattr(index, "nprobe"):
        return index.search(q, want, params=faiss.SearchParameters(sel=sel))
    d, i = index.search(q, want, params=faiss.SearchParametersIVF(sel=sel, nprobe=index.nprobe))
    if int((i[0] >= 0).sum()) < want and index.nprobe < index.nlist:
        d, i = index.search(q, want, params=faiss.SearchParametersIVF(sel=sel, nprobe=index.nlist))
    return d, i
