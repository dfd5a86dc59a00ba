"""Names of the files and folders of an index (the whole on-disk layout), shared by writer, reader and checks.

    INDEX/CURRENT                      "v-000007 <sha256 of its manifest>": the version in use
    INDEX/v-000007/manifest.json       settings, counts, documents, segments and every file's sha256
    INDEX/s-000003/{documents.json, chunks.jsonl, chunk_vecs.npy, sentences.npy, sentence_vecs.npy[, ann.faiss]}
    INDEX/v-000007/bm25/...            the BM25 index of that version (rag.storage.lexical)
    INDEX/.tmp-*                       being written; removed by the next writer
    INDEX/.lock                        the one-writer lock (rag.storage.lock)

Does not read or write anything.
"""
from __future__ import annotations

import re

FORMAT = "rag-index"
FORMAT_VERSION = 5   # 5: float16 vectors, optional per-segment ANN index (4: float32)
POINTER = "CURRENT"
TMP_PREFIX = ".tmp-"
VERSION_RE = re.compile(r"v-(\d{6,})")
SEGMENT_RE = re.compile(r"s-(\d{6,})")
SEGMENT_FILES = ("documents.json", "chunks.jsonl", "chunk_vecs.npy", "sentences.npy", "sentence_vecs.npy")
ANN_FILE = "ann.faiss"
ANN_KIND = "ivf-sq8"
