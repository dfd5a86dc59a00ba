"""Shared by the reader tests (tests/answer/test_passage_reader.py, test_span_reader.py): a one-passage sentence
source, a copy of shipped weights, and the check of a one-line error naming the training command."""
import re
import shutil

import numpy as np

from rag.retrieve.retriever import Sentence


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
