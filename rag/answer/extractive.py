"""The extractive answerer: quote the sentence(s) of the passages that answer the question.

Candidates are the statements among the sentences of the retrieved passages
(headings, title lines, captions and fragments are never quoted; see
rag.text.evidence.sentence_kind). Each has six features: cosine(question,
sentence); the share of the question's rarity-weighted terms in the sentence
(or its document's title, the subject it speaks of); that share in its passage
and title; whether it holds an answer of the asked type; 1 / passage rank; and
a negation mismatch (the question says "not"/"never", the sentence does not);
full coverage (all of the question's content words, at least two, are in it or
its title). One weighting of them is the evidence score, another picks the
sentence. The best one (and a second
within a small margin) is quoted with its [n] marker; when the question asks
for a date, number, person or place found in a quoted sentence (or, for
"what/which" questions, a phrase next to the question's words; see
short_answer_of), that short answer leads the text and its span is returned. The answer is "not in the
documents" when the best evidence is under ``min_score``: no term of the score
depends on statistics of the indexed corpus, so the threshold means the same
on one document or thousands. "Summarize X", comparisons and yes/no questions
take their sentences from rag.answer.multi_sentence. Does not paraphrase or generate text.

The learned reader (rag.answer.reader) reads the question with the top READER_PASSAGES
passages. A short answer (``Answer.short``, with the reader's ``short_prob``) is
shown only when the reader is confident: today, when its best span in the passage
of the rules' short answer overlaps it at probability AGREE_MIN_PROB or more. Three more uses are
built in and off (None / 0) because the shipped reader did not earn them on its
training articles: its span picking the quoted sentence (SENTENCE_MIN_PROB),
its own span as the short answer (SHORT_MIN_PROB), and its has-answer
probability in the not-found score (evidence + READER_WEIGHT * (probability -
0.5)). All were chosen with bench/calibrate_reader.py. Missing or damaged
reader weights raise rag.answer.reader.ReaderError naming the training command;
``reader=None`` (the default; ``Config.reader`` / ``--reader`` turn it on) gives
the rules-only answerer (short answers ungated).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rag.answer import multi_sentence as multi
from rag.answer import short_answer
from rag.answer.base import NOT_FOUND, Answer, Answerer, SentenceSource, cite
from rag.retrieve.retriever import Passage, Sentence
from rag.text.evidence import answer_type, line_of, question_terms, sentence_kind
from rag.text.evidence import terms as terms_of

# Feature columns: cosine, sentence term share, passage term share, type match, 1/passage rank,
# negation mismatch (the question says not/never/no, the sentence does not), full coverage (every
# content word of the question, at least two, is in the sentence or its title). Weights of the
# evidence score (the not-found rule) and of the score that picks the sentence; tuned in-sample
# on SQuAD dev / SQuAD 2.0 dev with bench/calibrate_threshold.py.
EVIDENCE_WEIGHTS = (1.0, 0.1, 0.0, 0.0, 0.0, -0.5, 0.5)
SELECT_WEIGHTS = (1.0, 0.5, 0.5, 0.2, 0.0, 0.0, 0.0)
SECOND_SENTENCE_MARGIN = 0.1
READER_PASSAGES = 3
# Chosen on the reader's training articles (bench/calibrate_reader.py). The shipped reader is weak
# (trained on 1,500 questions), so: its has-answer probability did not help the not-found rule
# (weight 0); its span did not pick better sentences, and no probability made its own spans right
# 85% of the time (both off: None); a rules' short answer it agrees with (its best span overlaps
# it, in its passage) at probability >= AGREE_MIN_PROB was right 90% of the time (9% shown).
READER_WEIGHT = 0.0       # weight of the reader's has-answer probability in the not-found score
SENTENCE_MIN_PROB = None  # the reader's span picks the quoted sentence from this probability up
SHORT_MIN_PROB = None     # the reader's own span is the short answer from this probability up
AGREE_MIN_PROB = 0.3      # a rules' short answer is shown when the reader's span overlaps it at this
NEGATION = re.compile(r"\b(?:not|never|no|none|nothing|nobody|neither|nor|without|cannot)\b|n't\b", re.I)


@dataclass
class Candidate:
    passage: Passage
    sentence: Sentence
    short: short_answer.Span | None


def candidates(question: str, passages: Sequence[Passage], source: SentenceSource):
    """Statement sentences of the passages (each once) and their feature rows."""
    terms, kind = question_terms(question), answer_type(question)
    negated = bool(NEGATION.search(question))
    total = sum(terms.values())
    cands, rows, seen = [], [], set()
    for p in passages:
        title, ctx = terms_of(p.title), terms_of(p.title + " " + p.text)
        ctx_share = sum(w for t, w in terms.items() if t in ctx) / total if total else 0.0
        for s in source.sentences(p):
            a = s.start - p.start
            line = line_of(p.text, a, a + len(s.text))
            if s.row in seen or sentence_kind(s.text, line, first_line=s.start == 0) != "statement":
                continue
            seen.add(s.row)
            present = terms_of(s.text) | title   # a sentence speaks of its document's subject
            span = short_answer.find(question, s.text, kind)
            cands.append(Candidate(p, s, span))
            share = sum(w for t, w in terms.items() if t in present) / total if total else 0.0
            if kind == "AUTHOR" and span is not None:   # a byline answers "who wrote this" in full
                share = 1.0
            mismatch = negated and not NEGATION.search(s.text)
            rows.append((0.0, share, ctx_share, float(span is not None), 1.0 / p.rank, float(mismatch),
                         float(share >= 0.999 and len(terms) >= 2 and not mismatch)))
    feats = np.array(rows, dtype=np.float32).reshape(-1, 7)
    return cands, feats


class ExtractiveAnswerer(Answerer):
    """Answer by quoting sentences; see the module docstring."""

    def __init__(self, min_score: float, *, evidence_weights=EVIDENCE_WEIGHTS, select_weights=SELECT_WEIGHTS,
                 margin: float = SECOND_SENTENCE_MARGIN, reader=None, reader_weight: float = READER_WEIGHT,
                 sentence_min_prob: float | None = SENTENCE_MIN_PROB,
                 short_min_prob: float | None = SHORT_MIN_PROB, agree_min_prob: float | None = AGREE_MIN_PROB):
        """reader: "default" (the shipped rag.answer.reader weights, loaded on first use), a folder of
        reader weights, an object with rag.answer.reader.Reader's ``read``, or None (rules only)."""
        self.min_score, self.margin = min_score, margin
        self._reader = reader
        self.reader_weight, self.sentence_min_prob, self.short_min_prob, self.agree_min_prob = \
            reader_weight, sentence_min_prob, short_min_prob, agree_min_prob
        self.evidence_weights = np.asarray(evidence_weights, np.float32)
        self.select_weights = np.asarray(select_weights, np.float32)

    @staticmethod
    def features(question: str, qvec: np.ndarray, passages: Sequence[Passage], source: SentenceSource):
        """(candidates, features: cosine, sentence term share, passage term share, type match, 1/rank,
        negation mismatch, full coverage)."""
        cands, feats = candidates(question, passages, source)
        if cands:
            feats[:, 0] = source.sentence_vectors([c.sentence.row for c in cands]) @ np.asarray(qvec, np.float32)
        return cands, feats

    @property
    def reader(self):
        """The reader (loaded on first use), or None for the rules-only answerer."""
        if self._reader is None or hasattr(self._reader, "read"):
            return self._reader
        from rag.answer import reader as reader_mod

        self._reader = reader_mod.get() if self._reader == "default" else reader_mod.get(self._reader)
        return self._reader

    def read(self, question: str, passages: Sequence[Passage]):
        """(has-answer probability, (passage, reading) of the most probable span) from the reader
        over the top READER_PASSAGES passages; (None, None) without a reader or passages."""
        reader, top = self.reader, list(passages[:READER_PASSAGES])
        if reader is None or not top:
            return None, None
        readings = reader.read(question, [p.text for p in top])
        has = max(1.0 - r.null_prob for r in readings)
        k = max(range(len(top)), key=lambda i: (readings[i].prob, -i))
        return has, (top[k], readings[k])

    def score(self, question: str, qvec: np.ndarray, passages: Sequence[Passage], source: SentenceSource):
        """(candidates, evidence scores, selection scores)."""
        cands, feats = self.features(question, qvec, passages, source)
        return cands, feats @ self.evidence_weights, feats @ self.select_weights

    def answer(self, question: str, qvec: np.ndarray, passages: Sequence[Passage],
               source: SentenceSource, *, notice: str | None = None) -> Answer:
        passages = tuple(passages)
        kind = multi.intent(question)
        if kind == "summary" and passages and multi.summary_matches(question, passages[0]):
            picked = multi.summary(passages[0].doc_id, source)
            if picked:
                text, citations = cite(picked)
                return Answer(question, text, True, citations, passages, notice, score=1.0)
        cands, evidence, select = self.score(question, qvec, passages, source)
        best = float(evidence.max()) if len(cands) else 0.0
        has, read = self.read(question, passages) if cands and self.reader_weight else (None, None)
        if has is not None:
            best += self.reader_weight * (has - 0.5)
        if not cands or best < self.min_score:
            return Answer(question, NOT_FOUND, False, (), passages, notice, score=best)
        if kind == "compare":
            picked = multi.compare(question, passages, source)
            if len(picked) == 2:
                text, citations = cite(picked, reading_order=False)
                return Answer(question, text, True, citations, passages, notice, score=best)
        order = np.argsort(-select, kind="stable")
        picked = [cands[order[0]]]
        if len(order) > 1 and select[order[1]] >= select[order[0]] - self.margin:
            picked.append(cands[order[1]])
        short, rules = None, None
        top, span = short_answer_of(question, picked, kind)
        if span is not None:
            a = top.sentence.start + span.start
            rules = (span.text, top.passage.doc_id, a, a + len(span.text), None)
        if self.reader is None:   # rules only
            short = rules
        elif kind != "yes/no" and (rules is not None or self.sentence_min_prob is not None
                                   or self.short_min_prob is not None):
            if read is None and self.sentence_min_prob is None and self.short_min_prob is None:
                has, read = self.read(question, [top.passage])   # the gate only: the short answer's passage
            elif read is None:
                has, read = self.read(question, passages)
            picked, short = self._with_reading(cands, select, picked, read)
            if short is None and rules is not None and self.agree_min_prob is not None:
                short = _agreed(rules, read, self.agree_min_prob)
        # a yes/no question leads with the sentence that decides it; others read in document order
        text, citations = cite([(c.passage, c.sentence) for c in picked], reading_order=kind != "yes/no")
        if short is None or kind == "yes/no":
            return Answer(question, text, True, citations, passages, notice, score=best)
        return Answer(question, f"{short[0]}\n\n{text}", True, citations, passages, notice,
                      short=short[0], short_doc=short[1], short_start=short[2], short_end=short[3],
                      short_prob=short[4], score=best)

    def _with_reading(self, cands, select, picked, read):
        """(sentences to quote, short answer (text, doc, start, end, probability) or None) given the
        reader's best span: its sentence leads when the span is probable enough (the rules' best
        sentence follows it when within the margin), and the span is shown when more probable still."""
        passage, r = read
        text = r.text.strip().rstrip(".,;:")
        a = passage.start + r.start + (len(r.text) - len(r.text.lstrip()))
        b = a + len(text)
        if self.sentence_min_prob is None or r.prob < self.sentence_min_prob or not text:
            if self.short_min_prob is not None and r.prob >= self.short_min_prob and text:
                return picked, (text, passage.doc_id, a, b, round(float(r.prob), 4))
            return picked, None
        holder = next((i for i, c in enumerate(cands) if c.passage.doc_id == passage.doc_id
                       and c.sentence.start <= a < c.sentence.end), None)
        if holder is None:
            return picked, None
        best = int(np.argmax(select))
        out = [cands[holder]]
        if best != holder and select[best] >= select[holder] - self.margin:
            out.append(cands[best])
        if self.short_min_prob is None or r.prob < self.short_min_prob:
            return out, None
        return out, (text, passage.doc_id, a, b, round(float(r.prob), 4))


def _agreed(rules, read, min_prob: float):
    """The rules' short answer (text, doc, start, end, None) with the reader's probability, when the
    reader's best span overlaps it in the same document at min_prob or more; else None."""
    passage, r = read
    a = passage.start + r.start
    if r.prob < min_prob or passage.doc_id != rules[1] or not (a < rules[3] and rules[2] < a + len(r.text)):
        return None
    return rules[:4] + (round(float(r.prob), 4),)


def short_answer_of(question: str, picked: Sequence[Candidate], intent: str | None):
    """(candidate, span) of the short answer among the quoted sentences, or (picked[0], None).

    The best sentence's span of the asked type; else the second quoted sentence's; else, for
    "what/which" questions and typed ones with no span of their type, the phrase of the best
    sentence next to the question's words (rag.answer.short_answer.phrase). Yes/no questions get none."""
    top = picked[0]
    if top.short is not None:
        return top, top.short
    if len(picked) > 1 and picked[1].short is not None:
        return picked[1], picked[1].short
    if intent == "yes/no":
        return top, None
    return top, short_answer.phrase(question, top.sentence.text, any_question=answer_type(question) is not None)
