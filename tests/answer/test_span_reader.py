"""The shipped reader (rag.answer.span_reader): loading and shape checks, the confidence gate and the "no
answer" weight in the extractive answerer, and a smoke test of the trained weights on hand-made passages."""
import json

import numpy as np
import pytest

from rag.answer import span_reader as S
from rag.config import Config
from rag.answer.extractive import ExtractiveAnswerer
from rag.retrieve.retriever import Passage
from reader_fakes import Source, copy_weights, one_line_naming_the_command


def _copy(tmp_path):
    return copy_weights(S.WEIGHTS_DIR, tmp_path / "span_reader")


def _one_line_naming_the_command(e, word):
    one_line_naming_the_command(e, word, "bench/train_reader_a.py")


def test_missing_weights_give_one_line_error_naming_the_train_command(tmp_path):
    with pytest.raises(S.SpanReaderError) as e:
        S.load(tmp_path / "nowhere")
    _one_line_naming_the_command(e, "missing")


def test_damaged_weights_give_one_line_error_naming_the_train_command(tmp_path):
    folder = _copy(tmp_path)
    data = (folder / S.WEIGHTS_FILE).read_bytes()
    (folder / S.WEIGHTS_FILE).write_bytes(b"\xff" * 16 + data[16:300])
    with pytest.raises(S.SpanReaderError) as e:
        S.load(folder)
    _one_line_naming_the_command(e, "damaged")


def test_damaged_manifest_is_refused(tmp_path):
    folder = _copy(tmp_path)
    (folder / S.MANIFEST_FILE).write_text("{not json")
    with pytest.raises(S.SpanReaderError) as e:
        S.load(folder)
    _one_line_naming_the_command(e, "damaged")


def test_weights_of_another_shape_are_refused(tmp_path):
    folder = _copy(tmp_path)
    with np.load(folder / S.WEIGHTS_FILE, allow_pickle=False) as z:
        arrays = {k: np.array(z[k]) for k in z.files}
    arrays["weights"] = arrays["weights"][:-1]
    np.savez(folder / S.WEIGHTS_FILE, **arrays)
    with pytest.raises(S.SpanReaderError, match="weights: shape"):
        S.load(folder)


def test_a_manifest_for_other_features_is_refused(tmp_path):
    folder = _copy(tmp_path)
    manifest = json.loads((folder / S.MANIFEST_FILE).read_text())
    manifest["features"] = manifest["features"][::-1]
    (folder / S.MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(S.SpanReaderError, match="other features"):
        S.load(folder)


def test_shipped_weights_are_small_plain_arrays_with_a_manifest():
    assert (S.WEIGHTS_DIR / S.WEIGHTS_FILE).stat().st_size <= 300 * 1024
    with np.load(S.WEIGHTS_DIR / S.WEIGHTS_FILE, allow_pickle=False) as z:
        assert set(z.files) == set(S.NAMES) and all(z[k].dtype.kind == "f" for k in z.files)
    manifest = json.loads((S.WEIGHTS_DIR / S.MANIFEST_FILE).read_text())
    assert {"data", "split", "command", "seed", "metrics", "min_prob", "nil_weight"} <= set(manifest)
    assert manifest["command"] == S.TRAIN_COMMAND and 0.0 < manifest["min_prob"] < 1.0
    assert not set(manifest["split"]["train_articles"]) & set(manifest["split"]["validation_articles"])


def test_spans_keep_numbers_whole_and_leave_out_question_words():
    sents = [S.SentenceIn("Around 12,000 soldiers died in the war, about 71% of them in 1813.", 0.8, 1.0)]
    cands, feats = S.spans("How many soldiers died in the war?", sents)
    texts = {c.text for c in cands}
    assert {"12,000", "71%", "1813"} <= texts and "12" not in texts
    assert "soldiers" not in texts and "the war" not in texts
    assert feats.shape == (len(cands), S.N_FEATURES)
    assert all(sents[0].text[c.start:c.end] == c.text for c in cands)


# --- the confidence gate, with a stand-in reader and hand-made passages -------------------------------

TEXT = ("The old bridge was built in 1932 by the city. It carried trams for forty years. "
        "Its designer was Anna Berg, an engineer from Oslo.")


class FixedReader:
    """Points at one text in whichever given sentence holds it, with a fixed probability."""

    def __init__(self, text, prob, min_prob=0.5, nil_weight=0.0, has=0.5):
        self.text, self.prob, self.min_prob, self.nil_weight, self.has = text, prob, min_prob, nil_weight, has

    def best(self, question, sentences):
        for i, s in enumerate(sentences):
            if self.text in s.text:
                a = s.text.index(self.text)
                return S.Span(i, a, a + len(self.text), self.text), self.prob, 0.0
        return None

    def has_answer(self, row):
        return self.has


def _ask(reader, question="Who designed the old bridge?", text=TEXT, min_score=-10.0, cosine=1.0):
    """The answer over one passage whose sentences all have this cosine with the question."""
    passage = Passage(1, 0, "bridge.txt", "Bridge", text, 0, len(text), 1.0, 1.0)
    ans = ExtractiveAnswerer(min_score, reader=reader)
    return ans.answer(question, cosine * np.ones(4, np.float32) / 2, [passage], Source(text))


def test_a_confident_span_is_shown_first_with_its_probability():
    a = _ask(FixedReader("Anna Berg", 0.8))
    assert a.short == "Anna Berg" and a.short_prob == 0.8
    assert TEXT[a.short_start:a.short_end] == "Anna Berg"
    assert a.text.startswith("Anna Berg\n\n") and "Anna Berg" in a.citations[0].quote
    assert a.to_dict()["short_prob"] == 0.8


def test_a_low_probability_span_is_not_shown():
    a = _ask(FixedReader("Anna Berg", 0.3))
    assert a.found and a.short is None and a.short_prob is None
    assert not a.text.startswith("Anna Berg\n")


def test_yes_no_questions_get_no_short_answer():
    a = _ask(FixedReader("Anna Berg", 0.99), question="Was the old bridge designed by Anna Berg?")
    assert a.found and a.short is None


def test_the_rules_only_answerer_shows_short_answers_ungated():
    assert _ask(None).short == "Anna Berg"


def test_the_no_answer_model_lowers_the_not_found_score():
    sure = _ask(FixedReader("Anna Berg", 0.8, nil_weight=0.5, has=0.95))
    unsure = _ask(FixedReader("Anna Berg", 0.8, nil_weight=0.5, has=0.05))
    assert unsure.score == pytest.approx(sure.score - 0.45, abs=1e-5)


# --- the shipped reader on hand-made passages ------------------------------------------------------------

SMOKE = ("The Halden lighthouse was designed by Anna Berg, an engineer from Oslo. It was first lit on "
         "14 May 1932, after six years of work. The island it stands on had 4,300 residents in 2010.")


@pytest.mark.parametrize("question,expected", [
    ("When was the Halden lighthouse first lit?", "14 May 1932"),
    ("How many residents did the island have in 2010?", "4,300"),
    ("Who designed the Halden lighthouse?", "Anna Berg"),
])
def test_shipped_reader_finds_a_date_a_count_and_a_name(question, expected):
    passage = Passage(1, 0, "halden.txt", "Halden", SMOKE, 0, len(SMOKE), 1.0, 1.0)
    ans = ExtractiveAnswerer(Config().min_score, reader="span")
    qvec = 0.65 * np.ones(4, np.float32) / 2
    cands, feats = ans.features(question, qvec, [passage], Source(SMOKE))
    holder, span, prob, _ = ans.read(question, cands, feats @ ans.evidence_weights, feats @ ans.select_weights)
    assert expected in span.text and len(span.text) <= len(expected) + 12 and prob > 0.5
    a = ans.answer(question, qvec, [passage], Source(SMOKE))
    assert a.found and a.short in (None, span.text)   # shown only when the gate is confident
    if a.short is not None:
        assert SMOKE[a.short_start:a.short_end] == a.short and a.short_prob >= S.get().min_prob


def test_shipped_reader_refuses_or_shows_no_short_answer_for_a_swapped_fact():
    a = _ask("span", question="Who demolished the Halden lighthouse in 1990?", text=SMOKE,
             min_score=Config().min_score, cosine=0.65)
    assert not a.found or a.short is None


def test_shipped_reader_is_deterministic():
    r = S.get()
    sents = [S.SentenceIn(t, 0.5, 1.0) for t in SMOKE.split(". ")]
    assert r.best("Who designed the Halden lighthouse?", sents) == r.best("Who designed the Halden lighthouse?", sents)


def test_an_answerer_with_missing_weights_stops_with_the_one_line_error(tmp_path):
    with pytest.raises(S.SpanReaderError) as e:
        _ask(tmp_path / "nowhere")
    _one_line_naming_the_command(e, "missing")


def test_the_span_reader_is_on_by_default_and_off_by_flag_or_environment(monkeypatch):
    from rag import Config
    from rag.cli import _config, parser as build_parser

    monkeypatch.delenv("RAG_READER", raising=False)
    assert Config().reader is True
    assert _config(build_parser().parse_args(["ask", "--no-reader", "q"])).reader is False
    assert _config(build_parser().parse_args(["eval", "x", "--no-reader"])).reader is False
    monkeypatch.setenv("RAG_READER", "0")
    assert Config().reader is False
