"""rag.evaluation.metrics against small cases worked out by hand (arithmetic in the comments).

1 / log2(2) = 1, 1 / log2(3) = 0.630930, 1 / log2(4) = 0.5, 1 / log2(5) = 0.430677.
"""
from __future__ import annotations

import pytest

from rag.evaluation.metrics import (contains_answer, documents_from_passages, hit_at_k, mean, mrr_at_k,
                         ndcg_at_k, normalize_answer, percentile, recall_at_k, summarize)

INV_LOG2_3 = 0.6309297535714575  # 1 / log2(3)


# --- nDCG -------------------------------------------------------------------

def test_ndcg_binary_with_gap():
    # ranks: a=1 (rel 1), b=2 (rel 0), c=3 (rel 1)
    # DCG  = 1/log2(2) + 0/log2(3) + 1/log2(4) = 1 + 0 + 0.5 = 1.5
    # IDCG = 1/log2(2) + 1/log2(3) = 1 + 0.630930 = 1.630930
    # nDCG = 1.5 / 1.630930 = 0.919721
    assert ndcg_at_k(["a", "b", "c"], {"a": 1, "c": 1}, k=10) == pytest.approx(0.919721, abs=1e-6)


def test_ndcg_graded_uses_linear_gain():
    # grades a=2, b=1; ranking puts b (1) before a (2)
    # DCG  = 1/log2(2) + 2/log2(3) = 1 + 1.261860 = 2.261860
    # IDCG = 2/log2(2) + 1/log2(3) = 2 + 0.630930 = 2.630930
    # nDCG = 2.261860 / 2.630930 = 0.859719
    # (exponential gain 2^rel - 1 would give (1 + 3*0.630930) / (3 + 0.630930) = 0.796719)
    assert ndcg_at_k(["b", "a"], {"a": 2, "b": 1}) == pytest.approx(0.859719, abs=1e-6)


def test_ndcg_graded_ideal_order_is_one():
    # a (2) then b (1) is the ideal order whatever order the mapping lists them in:
    # DCG = IDCG = 2 + 0.630930
    assert ndcg_at_k(["a", "b", "x"], {"b": 1, "a": 2}) == pytest.approx(1.0)


def test_ndcg_cutoff_drops_later_ranks_and_truncates_ideal():
    # k=2: ranks a=1 (2), c=2 (0); b (1) at rank 3 is cut off
    # DCG  = 2/log2(2) + 0 = 2
    # IDCG = 2/log2(2) + 1/log2(3) = 2.630930   (both grades fit in k=2)
    # nDCG = 2 / 2.630930 = 0.760188
    assert ndcg_at_k(["a", "c", "b"], {"a": 2, "b": 1}, k=2) == pytest.approx(0.760188, abs=1e-6)
    # k=1: relevant x at rank 2 is cut off -> DCG = 0
    assert ndcg_at_k(["y", "x"], {"x": 1}, k=1) == 0.0
    # k=2: DCG = 1/log2(3) = 0.630930, IDCG = 1 -> 0.630930
    assert ndcg_at_k(["y", "x"], {"x": 1}, k=2) == pytest.approx(INV_LOG2_3)


def test_ndcg_relevant_beyond_k_ideal_is_truncated_to_k():
    # 3 relevant docs, k=2, only a retrieved at rank 1
    # DCG  = 1/log2(2) = 1
    # IDCG = 1/log2(2) + 1/log2(3) = 1.630930   (ideal cut at k=2, not 3 terms)
    # nDCG = 1 / 1.630930 = 0.613147
    # (an untruncated IDCG 1 + 0.630930 + 0.5 = 2.130930 would give 0.469279)
    assert ndcg_at_k(["a", "x", "b"], {"a": 1, "b": 1, "c": 1}, k=2) == pytest.approx(0.613147, abs=1e-6)


def test_ndcg_no_relevant_docs_is_zero():
    assert ndcg_at_k(["a", "b"], {}) == 0.0
    # grade 0 is a judged non-relevant doc: IDCG = 0 -> 0.0
    assert ndcg_at_k(["a", "b"], {"a": 0}) == 0.0


def test_ndcg_empty_ranking_is_zero():
    assert ndcg_at_k([], {"a": 1}) == 0.0


def test_ndcg_duplicate_counts_only_at_first_position():
    # ranks: a=1 (1), a=2 (duplicate, 0), b=3 (1)
    # DCG  = 1 + 0 + 1/log2(4) = 1.5;  IDCG = 1 + 0.630930 = 1.630930;  nDCG = 0.919721
    # (counting the duplicate would give (1 + 0.630930 + 0.5) / 1.630930 = 1.306574 > 1)
    assert ndcg_at_k(["a", "a", "b"], {"a": 1, "b": 1}, k=3) == pytest.approx(0.919721, abs=1e-6)


def test_ndcg_rejects_k_below_one():
    with pytest.raises(ValueError):
        ndcg_at_k(["a"], {"a": 1}, k=0)


# --- Recall / MRR / Hit -------------------------------------------------------

def test_recall_two_of_three_found():
    # relevant {a, b, c}; top 3 = [a, x, b] holds a and b -> 2/3 = 0.666667
    assert recall_at_k(["a", "x", "b", "c"], {"a": 1, "b": 2, "c": 1}, k=3) == pytest.approx(2 / 3)
    # k=4 takes in c too -> 3/3
    assert recall_at_k(["a", "x", "b", "c"], {"a": 1, "b": 2, "c": 1}, k=4) == 1.0


def test_recall_ignores_zero_grades_and_duplicates():
    # relevant (grade > 0) = {a, b}; c has grade 0. top 3 = [a, a, c] finds a only -> 1/2
    assert recall_at_k(["a", "a", "c", "b"], {"a": 1, "b": 1, "c": 0}, k=3) == 0.5


def test_recall_no_relevant_or_empty_ranking_is_zero():
    assert recall_at_k(["a"], {}, k=5) == 0.0
    assert recall_at_k([], {"a": 1}, k=5) == 0.0


def test_mrr_first_relevant_at_rank_3():
    # first relevant (b) at rank 3 -> 1/3; c at rank 4 does not matter
    assert mrr_at_k(["x", "y", "b", "c"], {"b": 1, "c": 1}) == pytest.approx(1 / 3)


def test_mrr_first_relevant_at_rank_11_is_outside_k10():
    ranked = [f"x{i}" for i in range(10)] + ["a"]  # a at rank 11
    assert mrr_at_k(ranked, {"a": 1}, k=10) == 0.0
    assert mrr_at_k(ranked, {"a": 1}, k=11) == pytest.approx(1 / 11)


def test_mrr_empty_ranking_and_zero_grade():
    assert mrr_at_k([], {"a": 1}) == 0.0
    assert mrr_at_k(["a"], {"a": 0}) == 0.0


def test_hit_at_k():
    ranked = ["x", "y", "a"]
    assert hit_at_k(ranked, {"a": 1}, k=1) == 0.0
    assert hit_at_k(ranked, {"a": 1}, k=2) == 0.0
    assert hit_at_k(ranked, {"a": 1}, k=3) == 1.0
    # two relevant, only one found: hit is still 1.0 (recall would be 0.5)
    assert hit_at_k(ranked, {"a": 1, "b": 1}, k=3) == 1.0
    assert hit_at_k([], {"a": 1}, k=5) == 0.0
    assert hit_at_k(ranked, {}, k=5) == 0.0


# --- Answers ------------------------------------------------------------------

def test_normalize_answer():
    assert normalize_answer("  The\tEiffel \n\n  TOWER  ") == "the eiffel tower"
    assert normalize_answer("") == ""


def test_contains_answer_case_whitespace_newline():
    answer = "It was built in PARIS,\nnear the Seine,  in 1889."
    assert contains_answer(answer, ["paris"])
    assert contains_answer(answer, ["Near  the\tseine"])       # newline vs space, extra spaces, tab
    assert contains_answer(answer, ["London", " in 1889 "])     # any of several gold strings


def test_contains_answer_negative():
    answer = "It was built in Paris in 1889."
    assert not contains_answer(answer, ["London", "1890"])
    assert not contains_answer(answer, [])
    # empty / blank gold strings would otherwise be contained in every answer
    assert not contains_answer(answer, ["", "   \n"])


# --- Percentile ---------------------------------------------------------------

def test_percentile_linear_interpolation():
    values = [10.0, 1.0, 4.0, 2.0, 3.0]  # sorted: 1, 2, 3, 4, 10 (n = 5)
    # numpy linear: position = (n - 1) * q / 100
    # p50: 4 * 0.50 = 2.0 -> sorted[2] = 3
    assert percentile(values, 50) == pytest.approx(3.0)
    # p95: 4 * 0.95 = 3.8 -> sorted[3] + 0.8 * (sorted[4] - sorted[3]) = 4 + 0.8 * 6 = 8.8
    assert percentile(values, 95) == pytest.approx(8.8)
    # even count [1, 2, 3, 4]: p50 position 3 * 0.5 = 1.5 -> 2 + 0.5 * (3 - 2) = 2.5
    assert percentile([4, 3, 2, 1], 50) == pytest.approx(2.5)
    assert percentile([7.0], 95) == 7.0


def test_percentile_rejects_empty_and_bad_q():
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


# --- Documents from passages ----------------------------------------------------

def test_documents_from_passages_repeated_docs():
    passages = [("a", 0.9), ("b", 0.8), ("a", 0.7), ("c", 0.8), ("b", 0.1)]
    # best per doc: a 0.9, b 0.8, c 0.8; b and c tie -> first seen (b) first
    assert documents_from_passages(passages) == ["a", "b", "c"]


def test_documents_from_passages_uses_best_not_first_score():
    # b's first passage (0.2) is its worst; its best (0.95) beats a's 0.9
    passages = [("a", 0.9), ("b", 0.2), ("c", 0.5), ("b", 0.95)]
    assert documents_from_passages(passages) == ["b", "a", "c"]


def test_documents_from_passages_ties_keep_first_seen_order():
    assert documents_from_passages([("z", 0.5), ("a", 0.5), ("m", 0.5)]) == ["z", "a", "m"]
    assert documents_from_passages(iter([])) == []


# --- Aggregation --------------------------------------------------------------

def test_mean():
    assert mean([]) == 0.0
    assert mean([1.0, 2.0, 4.0]) == pytest.approx(7 / 3)  # (1 + 2 + 4) / 3 = 2.333333


def test_summarize():
    per_query = [{"ndcg@10": 1.0, "mrr@10": 0.5}, {"ndcg@10": 0.0, "mrr@10": 1.0},
                 {"ndcg@10": 0.5, "mrr@10": 0.0}]
    # ndcg: (1 + 0 + 0.5) / 3 = 0.5;  mrr: (0.5 + 1 + 0) / 3 = 0.5
    assert summarize(per_query) == pytest.approx({"ndcg@10": 0.5, "mrr@10": 0.5})
    assert summarize([{"hit@1": 1.0}, {"hit@1": 0.0}]) == {"hit@1": 0.5}
    assert summarize([]) == {}


def test_summarize_rejects_mismatched_keys():
    with pytest.raises(ValueError):
        summarize([{"a": 1.0}, {"b": 1.0}])
