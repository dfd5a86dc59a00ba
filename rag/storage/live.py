"""Keep a reader on the newest index version: one cheap look at CURRENT per question.

``LiveIndex.get()`` reads INDEX/CURRENT (a few bytes) and compares it with the
pointer of the version it holds; when a writer has swapped in another version,
it loads that one (segments it already verified are reused, see
rag.storage.reader.load's cache) and replaces its retriever in one assignment.
Callers take the retriever once per question, so a question in flight finishes
on the data it started with, and since a version only becomes current when it
is whole (rag.storage.writer), a reader never sees a half-written index. Loads are
serialized: threads asking meanwhile wait and then use the new version, so the
first question after a completed update sees it. When CURRENT cannot be read
(the folder was removed) the loaded version keeps answering; when the new
version cannot be loaded (damaged, or built with other settings) the question
raises that error and the next one tries again. Does not watch the folder or
run a thread: nothing is checked between questions.
"""
from __future__ import annotations

import threading
from pathlib import Path

from rag.errors import RagError
from rag.storage import reader as store


class LiveIndex:
    """The current version of index_dir, made into a retriever by make(IndexData)."""

    def __init__(self, index_dir, make, *, settings: dict | None = None, corpus=None):
        self.index_dir, self._make = Path(index_dir), make
        self._settings, self._corpus = settings, corpus
        self._cache: dict = {}
        self._lock = threading.Lock()
        self.loads = 0
        self._install(self._load())

    def _load(self):
        self.loads += 1
        return store.load(self.index_dir, self._settings, corpus=self._corpus, cache=self._cache)

    def _install(self, data) -> None:
        retriever = self._make(data)
        self.pointer, self.retriever = data.pointer, retriever

    def get(self):
        """The retriever of the current version, loading it first when CURRENT moved on."""
        try:
            pointer = store.read_pointer(self.index_dir)
        except RagError:
            return self.retriever
        if pointer == self.pointer:
            return self.retriever
        with self._lock:   # another thread may have loaded it (or a newer one) meanwhile
            if self._pointer_now(pointer) != self.pointer:
                self._install(self._load())
            return self.retriever

    def _pointer_now(self, fallback):
        try:
            return store.read_pointer(self.index_dir)
        except RagError:
            return fallback
