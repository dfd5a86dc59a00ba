"""The evaluation command on a tiny hand-made BEIR folder (no shared data needed)."""
import json
import subprocess
import sys

import pytest

from rag import Config
from rag.errors import CorpusError, RagError
from rag.evaluation.runner import evaluate, format_report

DOCS = [
    {"_id": "d1", "title": "Honey", "text": "Bees make honey from nectar. Honey keeps for years."},
    {"_id": "d2", "title": "Rivers", "text": "Salmon swim up rivers to spawn. Rivers flow to the sea."},
    {"_id": "d3", "title": "Cars", "text": "Electric cars run on batteries. Charging takes an hour."},
]
QUERIES = [{"_id": "q1", "text": "what do bees make from nectar"},
           {"_id": "q2", "text": "where do salmon swim to spawn"},
           {"_id": "q3", "text": "unjudged query"}]


@pytest.fixture
def beir(tmp_path):
    folder = tmp_path / "tiny"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in DOCS) + "\n")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in QUERIES) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    (folder / "answers.jsonl").write_text(
        json.dumps({"query-id": "q1", "answers": ["HONEY  from nectar"]}) + "\n"
        + json.dumps({"query-id": "q2", "answers": ["the moon"]}) + "\n")
    return folder


def test_evaluate_reports_every_mode(beir, tmp_path, fake_embedder):
    config = Config(model=fake_embedder.name, min_score=0.0)
    r = evaluate(beir, config=config, embedder=fake_embedder, index_dir=tmp_path / "idx")
    assert r.queries == 2 and r.documents == 3   # q3 has no judgments in the split
    assert [m.mode for m in r.modes] == ["dense", "bm25", "rrf", "hybrid"]
    bm25 = next(m for m in r.modes if m.mode == "bm25")
    # both queries share several stems with their own document only: rank 1 for each
    assert bm25.metrics["ndcg@10"] == 1.0 and bm25.metrics["mrr@10"] == 1.0 and bm25.metrics["hit@1"] == 1.0
    # q1's answer sentence contains "honey from nectar" (case/space-insensitive); q2's gold is absent
    assert bm25.metrics["answer_contains"] == 0.5
    for m in r.modes:
        assert set(m.latency_ms) == {"retrieval_p50", "retrieval_p95", "retrieval+answer_p50",
                                     "retrieval+answer_p95"}
        # every figure is a measured time: positive and finite
        assert all(0 < v < float("inf") for v in m.latency_ms.values())
        assert m.metrics["recall@100"] == 1.0
    table = format_report(r)
    assert "| hybrid |" in table and "ndcg@10" in table


def test_evaluate_reuses_its_index(beir, tmp_path, fake_embedder):
    config = Config(model=fake_embedder.name)
    evaluate(beir, config=config, embedder=fake_embedder, index_dir=tmp_path / "idx", modes=["dense"])
    n = len(fake_embedder.encoded)
    evaluate(beir, config=config, embedder=fake_embedder, index_dir=tmp_path / "idx", modes=["dense"])
    assert len(fake_embedder.encoded) - n == 2 + 1   # only the 2 queries and the warm-up are embedded again


def test_bad_dataset_and_mode(beir, tmp_path, fake_embedder):
    config = Config(model=fake_embedder.name)
    with pytest.raises(CorpusError, match="splits here: test"):
        evaluate(beir, split="train", config=config, embedder=fake_embedder, index_dir=tmp_path / "i")
    with pytest.raises(RagError, match="unknown mode"):
        evaluate(beir, modes=["magic"], config=config, embedder=fake_embedder, index_dir=tmp_path / "i")


def test_cli_eval_missing_folder_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "rag.cli", "eval", str(tmp_path / "nope")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip().startswith("error: not a BEIR folder")
    assert len(r.stderr.strip().splitlines()) == 1


def test_answer_figures_follow_the_not_found_rule(beir, tmp_path, fake_embedder):
    never = Config(model=fake_embedder.name, min_score=100.0)   # no sentence can score this high
    r = evaluate(beir, config=never, embedder=fake_embedder, index_dir=tmp_path / "idx", modes=["hybrid"])
    m = r.modes[0].metrics
    assert m["answered"] == 0.0 and m["answer_contains"] == 0.0 and m["answer_words"] == 0.0
    always = Config(model=fake_embedder.name, min_score=-100.0)
    m = evaluate(beir, config=always, embedder=fake_embedder, index_dir=tmp_path / "idx",
                 modes=["hybrid"]).modes[0].metrics
    # every question answered; words are averaged over answers given: each is 1-2 sentences + markers
    assert m["answered"] == 1.0 and 5 <= m["answer_words"] <= 30


def test_abstention_settings_short_answers_and_follow_ups(tmp_path, fake_embedder):
    """Articles of two paragraphs each, SQuAD 2.0-style questions.jsonl and a conversations file."""
    folder = tmp_path / "arts"
    (folder / "qrels").mkdir(parents=True)
    docs = [("Bees_0", "Bees", "Bees make honey from nectar in 1900 hives."),
            ("Bees_1", "Bees", "The queen bee lays eggs in spring."),
            ("Rivers_0", "Rivers", "Salmon swim up rivers to spawn in autumn."),
            ("Rivers_1", "Rivers", "The Amber river flows to the sea past Tamsin.")]
    qs = [("q1", "what do bees make from nectar", "Bees_0", ["honey"]),
          ("q2", "when does the queen bee lay eggs", "Bees_1", ["spring"]),
          ("q3", "where do salmon swim to spawn", "Rivers_0", ["rivers"]),
          ("q4", "where does the Amber river flow", "Rivers_1", ["to the sea"])]
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n"
                                                 for i, t, x in docs))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t, _, _ in qs)
                                          + json.dumps({"_id": "q5", "text": "how many wings does a bee have"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n"
                                               + "".join(f"{q}\t{d}\t1\n" for q, _, d, _ in qs))
    (folder / "answers.jsonl").write_text("".join(json.dumps({"query-id": q, "answers": a}) + "\n"
                                                  for q, _, _, a in qs))
    (folder / "questions.jsonl").write_text(
        "".join(json.dumps({"query-id": q, "paragraph-id": d, "is_impossible": False, "answers": a}) + "\n"
                for q, _, d, a in qs)
        + json.dumps({"query-id": "q5", "paragraph-id": "Bees_0", "is_impossible": True, "answers": []}) + "\n")
    convs = tmp_path / "convs.jsonl"
    convs.write_text(json.dumps({"id": "c1", "corpus": "arts", "turn1_qid": "q1", "followup": "and when does "
                                 "their queen lay eggs?", "context_qid": "q2", "depends": True}) + "\n")
    config = Config(model=fake_embedder.name)
    r = evaluate(folder, config=config, embedder=fake_embedder, index_dir=tmp_path / "idx", modes=["hybrid"],
                 conversations=convs)
    assert set(r.abstention) == {"removed", "single_doc", "unanswerable"}
    assert r.abstention["single_doc"]["answerable"] == 4 and r.abstention["single_doc"]["unanswerable"] == 4
    assert r.abstention["unanswerable"]["answerable"] == 4 and r.abstention["unanswerable"]["unanswerable"] == 1
    for a in r.abstention.values():
        assert 0 <= a["answered"] <= 1 and 0 <= a["refused"] <= 1 and 0 <= a["auroc"] <= 1
    m = r.modes[0].metrics
    assert {"short_em", "short_f1", "short_given"} <= set(m)
    assert r.followup["conversations"] == 1 and r.followup["resolution_right"] == 1.0
    assert "not-found rule, single_doc" in format_report(r) and "follow-ups (1 conversations)" in format_report(r)


def test_evaluate_keeps_only_the_articles_asked_for(tmp_path, fake_embedder):
    folder = tmp_path / "squadlike"
    (folder / "qrels").mkdir(parents=True)
    docs = [{"_id": "Honey_0", "title": "Honey", "text": "Bees make honey from nectar."},
            {"_id": "Honey_1", "title": "Honey", "text": "Honey keeps for years."},
            {"_id": "Rivers_0", "title": "Rivers", "text": "Salmon swim up rivers to spawn."}]
    queries = [{"_id": "q1", "text": "what do bees make"}, {"_id": "q2", "text": "how long does honey keep"},
               {"_id": "q3", "text": "where do salmon swim"}]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tHoney_0\t1\nq2\tHoney_1\t1\n"
                                               "q3\tRivers_0\t1\n")
    config = Config(model=fake_embedder.name, min_score=0.0)
    r = evaluate(folder, config=config, embedder=fake_embedder, index_dir=tmp_path / "idx", modes=["bm25"],
                 abstention=False, articles={"Rivers"})
    assert r.queries == 1
    with pytest.raises(RagError, match="articles"):
        evaluate(folder, config=config, embedder=fake_embedder, index_dir=tmp_path / "idx", modes=["bm25"],
                 abstention=False, articles={"Nowhere"})
