"""The learned reader (rag.answer.reader): loading and shape checks, the confidence gate in the extractive
answerer, and a smoke test of the shipped weights on hand-made passages."""
import json
import re
import shutil

import numpy as np
import pytest

from rag.answer import reader as R
from rag.answer.extractive import AGREE_MIN_PROB, ExtractiveAnswerer
from rag.retrieve.retriever import Passage, Sentence


def _copy_weights(tmp_path):
    folder = tmp_path / "reader"
    shutil.copytree(R.WEIGHTS_DIR, folder)
    return folder


def test_missing_weights_give_one_line_error_naming_the_command(tmp_path):
    with pytest.raises(R.ReaderError) as e:
        R.load_weights(tmp_path / "nowhere")
    assert "\n" not in str(e.value) and "bench/train_reader.py" in str(e.value) and "missing" in str(e.value)


def test_damaged_weights_give_one_line_error_naming_the_command(tmp_path):
    folder = _copy_weights(tmp_path)
    data = (folder / R.WEIGHTS_FILE).read_bytes()
    (folder / R.WEIGHTS_FILE).write_bytes(b"\xff" * 16 + data[16:200])
    with pytest.raises(R.ReaderError) as e:
        R.Reader(folder)
    assert "\n" not in str(e.value) and "bench/train_reader.py" in str(e.value) and "damaged" in str(e.value)


def test_damaged_manifest_is_refused(tmp_path):
    folder = _copy_weights(tmp_path)
    (folder / R.MANIFEST_FILE).write_text("{not json")
    with pytest.raises(R.ReaderError, match="train_reader"):
        R.load_weights(folder)


def test_shapes_are_checked_against_the_manifest(tmp_path):
    folder = _copy_weights(tmp_path)
    manifest = json.loads((folder / R.MANIFEST_FILE).read_text())
    name = sorted(manifest["shapes"])[0]
    manifest["shapes"][name] = [n + 1 for n in manifest["shapes"][name]]
    (folder / R.MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(R.ReaderError, match=re.escape(name)):
        R.load_weights(folder)


def test_weights_of_another_shape_than_the_model_are_refused(tmp_path):
    from safetensors.numpy import save_file

    folder = _copy_weights(tmp_path)
    arrays, manifest = R.load_weights(folder)
    name = next(k for k in arrays if k.startswith("head.weight"))
    arrays[name] = np.zeros((2, 7), np.float16)
    save_file(arrays, str(folder / R.WEIGHTS_FILE))
    manifest["shapes"][name] = [2, 7]
    (folder / R.MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(R.ReaderError, match="another model"):
        R.Reader(folder)


def test_shipped_weights_are_small_float16_with_a_manifest():
    arrays, manifest = R.load_weights()
    assert (R.WEIGHTS_DIR / R.WEIGHTS_FILE).stat().st_size <= 10 * 1024 * 1024
    assert all(a.dtype == np.float16 for a in arrays.values())
    assert {"data", "split", "command", "seed", "validation_paragraph_level"} <= set(manifest)


# --- the confidence gate, with a stand-in reader and hand-made passages -------------------------------

TEXT = ("The old bridge was built in 1932 by the city. It carried trams for forty years. "
        "Its designer was Anna Berg, an engineer from Oslo.")


class Source:
    """Sentences of the one hand-made passage, with vectors that make every sentence equally close."""

    def __init__(self, text):
        self.rows = [Sentence(i, m.start(), m.end(), m.group()) for i, m in
                     enumerate(re.finditer(r"[^.]+\.", text))]
        self.rows = [Sentence(s.row, s.start + len(s.text) - len(s.text.lstrip()), s.end, s.text.strip())
                     for s in self.rows]

    def sentences(self, passage):
        return self.rows

    def sentence_vectors(self, rows):
        return np.ones((len(rows), 4), np.float32) / 2

    def document_passages(self, doc_id):
        return []


class FixedReader:
    def __init__(self, text, prob, null=0.05):
        self.text, self.prob, self.null = text, prob, null

    def read(self, question, texts):
        a = texts[0].index(self.text)
        return [R.Reading(self.text, a, a + len(self.text), self.prob, self.null)] + \
            [R.Reading("", 0, 0, 0.0, 0.9)] * (len(texts) - 1)


def _ask(reader, question="Who designed the old bridge?", **settings):
    passage = Passage(1, 0, "bridge.txt", "Bridge", TEXT, 0, len(TEXT), 1.0, 1.0)
    ans = ExtractiveAnswerer(-10.0, reader=reader, **settings)
    return ans.answer(question, np.ones(4, np.float32) / 2, [passage], Source(TEXT))


def test_a_short_answer_the_reader_agrees_with_is_shown_with_its_probability():
    a = _ask(FixedReader("Anna Berg", AGREE_MIN_PROB + 0.1))
    assert a.short == "Anna Berg" and a.short_prob == round(AGREE_MIN_PROB + 0.1, 4)
    assert TEXT[a.short_start:a.short_end] == "Anna Berg"
    assert a.text.startswith("Anna Berg\n\n")
    assert a.to_dict()["short_prob"] == a.short_prob


def test_a_low_confidence_span_is_not_shown():
    a = _ask(FixedReader("Anna Berg", AGREE_MIN_PROB - 0.1))
    assert a.found and a.short is None and a.short_prob is None
    assert not a.text.startswith("Anna Berg\n")


def test_a_short_answer_the_reader_does_not_point_at_is_not_shown():
    a = _ask(FixedReader("forty years", 0.99))
    assert a.found and a.short is None


def test_the_rules_only_answerer_shows_short_answers_ungated():
    assert _ask(None).short == "Anna Berg"


def test_a_confident_span_can_be_the_short_answer_and_pick_the_sentence():
    a = _ask(FixedReader("the city", 0.9), sentence_min_prob=0.2, short_min_prob=0.5,
             question="Who built the old bridge?")
    assert a.short == "the city" and a.short_prob == 0.9
    assert TEXT[a.short_start:a.short_end] == "the city"
    assert "built in 1932 by the city" in a.citations[0].quote


def test_the_reader_no_answer_can_lower_the_not_found_score():
    sure = _ask(FixedReader("Anna Berg", 0.9, null=0.01), reader_weight=0.6)
    unsure = _ask(FixedReader("Anna Berg", 0.05, null=0.95), reader_weight=0.6)
    assert unsure.score < sure.score


# --- the shipped reader on hand-made passages ------------------------------------------------------------

SMOKE = ("The Halden lighthouse was designed by Anna Berg, an engineer from Oslo. It was first lit on "
         "14 May 1932, after six years of work. The island it stands on had 4,300 residents in 2010.")


# The shipped reader was trained on 1,500 questions only (see rag/models/reader/manifest.json): it does not
# find these yet. Strict: the day a retrained reader finds them, these report XPASS as failures to update.
@pytest.mark.xfail(strict=True, reason="the shipped reader (1,500 training questions) reads 'no answer' here")
@pytest.mark.parametrize("question,expected", [
    ("When was the Halden lighthouse first lit?", "14 May 1932"),
    ("How many residents did the island have in 2010?", "4,300"),
    ("Who designed the Halden lighthouse?", "Anna Berg"),
])
def test_shipped_reader_finds_a_date_a_count_and_a_name(question, expected):
    (r,) = R.get().read(question, [SMOKE])
    assert expected in r.text and len(r.text) <= len(expected) + 12
    assert SMOKE[r.start:r.end] == r.text
    assert r.prob > r.null_prob


def test_shipped_reader_does_not_show_a_swapped_fact():
    # the passage names the designer, not who demolished it: no short answer may be shown
    passage = Passage(1, 0, "halden.txt", "Halden", SMOKE, 0, len(SMOKE), 1.0, 1.0)
    a = ExtractiveAnswerer(-10.0, reader="default").answer("Who demolished the Halden lighthouse?", np.ones(4, np.float32) / 2,
                                         [passage], Source(SMOKE))
    assert a.short is None


def test_reader_is_deterministic():
    a = R.get().read("Who designed the Halden lighthouse?", [SMOKE, SMOKE[:80]])
    b = R.get().read("Who designed the Halden lighthouse?", [SMOKE, SMOKE[:80]])
    assert a == b


def test_a_question_longer_than_the_window_is_cut_not_refused():
    (r,) = R.get().read("who " * 400 + "designed the lighthouse?", [SMOKE])
    assert 0.0 <= r.prob <= 1.0 and 0.0 <= r.null_prob <= 1.0


def test_the_reader_is_off_by_default_and_on_by_flag_or_environment(monkeypatch):
    from rag import Config
    from rag.cli import _config, parser as build_parser

    monkeypatch.delenv("RAG_READER", raising=False)
    assert Config().reader is False
    assert _config(build_parser().parse_args(["ask", "--reader", "q"])).reader is True
    assert _config(build_parser().parse_args(["eval", "x", "--reader"])).reader is True
    monkeypatch.setenv("RAG_READER", "1")
    assert Config().reader is True
