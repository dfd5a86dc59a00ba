"""The passage reader (rag.answer.passage_reader): loading and shape checks, the span search on hand-made logits,
the confidence gate, the leading sentence and the "no answer" weight in the extractive answerer, and a smoke
test of the trained weights on hand-made passages."""
import json
import math
import sys

import numpy as np
import pytest

from rag.answer import chooser as C
from rag.answer import passage_reader as P
from rag.answer.extractive import ExtractiveAnswerer
from rag.retrieve.retriever import Passage, Sentence
from reader_fakes import TEXT, TWO_PASSAGES, FixedReader, PerPassageSource, Source, TwoPassageReader, copy_weights, one_line_naming_the_command


def _copy(tmp_path):
    return copy_weights(P.WEIGHTS_DIR, tmp_path / "passage_reader")


def _one_line_naming_the_command(e, word):
    one_line_naming_the_command(e, word, "bench/train_reader_lora.py")


def test_missing_weights_give_one_line_error_naming_the_train_command(tmp_path):
    with pytest.raises(P.PassageReaderError) as e:
        P.load_weights(tmp_path / "nowhere")
    _one_line_naming_the_command(e, "missing")


def test_damaged_weights_give_one_line_error_naming_the_train_command(tmp_path):
    folder = _copy(tmp_path)
    data = (folder / P.WEIGHTS_FILE).read_bytes()
    (folder / P.WEIGHTS_FILE).write_bytes(b"\xff" * 16 + data[16:300])
    with pytest.raises(P.PassageReaderError) as e:
        P.load_weights(folder)
    _one_line_naming_the_command(e, "damaged")


def test_damaged_manifest_is_refused(tmp_path):
    folder = _copy(tmp_path)
    (folder / P.MANIFEST_FILE).write_text("{not json")
    with pytest.raises(P.PassageReaderError) as e:
        P.load_weights(folder)
    _one_line_naming_the_command(e, "damaged")


def test_weights_whose_shape_differs_from_the_manifest_are_refused(tmp_path):
    folder = _copy(tmp_path)
    manifest = json.loads((folder / P.MANIFEST_FILE).read_text())
    manifest["shapes"]["head.bias"] = [3]
    (folder / P.MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(P.PassageReaderError, match=r"head\.bias: shape \(2,\), manifest \(3,\)"):
        P.load_weights(folder)


def test_weights_over_the_size_limit_are_refused(tmp_path, monkeypatch):
    folder = _copy(tmp_path)
    monkeypatch.setattr(P, "MAX_BYTES", 1000)
    with pytest.raises(P.PassageReaderError, match="larger than 1000 bytes"):
        P.load_weights(folder)


def test_shipped_weights_are_small_float16_arrays_with_a_manifest():
    from safetensors.numpy import load_file

    path = P.WEIGHTS_DIR / P.WEIGHTS_FILE
    assert path.stat().st_size <= 10 * 1024 * 1024
    assert not path.read_bytes().startswith(b"\x80")   # not a pickle
    arrays = load_file(str(path))
    assert {k: tuple(v.shape) for k, v in arrays.items()} == P.expected_shapes()
    assert {v.dtype for v in arrays.values()} == {np.dtype("float16")}
    manifest = json.loads((P.WEIGHTS_DIR / P.MANIFEST_FILE).read_text())
    assert "SQuAD" in manifest["data"] and manifest["command"].startswith(P.TRAIN_COMMAND)
    assert set(manifest["calibration_articles"]).isdisjoint(manifest["validation_articles"])
    assert set(manifest["fit_articles"]).isdisjoint(manifest["validation_articles"])
    chooser = manifest["chooser"]   # bench/fit_chooser.py: fitted on the calibration articles, out-of-fold figures
    assert tuple(chooser["features"]) == C.FEATURES and 0 < chooser["show"] < 1 and 0 <= chooser["lead"] < 1
    assert set(chooser["fit"]["articles"]) == set(manifest["calibration_articles"])


def test_best_span_is_the_joint_softmax_over_spans_of_the_text_and_no_answer():
    # word pieces 2 and 3 are the text; position 0 is [CLS] ("no answer")
    start = np.array([[0.0, 5.0, 1.0, 0.0, 9.0]])
    end = np.array([[0.0, 5.0, 0.0, 1.0, 9.0]])
    context = np.array([[False, False, True, True, False]])
    (i, j, p, null), = P.best_spans(start, end, context)
    z = math.exp(0) + math.exp(1 + 0) + math.exp(1 + 1) + math.exp(0 + 1)   # null, (2,2), (2,3), (3,3)
    assert (i, j) == (2, 3)
    assert p == pytest.approx(math.exp(2) / z) and null == pytest.approx(1 / z)


def test_a_window_with_no_text_is_no_answer():
    (i, j, p, null), = P.best_spans(np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((1, 3), bool))
    assert (p, null) == (0.0, 1.0)


def test_spans_longer_than_the_limit_are_not_candidates(monkeypatch):
    monkeypatch.setattr(P, "MAX_ANSWER_TOKENS", 2)
    start = np.array([[0.0, 3.0, 0.0, 0.0]])
    end = np.array([[0.0, 0.0, 0.0, 3.0]])   # the best pair (1, 3) is three word pieces long
    (i, j, _, _), = P.best_spans(start, end, np.array([[False, True, True, True]]))
    assert j - i < 2


def _ask(reader, question="Who designed the old bridge?", text=TEXT, min_score=-10.0, cosine=1.0, nil_reader=None):
    passage = Passage(1, 0, "bridge.txt", "Notes", text, 0, len(text), 1.0, 1.0)
    ans = ExtractiveAnswerer(min_score, reader=reader, nil_reader=nil_reader)
    return ans.answer(question, cosine * np.ones(4, np.float32) / 2, [passage], Source(text))


def test_a_confident_span_is_shown_first_with_its_probability():
    a = _ask(FixedReader("Anna Berg", 0.8))
    assert a.short == "Anna Berg" and a.short_prob == 0.8
    assert TEXT[a.short_start:a.short_end] == "Anna Berg"
    assert a.text.startswith("Anna Berg\n\n") and "Anna Berg" in a.citations[0].quote


def test_a_low_probability_span_is_not_shown():
    a = _ask(FixedReader("Anna Berg", 0.45))
    assert a.found and a.short is None and a.short_prob is None


def test_the_span_sentence_is_quoted_from_the_lead_probability():
    # the rules quote only the first sentence (it holds "old", "bridge", "built"; the third is 0.3 behind)
    q = "Who built the old bridge?"
    rules = _ask(FixedReader("Anna Berg", 0.2), question=q)
    assert [c.quote for c in rules.citations] == ["The old bridge was built in 1932 by the city."]
    led = _ask(FixedReader("Anna Berg", 0.4), question=q)
    assert led.short is None
    assert [c.quote for c in led.citations] == ["Its designer was Anna Berg, an engineer from Oslo.",
                                               "The old bridge was built in 1932 by the city."]


def test_yes_no_questions_get_no_short_answer():
    a = _ask(FixedReader("Anna Berg", 0.99), question="Was the old bridge designed by Anna Berg?")
    assert a.found and a.short is None


def test_the_no_answer_probability_moves_the_not_found_score():
    sure = _ask(FixedReader("Anna Berg", 0.8, null=0.05, nil_weight=0.5))
    unsure = _ask(FixedReader("Anna Berg", 0.8, null=0.95, nil_weight=0.5))
    assert unsure.score == pytest.approx(sure.score - 0.45, abs=1e-5)
    refused = _ask(FixedReader("Anna Berg", 0.8, null=0.95, nil_weight=0.5), min_score=unsure.score + 0.01)
    assert not refused.found and refused.short is None


class FixedNil:
    """A span reader whose "no answer" model gives a fixed probability of an answer and whose best span is a
    fixed text (in whichever sentence holds it) with a fixed gate probability."""

    def __init__(self, has=0.5, nil_weight=0.4, text="The", prob=0.5, min_prob=0.8):
        self.has, self.nil_weight, self.text, self.prob, self.min_prob = has, nil_weight, text, prob, min_prob

    def best(self, question, sentences):
        from rag.answer.span_reader import Span

        for i, s in enumerate(sentences):
            if self.text in s.text:
                a = s.text.index(self.text)
                return Span(i, a, a + len(self.text), self.text), self.prob, 0.0
        return None

    def has_answer(self, row):
        return self.has


def test_the_span_reader_no_answer_model_joins_the_not_found_score():
    sure = _ask(FixedReader("Anna Berg", 0.8), nil_reader=FixedNil(0.95))
    unsure = _ask(FixedReader("Anna Berg", 0.8), nil_reader=FixedNil(0.05))
    alone = _ask(FixedReader("Anna Berg", 0.8))
    assert sure.score == pytest.approx(alone.score + 0.4 * 0.45, abs=1e-5)
    assert unsure.score == pytest.approx(alone.score - 0.4 * 0.45, abs=1e-5)


def test_an_unsure_span_is_shown_when_the_span_reader_agrees():
    # 0.4 is under min_prob (0.5) but over agree_prob (0.35); the span reader's own gate (0.8) is not passed
    assert _ask(FixedReader("Anna Berg", 0.4), nil_reader=FixedNil(text="Anna Berg", prob=0.1)).short == "Anna Berg"
    assert _ask(FixedReader("Anna Berg", 0.4), nil_reader=FixedNil(text="Oslo", prob=0.1)).short is None
    assert _ask(FixedReader("Anna Berg", 0.3), nil_reader=FixedNil(text="Anna Berg", prob=0.1)).short is None


def test_the_span_reader_span_is_shown_when_its_own_gate_passes():
    a = _ask(FixedReader("Anna Berg", 0.2), nil_reader=FixedNil(text="Oslo", prob=0.9))
    assert a.short == "Oslo" and a.short_prob == 0.9 and TEXT[a.short_start:a.short_end] == "Oslo"
    assert any("Oslo" in c.quote for c in a.citations)


# --- the shipped reader on hand-made passages ------------------------------------------------------------

SMOKE = ("The Halden lighthouse was designed by Anna Berg, an engineer from Oslo. It was first lit on "
         "14 May 1932, after six years of work. The island it stands on had 4,300 residents in 2010.")


@pytest.mark.model
@pytest.mark.parametrize("question,expected", [
    ("When was the Halden lighthouse first lit?", "14 May 1932"),
    ("How many residents did the island have in 2010?", "4,300"),
    ("Who designed the Halden lighthouse?", "Anna Berg"),
])
def test_shipped_reader_finds_a_date_a_count_and_a_name(question, expected):
    r, = P.get().read(question, [SMOKE])
    assert expected in r.text and len(r.text) <= len(expected) + 12
    assert SMOKE[r.start:r.end] == r.text and r.prob > r.null_prob


@pytest.mark.model
def test_shipped_reader_gives_a_swapped_fact_less_than_the_fact():
    reader = P.get()
    fact, = reader.read("Who designed the Halden lighthouse?", [SMOKE])
    swapped, = reader.read("Who demolished the Halden lighthouse?", [SMOKE])
    assert swapped.null_prob > fact.null_prob


@pytest.mark.model
@pytest.mark.parametrize("backend", P.BACKENDS)
def test_shipped_reader_is_deterministic(backend):
    reader = P.get(backend=backend)
    q = "Who designed the Halden lighthouse?"
    assert reader.read(q, [SMOKE, TEXT]) == reader.read(q, [SMOKE, TEXT])


def test_the_default_backend_is_onnx_and_torch_without_onnx(monkeypatch):
    assert P.default_backend() == "onnx"   # onnxruntime and onnx are dependencies of the package
    monkeypatch.setitem(sys.modules, "onnx", None)   # import onnx now raises ImportError
    assert P.default_backend() == "torch"


def test_exporting_without_onnx_names_the_install_command(tmp_path, monkeypatch):
    from rag.errors import DependencyError

    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(DependencyError, match="pip install onnxruntime onnx"):
        P.export(None, None, tmp_path / "reader.onnx")
    assert not (tmp_path / "reader.onnx").exists()


def test_an_unknown_backend_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown passage reader backend 'tpu'"):
        P.PassageReader(tmp_path, backend="tpu")


# three windows for the long one: the best span is searched over every window of a passage
LONG = " ".join(f"Report {n} on the harbour lists {n * 7} boats and {n + 3} cranes." for n in range(1, 60)) + \
       " The harbour master in 1951 was Oskar Lind, who came from Bergen."

READ_CASES = [
    ("Who designed the Halden lighthouse?", [SMOKE, TEXT]),
    ("When was the old bridge built?", [TEXT, SMOKE, LONG]),
    ("Who was the harbour master in 1951?", [LONG]),
    ("Who demolished the Halden lighthouse?", [SMOKE]),
]


def _same_readings(a, b):
    assert [(r.text, r.start, r.end) for r in a] == [(r.text, r.start, r.end) for r in b]
    for x, y in zip(a, b):
        assert abs(x.prob - y.prob) <= 1e-3 and abs(x.null_prob - y.null_prob) <= 1e-3


@pytest.mark.model
def test_onnx_and_torch_readers_give_the_same_spans_and_probabilities():
    onnx, torch = P.get(backend="onnx"), P.get(backend="torch")
    enc, _ = onnx.encode(READ_CASES[2][0], READ_CASES[2][1])
    assert len(enc["input_ids"]) >= 3   # the long passage is read in several windows
    for q, texts in READ_CASES:
        _same_readings(onnx.read(q, texts), torch.read(q, texts))
    assert "Oskar Lind" in onnx.read(*READ_CASES[2])[0].text


@pytest.mark.model
def test_onnx_windows_read_alone_give_the_logits_of_the_padded_batch():
    onnx = P.get(backend="onnx")
    q, texts = READ_CASES[2][0], READ_CASES[2][1] + ["A short passage."]
    enc, context, start, end = onnx.logits(q, texts)
    lengths = enc["attention_mask"].sum(axis=1)
    assert len(set(lengths)) > 1   # windows of different lengths: the short one was padded in a batch
    feed = {k: np.ascontiguousarray(enc[k], dtype=np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
    s, e = onnx.session.run(["start", "end"], feed)   # the whole padded batch at once
    for w, n in enumerate(lengths):
        assert np.allclose(start[w, :n], s[w, :n], atol=1e-4) and np.allclose(end[w, :n], e[w, :n], atol=1e-4)
        assert (start[w, n:] <= -1e3).all() and (end[w, n:] <= -1e3).all()   # padding never a span


@pytest.mark.model
def test_new_reader_weights_get_a_new_onnx_export(tmp_path):
    folder = _copy(tmp_path)
    assert P.onnx_path(folder) == P.onnx_path(P.WEIGHTS_DIR)
    manifest = json.loads((folder / P.MANIFEST_FILE).read_text())
    manifest["chooser"]["show"] = 0.5   # thresholds and the chooser are not in the export
    (folder / P.MANIFEST_FILE).write_text(json.dumps(manifest))
    assert P.onnx_path(folder) == P.onnx_path(P.WEIGHTS_DIR)
    other = _copy(tmp_path / "other")
    data = bytearray((other / P.WEIGHTS_FILE).read_bytes())
    data[-1] ^= 1   # one bit of the last tensor's last value
    (other / P.WEIGHTS_FILE).write_bytes(bytes(data))
    assert P.onnx_path(other) not in (P.onnx_path(folder), P.onnx_path(P.WEIGHTS_DIR))


@pytest.mark.model
def test_a_damaged_cached_onnx_file_is_exported_again(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    path = P.onnx_path()
    assert str(path).startswith(str(tmp_path / "cache"))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x08\x07not an onnx model" * 100)
    reader = P.PassageReader(backend="onnx")
    assert path.stat().st_size > 10_000_000   # the whole model again, not the damaged bytes
    assert [p.name for p in path.parent.iterdir()] == [path.name]   # no temporary file left
    for q, texts in READ_CASES[:2]:
        _same_readings(reader.read(q, texts), P.get(backend="torch").read(q, texts))


def test_an_answerer_with_missing_weights_stops_with_the_one_line_error(tmp_path):
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "nowhere" / P.WEIGHTS_FILE).write_bytes(b"")
    with pytest.raises(P.PassageReaderError) as e:
        _ask(str(tmp_path / "nowhere"))
    _one_line_naming_the_command(e, "missing")


def test_the_span_comes_from_the_passage_surest_to_hold_an_answer():
    ans = ExtractiveAnswerer(-10.0, reader=TwoPassageReader("", 0.0, min_prob=0.3), nil_reader=None)
    a = ans.answer("When was the old bridge built?", np.ones(4, np.float32) / 2, TWO_PASSAGES,
                   PerPassageSource(TEXT))
    assert a.short == "1932" and a.short_doc == "bridge.txt" and a.citations[0].quote.startswith("The old bridge")


@pytest.mark.model
@pytest.mark.parametrize("backend", P.BACKENDS)
def test_shipped_reader_reads_from_many_threads_at_once(backend):
    from concurrent.futures import ThreadPoolExecutor

    reader = P.get(backend=backend)
    questions = ["Who designed the Halden lighthouse?", "When was the Halden lighthouse first lit?"] * 8
    alone = {q: reader.read(q, [SMOKE, TEXT]) for q in set(questions)}
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda q: reader.read(q, [SMOKE, TEXT]), questions))
    assert together == [alone[q] for q in questions]


def test_a_refused_question_is_not_read_when_the_no_answer_weight_cannot_change_it():
    read = []

    class Recording(FixedReader):
        def read(self, question, texts):
            read.append(question)
            return super().read(question, texts)

    refused = _ask(Recording("Anna Berg", 0.9, nil_weight=0.0), min_score=10.0)
    assert not refused.found and read == []
    weighed = _ask(Recording("Anna Berg", 0.9, null=0.0, nil_weight=0.5), min_score=10.0)   # read: it could move the score
    assert not weighed.found and read == ["Who designed the old bridge?"]
    answered = _ask(Recording("Anna Berg", 0.9, nil_weight=0.0))
    assert answered.short == "Anna Berg" and len(read) == 2
