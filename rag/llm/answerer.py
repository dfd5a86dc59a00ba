"""An Answerer that asks an LLM, checks every claim, and falls back to the extractive answer.

``GenerativeAnswerer(client, fallback, embed)`` implements rag.answer.base.Answerer
and adds ``stream(...)``: it builds the grounded prompt (rag.llm.prompt), streams
the model's text deltas from ``client`` (rag.llm.client), then checks the
finished text (rag.llm.claims) and yields one final ``Answer`` whose text is the
checked text (citations fixed, unsupported sentences marked), with ``claims``,
``supported_share`` and ``generated=True``. Its citations are the passages the
checked text cites, each quoting the passage window that supports it best.
When there is no client (no endpoint configured), or the client fails (down,
timeout, malformed reply), the final Answer is the fallback answerer's (the
extractive one) with a one-line notice naming the reason; deltas already
streamed are then superseded by that final Answer. The model's fixed "not in the
documents" sentence gives ``found=False``. The model's text loses escape
sequences and control characters (rag.llm.text) and impossible markers
(``[-1]``, ``[1000000000000]``); an answer over ``max_chars`` (Config.llm_max_chars)
is no longer read and is cut at a sentence end, and one the stream left
unfinished mid-sentence, each with a notice saying so. Does not retry, cache, or render
anything: text is returned as plain text for the caller to show as text.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable, Iterator, Sequence

import numpy as np

from rag.answer.base import NOT_FOUND, Answer, Answerer, Citation, SentenceSource
from rag.llm import claims, prompt
from rag.llm import text as llm_text
from rag.llm.client import LLMClient, LLMError
from rag.retrieve.retriever import Passage

log = logging.getLogger(__name__)
UNSET = "no LLM endpoint set (--llm URL or RAG_LLM_URL)"


def _join(*notes) -> str | None:
    return "; ".join(n for n in notes if n) or None


class GenerativeAnswerer(Answerer):
    """See the module docstring. client: an LLMClient, or None (always the fallback, with a notice)."""

    generated = True

    def __init__(self, client: LLMClient | None, fallback, embed: Callable, *,
                 budget: int = prompt.DEFAULT_BUDGET, max_tokens: int = 300,
                 threshold: float = claims.THRESHOLD, max_chars: int = 4000):
        self.client, self.fallback, self.embed = client, fallback, embed
        self.budget, self.max_tokens, self.threshold = budget, max_tokens, threshold
        self.max_chars = max(1, int(max_chars))

    def answer(self, question: str, qvec: np.ndarray, passages: Sequence[Passage],
               source: SentenceSource, *, notice: str | None = None) -> Answer:
        final = None
        for item in self.stream(question, qvec, passages, source, notice=notice):
            final = item
        return final

    def stream(self, question: str, qvec: np.ndarray, passages: Sequence[Passage],
               source: SentenceSource, *, notice: str | None = None) -> Iterator[str | Answer]:
        """Text deltas (str) as the model writes them, then the checked Answer."""
        passages = tuple(passages)
        if self.client is None:
            yield self._fallback(question, qvec, passages, source, notice, UNSET)
            return
        if not passages:
            yield Answer(question, NOT_FOUND, False, (), passages, notice, generated=True)
            return
        messages, shown = prompt.build(question, passages, self.budget)
        parts: list[str] = []
        state: dict = {}
        size, capped = 0, False
        deltas = self.client.stream(messages, max_tokens=self.max_tokens, state=state)
        try:
            for delta in deltas:
                parts.append(delta)
                size += len(delta)
                shown_delta = llm_text.plain(delta)
                if shown_delta:
                    yield shown_delta
                if size > self.max_chars:   # a runaway answer: stop reading it
                    capped = True
                    break
        except LLMError as exc:
            log.info("LLM failed: %s", exc)
            yield self._fallback(question, qvec, passages, source, notice, str(exc))
            return
        finally:
            deltas.close()   # a capped answer: the connection is closed now
        text = llm_text.plain("".join(parts))
        note = None
        if capped or len(text) > self.max_chars or state.get("finish") in ("length", "limit"):
            if len(text) > self.max_chars:
                text = llm_text.cut(text, self.max_chars)
            note = (f"the model's answer was cut at {len(text):,} characters (llm_max_chars {self.max_chars:,})"
                    if capped or state.get("finish") == "limit" else "the model's answer reached its length limit")
            if not llm_text.complete(text):
                note += " and ends mid-sentence"
        elif state.get("finish") is None and not llm_text.complete(text):
            note = "the model's answer was cut off mid-sentence (the stream ended early)"
        yield self.check(question, text, shown, passages, _join(notice, note))

    def check(self, question: str, text: str, shown: Sequence[Passage], passages: Sequence[Passage],
              notice: str | None = None) -> Answer:
        """The Answer for the model's raw text: claims checked against the passages shown to it."""
        checked = claims.check(llm_text.bad_markers(llm_text.plain(text)), [p.text for p in shown], self.embed, threshold=self.threshold,
                               question=question)
        if checked.not_found:
            return Answer(question, NOT_FOUND, False, (), tuple(passages), notice, generated=True)
        citations, seen = [], set()
        for c in checked.claims:
            for m in c.citations:
                if m in seen:
                    continue
                seen.add(m)
                p = shown[m - 1]
                a, b = c.quote if c.best == m and c.quote else (0, len(p.text))
                citations.append(Citation(m, p.doc_id, p.title, p.text, p.start, p.end, p.score,
                                          p.text[a:b], p.start + a, p.start + b))
        share = checked.supported_share
        note = None
        if share is not None and share < 1:
            bad = sum(not c.supported for c in checked.claims)
            note = f"{bad} of {len(checked.claims)} sentences not supported by the passages (marked {claims.UNSUPPORTED})"
        best = max((c.score for c in checked.claims), default=0.0)
        return Answer(question, checked.text, True, tuple(sorted(citations, key=lambda c: c.marker)),
                      tuple(passages), _join(notice, note), score=best, claims=checked.claims,
                      supported_share=share, generated=True)

    def _fallback(self, question, qvec, passages, source, notice, reason) -> Answer:
        answer = self.fallback.answer(question, qvec, passages, source, notice=notice)
        return replace(answer, notice=_join(f"{reason}; extractive answer shown", answer.notice))


def from_config(config, embedder, fallback):
    """The answerer config asks for: GenerativeAnswerer when config.llm_url is set ('' = asked for
    but unset: always the fallback, with a notice), else the fallback itself."""
    if config.llm_url is None:
        return fallback
    client = None
    if config.llm_url:
        client = LLMClient(config.llm_url, config.llm_model, config.llm_key, timeout=config.llm_timeout)
    return GenerativeAnswerer(client, fallback, lambda texts: embedder.encode(texts, progress=False),
                              max_chars=config.llm_max_chars)
