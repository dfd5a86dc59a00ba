"""The Python entry points: ``query`` for the default index, ``Rag`` for an explicit one.

``Rag`` is the one place that wires the pipeline: it loads an index folder once
(checking its manifest against the configuration) into a retriever, holds the
embedding model and the answer step (an ``rag.answer.base.Answerer``; the
extractive one by default), and offers ``search`` (ranked passages, used by
evaluation and benchmarks), ``query`` (one question) and ``chat`` (a
conversation whose last message is the new question). ``query`` keeps one ``Rag`` per
configuration and, for the default configuration only, builds the index from
the corpus folder when it is missing. A ``Rag`` notices a completed update of
its index (by any process) on its next question and switches to it (rag.storage.live).
"""
from __future__ import annotations

import os
import threading
from dataclasses import replace
from typing import Iterator

from rag import assemble
from rag.answer.base import Answer, Answerer
from rag.answer.followup import resolve_conversation
from rag.build.builder import BuildReport, build_index
from rag.config import CHECKOUT, Config
from rag.errors import IndexMissingError, QuestionError, RagError
from rag.question import check, check_k, check_mode, clean_question
from rag.retrieve.retriever import Passage, Retriever
from rag.storage.settings import for_index

_CACHE: dict[Config, "Rag"] = {}
_CACHE_LOCK = threading.Lock()


class Rag:
    """A loaded index plus its embedding model, ready to answer questions."""

    def __init__(self, config: Config | None = None, *, embedder=None, answerer: Answerer | None = None):
        self.config = config or Config()
        self.embedder = embedder or assemble.embedder(self.config)
        self.live = assemble.live_index(self.config, self.embedder)
        self.answerer = answerer or assemble.answerer(self.config, self.embedder)

    @property
    def retriever(self) -> Retriever:
        """The current version's retriever (reloaded when an update completed: rag.storage.live);
        take it once per question."""
        return self.live.get()

    @classmethod
    def open(cls, index_dir, *, embedder=None, answerer: Answerer | None = None, **settings) -> "Rag":
        """Load the index in index_dir with the settings it was built with (model, backend,
        chunker, fusion weights: rag.storage.settings); settings set other Config fields (top_k...)
        and may repeat stored ones, but one that conflicts is refused with the rebuild command."""
        return cls(for_index(index_dir, settings), embedder=embedder, answerer=answerer)

    @property
    def status(self) -> dict:
        m = self.retriever.manifest
        return {"documents": m["counts"]["documents"], "chunks": m["counts"]["chunks"],
                "model": m["model"], "index": str(self.config.index_dir), "built_at": m.get("built_at"),
                "skipped": len(m.get("skipped") or []), "vectors": self.retriever.progress}

    def examples(self, n: int = 4) -> list[str]:
        """Up to n example questions this index answers (the chat's suggestions; rag.answer.examples)."""
        from rag.answer.examples import example_questions

        return example_questions(self, n)

    def record_feedback(self, *, rating: str, question: str, answer: str, passages: list[dict]) -> dict:
        """Append a thumbs up/down line to the feedback log (config.feedback_log, else
        INDEX-feedback.jsonl beside the index) and return it (rag.answer.feedback)."""
        from rag.answer.feedback import default_path, record

        path = self.config.feedback_log or default_path(self.config.index_dir)
        return record(path, rating=rating, question=question, answer=answer, passages=passages)

    def embed(self, question: str):
        """The question's vector (one model call)."""
        return self.embedder.encode([question], progress=False)[0]

    def search(self, question: str, *, k: int | None = None, mode: str | None = None, qvec=None,
               depth: int | None = None) -> list[Passage]:
        """The k best passages for question (qvec: its vector, if already computed); k has
        no upper bound here, so evaluation can rank deeply."""
        k, mode = check_k(k, self.config.top_k, most=None), check_mode(mode, self.config.mode)
        qvec = self.embed(question) if qvec is None else qvec
        return self.retriever.search(question, qvec, k, mode=mode, depth=depth)

    def answer(self, question: str, passages, qvec, *, notice: str | None = None,
               retriever: Retriever | None = None) -> Answer:
        """Compose the answer to question from ranked passages with the configured answer step
        (retriever: the version the passages came from; default the current one)."""
        return self.answerer.answer(question, qvec, passages, retriever or self.retriever, notice=notice)

    def query(self, question: str, *, k: int | None = None, mode: str | None = None) -> Answer:
        """Answer one question with cited passages; see rag.answer.extractive for how.

        k: passages to retrieve, 1 to 100 (default config.top_k); mode: dense, bm25,
        rrf or hybrid (default config.mode). Raises QuestionError (one line) for a
        question, k or mode of the wrong type or value; see rag.question."""
        q, retriever, qvec, passages = self._retrieve(question, k, mode)
        notice, partial = _partial(retriever, q.notice)
        answer = self.answer(q.text, passages, qvec, notice=notice, retriever=retriever)
        return replace(answer, partial=partial) if partial else answer

    def _retrieve(self, question, k, mode):
        """(checked question, the index version used, its vector, ranked passages)."""
        q = check(question, k, mode, config=self.config)
        retriever = self.retriever   # one index version for the whole question
        qvec = self.embed(q.text)
        return q, retriever, qvec, retriever.search(q.text, qvec, q.k, mode=q.mode)

    def chat_stream(self, messages: list[dict], *, k: int | None = None,
                    mode: str | None = None) -> Iterator[str | Answer]:
        """chat(), streamed: text deltas (str) as they are written, then the final Answer.

        With a generating answerer (rag.llm.answerer) the deltas are the model's raw text and the
        final Answer holds the checked text (which may differ: citations fixed, unsupported
        sentences marked, or the extractive fallback with its notice); show the final Answer's
        text once it arrives. With the extractive answerer: its text as one delta, then the Answer."""
        question, notice = self._read(messages)
        q, retriever, qvec, passages = self._retrieve(question, k, mode)
        notice, partial = _partial(retriever, "; ".join(n for n in (notice, q.notice) if n) or None)
        for item in self.answerer.stream(q.text, qvec, passages, retriever, notice=notice):
            yield replace(item, partial=partial) if partial and isinstance(item, Answer) else item

    def _read(self, messages) -> tuple[str, str | None]:
        """(the question as read, notice) for a conversation: see chat()."""
        if (not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict)
                or messages[-1].get("role") != "user"):
            raise QuestionError("the conversation must end with the user's question")
        cleaned = [m for m in messages[:-1] if isinstance(m, dict) and isinstance(m.get("content"), str)
                   and m["content"].strip() and m.get("role") in ("user", "assistant")]
        last, notice = clean_question(messages[-1].get("content"), self.config.max_question_chars)
        resolved = resolve_conversation(cleaned + [{"role": "user", "content": last}])
        if not resolved.depends:
            return last, notice
        return resolved.question, "; ".join(n for n in (notice, f"Read as: {resolved.question}") if n)

    def chat(self, messages: list[dict], *, k: int | None = None, mode: str | None = None) -> Answer:
        """Answer the last message of a conversation [{"role": "user"|"assistant", "content": str}, ...].

        A follow-up that leans on the previous turn ("and how many were killed?") is
        resolved against it first (rag.answer.followup); Answer.question is then the question
        as read, and the notice says so. A self-contained question is asked as is."""
        question, notice = self._read(messages)
        answer = self.query(question, k=k, mode=mode)
        if not notice:
            return answer
        return replace(answer, notice="; ".join(n for n in (notice, answer.notice) if n))

    # Document management (rag.build.documents): list, view, upload, remove.
    def documents(self) -> list:
        """Every indexed document (rag.build.documents.DocumentInfo), in manifest order."""
        from rag.build import documents
        return documents.documents(self)

    def skipped(self) -> list:
        """Files the latest build or refresh skipped (rag.build.documents.SkippedFile), with reasons."""
        from rag.build import documents
        return documents.skipped(self)

    def document(self, doc_id: str):
        """One document's info, indexed text and chunks (DocumentView); DocumentError if unknown."""
        from rag.build import documents
        return documents.document(self, doc_id)

    def add_files(self, files, *, progress=None):
        """Store uploads ((name, bytes) pairs or paths) in the corpus and index them (AddResult)."""
        from rag.build import documents
        return documents.add_files(self, files, progress=progress)

    def remove_document(self, doc_id: str, *, delete_upload: bool = False):
        """Take a document out of the index (its file is kept; later refreshes leave it out) and
        return a RemoveResult; DocumentError if unknown. delete_upload: also delete the file, only
        when the application stored it (an upload); a file of the person's folder is never deleted."""
        from rag.build import documents
        return documents.remove_document(self, doc_id, delete_upload=delete_upload)

    def removed(self) -> list[str]:
        """Ids of documents removed from the index (their files kept; refreshes leave them out)."""
        from rag.build import corpus_state
        return list(corpus_state.load(self.config.index_dir).excluded)

    def is_upload(self, doc_id: str) -> bool:
        """Whether doc_id's file is an upload the application stored (see remove_document)."""
        from rag.build import documents
        return documents.is_upload(self, doc_id)


def _partial(retriever: Retriever, notice: str | None) -> tuple[str | None, dict | None]:
    """(notice, Answer.partial) for an answer from retriever's version: on a partial index (a build
    still computing vectors) a notice that says so and how far it is."""
    if not retriever.partial:
        return notice, None
    p = retriever.progress
    done = p["documents"] - p["documents_pending"]
    note = (f"partial index: still computing vectors ({done:,} of {p['documents']:,} documents done); "
            f"passages ranked by keywords only until it completes")
    return "; ".join(n for n in (notice, note) if n), p


def open_default(config: Config | None = None, *, embedder=None) -> Rag:
    """The cached Rag for config; builds the default index from its corpus if it is missing."""
    if config is None:   # the default index, with the settings it was built with
        try:
            config = for_index(Config().index_dir)
        except RagError:
            config = Config()   # missing (built below) or unusable (Rag says how to rebuild it)
    with _CACHE_LOCK:
        if config not in _CACHE:
            try:
                _CACHE[config] = Rag(config, embedder=embedder)
            except IndexMissingError:   # built only for a checkout's seeds/ or a configured $RAG_CORPUS
                if config.index_dir != Config().index_dir or not (CHECKOUT or os.environ.get("RAG_CORPUS")):
                    raise
                embedder = embedder or assemble.embedder(config)
                build_index(config, embedder=embedder)
                _CACHE[config] = Rag(config, embedder=embedder)
        return _CACHE[config]


def query(question: str, *, k: int | None = None, mode: str | None = None,
          config: Config | None = None) -> Answer:
    """Answer question from the default index (or the one config names)."""
    check(question, k, mode, config=config or Config())   # fail fast, before loading anything
    return open_default(config).query(question, k=k, mode=mode)


def index(corpus_dir=None, index_dir=None, *, rebuild: bool = False, embedder=None, ray: str | None = None,
          **settings) -> BuildReport:
    """Build or refresh an index; arguments default to the configured folders. ray: embed on a
    Ray cluster at that address ("": ray.init()'s default; rag.embed.ray_cluster) instead of locally."""
    config = Config(**settings)
    config = replace(config, corpus_dir=corpus_dir or config.corpus_dir,
                     index_dir=index_dir or config.index_dir)
    try:   # settings not given are the existing index's (given ones win: the build rebuilds over them)
        config = for_index(config.index_dir, settings, config, refuse=False)
    except RagError:
        pass   # no usable index: build with the given settings
    own = None
    if embedder is None:
        embedder = own = assemble.embedder(config, ray=ray)
    try:
        report = build_index(config, embedder=embedder, rebuild=rebuild)
    finally:
        if own is not None:
            own.close()
    with _CACHE_LOCK:
        _CACHE.pop(config, None)
    return report
