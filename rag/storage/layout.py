"""Names of the files and folders of an index (the whole on-disk layout), shared by writer, reader and checks.

    INDEX/CURRENT                      "v-000007 <sha256 of its manifest>": the version in use
    INDEX/v-000007/manifest.json       settings, counts, documents, segments and every file's sha256
    INDEX/segments/s-000003/{documents.json, chunks.npy, chunk_text.npy, chunk_text.bin, chunk_vecs.npy,
                    sentences.npy, sentence_vecs.npy, bm25/*.npy, bm25_docs/*.npy[, ann.faiss]}
    INDEX/v-000007/bm25/...            format 5 only: the BM25 index of that version (rag.storage.lexical)
    INDEX/.tmp-*                       being written; removed by the next writer
    INDEX/.lock                        the one-writer lock (rag.storage.lock)

Does not read or write anything.
"""
from __future__ import annotations

import re

FORMAT = "rag-index"
FORMAT_VERSION = 6   # 6: chunk records as arrays, BM25 postings per segment; 5: float16 vectors, optional
READ_VERSIONS = (5, 6)   # per-segment ANN index (4: float32); 5 is still read (chunks.jsonl, version BM25)
POINTER = "CURRENT"
TMP_PREFIX = ".tmp-"
VERSION_RE = re.compile(r"v-(\d{6,})")
SEGMENT_RE = re.compile(r"s-(\d{6,})")
_POSTINGS = ("terms.npy", "starts.npy", "rows.npy", "tf.npy", "lengths.npy")   # rag.storage.lexical.POSTINGS
SEGMENT_FILES = ("documents.json", "chunks.npy", "chunk_text.npy", "chunk_text.bin", "chunk_vecs.npy",
                 "sentences.npy", "sentence_vecs.npy") + tuple(f"{d}/{f}" for d in ("bm25", "bm25_docs")
                                                            for f in _POSTINGS)
SEGMENT_FILES_V5 = ("documents.json", "chunks.jsonl", "chunk_vecs.npy", "sentences.npy", "sentence_vecs.npy")
ANN_FILE = "ann.faiss"
ANN_KIND = "ivf-sq8"
