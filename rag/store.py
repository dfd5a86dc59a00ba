"""Save and load an index folder; never pickles.

Layout of an index folder (all readable without this package):
  manifest.json     format, versions, model, dimension, chunker settings,
                    documents (id, title, sha256, counts), totals, build time
  chunks.jsonl      one chunk a line: doc, ordinal, start, end, text, and its
                    sentences as a range within its document (sent_lo, sent_hi)
  chunks.faiss      FAISS IndexFlatIP over the chunk vectors (FAISS's own format)
  sentences.npy     int64 [S, 3]: document number, start, end of each sentence
  sentence_vecs.npy float32 [S, dim]: the sentence vectors
  bm25/             BM25 over the chunks (bm25s's .npy arrays and JSON files)
  bm25_docs/        BM25 over whole documents, rows in manifest document order
A save writes a sibling temporary folder and renames it into place, so a crash
leaves the previous index whole. Does not handle concurrent writers.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import IndexCorruptError, IndexMismatchError, IndexMissingError

FORMAT = "rag-index"
FORMAT_VERSION = 2
REBUILD_HINT = "rebuild it with: rag index --rebuild"


@dataclass
class IndexData:
    manifest: dict
    chunks: list[dict]
    chunk_vecs: np.ndarray | None  # float32 [C, dim]; None after load (see chunk_vectors)
    sentences: np.ndarray      # int64 [S, 3]
    sentence_vecs: np.ndarray  # float32 [S, dim]
    faiss_index: object = None
    bm25: object = None            # rag.lexical.BM25, rows aligned with chunks
    doc_bm25: object = None        # rag.lexical.BM25, rows aligned with manifest documents


def package_version() -> str:
    from . import __version__
    return __version__


def save(index_dir: Path, data: IndexData) -> None:
    """Write data into index_dir crash-safely (temporary folder, then rename)."""
    import faiss

    index_dir = Path(index_dir)
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{index_dir.name}.tmp-", dir=index_dir.parent))
    try:
        os.chmod(tmp, 0o755)   # mkdtemp makes it private; an index is readable like its files
        flat = faiss.IndexFlatIP(int(data.manifest["dimension"]))
        if len(data.chunk_vecs):
            flat.add(np.ascontiguousarray(data.chunk_vecs, dtype=np.float32))
        faiss.write_index(flat, str(tmp / "chunks.faiss"))
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
            for chunk in data.chunks:
                f.write(json.dumps(chunk, ensure_ascii=False) + "\n")
        np.save(tmp / "sentences.npy", np.asarray(data.sentences, dtype=np.int64), allow_pickle=False)
        np.save(tmp / "sentence_vecs.npy", np.asarray(data.sentence_vecs, dtype=np.float32),
                allow_pickle=False)
        if data.bm25 is not None:
            data.bm25.save(tmp / "bm25")
        if data.doc_bm25 is not None:
            data.doc_bm25.save(tmp / "bm25_docs")
        (tmp / "manifest.json").write_text(json.dumps(data.manifest, indent=2, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
        old = index_dir.with_name(f".{index_dir.name}.old-{int(time.time() * 1000)}")
        if index_dir.exists():
            index_dir.rename(old)
        tmp.rename(index_dir)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _recover(index_dir: Path) -> None:
    """If a crash fell between the two renames of save(), put the old index back."""
    if index_dir.exists():
        return
    olds = sorted(index_dir.parent.glob(f".{index_dir.name}.old-*")) if index_dir.parent.exists() else []
    if olds:
        olds[-1].rename(index_dir)


def read_manifest(index_dir: Path) -> dict:
    index_dir = Path(index_dir)
    _recover(index_dir)
    path = index_dir / "manifest.json"
    if not path.exists():
        raise IndexMissingError(f"no index at {index_dir}: build one with: rag index CORPUS --index {index_dir}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"{path}: unreadable manifest ({exc}); {REBUILD_HINT}") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"{index_dir} has index format {manifest.get('format')!r} v{manifest.get('format_version')}, "
            f"this version reads {FORMAT!r} v{FORMAT_VERSION}; {REBUILD_HINT}")
    return manifest


def check_settings(manifest: dict, settings: dict, index_dir: Path) -> None:
    """Refuse an index built with other settings than the configured ones."""
    built = manifest.get("settings", {})
    diffs = [f"{k}: index has {built.get(k)!r}, config has {v!r}" for k, v in settings.items()
             if built.get(k) != v]
    if diffs:
        raise IndexMismatchError(f"index at {index_dir} does not match the configuration "
                                 f"({'; '.join(diffs)}); {REBUILD_HINT}")


def load(index_dir: Path, settings: dict | None = None) -> IndexData:
    """Load and verify an index folder; settings (if given) must match its manifest."""
    import faiss

    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    if settings is not None:
        check_settings(manifest, settings, index_dir)
    try:
        flat = faiss.read_index(str(index_dir / "chunks.faiss"))
        with open(index_dir / "chunks.jsonl", encoding="utf-8") as f:
            chunks = [json.loads(line) for line in f if line.strip()]
        sentences = np.load(index_dir / "sentences.npy", allow_pickle=False)
        sentence_vecs = np.load(index_dir / "sentence_vecs.npy", allow_pickle=False, mmap_mode="r")
    except Exception as exc:
        raise IndexCorruptError(f"index at {index_dir} is damaged ({type(exc).__name__}: {exc}); "
                                f"{REBUILD_HINT}") from None
    counts, dim = manifest.get("counts", {}), manifest.get("dimension")
    problems = []
    if len(manifest.get("documents", [])) != counts.get("documents"):
        problems.append(f"{len(manifest.get('documents', []))} documents listed, counts say {counts.get('documents')}")
    if manifest.get("model") != manifest.get("settings", {}).get("model"):
        problems.append(f"model {manifest.get('model')!r} but settings model {manifest.get('settings', {}).get('model')!r}")
    if flat.ntotal != counts.get("chunks") or len(chunks) != counts.get("chunks"):
        problems.append(f"{flat.ntotal} vectors and {len(chunks)} chunk records, manifest says {counts.get('chunks')}")
    if flat.d != dim or (len(sentence_vecs) and sentence_vecs.shape[1] != dim):
        problems.append(f"vector dimension {flat.d}, manifest says {dim}")
    if len(sentences) != counts.get("sentences") or len(sentence_vecs) != len(sentences):
        problems.append(f"{len(sentences)} sentences and {len(sentence_vecs)} sentence vectors, "
                        f"manifest says {counts.get('sentences')}")
    bm25 = doc_bm25 = None
    if "bm25" in manifest:
        from .lexical import BM25

        info = manifest["bm25"]
        bm25 = BM25.load(index_dir / "bm25", expect_docs=len(chunks), expect_vocab=info.get("vocabulary"))
        doc_bm25 = BM25.load(index_dir / "bm25_docs", expect_docs=len(manifest.get("documents", [])),
                             expect_vocab=info.get("documents", {}).get("vocabulary"))
    if problems:
        raise IndexCorruptError(f"index at {index_dir} disagrees with its manifest "
                                f"({'; '.join(problems)}); {REBUILD_HINT}")
    return IndexData(manifest, chunks, None, sentences, sentence_vecs, flat, bm25, doc_bm25)


def chunk_vectors(data: IndexData) -> np.ndarray:
    """The chunk vectors, read back from the FAISS index when they were not kept."""
    if data.chunk_vecs is None:
        n, dim = data.faiss_index.ntotal, data.faiss_index.d
        data.chunk_vecs = data.faiss_index.reconstruct_n(0, n) if n else np.zeros((0, dim), np.float32)
    return data.chunk_vecs
