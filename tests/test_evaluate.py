"""The evaluation command on a tiny hand-made BEIR folder (no shared data needed)."""
import json
import subprocess
import sys

import pytest

from rag import Config
from rag.errors import CorpusError, RagError
from rag.evaluate import evaluate, format_report

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
        # the answer timing includes the search, query by query
        assert m.latency_ms["retrieval+answer_p50"] >= m.latency_ms["retrieval_p50"] >= r.embed_ms["p50"]
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
