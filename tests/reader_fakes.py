"""Shared by the reader tests (tests/answer/test_passage_reader.py, test_span_reader.py): a one-passage sentence
source, a copy of shipped weights, and the check of a one-line error naming the training command."""
import re
import shutil

import numpy as np

from rag.answer import passage_reader as P
from rag.retrieve.retriever import Passage, Sentence


class Source:
    """Sentences of the one hand-made passage, with vectors that make every sentence equally close."""

    def __init__(self, text):
        rows = [(m.start(), m.group()) for m in re.finditer(r"[^.]+\.", text)]
        self.rows = [Sentence(i, a + len(t) - len(t.lstrip()), a + len(t), t.strip()) for i, (a, t) in enumerate(rows)]

    def sentences(self, passage):
        return self.rows

    def sentence_vectors(self, rows):
        return np.ones((len(rows), 4), np.float32) / 2

    def document_passages(self, doc_id):
        return []


def copy_weights(src, dst):
    shutil.copytree(src, dst)
    return dst


def one_line_naming_the_command(e, word, command):
    msg = str(e.value)
    assert "\n" not in msg and command in msg and word in msg


TEXT = ("The old bridge was built in 1932 by the city. It carried trams for forty years. "
        "Its designer was Anna Berg, an engineer from Oslo.")


class FixedReader:
    """Reads one text with a fixed span probability and no-answer probability."""

    def __init__(self, text, prob, *, null=0.1, min_prob=0.5, lead_prob=0.3, nil_weight=0.0, agree_prob=0.35):
        self.text, self.prob, self.null = text, prob, null
        self.min_prob, self.lead_prob, self.nil_weight, self.agree_prob = min_prob, lead_prob, nil_weight, agree_prob

    def read(self, question, texts):
        out = []
        for t in texts:
            a = t.find(self.text)
            out.append(P.Reading(self.text, a, a + len(self.text), self.prob, self.null) if a >= 0
                       else P.Reading("", 0, 0, 0.0, 1.0))
        return out


class TwoPassageReader(FixedReader):
    """A lone date in an unrelated passage gets the higher span probability, but also the higher no-answer one."""

    def read(self, question, texts):
        return [P.Reading("1932", t.find("1932"), t.find("1932") + 4, 0.4, 0.02) if "bridge" in t
                else P.Reading("1949", t.find("1949"), t.find("1949") + 4, 0.8, 0.3) for t in texts]


OTHER = "The harbour of Coldwell opened in 1949."
TWO_PASSAGES = [Passage(1, 0, "harbour.txt", "Notes", OTHER, 0, len(OTHER), 2.0, 1.0),
                Passage(2, 1, "bridge.txt", "Notes", TEXT, 0, len(TEXT), 1.0, 1.0)]


class PerPassageSource(Source):
    """Each passage's own sentences, with rows of their own."""

    def sentences(self, passage):
        return [Sentence(r.row + 100 * passage.chunk, r.start, r.end, r.text) for r in Source(passage.text).rows]
