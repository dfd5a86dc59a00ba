"""The passage chooser (rag.answer.chooser) and how the extractive answerer uses it: the feature row and the
probability on hand-computed values, the manifest entry's checks, the passage it picks, the gate and the lead."""
import json
import math

import numpy as np
import pytest

from rag.answer import chooser as C
from rag.answer import passage_reader as P
from rag.answer.extractive import ExtractiveAnswerer
from reader_fakes import TEXT, TWO_PASSAGES, PerPassageSource, TwoPassageReader, copy_weights


def _weights(**named):
    return np.array([named.get(n, 0.0) for n in C.FEATURES])


def test_row_of_hand_made_facts():
    facts = {"rank": 2, "span": "Anna Berg", "prob": 0.5, "null": 0.75, "holder": True, "h_select": 1.2,
             "h_evidence": 0.7, "h_cos": 0.6, "h_share": 0.5, "h_typed": 1.0, "h_covered": 0.0, "h_is_top": True,
             "agree_rules": False, "agree_span": True}
    assert C.row(facts) == pytest.approx([1.0, math.log(0.25), math.log(0.5), 0.5, 1.0, 1.2, 0.7, 0.6, 0.5, 1.0,
                                          0.0, 1.0, 0.0, 1.0])


def test_a_reading_with_no_sentence_holding_it_has_zero_sentence_features():
    row = C.row({"rank": 1, "span": "", "prob": 0.0, "null": 1.0, "holder": False})
    assert row == pytest.approx([1.0, math.log(1e-6), math.log(1e-6), 1.0] + [0.0] * 10)


def test_probability_is_the_logistic_of_the_weighted_row():
    ch = C.Chooser(_weights(bias=-2.0, inv_rank=4.0), show=0.5, lead=0.5)
    got = ch.probabilities([{"rank": 1, "span": "x", "prob": 0.5, "null": 0.5},
                            {"rank": 2, "span": "x", "prob": 0.5, "null": 0.5}])
    assert got == pytest.approx([1 / (1 + math.exp(-2.0)), 0.5])


def test_manifest_entry_is_checked():
    ok = {"features": list(C.FEATURES), "weights": [0.0] * len(C.FEATURES), "show": 0.6, "lead": 0.1}
    assert C.Chooser.from_manifest(None) is None
    assert C.Chooser.from_manifest(ok).show == 0.6
    for bad in ({**ok, "features": list(C.FEATURES)[:-1]}, {**ok, "weights": [0.0] * 3},
                {**ok, "weights": [float("nan")] * len(C.FEATURES)}, {**ok, "show": "high"}, {"weights": []}):
        with pytest.raises(ValueError):
            C.Chooser.from_manifest(bad)


def test_a_damaged_chooser_entry_is_a_one_line_error_naming_the_train_command(tmp_path):
    folder = copy_weights(P.WEIGHTS_DIR, tmp_path / "passage_reader")
    manifest = json.loads((folder / P.MANIFEST_FILE).read_text())
    manifest["chooser"] = {"features": ["bias"], "weights": [1.0], "show": 0.5, "lead": 0.5}
    (folder / P.MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(P.PassageReaderError) as e:
        P.PassageReader(folder)
    assert "\n" not in str(e.value) and "chooser" in str(e.value) and P.TRAIN_COMMAND in str(e.value)


class ChoosingReader(TwoPassageReader):
    def __init__(self, weights, show, lead):
        super().__init__("", 0.0, min_prob=2.0, lead_prob=2.0, agree_prob=2.0)
        self.chooser = C.Chooser(weights, show, lead)


def _ask(reader, question="When was the old bridge built?"):
    ans = ExtractiveAnswerer(-10.0, reader=reader, nil_reader=None)
    return ans.answer(question, np.ones(4, np.float32) / 2, TWO_PASSAGES, PerPassageSource(TEXT))


def test_the_chooser_picks_the_passage_and_its_probability_is_the_short_answers():
    # the harbour passage's "1949" has span probability 0.8 (the bridge's "1932": 0.4) but the higher no-answer
    # probability (0.3 against 0.02): a chooser that reads only the span probability picks "1949", one that reads
    # only P(answer) picks "1932"
    by_span = _ask(ChoosingReader(_weights(log_span_prob=1.0), show=0.4, lead=2.0))
    assert by_span.short == "1949" and by_span.short_doc == "harbour.txt" and by_span.short_prob == round(0.8 / 1.8, 4)
    by_answer = _ask(ChoosingReader(_weights(log_p_answer=10.0), show=0.4, lead=2.0))
    p = 1 / (1 + math.exp(-10 * math.log(0.98)))
    assert by_answer.short == "1932" and by_answer.short_doc == "bridge.txt"
    assert by_answer.short_prob == pytest.approx(p, abs=1e-4)


def test_a_span_under_the_choosers_show_probability_is_not_shown():
    a = _ask(ChoosingReader(_weights(log_p_answer=10.0), show=0.9, lead=2.0))   # p = 0.45
    assert a.found and a.short is None and a.short_prob is None


def test_the_span_sentence_leads_from_the_choosers_lead_probability():
    # the rules quote the bridge's "built in 1932" sentence first; the chooser (span probability alone) picks the
    # harbour's "1949", whose sentence leads only when its probability (0.8 / 1.8 = 0.44) reaches lead
    weights = _weights(log_span_prob=1.0)
    rules = _ask(ChoosingReader(weights, show=2.0, lead=0.5))
    led = _ask(ChoosingReader(weights, show=2.0, lead=0.4))
    assert rules.short is None and led.short is None
    assert rules.citations[0].quote == "The old bridge was built in 1932 by the city."
    assert led.citations[0].quote == "The harbour of Coldwell opened in 1949."


def test_a_span_of_more_than_ten_words_is_not_a_short_answer_but_its_sentence_leads():
    from reader_fakes import FixedReader

    long_span = "It carried trams for forty years. Its designer was Anna Berg"   # 11 words
    ans = ExtractiveAnswerer(-10.0, reader=FixedReader(long_span, 0.99, min_prob=0.5, lead_prob=0.3), nil_reader=None)
    a = ans.answer("Who designed the old bridge?", np.ones(4, np.float32) / 2, TWO_PASSAGES[1:], PerPassageSource(TEXT))
    assert a.found and a.short is None
    assert a.citations[0].quote == "It carried trams for forty years."
    short = ExtractiveAnswerer(-10.0, reader=FixedReader("Anna Berg", 0.99, min_prob=0.5), nil_reader=None)
    assert short.answer("Who designed the old bridge?", np.ones(4, np.float32) / 2, TWO_PASSAGES[1:],
                        PerPassageSource(TEXT)).short == "Anna Berg"
