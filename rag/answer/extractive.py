"""The extractive answerer: quote the sentence(s) of the passages that answer the question.

Candidates are the statements among the sentences of the retrieved passages
(headings, title lines, captions and fragments are never quoted; see
rag.text.evidence.sentence_kind). Each has six features: cosine(question,
sentence); the share of the question's rarity-weighted terms in the sentence
(or its document's title, the subject it speaks of); that share in its passage
and title; whether it holds an answer of the asked type; 1 / passage rank; and
a negation mismatch (the question says "not"/"never", the sentence does not);
full coverage (all of the question's content words, at least two, are in it or
its title; or, for a "Label: value" row, the question names its key and a column:
rag.answer.short_answer.field_match, whose labelled value also counts as a typed answer). One weighting of them is the evidence score, another picks the
sentence. The best one (and a second
within a small margin) is quoted with its [n] marker; when the question asks
for a date, number, person or place found in a quoted sentence (or, for
"what/which" questions, a phrase next to the question's words; see
short_answer_of), that short answer leads the text and its span is returned. The answer is "not in the
documents" when the best evidence is under ``min_score``: no term of the score
depends on statistics of the indexed corpus, so the threshold means the same
on one document or thousands. "Summarize X", comparisons and yes/no questions
take their sentences from rag.answer.multi_sentence. Does not paraphrase or generate text.

The default reader is the passage reader (rag.answer.passage_reader: MiniLM reading the question
with each of the first READ_PASSAGES passages). With its chooser (rag.answer.chooser, in its manifest)
the passage whose best span the chooser rates most likely right is taken; the span's sentence leads the
quote from the chooser's ``lead`` probability, and the span is the short answer (``Answer.short``, with
``short_prob``, the chooser's probability) from its ``show`` probability, when it has at most
MAX_SHORT_WORDS words. Without a chooser: the
passage with the least no-answer probability; its sentence leads from the reader's ``lead_prob``; its span is
shown from its ``min_prob``, or from ``agree_prob`` when the span reader's best span (``nil_reader``)
lies in the same sentence and overlaps it. Either way, when it is not shown, the span reader's span is
shown when its own gate passes (its ``min_prob``; that span's sentence is then quoted too). The thresholds are chosen on held-out
training articles so that shown short answers are right at least 85% of the time. Yes/no questions get no short answer. The not-found score
adds ``nil_weight * (P(answered) - 0.5)`` for the passage reader and for the span reader's "no answer"
model (``nil_reader``), before the one threshold. ``reader="span"`` is the earlier span reader
(rag.answer.span_reader: logistic regressions over candidate spans of the top READER_SENTENCES
sentences, gated the same way). Missing or damaged reader weights raise the reader's error naming
its training command; ``reader=None`` gives the rules-only answerer (the rules' short answers,
ungated; evidence score alone).
When the leading sentence is a "Label: value" statement (a table or spreadsheet row, a
slide bullet) and the question names one of its labels, that label's value is the short
answer instead of the reader's span (rag.answer.short_answer.field_value; ``short_prob`` None).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.answer import multi_sentence as multi
from rag.answer import short_answer
from rag.answer.base import NOT_FOUND, Answer, Answerer, SentenceSource, cite
from rag.retrieve.retriever import Passage, Sentence
from rag.text.evidence import answer_type, heading_before, headings, line_of, question_terms, sentence_kind
from rag.text.evidence import terms as terms_of

# Feature columns: cosine, sentence term share, passage term share, type match, 1/passage rank,
# negation mismatch (the question says not/never/no, the sentence does not), full coverage (every
# content word of the question, at least two, is in the sentence or its title). Weights of the
# evidence score (the not-found rule) and of the score that picks the sentence; tuned in-sample
# on SQuAD dev / SQuAD 2.0 dev with bench/calibrate_threshold.py.
EVIDENCE_WEIGHTS = (1.0, 0.1, 0.0, 0.0, 0.0, -0.5, 0.5)
SELECT_WEIGHTS = (1.0, 0.5, 0.5, 0.2, 0.0, 0.0, 0.0)
SECOND_SENTENCE_MARGIN = 0.1
READER_SENTENCES = 3   # sentences the span reader reads (rag.answer.span_reader.TOP_SENTENCES)
# passages the passage reader reads (rag.answer.passage_reader). On the held-out training articles, reading the
# first alone gives the same span F1 (0.476 against 0.473) at a third of the cost, but shows a short answer for 19%
# of the SQuAD 2.0 unanswerable questions that pass the not-found rule (3 read: 9%; out of fold), so 3 are read
# (bench/fit_chooser.py --read N; figures in docs/reader.md)
READ_PASSAGES = 3
MAX_SHORT_WORDS = 10   # a longer span of the passage reader is not a short answer (its sentence is quoted)
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
        heads = headings(p.text)
        for s in source.sentences(p):
            a = s.start - p.start
            line = line_of(p.text, a, a + len(s.text))
            if s.row in seen or sentence_kind(s.text, line, first_line=s.start == 0) != "statement":
                continue
            seen.add(s.row)
            # a sentence speaks of its document's subject, and of the heading it sits under (a slide title)
            present = terms_of(s.text) | title | terms_of(heading_before(heads, a))
            span = short_answer.find(question, s.text, kind)
            cands.append(Candidate(p, s, span))
            share = sum(w for t, w in terms.items() if t in present) / total if total else 0.0
            if kind == "AUTHOR" and span is not None:   # a byline answers "who wrote this" in full
                share = 1.0
            mismatch = negated and not NEGATION.search(s.text)
            # "Label: value" (a row, a field): a value of the asked type under a label the question names
            # holds an answer; looked up by the row's key and that label, it counts as full coverage
            cell, keyed = short_answer.field_match(question, s.text) if ":" in s.text else (None, False)
            covered = (share >= 0.999 and len(terms) >= 2) or keyed
            rows.append((0.0, share, ctx_share, float(span is not None or cell is not None), 1.0 / p.rank,
                         float(mismatch),
                         float(covered and not mismatch)))
    feats = np.array(rows, dtype=np.float32).reshape(-1, 7)
    return cands, feats


class ExtractiveAnswerer(Answerer):
    """Answer by quoting sentences; see the module docstring."""

    def __init__(self, min_score: float, *, evidence_weights=EVIDENCE_WEIGHTS, select_weights=SELECT_WEIGHTS,
                 margin: float = SECOND_SENTENCE_MARGIN, reader="default", short_min_prob: float | None = None,
                 nil_reader="default"):
        """reader: "default" (the shipped rag.answer.span_reader weights, loaded on first use), a folder of
        span reader weights, an object with rag.answer.span_reader.SpanReader's ``best`` and ``min_prob``,
        or None (rules only). short_min_prob: the probability from which the reader's span is shown
        (None: the reader's own ``min_prob``). nil_reader: with the passage reader, the span reader whose
        "no answer" model joins the not-found score ("default": the shipped one; None: none)."""
        self.min_score, self.margin = min_score, margin
        self._reader = reader
        self._nil_reader = nil_reader
        self.short_min_prob = short_min_prob
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
        """The reader (loaded on first use): the passage reader by default, the span reader for "span" or
        a folder of its weights; None for the rules-only answerer."""
        if self._reader is None or hasattr(self._reader, "best") or hasattr(self._reader, "read"):
            return self._reader
        from rag.answer import passage_reader, span_reader

        if self._reader == "default":
            self._reader = passage_reader.get()
        elif self._reader == "span":
            self._reader = span_reader.get()
        elif (Path(self._reader) / passage_reader.WEIGHTS_FILE).exists():
            self._reader = passage_reader.get(self._reader)
        else:
            self._reader = span_reader.get(self._reader)
        return self._reader

    @property
    def nil_reader(self):
        """The span reader whose "no answer" model the passage reader's answers use (loaded on first use)."""
        if self._nil_reader is None or hasattr(self._nil_reader, "has_answer"):
            return self._nil_reader
        from rag.answer import span_reader

        self._nil_reader = span_reader.get() if self._nil_reader == "default" else span_reader.get(self._nil_reader)
        return self._nil_reader

    def read(self, question: str, cands, evidence, select, reader=None):
        """(candidate, span, probability, logit) of the reader's best span in the top READER_SENTENCES
        sentences by the select score; None without a reader or a span."""
        from rag.answer.span_reader import SentenceIn

        reader = self.reader if reader is None else reader
        if reader is None or not cands:
            return None
        order = np.argsort(-select, kind="stable")[:READER_SENTENCES]
        any_q = answer_type(question) is not None
        sents = [SentenceIn(cands[k].sentence.text, float(evidence[k]), float(select[k]), cands[k].short,
                            short_answer.phrase(question, cands[k].sentence.text, any_question=any_q))
                 for k in order]
        got = reader.best(question, sents)
        if got is None:
            return None
        span, prob, logit = got
        return cands[order[span.sentence]], span, prob, logit

    def has_answer(self, question: str, cands, feats, evidence, select, got, reader=None) -> float:
        """The reader's probability that the passages answer the question (rag.answer.span_reader.nil_features
        of the best sentence by the select score and of the reader's best span ``got``)."""
        from rag.answer.span_reader import nil_features

        k = int(np.argmax(select))
        top = cands[k]
        row = nil_features(question, top.sentence.text, top.passage.text, top.passage.title, evidence,
                           float(select[k]), float(feats[k, 0]), got[2], got[3])
        return (self.reader if reader is None else reader).has_answer(row)

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
        cands, feats = self.features(question, qvec, passages, source)
        evidence, select = feats @ self.evidence_weights, feats @ self.select_weights
        best = float(evidence.max()) if len(cands) else 0.0
        passage_mode = self.reader is not None and hasattr(self.reader, "read")
        # the span reader: the reader itself, or beside the passage reader for agreement and its "no answer" model
        spanner = self.nil_reader if passage_mode else self.reader
        got = self.read(question, cands, evidence, select, reader=spanner) if cands and spanner is not None else None
        if got is not None and spanner.nil_weight:
            best += spanner.nil_weight * (self.has_answer(question, cands, feats, evidence, select, got,
                                                          reader=spanner) - 0.5)
        reading = None
        # the passage reader (not run for a question already refused that its no-answer weight cannot rescue)
        if passage_mode and cands and (self.reader.nil_weight > 0 or best >= self.min_score):
            reading = passage_reading(self.reader, question, cands, passages, scores=(feats, evidence, select),
                                      spanned=got)
            if reading is not None:
                best += self.reader.nil_weight * (reading.p_answer - 0.5)
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
        short, led = None, False
        if self.reader is None:   # rules only
            top, span = short_answer_of(question, picked, kind)
            if span is not None:
                a = top.sentence.start + span.start
                short = (span.text, top.passage.doc_id, a, a + len(span.text), None)
        elif (reading is not None and kind != "yes/no"
              and short_answer.field_value(question, picked[0].sentence.text) is None):
            # (a "Label: value" row the question names by its key and column keeps the lead: see below)
            r, holder = reading.reading, reading.holder
            chooser = getattr(self.reader, "chooser", None) if reading.confidence is not None else None
            if chooser is not None:   # the chooser's probability that the span is right gates both
                p, lead_at, show_at = reading.confidence, chooser.lead, chooser.show
                agree = False
            else:   # the span's own probability, with the span reader's agreement
                p, lead_at, show_at = r.prob, self.reader.lead_prob, self.reader.min_prob
                agree = (got is not None and holder is not None and got[0] is holder
                         and r.prob >= self.reader.agree_prob and _overlap(reading, got[1]))
            show_at = show_at if self.short_min_prob is None else self.short_min_prob
            if holder is not None and p >= lead_at:   # the span's sentence is quoted first
                picked = [holder] + [c for c in picked if c is not holder][:1]
                led = True
            if r.text and holder is not None and (p >= show_at or agree) and len(r.text.split()) <= MAX_SHORT_WORDS:
                a = reading.passage.start + r.start
                short = (r.text, reading.passage.doc_id, a, a + len(r.text), round(float(p), 4))
            elif got is not None and got[2] >= spanner.min_prob:   # the span reader's gate
                holder, span, prob, _ = got
                a = holder.sentence.start + span.start
                short = (span.text, holder.passage.doc_id, a, a + len(span.text), round(float(prob), 4))
                if holder not in picked:
                    picked = picked[:1] + [holder]
        elif kind != "yes/no" and reading is None:
            min_prob = self.reader.min_prob if self.short_min_prob is None else self.short_min_prob
            if got is not None and got[2] >= min_prob:
                holder, span, prob, _ = got
                a = holder.sentence.start + span.start
                short = (span.text, holder.passage.doc_id, a, a + len(span.text), round(float(prob), 4))
                if holder is not picked[0]:   # the span's sentence leads, the best other one follows
                    picked = [holder] + [c for c in picked if c is not holder][:1]
        # a "Label: value" statement (a row, a bullet) leads: the value under the label the question names
        cell = short_answer.field_value(question, picked[0].sentence.text) if kind != "yes/no" else None
        if cell is not None:
            a = picked[0].sentence.start + cell.start
            short = (cell.text, picked[0].passage.doc_id, a, a + len(cell.text), None)
        # a yes/no question leads with the sentence that decides it; others read in document order
        # (or with the passage reader's sentence, when it is confident enough to lead)
        text, citations = cite([(c.passage, c.sentence) for c in picked], reading_order=kind != "yes/no" and not led)
        if short is None or kind == "yes/no":
            return Answer(question, text, True, citations, passages, notice, score=best)
        return Answer(question, f"{short[0]}\n\n{text}", True, citations, passages, notice,
                      short=short[0], short_doc=short[1], short_start=short[2], short_end=short[3],
                      short_prob=short[4], score=best)


@dataclass(frozen=True)
class PassageReading:
    """The passage reader's chosen span over the passages it read: the reading, its passage, the quotable
    sentence (candidate) holding the span's start (None when it is in a heading or a fragment), the
    reader's probability that some passage read answers the question (1 - the least no-answer probability),
    and, with a chooser (rag.answer.chooser), its probability that the chosen span is right (else None)."""
    reading: object
    passage: Passage
    holder: Candidate | None
    p_answer: float
    confidence: float | None = None


def _overlap(reading: PassageReading, span) -> bool:
    """Whether the passage reader's span and the span reader's span (in the same sentence) overlap."""
    a = reading.passage.start + reading.reading.start - reading.holder.sentence.start
    return span.start < a + len(reading.reading.text) and a < span.end


def holder_of(cands: Sequence[Candidate], passage: Passage, reading) -> Candidate | None:
    """The quotable sentence of passage holding the start of the reading's span (None: none or no span)."""
    if not reading.text:
        return None
    a = passage.start + reading.start
    return next((c for c in cands if c.passage is passage
                 and c.sentence.start <= a < c.sentence.start + len(c.sentence.text)), None)


def reading_facts(question: str, passage: Passage, reading, holder: Candidate | None, cands: Sequence[Candidate],
                  scores, spanned) -> dict:
    """What rag.answer.chooser reads of one passage's reading: the reader's probabilities, the passage's rank
    and the answerer's scores of the sentence holding the span (scores: (features, evidence, select) of
    cands; spanned: the span reader's (candidate, span, ...) or None)."""
    feats, evidence, select = scores
    facts = {"rank": passage.rank, "span": reading.text, "prob": float(reading.prob), "null": float(reading.null_prob),
             "holder": holder is not None}
    if holder is None:
        return facts
    k = next(i for i, c in enumerate(cands) if c is holder)
    a = passage.start + reading.start - holder.sentence.start
    rule = holder.short or short_answer.phrase(question, holder.sentence.text,
                                               any_question=answer_type(question) is not None)
    facts.update({"h_select": float(select[k]), "h_evidence": float(evidence[k]), "h_cos": float(feats[k, 0]),
                  "h_share": float(feats[k, 1]), "h_typed": float(feats[k, 3]), "h_covered": float(feats[k, 6]),
                  "h_is_top": k == int(np.argmax(select)),
                  "agree_rules": rule is not None and rule.start < a + len(reading.text) and a < rule.end,
                  "agree_span": bool(spanned is not None and spanned[0] is holder
                                     and spanned[1].start < a + len(reading.text) and a < spanned[1].end)})
    return facts


def passage_reading(reader, question: str, cands: Sequence[Candidate], passages: Sequence[Passage], *,
                    scores=None, spanned=None):
    """The passage reader's reading of the first READ_PASSAGES passages (rag.answer.passage_reader); None when
    nothing was read. With the reader's chooser and the answerer's scores (features, evidence, select of
    cands; spanned: the span reader's best span), the best span of the passage the chooser rates highest;
    else of the passage with the least no-answer probability."""
    top = list(passages[:READ_PASSAGES])
    readings = reader.read(question, [p.text for p in top])
    if not readings:
        return None
    holders = [holder_of(cands, p, r) for p, r in zip(top, readings)]
    p_answer = max(1.0 - x.null_prob for x in readings)
    chooser = getattr(reader, "chooser", None)
    if chooser is not None and scores is not None:
        probs = chooser.probabilities([reading_facts(question, p, r, h, cands, scores, spanned)
                                       for p, r, h in zip(top, readings, holders)])
        k = int(np.argmax(probs))   # the first of equals
        return PassageReading(readings[k], top[k], holders[k], p_answer, float(probs[k]))
    # the passage the reader is surest holds an answer (span probabilities are per passage, not comparable
    # across passages: a lone date in an unrelated passage can outscore one of several in the right one)
    k = min(range(len(readings)), key=lambda i: (readings[i].null_prob, i))
    return PassageReading(readings[k], top[k], holders[k], p_answer)


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
